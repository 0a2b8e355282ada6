//! Counts over the last two seconds of event time, for the per-second rates `tracer top` shows.
//! Event time, not the wall clock: a replay shows the rates its recording had.

/// Width of one bucket.
const BUCKET_NS: u64 = 250_000_000;
/// Buckets kept: the window is `BUCKETS × BUCKET_NS` (2 s) wide.
const BUCKETS: usize = 8;
const WINDOW_NS: u64 = BUCKET_NS * BUCKETS as u64;

/// Events counted per quarter second over the last two seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    buckets: [u64; BUCKETS],
    /// Index (time / BUCKET_NS) of the newest bucket.
    newest: u64,
}

impl Window {
    /// Counts one event at `ns`. Events a little out of order (another CPU's ring) still land in
    /// their bucket; one older than the window is too old to count.
    pub fn add(&mut self, ns: u64) {
        let index = ns / BUCKET_NS;
        if index > self.newest {
            let stale = (index - self.newest).min(BUCKETS as u64);
            for step in 1..=stale {
                self.buckets[((self.newest + step) % BUCKETS as u64) as usize] = 0;
            }
            self.newest = index;
        } else if index + (BUCKETS as u64) <= self.newest {
            return;
        }
        self.buckets[(index % BUCKETS as u64) as usize] += 1;
    }

    /// Events per second over the two seconds up to `now_ns`.
    pub fn per_second(&self, now_ns: u64) -> f64 {
        let now = now_ns / BUCKET_NS;
        let counted: u64 = (0..BUCKETS as u64)
            .filter_map(|back| now.checked_sub(back))
            .filter(|index| *index <= self.newest && index + (BUCKETS as u64) > self.newest)
            .map(|index| self.buckets[(index % BUCKETS as u64) as usize])
            .sum();
        counted as f64 * 1e9 / WINDOW_NS as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn rates_cover_the_last_two_seconds_only() {
        let mut window = Window::default();
        for n in 0..10 {
            window.add(100 * SECOND + n * SECOND / 10);
        }
        assert_eq!(window.per_second(101 * SECOND), 5.0);
        // Older than the window: dropped on arrival.
        window.add(90 * SECOND);
        assert_eq!(window.per_second(101 * SECOND), 5.0);
        assert_eq!(window.per_second(102 * SECOND), 3.5, "the first quarter second left the window");
        assert_eq!(window.per_second(103 * SECOND), 0.0);
        window.add(110 * SECOND);
        assert_eq!(window.per_second(110 * SECOND), 0.5);
        assert_eq!(window.per_second(101 * SECOND), 0.0, "the old buckets were reused");
    }
}
