//! Human names for kernel numbers: signals and clone flags, as printed in the table and as
//! serialised in JSON (the binary recording keeps the numbers).
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `SIGKILL` for 9, and so on (x86-64 numbering); `SIG<n>` for others, `SIGRTMIN+<k>` for
/// real-time signals.
pub fn signal_name(signal: u32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match signal {
        1..=31 => NAMES[signal as usize].to_owned(),
        32..=64 => format!("SIGRTMIN+{}", signal - 32),
        _ => format!("SIG{signal}"),
    }
}

/// Names of the flag bits of `clone_flags`, as `include/uapi/linux/sched.h` defines them. Since
/// Linux 5.3 the flags hold no exit signal (the kernel keeps it apart, see [`CloneFlags`]), and
/// clone3 may set `CLONE_NEWTIME` in the low byte, so no bit of it is read as a signal.
pub const CLONE_FLAGS: [(u64, &str); 27] = [
    (0x0000_0080, "CLONE_NEWTIME"),
    (0x0000_0100, "CLONE_VM"),
    (0x0000_0200, "CLONE_FS"),
    (0x0000_0400, "CLONE_FILES"),
    (0x0000_0800, "CLONE_SIGHAND"),
    (0x0000_1000, "CLONE_PIDFD"),
    (0x0000_2000, "CLONE_PTRACE"),
    (0x0000_4000, "CLONE_VFORK"),
    (0x0000_8000, "CLONE_PARENT"),
    (0x0001_0000, "CLONE_THREAD"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0004_0000, "CLONE_SYSVSEM"),
    (0x0008_0000, "CLONE_SETTLS"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0040_0000, "CLONE_DETACHED"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

/// Names of the flags set in `flags`, in bit order.
pub fn clone_flag_names(flags: u64) -> impl Iterator<Item = &'static str> {
    CLONE_FLAGS.iter().filter(move |(bit, _)| flags & bit != 0).map(|(_, name)| *name)
}

/// A signal number; JSON names it (`"SIGKILL"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal(pub u32);

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&signal_name(self.0))
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&signal_name(self.0))
        } else {
            serializer.serialize_u32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let name = String::deserialize(deserializer)?;
            signal_number(&name).map(Signal).ok_or_else(|| serde::de::Error::custom(format!("unknown signal {name:?}")))
        } else {
            u32::deserialize(deserializer).map(Signal)
        }
    }
}

/// The number of a name [`signal_name`] gives.
pub fn signal_number(name: &str) -> Option<u32> {
    if let Some(offset) = name.strip_prefix("SIGRTMIN+") {
        return offset.parse::<u32>().ok().filter(|offset| *offset <= 32).map(|offset| 32 + offset);
    }
    (1..=31).find(|&signal| signal_name(signal) == name).or_else(|| name.strip_prefix("SIG")?.parse().ok())
}

/// How a task was created: `clone_flags` as `task_newtask` saw them, and the new task's exit
/// signal, which the kernel keeps apart from the flags (`exit_signal`). JSON lists their names as
/// `strace` shows them: each flag bit set (`"CLONE_VM"`), then the exit signal (`"SIGCHLD"` for a
/// process, nothing for a thread or a child that signals nobody), then any bits without a name
/// as one hexadecimal string (`"0x400000000"`), so the list says everything the numbers do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CloneFlags {
    pub flags: u64,
    /// The signal the parent gets when the child ends; 0 for none (a thread's `exit_signal` is
    /// -1, shown as none too).
    pub exit_signal: u32,
}

/// Largest exit signal clone and clone3 accept (`CSIGNAL`, the low byte of clone's flags).
const CSIGNAL: u64 = 0xff;

impl CloneFlags {
    /// Flags without a known exit signal: what recordings before format 6 hold.
    pub fn flags(flags: u64) -> Self {
        Self { flags, exit_signal: 0 }
    }

    /// The flags and the child's `exit_signal` as the kernel holds it (an `int`): negative
    /// values (a thread's -1) and values past `CSIGNAL` name no signal.
    pub fn with_exit_signal(flags: u64, exit_signal: i32) -> Self {
        let exit_signal = u32::try_from(exit_signal).ok().filter(|signal| u64::from(*signal) <= CSIGNAL).unwrap_or(0);
        Self { flags, exit_signal }
    }

    pub fn names(self) -> Vec<String> {
        let mut names: Vec<String> = clone_flag_names(self.flags).map(str::to_owned).collect();
        if self.exit_signal != 0 {
            names.push(signal_name(self.exit_signal));
        }
        let named = CLONE_FLAGS.iter().fold(0, |bits, (bit, _)| bits | bit);
        let unnamed = self.flags & !named;
        if unnamed != 0 {
            names.push(format!("{unnamed:#x}"));
        }
        names
    }

    /// The inverse of [`names`](Self::names).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut result = Self::default();
        for name in names {
            if let Some((bit, _)) = CLONE_FLAGS.iter().find(|(_, flag)| *flag == name) {
                result.flags |= bit;
            } else if let Some(hex) = name.strip_prefix("0x") {
                result.flags |= u64::from_str_radix(hex, 16).ok()?;
            } else {
                result.exit_signal = signal_number(name).filter(|signal| u64::from(*signal) <= CSIGNAL)?;
            }
        }
        Some(result)
    }
}

impl Serialize for CloneFlags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            self.names().serialize(serializer)
        } else {
            (self.flags, self.exit_signal).serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for CloneFlags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let names = Vec::<String>::deserialize(deserializer)?;
            CloneFlags::from_names(names.iter().map(String::as_str))
                .ok_or_else(|| serde::de::Error::custom(format!("unknown clone flag in {names:?}")))
        } else {
            let (flags, exit_signal) = <(u64, u32)>::deserialize(deserializer)?;
            Ok(CloneFlags { flags, exit_signal })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_signals() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(34), "SIGRTMIN+2");
        assert_eq!(signal_name(99), "SIG99");
    }

    #[test]
    fn names_thread_clone_flags() {
        let names: Vec<_> = clone_flag_names(0x0001_0000 | 0x0800 | 0x0100).collect();
        assert_eq!(names, ["CLONE_VM", "CLONE_SIGHAND", "CLONE_THREAD"]);
    }

    #[test]
    fn clone_flags_list_every_bit_and_round_trip() {
        let flags = CloneFlags::with_exit_signal(0x0001_0000 | 0x0800 | 0x0100 | 0x4_0000_0000, 17);
        let names = flags.names();
        assert_eq!(names, ["CLONE_VM", "CLONE_SIGHAND", "CLONE_THREAD", "SIGCHLD", "0x400000000"]);
        assert_eq!(CloneFlags::from_names(names.iter().map(String::as_str)), Some(flags));
        let json = serde_json::to_string(&flags).unwrap();
        assert_eq!(serde_json::from_str::<CloneFlags>(&json).unwrap(), flags);
        let bytes = postcard::to_allocvec(&flags).unwrap();
        assert_eq!(postcard::from_bytes::<CloneFlags>(&bytes).unwrap(), flags);
    }

    /// What strace prints for each way of creating a task, from what the kernel holds.
    #[test]
    fn clone_flags_read_as_strace_shows_them() {
        let shown = |flags: u64, exit_signal: i32| CloneFlags::with_exit_signal(flags, exit_signal).names();
        // fork(): glibc's clone(CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD).
        assert_eq!(shown(0x0120_0000, 17), ["CLONE_CHILD_CLEARTID", "CLONE_CHILD_SETTID", "SIGCHLD"]);
        assert_eq!(shown(0x4100, 17), ["CLONE_VM", "CLONE_VFORK", "SIGCHLD"]);
        // A thread's exit_signal is -1: no signal, as strace shows a pthread.
        assert_eq!(shown(0x003d_0f00, -1).last().map(String::as_str), Some("CLONE_CHILD_CLEARTID"));
        // clone3 with CLONE_NEWTIME (0x80) and no exit signal: a flag, never "SIG128".
        assert_eq!(shown(0x80, 0), ["CLONE_NEWTIME"]);
        assert_eq!(shown(0x80, 10), ["CLONE_NEWTIME", "SIGUSR1"]);
        assert_eq!(shown(0x3_0000_0000, 0), ["CLONE_CLEAR_SIGHAND", "CLONE_INTO_CGROUP"]);
        assert_eq!(shown(0, 64), ["SIGRTMIN+32"]);
        assert_eq!(shown(0, 300), Vec::<String>::new(), "past CSIGNAL is no signal clone accepts");
        // Every named bit names itself alone, and the names are the kernel's, each once.
        for (bit, name) in CLONE_FLAGS {
            assert_eq!(shown(bit, 0), [name]);
        }
        let all = CLONE_FLAGS.iter().fold(0, |bits, (bit, _)| bits | bit);
        assert_eq!(all.count_ones() as usize, CLONE_FLAGS.len());
    }

    #[test]
    fn clone_flag_names_read_back() {
        assert_eq!(CloneFlags::from_names(["CLONE_NEWTIME"]), Some(CloneFlags::flags(0x80)));
        assert_eq!(CloneFlags::from_names(["CLONE_VM", "SIGCHLD"]), Some(CloneFlags::with_exit_signal(0x100, 17)));
        assert_eq!(CloneFlags::from_names(["SIG300"]), None);
        assert_eq!(CloneFlags::from_names(["CLONE_NOPE"]), None);
    }

    #[test]
    fn signal_names_round_trip() {
        for signal in 1..=64 {
            assert_eq!(signal_number(&signal_name(signal)), Some(signal));
        }
        assert_eq!(serde_json::to_string(&Signal(9)).unwrap(), "\"SIGKILL\"");
    }
}
