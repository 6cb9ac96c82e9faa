//! The syscall boundary: mounts, statfs, directory and pin operations on bpffs, reading objects,
//! key files and the plan's files (bounded, never through a symlink),
//! and /dev/kmsg. The pipeline talks to the system only through [`Sys`], so its order of
//! operations is unit-tested with the recording fake (`FakeSys` in `fakes.rs`, test builds only).
//! `std::fs` is named here and in `kernel` (the other OS boundary) only; clippy enforces it.
//!
//! `unsafe` here is for the system calls std has no wrapper for (keyrings, the TPM) and the
//! read-only mapping of a sysfs file (`view`: the kernel's BTF); libbpf and
//! its C callback are `kernel`'s.
#![deny(unsafe_code)]
// The syscall boundary: std::fs is used here, and only here (loader/clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod keyring;
pub mod tpm;
pub mod view;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::{OFlags, RenameFlags, CWD};
use rustix::mount::MountFlags;

/// Largest object file we read; anything bigger is refused before reading.
pub const MAX_OBJECT_SIZE: u64 = 64 << 20;
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
pub const TRACEFS_MAGIC: i64 = 0x7472_6163;
pub const SECURITYFS_MAGIC: i64 = 0x7363_6673;
pub const DEBUGFS_MAGIC: i64 = 0x6462_6720;
/// Where the kernel lists its active LSMs (securityfs, `lsm`).
pub const SECURITYFS_PATH: &str = "/sys/kernel/security";
/// Where libbpf looks for tracefs.
pub const TRACEFS_PATH: &str = "/sys/kernel/tracing";
const KMSG: &str = "/dev/kmsg";
/// One kmsg record holds about 1 KiB; longer messages are split.
const KMSG_RECORD_MAX: usize = 900;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    Bpf,
    Trace,
    Security,
    Debug,
}

impl FsKind {
    fn magic(self) -> i64 {
        match self {
            FsKind::Bpf => BPF_FS_MAGIC,
            FsKind::Trace => TRACEFS_MAGIC,
            FsKind::Security => SECURITYFS_MAGIC,
            FsKind::Debug => DEBUGFS_MAGIC,
        }
    }
    pub fn fstype(self) -> &'static str {
        match self {
            FsKind::Bpf => "bpf",
            FsKind::Trace => "tracefs",
            FsKind::Security => "securityfs",
            FsKind::Debug => "debugfs",
        }
    }
}

/// Kernel log priorities used in kmsg records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prio {
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

/// An exclusive lock, held until dropped (and released by the kernel if the process dies).
pub struct Lock {
    _fd: Option<std::os::fd::OwnedFd>,
}

impl Lock {
    /// A lock that holds nothing (for test doubles).
    #[cfg(test)]
    pub fn none() -> Self {
        Self { _fd: None }
    }
}

/// How long `run` waits for another run holding the lock before giving up.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

pub trait Sys {
    /// Take the exclusive lock of directory `dir` (flock), waiting up to [`LOCK_WAIT`].
    fn lock(&self, dir: &Path) -> io::Result<Lock>;
    /// A short string no other run picks (for staging directory names).
    fn nonce(&self) -> String;
    /// Is a filesystem of this kind mounted at (or above) `path`? False when `path` is missing.
    fn is_mounted(&self, kind: FsKind, path: &Path) -> io::Result<bool>;
    /// Mount a new instance at `path` (created if missing), nosuid,nodev,noexec.
    fn mount(&self, kind: FsKind, path: &Path) -> io::Result<()>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// Create `path` and any missing parents (the status record's directory); an existing
    /// directory is fine.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Replace the file at `path` with `bytes` as one rename ([`write_replace`]): the status
    /// record.
    fn write_replace(
        &self,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        durability: Durability,
    ) -> io::Result<()>;
    /// Rename that fails with EEXIST rather than replace anything.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove a directory tree (pins and directories), or a single pin.
    fn remove_tree(&self, path: &Path) -> io::Result<()>;
    /// Does anything exist at `path` (without following a final symlink)?
    fn exists(&self, path: &Path) -> bool;
    /// Names in a directory, sorted; empty when it does not exist.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Read a regular file once, at most `max` bytes: O_NOFOLLOW (a symlink is refused),
    /// O_NONBLOCK, O_CLOEXEC; a directory, FIFO, socket or device is refused ([`read_bounded`]).
    /// Objects, key files, the command line, the list and the policy are read through it.
    fn read_bounded(&self, path: &Path, max: u64) -> io::Result<Vec<u8>>;
    /// Read a small kernel text file (the active LSM list).
    fn read_text(&self, path: &Path) -> io::Result<String>;
    /// `(st_ino, st_dev)` of `path` (following symlinks): a bpffs's root names its instance.
    fn stat_ids(&self, path: &Path) -> io::Result<(u64, u64)>;
    /// One log record: /dev/kmsg, or stderr when kmsg is absent.
    fn log(&self, prio: Prio, message: &str);
}

/// The real system.
pub struct RealSys {
    /// Also echo log records to stderr (for people running `run` by hand).
    pub echo: bool,
    /// Write log records to /dev/kmsg (off: stderr only, for a manual run).
    pub to_kmsg: bool,
    /// The open /dev/kmsg and how many records were written through it.
    kmsg: std::sync::Mutex<Option<(File, usize)>>,
}

impl RealSys {
    pub fn new(echo: bool) -> Self {
        Self {
            echo,
            to_kmsg: true,
            kmsg: std::sync::Mutex::new(None),
        }
    }
}

/// The kernel rate-limits writes per open /dev/kmsg file (a burst of 10 records, then 10 per
/// 5 s; the rest are dropped silently), so a file is used for this many records and then
/// replaced by a fresh open. Opening /dev/kmsg is not cheap (about 0.1 ms: the kernel allocates
/// its buffers), so not every record gets its own.
const KMSG_RECORDS_PER_OPEN: usize = 10;

fn open_kmsg() -> Option<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(OFlags::CLOEXEC.bits() as i32)
        .open(KMSG)
        .ok()
}

fn fs_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Split a message into kmsg-sized records, at whitespace when possible.
pub fn kmsg_records(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message.trim_end();
    while rest.len() > KMSG_RECORD_MAX {
        let mut cut = KMSG_RECORD_MAX;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = rest[..cut].rfind(' ').filter(|&i| i > 0).unwrap_or(cut);
        out.push(&rest[..cut]);
        rest = rest[cut..].trim_start();
    }
    out.push(rest);
    out
}

/// Read a regular file once: O_NOFOLLOW (a symlink is refused), O_NONBLOCK (a FIFO cannot
/// hang us), O_CLOEXEC, at most `max` bytes. Anything that is not a regular file is refused.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let flags = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                io::Error::new(io::ErrorKind::InvalidInput, "is a symbolic link (refused)")
            } else if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error())
                && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
            {
                // Opening a socket fails with ENXIO ("No such device or address").
                io::Error::new(io::ErrorKind::InvalidInput, "is a socket (refused)")
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() || ft.is_socket() || ft.is_char_device() || ft.is_block_device() {
            "a special file"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {what} (refused)"),
        ));
    }
    if meta.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {} bytes, more than the {max} allowed", meta.len()),
        ));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    Read::by_ref(&mut file)
        .take(max + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "grew while being read (refused)",
        ));
    }
    Ok(buf)
}

/// Whether [`write_replace`] makes the new file durable before the rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before the rename: after a crash the path holds the old or the new bytes (signed
    /// objects).
    Synced,
    /// The rename alone: every reader sees the old or the new file, never part of one, but a
    /// crash may lose the new one (the status record: it lives in /run, a tmpfs, and describes
    /// this boot only; an fsync there is a no-op, and on a disk a journal commit nobody needs).
    Unsynced,
}

/// Replace `path` with `bytes`, atomically: a new temporary file beside it, created exclusively
/// (O_EXCL|O_NOFOLLOW: nothing planted at that name is followed or reused) under a name no other
/// writer picks, then renamed over `path`. On failure the temporary file is removed.
pub fn write_replace(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    durability: Durability,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut nonce = [0u8; 8];
    rustix::rand::getrandom(&mut nonce, rustix::rand::GetRandomFlags::empty()).map_err(fs_err)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        u64::from_ne_bytes(nonce)
    ));
    let tmp = dir.join(tmp_name);
    let flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(flags.bits() as i32)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            match durability {
                Durability::Synced => f.sync_all(),
                Durability::Unsynced => Ok(()),
            }
        });
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Sys for RealSys {
    fn lock(&self, dir: &Path) -> io::Result<Lock> {
        use rustix::fs::{flock, FlockOperation};
        let fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(fs_err)?;
        let start = std::time::Instant::now();
        loop {
            match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Lock { _fd: Some(fd) }),
                Err(rustix::io::Errno::WOULDBLOCK) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "another bpf-preload run holds the lock (waited {} s)",
                            LOCK_WAIT.as_secs()
                        ),
                    ))
                }
                Err(e) => return Err(fs_err(e)),
            }
        }
    }

    fn nonce(&self) -> String {
        let mut b = [0u8; 4];
        if rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()).is_err() {
            b = std::process::id().to_le_bytes();
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn is_mounted(&self, kind: FsKind, path: &Path) -> io::Result<bool> {
        match rustix::fs::statfs(path) {
            Ok(st) => Ok(st.f_type == kind.magic()),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(fs_err(e)),
        }
    }

    fn mount(&self, kind: FsKind, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)?;
        let data = match kind {
            FsKind::Bpf => Some(c"mode=0700"),
            FsKind::Trace | FsKind::Security | FsKind::Debug => None,
        };
        let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        rustix::mount::mount(kind.fstype(), path, kind.fstype(), flags, data).map_err(fs_err)
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn write_replace(
        &self,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        durability: Durability,
    ) -> io::Result<()> {
        write_replace(path, bytes, mode, durability)
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        rustix::fs::renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(fs_err)
    }

    fn remove_tree(&self, path: &Path) -> io::Result<()> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for e in entries {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn read_text(&self, path: &Path) -> io::Result<String> {
        read_bounded(path, 1 << 16).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn read_bounded(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        read_bounded(path, max)
    }

    fn stat_ids(&self, path: &Path) -> io::Result<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map(|m| (m.ino(), m.dev()))
    }

    fn log(&self, prio: Prio, message: &str) {
        if !self.to_kmsg {
            for record in kmsg_records(message) {
                to_stderr(record);
            }
            return;
        }
        let mut kmsg = self.kmsg.lock().unwrap_or_else(|e| e.into_inner());
        for record in kmsg_records(message) {
            let line = format!("<{}>bpf-preload: {record}\n", prio as u8);
            if kmsg
                .as_ref()
                .is_none_or(|(_, n)| *n >= KMSG_RECORDS_PER_OPEN)
            {
                *kmsg = open_kmsg().map(|f| (f, 0));
            }
            // One write() is one kmsg record.
            let written = kmsg.as_mut().is_some_and(|(f, n)| {
                *n += 1;
                f.write_all(line.as_bytes()).is_ok()
            });
            if !written || self.echo {
                to_stderr(record);
            }
        }
    }
}

/// One log record on stderr, in one write (eprintln! writes its pieces one by one to the
/// unbuffered stderr): a line is never split by another process's output, and costs one call.
fn to_stderr(record: &str) {
    let _ = io::stderr().write_all(format!("bpf-preload: {record}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmsg_records_split_long_messages() {
        assert_eq!(kmsg_records("short"), vec!["short"]);
        let long = "word ".repeat(500);
        let recs = kmsg_records(&long);
        assert!(recs.len() > 1);
        assert!(recs
            .iter()
            .all(|r| r.len() <= KMSG_RECORD_MAX && !r.is_empty()));
        assert_eq!(recs.join(" "), long.trim_end());
    }

    #[test]
    fn read_bounded_refuses_symlinks_and_non_files() {
        let dir = std::env::temp_dir().join(format!("bpf-preload-sys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.bpf.o");
        std::fs::write(&file, b"bytes").unwrap();
        let link = dir.join("b.bpf.o");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let sys = RealSys::new(false);
        assert_eq!(sys.read_bounded(&file, 5).unwrap(), b"bytes");
        assert!(sys
            .read_bounded(&link, 5)
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        assert!(sys
            .read_bounded(&dir, 5)
            .unwrap_err()
            .to_string()
            .contains("directory"));
        assert_eq!(
            sys.read_bounded(&dir.join("missing"), 5)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
