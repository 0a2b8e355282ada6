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

/// Names of the flag bits of `clone_flags` (the low byte is the exit signal, not a flag).
pub const CLONE_FLAGS: [(u64, &str); 24] = [
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

/// `clone_flags` as the kernel passed them; JSON lists their names: each flag bit set
/// (`"CLONE_VM"`), the exit signal of the low byte (`"SIGCHLD"`), and any bits without a name as
/// one hexadecimal string (`"0x200000000"`), so the list says everything the number does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CloneFlags(pub u64);

/// The low byte of `clone_flags`: the signal sent to the parent when the child exits.
const CSIGNAL: u64 = 0xff;

impl CloneFlags {
    pub fn names(self) -> Vec<String> {
        let mut names: Vec<String> = clone_flag_names(self.0).map(str::to_owned).collect();
        let signal = (self.0 & CSIGNAL) as u32;
        if signal != 0 {
            names.push(signal_name(signal));
        }
        let named = CLONE_FLAGS.iter().fold(CSIGNAL, |bits, (bit, _)| bits | bit);
        let unnamed = self.0 & !named;
        if unnamed != 0 {
            names.push(format!("{unnamed:#x}"));
        }
        names
    }

    /// The inverse of [`names`](Self::names).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut flags = 0;
        for name in names {
            flags |= match CLONE_FLAGS.iter().find(|(_, flag)| *flag == name) {
                Some((bit, _)) => *bit,
                None => match name.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                    None => u64::from(signal_number(name).filter(|signal| u64::from(*signal) <= CSIGNAL)?),
                },
            };
        }
        Some(Self(flags))
    }
}

impl Serialize for CloneFlags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            self.names().serialize(serializer)
        } else {
            serializer.serialize_u64(self.0)
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
            u64::deserialize(deserializer).map(CloneFlags)
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
        let names: Vec<_> = clone_flag_names(0x0001_0000 | 0x0800 | 0x0100 | 17).collect();
        assert_eq!(names, ["CLONE_VM", "CLONE_SIGHAND", "CLONE_THREAD"]);
    }

    #[test]
    fn clone_flags_list_every_bit_and_round_trip() {
        let flags = CloneFlags(0x0001_0000 | 0x0800 | 0x0100 | 17 | 0x2_0000_0000);
        let names = flags.names();
        assert_eq!(names, ["CLONE_VM", "CLONE_SIGHAND", "CLONE_THREAD", "SIGCHLD", "0x200000000"]);
        assert_eq!(CloneFlags::from_names(names.iter().map(String::as_str)), Some(flags));
        let json = serde_json::to_string(&flags).unwrap();
        assert_eq!(serde_json::from_str::<CloneFlags>(&json).unwrap(), flags);
    }

    #[test]
    fn signal_names_round_trip() {
        for signal in 1..=64 {
            assert_eq!(signal_number(&signal_name(signal)), Some(signal));
        }
        assert_eq!(serde_json::to_string(&Signal(9)).unwrap(), "\"SIGKILL\"");
    }
}
