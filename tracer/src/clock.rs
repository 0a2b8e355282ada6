//! Conversion of the kernel side's CLOCK_BOOTTIME timestamps to wall-clock time.

/// Maps boot-time nanoseconds to nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Wall-clock time minus boot time, sampled once at start.
    pub boot_to_wall_ns: i64,
}

fn now_ns(clock: libc::clockid_t) -> i64 {
    let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `time` is a valid timespec; these clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut time) };
    time.tv_sec * 1_000_000_000 + time.tv_nsec
}

impl Clock {
    pub fn sample() -> Self {
        let boot = now_ns(libc::CLOCK_BOOTTIME);
        let wall = now_ns(libc::CLOCK_REALTIME);
        Self { boot_to_wall_ns: wall - boot }
    }

    pub fn wall_ns(&self, boot_ns: u64) -> u64 {
        (boot_ns as i64).saturating_add(self.boot_to_wall_ns).max(0) as u64
    }

    /// Current wall-clock time in nanoseconds since the epoch.
    pub fn wall_now_ns() -> u64 {
        now_ns(libc::CLOCK_REALTIME).max(0) as u64
    }

    /// Current boot time in nanoseconds (the kernel side's clock).
    #[cfg(test)]
    pub fn boot_now_ns() -> u64 {
        now_ns(libc::CLOCK_BOOTTIME).max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_boot_time_with_the_sampled_offset() {
        let clock = Clock { boot_to_wall_ns: 1_000 };
        assert_eq!(clock.wall_ns(5), 1_005);
        let sampled = Clock::sample();
        let wall = sampled.wall_ns(Clock::boot_now_ns());
        assert!(wall.abs_diff(Clock::wall_now_ns()) < 1_000_000_000);
    }
}
