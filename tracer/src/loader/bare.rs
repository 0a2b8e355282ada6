//! aya's loader without the kernel BTF its constructor parses: `EbpfLoader::new` (aya 0.14)
//! always reads and parses `/sys/kernel/btf/vmlinux` (about 20 ms and 20 MB here), only for
//! CO-RE relocations, and tracer's object has none.

use aya::EbpfLoader;

/// Where the thread making the loader is rooted: a directory that always exists and holds only
/// numbers, so `/sys/kernel/btf/vmlinux` does not resolve under it.
const NO_SYSFS_ROOT: &std::ffi::CStr = c"/proc/self/fd";

/// A loader that does no CO-RE relocation. Call it on a thread of its own that ends afterwards:
/// the thread gives up sharing its root with the process and moves its root where the kernel
/// BTF cannot be found, so the constructor's parse fails at once. Without `CAP_SYS_CHROOT` (the
/// systemd unit does not grant it) the parse runs, and its result is dropped.
pub fn loader_without_kernel_btf() -> EbpfLoader<'static> {
    if !blind_this_thread() {
        log::debug!("aya's loader parses the kernel BTF: this thread cannot move its root");
    }
    let mut loader = EbpfLoader::new();
    loader.btf(None);
    loader
}

/// Roots the calling thread, and only it, where no sysfs is.
fn blind_this_thread() -> bool {
    const CAP_SYS_CHROOT: u32 = 18;
    // Without the capability chroot would only be refused; under a syscall filter that allows
    // neither call (the systemd unit's), neither is tried.
    if super::privileges::effective_capabilities().is_none_or(|effective| effective & (1 << CAP_SYS_CHROOT) == 0) {
        return false;
    }
    // SAFETY: unshare(CLONE_FS) gives this thread a private copy of its root and working
    // directory (allowed in a threaded process); chroot then changes only that copy. Both take
    // no pointers but the static C string.
    unsafe { libc::unshare(libc::CLONE_FS) == 0 && libc::chroot(NO_SYSFS_ROOT.as_ptr()) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// The thread that moved its root sees no sysfs; the others, before and after, still do.
    #[test]
    fn only_the_blinded_thread_loses_sysfs() {
        if !is_root() {
            eprintln!("SKIPPED: moving a thread's root needs CAP_SYS_CHROOT (run as root)");
            return;
        }
        let vmlinux = std::path::Path::new("/sys/kernel/btf/vmlinux");
        assert!(vmlinux.exists(), "this kernel exposes its BTF");
        let seen = std::thread::spawn(|| (blind_this_thread(), vmlinux.exists())).join().unwrap();
        assert_eq!(seen, (true, false));
        assert!(vmlinux.exists(), "the process keeps its root");
        let other = std::thread::spawn(|| vmlinux.exists()).join().unwrap();
        assert!(other, "a later thread keeps the process's root");
    }
}
