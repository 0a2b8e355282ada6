//! The container a cgroup path belongs to, and whether a path lies in or below another: the
//! userspace side of `tracer_common::container`, whose rule (documented there) the kernel's
//! `--container` filter applies to the same directories as they are created, so a replay selects
//! what the live run selected. Tested on path shapes seen on real machines.
use tracer_common::container::{self, Component};

use crate::text::Text;

/// The ID of the container cgroup `path` (below the hierarchy's root) belongs to: that of its
/// deepest container directory, if any.
pub fn container_of(path: &[u8]) -> Option<Text> {
    let directories: Vec<[u8; container::NAME_LEN]> =
        path.split(|&byte| byte == b'/').filter(|part| !part.is_empty()).map(container::name_buffer).collect();
    directories.iter().enumerate().rev().find_map(|(index, name)| {
        let below_lxc = index > 0 && container::is_lxc_parent(&directories[index - 1]);
        match container::container_directory(name, below_lxc) {
            Component::Container { start, end } => Some(Text::from(&name[start..end])),
            Component::Plain => None,
        }
    })
}

/// Whether cgroup `path` is `filter` or below it.
pub fn in_cgroup(path: &[u8], filter: &[u8]) -> bool {
    let parts = |path: &'_ [u8]| -> Vec<Vec<u8>> {
        path.split(|&byte| byte == b'/').filter(|part| !part.is_empty()).map(<[u8]>::to_vec).collect()
    };
    parts(path).starts_with(&parts(filter))
}

/// Whether `id` begins with `prefix`, as the kernel side compares (a non-empty prefix of at most
/// `container::ID_LEN` bytes).
pub fn id_starts_with(id: &Text, prefix: &str) -> bool {
    !prefix.is_empty() && prefix.len() <= container::ID_LEN && id.as_bytes().starts_with(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
    const OTHER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn of(path: &str) -> Option<String> {
        container_of(path.as_bytes()).map(|id| id.to_string())
    }

    /// Paths as the runtimes lay them out (from their documentation and machines running them).
    #[test]
    fn finds_the_container_of_each_runtimes_paths() {
        let cases = [
            // podman, cgroupfs manager (this project's test machines), and systemd manager.
            (format!("/libpod_parent/libpod-{ID}"), Some(ID)),
            (format!("/machine.slice/libpod-{ID}.scope"), Some(ID)),
            (format!("/machine.slice/libpod-{ID}.scope/container"), Some(ID)),
            (format!("/machine.slice/machine-libpod_pod_{OTHER}.slice/libpod-{ID}.scope"), Some(ID)),
            (format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"), Some(ID)),
            // conmon is podman's monitor, outside the container.
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), None),
            ("/libpod_parent/conmon".into(), None),
            // Docker: cgroupfs driver, systemd driver, and Docker in Docker (the inner one wins).
            (format!("/docker/{ID}"), Some(ID)),
            (format!("/system.slice/docker-{ID}.scope"), Some(ID)),
            (format!("/docker/{OTHER}/docker/{ID}"), Some(ID)),
            // Kubernetes: cgroupfs driver, containerd and CRI-O with the systemd driver.
            (format!("/kubepods/besteffort/pod8f2a0e4c-1b2d-4c3e-9f4a-5b6c7d8e9f01/{ID}"), Some(ID)),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8f2a0e4c_1b2d_4c3e_9f4a_5b6c7d8e9f01.slice/cri-containerd-{ID}.scope"
                ),
                Some(ID),
            ),
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod01.slice/crio-{ID}.scope"),
                Some(ID),
            ),
            (format!("/kubepods.slice/kubepods-pod01.slice/crio-conmon-{ID}.scope"), None),
            // systemd-nspawn: registered machine scope, and as a service with its payload.
            ("/machine.slice/machine-debian\\x2dtest.scope".into(), Some("debian\\x2dtest")),
            ("/machine.slice/systemd-nspawn@web.service/payload".into(), Some("web")),
            ("/machine.slice/systemd-nspawn@web.service/payload/system.slice/cron.service".into(), Some("web")),
            // LXC 4+ / LXD, its monitor (outside), and LXC before 4.0.
            ("/lxc.payload.c1".into(), Some("c1")),
            ("/lxc.payload.c1/init.scope".into(), Some("c1")),
            ("/lxc.monitor.c1".into(), None),
            ("/lxc/c1".into(), Some("c1")),
            ("/lxc/c1/system.slice".into(), Some("c1")),
            ("/lxc".into(), None),
            (format!("/lxc/c1/docker/{ID}"), Some(ID)),
            (format!("/lxc/libpod-{ID}.scope"), Some(ID)),
            // Plain host cgroups.
            ("/".into(), None),
            ("/system.slice/ssh.service".into(), None),
            ("/user.slice/user-1000.slice/session-2.scope".into(), None),
            ("/process_api/94913843b71697b4b7c9385e761f675d".into(), None),
        ];
        for (path, expected) in cases {
            assert_eq!(of(&path), expected.map(str::to_owned), "{path}");
        }
    }

    #[test]
    fn cgroup_filters_select_the_cgroup_and_below() {
        assert!(in_cgroup(b"/libpod_parent/libpod-x", b"/libpod_parent"));
        assert!(in_cgroup(b"/libpod_parent", b"/libpod_parent/"));
        assert!(in_cgroup(b"/a/b", b"/"));
        assert!(!in_cgroup(b"/libpod_parent2/x", b"/libpod_parent"));
        assert!(!in_cgroup(b"/libpod", b"/libpod_parent"));
        let deep = format!("/a{}", "/x".repeat(40));
        assert!(in_cgroup(deep.as_bytes(), b"/a"));
    }

    #[test]
    fn prefixes_compare_like_the_kernel_side() {
        let id = Text::from(ID);
        assert!(id_starts_with(&id, "3f2a9c1b7d4e"));
        assert!(id_starts_with(&id, ID));
        assert!(!id_starts_with(&id, ""));
        assert!(!id_starts_with(&id, "3f2b"));
    }
}
