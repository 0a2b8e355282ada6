//! Which container a cgroup belongs to, from the names of its directories: the one rule both the
//! kernel side (`--container` filter) and userspace (the `container` field, replays) apply, so
//! they cannot disagree. Written for the eBPF verifier: fixed-size buffers, bounded loops, no
//! panicking index.
//!
//! A directory name is a container's when it has one of these shapes (`<id>`: 64 lowercase hex
//! digits, optionally followed by `.scope`; `<name>`: any non-empty text):
//!
//! | shape | who makes it |
//! | --- | --- |
//! | `libpod-<id>` | podman (cgroupfs and systemd managers; not `libpod-conmon-…`) |
//! | `docker-<id>` | Docker and dockershim with the systemd driver |
//! | `cri-containerd-<id>`, `crio-<id>` | containerd and CRI-O under Kubernetes (`kubepods…`), systemd driver |
//! | `<id>` | Docker (`/docker/<id>`) and Kubernetes (`/kubepods/…/pod<uid>/<id>`) with the cgroupfs driver |
//! | `machine-<name>.scope` | systemd-nspawn (and other machines systemd-machined registers) |
//! | `systemd-nspawn@<name>.service` | systemd-nspawn run as a service |
//! | `lxc.payload.<name>` | LXC 4+ and LXD |
//! | `<name>` (any) directly below a directory named `lxc` | LXC before 4.0 |
//!
//! The shapes are tried first: below `lxc`, a shaped name's ID is the shaped part. A cgroup's
//! container is that of its deepest container directory (a container's own processes may
//! create cgroups below it; Docker in Docker nests containers).

/// Bytes of a cgroup directory name examined, NUL included (longer names are cut).
pub const NAME_LEN: usize = 128;
/// Bytes of a container ID prefix a filter may give (a full 64-digit ID).
pub const ID_LEN: usize = 64;

const HEX_ID_LEN: usize = 64;
const SCOPE: &[u8] = b".scope";

/// What one directory name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Plain,
    /// The container's ID is `name[start..end]`.
    Container {
        start: usize,
        end: usize,
    },
}

// The checks below are branch-free where they loop: a branch per byte with a known outcome on
// one side multiplies the paths the eBPF verifier walks (and the time tracer takes to start).

/// The byte at `index`; the mask keeps any index inside the buffer without a branch (every
/// index used here is below `NAME_LEN` already).
#[inline(always)]
fn at(name: &[u8; NAME_LEN], index: usize) -> u8 {
    name[index & (NAME_LEN - 1)]
}

/// 0 for the bytes of a lowercase hex digit, 1 for every other byte.
static NOT_HEX: [u8; 256] = {
    let mut table = [1u8; 256];
    let mut byte = 0;
    while byte < 256 {
        if (byte >= b'0' as usize && byte <= b'9' as usize) || (byte >= b'a' as usize && byte <= b'f' as usize) {
            table[byte] = 0;
        }
        byte += 1;
    }
    table
};

/// 1 for the NUL byte, 0 for every other.
static IS_NUL: [u8; 256] = {
    let mut table = [0u8; 256];
    table[0] = 1;
    table
};

/// Bytes before the first NUL. An early exit would give each possible length its own path
/// through everything that follows.
#[inline(always)]
pub fn name_len(name: &[u8; NAME_LEN]) -> usize {
    let (mut len, mut ended) = (0usize, 0usize);
    let mut i = 0;
    while i < NAME_LEN {
        ended |= IS_NUL[name[i] as usize] as usize;
        len += 1 - ended;
        i += 1;
    }
    len
}

#[inline(always)]
fn starts_with(name: &[u8; NAME_LEN], start: usize, text: &[u8]) -> bool {
    let mut difference = 0;
    let mut i = 0;
    while i < text.len() {
        difference |= at(name, start + i) ^ text[i];
        i += 1;
    }
    difference == 0
}

#[inline(always)]
fn is_hex_id(name: &[u8; NAME_LEN], start: usize) -> bool {
    let mut not_hex = 0;
    let mut i = 0;
    while i < HEX_ID_LEN {
        not_hex |= NOT_HEX[at(name, start + i) as usize];
        i += 1;
    }
    not_hex == 0
}

/// Prefixes of the shapes whose ID is 64 hex digits; none starts another, and a bare ID starts
/// with none.
const HEX_PREFIXES: [&[u8]; 4] = [b"libpod-", b"docker-", b"cri-containerd-", b"crio-"];

/// `<prefix><64 hex>` or `<prefix><64 hex>.scope`, exactly, for one of [`HEX_PREFIXES`] or none.
/// The prefix is found first, so the 64 digits are checked once: each check is a loop the
/// verifier walks.
#[inline(always)]
fn hex_shape(name: &[u8; NAME_LEN], len: usize) -> Option<Component> {
    let mut start = 0;
    for prefix in HEX_PREFIXES {
        if starts_with(name, 0, prefix) {
            start = prefix.len();
            break;
        }
    }
    let end = start + HEX_ID_LEN;
    let fits = len == end || (len == end + SCOPE.len() && starts_with(name, end, SCOPE));
    (fits && is_hex_id(name, start)).then_some(Component::Container { start, end })
}

/// `<prefix><name><suffix>` with a non-empty name.
#[inline(always)]
fn name_shape(name: &[u8; NAME_LEN], len: usize, prefix: &[u8], suffix: &[u8]) -> Option<Component> {
    if len <= prefix.len() + suffix.len() || !starts_with(name, 0, prefix) {
        return None;
    }
    let end = len - suffix.len();
    starts_with(name, end, suffix).then_some(Component::Container { start: prefix.len(), end })
}

/// What directory name `name` (NUL-padded) says by its shape, whatever its parent.
#[inline(always)]
pub fn classify(name: &[u8; NAME_LEN]) -> Component {
    match classify_packed(name) {
        0 => Component::Plain,
        packed => Component::Container { start: (packed >> 8 & 0xff) as usize, end: (packed >> 16 & 0xff) as usize },
    }
}

/// [`classify`]'s answer in one integer (0 plain, else `1 | start << 8 | end << 16`): an eBPF
/// function may not return a structure, which would be returned through the stack.
#[inline(never)]
fn classify_packed(name: &[u8; NAME_LEN]) -> u32 {
    match classify_inline(name) {
        Component::Plain => 0,
        Component::Container { start, end } => 1 | (start as u32) << 8 | (end as u32) << 16,
    }
}

/// Whether a directory is named `lxc`: before 4.0, LXC put each container in a directory
/// named after it below this one.
#[inline(always)]
pub fn is_lxc_parent(name: &[u8; NAME_LEN]) -> bool {
    name_len(name) == 3 && starts_with(name, 0, b"lxc")
}

/// The container directory `name` names, given whether its parent is named `lxc`.
#[inline(always)]
pub fn container_directory(name: &[u8; NAME_LEN], below_lxc: bool) -> Component {
    match classify(name) {
        Component::Plain if below_lxc && name_len(name) > 0 => Component::Container { start: 0, end: name_len(name) },
        component => component,
    }
}

#[inline(always)]
fn classify_inline(name: &[u8; NAME_LEN]) -> Component {
    let len = name_len(name);
    let found = hex_shape(name, len)
        .or_else(|| name_shape(name, len, b"machine-", SCOPE))
        .or_else(|| name_shape(name, len, b"systemd-nspawn@", b".service"))
        .or_else(|| name_shape(name, len, b"lxc.payload.", b""));
    found.unwrap_or(Component::Plain)
}

/// Whether the ID `name[start..end]` begins with `prefix[..prefix_len]`.
#[inline(never)]
pub fn id_starts_with(
    name: &[u8; NAME_LEN],
    start: usize,
    end: usize,
    prefix: &[u8; ID_LEN],
    prefix_len: usize,
) -> bool {
    if prefix_len == 0 || prefix_len > ID_LEN || end < start || prefix_len > end - start {
        return false;
    }
    let mut i = 0;
    while i < ID_LEN {
        if i >= prefix_len {
            return true;
        }
        if at(name, start + i) != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A directory name as the kernel side sees it: NUL-padded, cut to `NAME_LEN - 1` bytes.
pub fn name_buffer(name: &[u8]) -> [u8; NAME_LEN] {
    let mut buffer = [0u8; NAME_LEN];
    let len = name.len().min(NAME_LEN - 1);
    buffer[..len].copy_from_slice(&name[..len]);
    buffer
}

#[cfg(test)]
mod tests {
    use std::format;

    use super::*;

    const ID: &str = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

    fn id_of(name: &str) -> Option<&str> {
        let buffer = name_buffer(name.as_bytes());
        match classify(&buffer) {
            Component::Container { start, end } => Some(&name[start..end]),
            _ => None,
        }
    }

    #[test]
    fn recognises_each_shape() {
        assert_eq!(id_of(&format!("libpod-{ID}")), Some(ID));
        assert_eq!(id_of(&format!("libpod-{ID}.scope")), Some(ID));
        assert_eq!(id_of(&format!("docker-{ID}.scope")), Some(ID));
        assert_eq!(id_of(&format!("cri-containerd-{ID}.scope")), Some(ID));
        assert_eq!(id_of(&format!("crio-{ID}.scope")), Some(ID));
        assert_eq!(id_of(ID), Some(ID));
        assert_eq!(id_of("machine-web\\x2d1.scope"), Some("web\\x2d1"));
        assert_eq!(id_of("systemd-nspawn@db.service"), Some("db"));
        assert_eq!(id_of("lxc.payload.c1"), Some("c1"));
        assert!(is_lxc_parent(&name_buffer(b"lxc")));
        assert!(!is_lxc_parent(&name_buffer(b"lxcx")));
        let below_lxc = name_buffer(b"c1");
        assert_eq!(container_directory(&below_lxc, true), Component::Container { start: 0, end: 2 });
        assert_eq!(container_directory(&below_lxc, false), Component::Plain);
    }

    #[test]
    fn rejects_lookalikes() {
        for name in [
            format!("libpod-conmon-{ID}.scope"),
            format!("crio-conmon-{ID}.scope"),
            format!("libpod-{ID}.slice"),
            format!("libpod-{}", &ID[..63]),
            format!("libpod-{ID}0"),
            ID.to_uppercase(),
            "machine-.scope".into(),
            "machine.slice".into(),
            "lxc.monitor.c1".into(),
            "lxc.payload.".into(),
            "system.slice".into(),
            "".into(),
        ] {
            assert_eq!(id_of(&name), None, "{name}");
        }
        assert_eq!(classify(&name_buffer(b"lxc")), Component::Plain);
    }

    #[test]
    fn prefixes_match_within_the_id_only() {
        let name = name_buffer(format!("libpod-{ID}").as_bytes());
        let Component::Container { start, end } = classify(&name) else { panic!("a container") };
        let prefix = |text: &str| {
            let mut buffer = [0u8; ID_LEN];
            buffer[..text.len()].copy_from_slice(text.as_bytes());
            (buffer, text.len())
        };
        for (text, expected) in [("3f2a9c1b7d4e", true), (ID, true), ("3f2b", false), ("libpod", false), ("", false)] {
            let (buffer, len) = prefix(text);
            assert_eq!(id_starts_with(&name, start, end, &buffer, len), expected, "{text}");
        }
        let short = name_buffer(b"lxc.payload.ab");
        let (buffer, len) = prefix("abc");
        assert!(!id_starts_with(&short, 12, 14, &buffer, len), "a prefix longer than the ID");
    }

    #[test]
    fn long_names_are_cut_like_the_kernel_side_reads_them() {
        let long = "x".repeat(300);
        assert_eq!(name_len(&name_buffer(long.as_bytes())), NAME_LEN - 1);
    }
}
