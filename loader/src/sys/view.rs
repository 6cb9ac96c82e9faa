//! A read-only view of a file of the kernel's sysfs: mapped where the kernel lets it be mapped
//! (`/sys/kernel/btf/vmlinux` from Linux 6.16: its megabytes are not copied, and not read one
//! page per system call), read with [`read_bounded`](super::read_bounded) otherwise. Only sysfs
//! files are mapped: their size cannot change under the mapping (a regular file that shrank
//! would fault on access).
#![allow(unsafe_code)]

use std::io;
use std::ops::Deref;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::mm::{MapFlags, ProtFlags};

/// sysfs's `f_type` (`SYSFS_MAGIC`).
const SYSFS_MAGIC: i64 = 0x6265_6572;

/// The bytes of a file, mapped or read.
pub struct FileView {
    inner: Inner,
}

enum Inner {
    Mapped {
        ptr: *mut std::ffi::c_void,
        len: usize,
    },
    Read(Vec<u8>),
}

#[cfg(test)]
impl FileView {
    /// Was it mapped (not copied)?
    pub fn mapped(&self) -> bool {
        matches!(self.inner, Inner::Mapped { .. })
    }
}

impl Deref for FileView {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.inner {
            // SAFETY: `ptr` is a live read-only mapping of `len` bytes, owned by this view and
            // unmapped only when it is dropped; a sysfs file's size does not change.
            Inner::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(ptr.cast::<u8>(), *len)
            },
            Inner::Read(v) => v,
        }
    }
}

impl Drop for FileView {
    fn drop(&mut self) {
        if let Inner::Mapped { ptr, len } = self.inner {
            // SAFETY: the mapping is ours alone and no slice of it outlives `self`.
            let _ = unsafe { rustix::mm::munmap(ptr, len) };
        }
    }
}

impl From<Vec<u8>> for FileView {
    /// Bytes got some other way (the kernel's BTF copied by a `bpf` call).
    fn from(v: Vec<u8>) -> Self {
        Self {
            inner: Inner::Read(v),
        }
    }
}

/// `path` (at most `max` bytes) mapped read-only when it is a sysfs file the kernel lets us map;
/// `None` otherwise.
pub fn mapped(path: &Path, max: u64) -> Option<FileView> {
    map(path, max).map(|inner| FileView { inner })
}

/// `path` (at most `max` bytes) mapped read-only when it is a sysfs file the kernel lets us map,
/// read otherwise (every refusal of the mapping falls back to the read, which has the
/// read's checks and errors).
pub fn view(path: &Path, max: u64) -> io::Result<FileView> {
    match map(path, max) {
        Some(inner) => Ok(FileView { inner }),
        None => super::read_bounded(path, max).map(|v| FileView {
            inner: Inner::Read(v),
        }),
    }
}

fn map(path: &Path, max: u64) -> Option<Inner> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags, Mode::empty()).ok()?;
    let fs = rustix::fs::fstatfs(&fd).ok()?;
    #[allow(clippy::unnecessary_cast)] // f_type's type differs between targets
    if fs.f_type as i64 != SYSFS_MAGIC {
        return None;
    }
    let st = rustix::fs::fstat(&fd).ok()?;
    let size = u64::try_from(st.st_size).ok()?;
    if size == 0 || size > max || (st.st_mode & 0o170000) != 0o100000 {
        return None;
    }
    let len = usize::try_from(size).ok()?;
    // SAFETY: a new private read-only mapping chosen by the kernel (no address given), of a
    // descriptor we hold for the call; the view owns it from here.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ,
            MapFlags::PRIVATE,
            fd.as_fd(),
            0,
        )
    }
    .ok()?;
    Some(Inner::Mapped { ptr, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_outside_sysfs_is_read_not_mapped() {
        let dir = std::env::temp_dir().join(format!("bp-view-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("data");
        std::fs::write(&f, b"abc").unwrap();
        let v = view(&f, 16).unwrap();
        assert_eq!(&*v, b"abc");
        assert!(!v.mapped());
        // The read's checks stay: over the limit is refused.
        assert!(view(&f, 2).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_kernels_btf_reads_the_same_mapped_or_read() {
        let p = Path::new("/sys/kernel/btf/vmlinux");
        if !p.exists() {
            eprintln!(
                "SKIP the_kernels_btf_reads_the_same_mapped_or_read: no {}",
                p.display()
            );
            return;
        }
        let v = view(p, 128 << 20).unwrap();
        let read = super::super::read_bounded(p, 128 << 20).unwrap();
        assert_eq!(&*v, &read[..]);
        // Mapped where this kernel allows it (6.16 and later), read before.
        eprintln!("{}: mapped {}", p.display(), v.mapped());
    }
}
