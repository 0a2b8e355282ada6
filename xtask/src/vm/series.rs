//! The guest kernels the VM legs boot: one Debian kernel series each, named as on the command
//! line (`cargo xtask vm-test --kernel 5.10`), with the suite that carries it and the shape of
//! its package names.
use std::fmt;

/// A Debian suite, and whether the machine's own apt configuration knows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Suite {
    /// Debian 11. Not in the machine's apt sources: fetched through the private configuration.
    Bullseye,
    /// Debian 12, the machine's own suite.
    Bookworm,
    /// Debian 13. Not in the machine's apt sources: fetched through the private configuration.
    Trixie,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::Bullseye => "bullseye",
            Suite::Bookworm => "bookworm",
            Suite::Trixie => "trixie",
        }
    }

    /// Suites the machine's apt sources do not name; `vm::apt` serves them from a private list.
    pub const PRIVATE: [Suite; 2] = [Suite::Bullseye, Suite::Trixie];

    pub fn is_private(self) -> bool {
        Self::PRIVATE.contains(&self)
    }
}

/// One kernel series: packages `linux-image-{prefix}<N>{suffix}` (or `…-unsigned`), newest
/// `<N>` wins.
#[derive(Clone, Copy, Debug)]
pub struct Series {
    /// As given to `--kernel`, and the leg's name.
    pub name: &'static str,
    pub suite: Suite,
    /// Package name between `linux-image-` and the ABI number.
    pub prefix: &'static str,
    /// Package name after the ABI number.
    pub suffix: &'static str,
    /// What this leg proves that the others do not, for the closing table.
    pub why: &'static str,
}

/// Every series, oldest first: the order `cargo xtask test` runs and reports them in. The cloud
/// flavours are LZ4-compressed and boot fastest under TCG; PREEMPT_RT has no cloud flavour.
pub const ALL: [Series; 4] = [
    Series {
        name: "5.10",
        suite: Suite::Bullseye,
        prefix: "5.10.0-",
        suffix: "-cloud-amd64",
        why: "oldest LTS with BTF: raw-tracepoint lifecycle, unrolled cwd walk",
    },
    Series {
        name: "6.1",
        suite: Suite::Bookworm,
        prefix: "6.1.0-",
        suffix: "-cloud-amd64",
        why: "Debian 12: tp_btf lifecycle, fentry lookups",
    },
    Series {
        name: "6.1-rt",
        suite: Suite::Bookworm,
        prefix: "6.1.0-",
        suffix: "-rt-amd64",
        why: "PREEMPT_RT: event order under storms",
    },
    Series {
        name: "6.12",
        suite: Suite::Trixie,
        prefix: "6.12.",
        suffix: "+deb13-cloud-amd64",
        why: "Debian 13, the newest LTS",
    },
];

impl Series {
    pub fn by_name(name: &str) -> Option<Series> {
        ALL.iter().copied().find(|series| series.name == name)
    }

    pub fn names() -> String {
        ALL.iter().map(|series| series.name).collect::<Vec<_>>().join(", ")
    }

    /// The `apt-cache search --names-only` pattern of this series' image packages.
    pub fn search_pattern(&self) -> String {
        format!("^linux-image-{}[0-9]+{}(-unsigned)?$", regex_quote(self.prefix), regex_quote(self.suffix))
    }

    /// The ABI number `<N>` of `package`, if it belongs to this series.
    pub fn abi(&self, package: &str) -> Option<u32> {
        let rest = package.strip_prefix("linux-image-")?.strip_prefix(self.prefix)?;
        let rest = rest.strip_suffix("-unsigned").unwrap_or(rest);
        rest.strip_suffix(self.suffix)?.parse().ok()
    }

    /// `TRACER_VM` in the guest, which every test failure message starts with.
    pub fn vm_name(&self) -> String {
        format!("debian-{}", self.name)
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux-image-{}<N>{} ({})", self.prefix, self.suffix, self.suite.name())
    }
}

fn regex_quote(text: &str) -> String {
    text.chars().fold(String::new(), |mut quoted, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            quoted.push('\\');
        }
        quoted.push(c);
        quoted
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_numbers_belong_to_one_series_each() {
        let cloud = Series::by_name("6.1").unwrap();
        let rt = Series::by_name("6.1-rt").unwrap();
        let trixie = Series::by_name("6.12").unwrap();
        assert_eq!(cloud.abi("linux-image-6.1.0-48-cloud-amd64"), Some(48));
        assert_eq!(cloud.abi("linux-image-6.1.0-48-cloud-amd64-unsigned"), Some(48));
        assert_eq!(cloud.abi("linux-image-6.1.0-48-rt-amd64"), None);
        assert_eq!(rt.abi("linux-image-6.1.0-48-rt-amd64"), Some(48));
        assert_eq!(trixie.abi("linux-image-6.12.57+deb13-cloud-amd64"), Some(57));
        assert_eq!(trixie.search_pattern(), r"^linux-image-6\.12\.[0-9]+\+deb13-cloud-amd64(-unsigned)?$");
    }
}
