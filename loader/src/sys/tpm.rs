//! The TPM character device and systemd's measurement log, for `pipeline::measure`.
//!
//! The log discipline is systemd's (`tpm2_userspace_log_open` / `tpm2_userspace_log` in its
//! `src/shared/tpm2-util.c`): the parent directory made 0755, the file opened
//! `O_CREAT|O_WRONLY|O_CLOEXEC|O_NOFOLLOW` mode 0600, `flock(LOCK_EX)` held across the extend and
//! the append, `fstat` must say regular, a sticky bit already set means a writer died mid-record
//! (the log is then left alone), the sticky bit is set while writing, the record appended at the
//! end, `fsync`, sticky bit cleared, `fsync`. Two differences, both for a program that must
//! never hang a boot: the lock is waited for at most [`LOCK_WAIT`], and the open adds
//! `O_NONBLOCK` (a FIFO put there cannot block us).
#![forbid(unsafe_code)]
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::{FileType, FlockOperation, Mode, OFlags, SeekFrom};

use bpf_preload_format::measure::boot_id;

/// The longest wait for the log's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);
/// The TPM devices tried, in order: the kernel's resource manager first.
pub const TPM_DEVICES: [&str; 2] = ["/dev/tpmrm0", "/dev/tpm0"];
/// Largest TPM response read.
const MAX_RESPONSE: usize = 4096;

/// Why the measurement log got no record; the extends go on (the PCR stays right). Clone (the
/// I/O error shared) so that a measurer can keep the first one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    #[error("open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("{} is locked by another writer (waited {waited_ms} ms)", path.display())]
    Locked { path: PathBuf, waited_ms: u64 },
    #[error("{} is not a regular file (refused)", path.display())]
    NotRegular { path: PathBuf },
    #[error("{} is marked aborted (a writer died mid-record): corrupt, not appended to", path.display())]
    Aborted { path: PathBuf },
    #[error("write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
}

/// Why no TPM device could be opened: each device tried, and why it could not be.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", display_tries(.0))]
pub struct OpenTpmError(pub Vec<DeviceError>);

/// One TPM device that could not be opened.
#[derive(Debug, Clone, thiserror::Error)]
#[error("open {}: {source}", path.display())]
pub struct DeviceError {
    pub path: PathBuf,
    #[source]
    pub source: Arc<io::Error>,
}

fn display_tries(tries: &[DeviceError]) -> String {
    if tries.is_empty() {
        // `run` outside an initramfs without --tpm-device: the boot's TPM is left alone.
        return "no TPM device to try (a run outside the initramfs uses one only with --tpm-device)"
            .into();
    }
    let tries: Vec<String> = tries.iter().map(DeviceError::to_string).collect();
    tries.join("; ")
}

/// The I/O measuring needs.
pub trait MeasureIo {
    /// Open the TPM (`/dev/tpmrm0`, else `/dev/tpm0`); the device's path, or why none.
    fn open_tpm(&self) -> Result<PathBuf, OpenTpmError>;
    /// Send one command to the opened TPM, return its response.
    fn transact(&self, cmd: &[u8]) -> io::Result<Vec<u8>>;
    /// Wait a little before trying a busy TPM again.
    fn pause(&self, attempt: u32);
    /// Open the log (created 0600, no symlink), lock it (bounded wait), refuse a file that is
    /// not regular or is marked aborted, and mark it (sticky bit) while we write.
    fn log_begin(&self) -> Result<(), LogError>;
    /// Append one record, sync, unmark, unlock. Only after a successful `log_begin`.
    fn log_append(&self, record: &[u8]) -> Result<(), LogError>;
    /// Unmark and unlock without writing (the extend failed: the log still matches).
    fn log_cancel(&self);
    fn log_path(&self) -> PathBuf;
    /// `bootId` and the CLOCK_BOOTTIME timestamp (µs) of a record.
    fn boot_id(&self) -> String;
    fn timestamp_us(&self) -> u64;
}

/// The real TPM device and measurement log.
pub struct RealMeasure {
    devices: Vec<PathBuf>,
    log_path: PathBuf,
    tpm: RefCell<Option<File>>,
    log: RefCell<Option<OwnedFd>>,
}

impl RealMeasure {
    pub fn new(devices: Vec<PathBuf>, log_path: PathBuf) -> Self {
        Self {
            devices,
            log_path,
            tpm: RefCell::new(None),
            log: RefCell::new(None),
        }
    }

    fn path(&self) -> PathBuf {
        self.log_path.clone()
    }
}

impl MeasureIo for RealMeasure {
    fn open_tpm(&self) -> Result<PathBuf, OpenTpmError> {
        let mut tries = Vec::new();
        for dev in &self.devices {
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags_cloexec()
                .open(dev)
            {
                Ok(f) => {
                    *self.tpm.borrow_mut() = Some(f);
                    return Ok(dev.clone());
                }
                Err(e) => tries.push(DeviceError {
                    path: dev.clone(),
                    source: Arc::new(e),
                }),
            }
        }
        Err(OpenTpmError(tries))
    }

    fn transact(&self, cmd: &[u8]) -> io::Result<Vec<u8>> {
        let mut tpm = self.tpm.borrow_mut();
        let f = tpm
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not open"))?;
        f.write_all(cmd)?;
        // The driver hands over the whole response in one read.
        let mut buf = vec![0u8; MAX_RESPONSE];
        let n = f.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn pause(&self, attempt: u32) {
        std::thread::sleep(Duration::from_millis(u64::from(attempt.min(10)) * 50));
    }

    fn log_begin(&self) -> Result<(), LogError> {
        let path = self.path();
        let open_err = |e: io::Error| LogError::Open {
            path: path.clone(),
            source: Arc::new(e),
        };
        if let Some(dir) = self.log_path.parent() {
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode_0755()
                .create(dir);
        }
        let flags = OFlags::CREATE
            | OFlags::WRONLY
            | OFlags::CLOEXEC
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::NOCTTY;
        let fd =
            rustix::fs::open(&self.log_path, flags, Mode::from_raw_mode(0o600)).map_err(|e| {
                // A symlink (ELOOP), a FIFO without a reader (ENXIO), a directory (EISDIR):
                // something is there that is not a regular file.
                let there = std::fs::symlink_metadata(&self.log_path);
                if there.is_ok_and(|m| !m.file_type().is_file()) {
                    LogError::NotRegular { path: path.clone() }
                } else {
                    open_err(e.into())
                }
            })?;
        let start = Instant::now();
        loop {
            match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK | rustix::io::Errno::INTR)
                    if start.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    return Err(LogError::Locked {
                        path,
                        waited_ms: start.elapsed().as_millis() as u64,
                    })
                }
                Err(e) => return Err(open_err(e.into())),
            }
        }
        let st = rustix::fs::fstat(&fd).map_err(|e| open_err(e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(LogError::NotRegular { path });
        }
        if Mode::from_raw_mode(st.st_mode).contains(Mode::SVTX) {
            return Err(LogError::Aborted { path });
        }
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o1600)).map_err(|e| open_err(e.into()))?;
        *self.log.borrow_mut() = Some(fd);
        Ok(())
    }

    fn log_append(&self, record: &[u8]) -> Result<(), LogError> {
        let Some(fd) = self.log.borrow_mut().take() else {
            return Ok(());
        };
        let write_err = |e: io::Error| LogError::Write {
            path: self.path(),
            source: Arc::new(e),
        };
        rustix::fs::seek(&fd, SeekFrom::End(0)).map_err(|e| write_err(e.into()))?;
        let mut f = File::from(fd);
        // O_NONBLOCK means nothing for a regular file: a short write cannot happen early.
        f.write_all(record).map_err(write_err)?;
        f.sync_data().map_err(write_err)?;
        rustix::fs::fchmod(&f, Mode::from_raw_mode(0o600)).map_err(|e| write_err(e.into()))?;
        f.sync_all().map_err(write_err)?;
        Ok(())
        // Closing the file releases the lock.
    }

    fn log_cancel(&self) {
        if let Some(fd) = self.log.borrow_mut().take() {
            let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o600));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.path()
    }

    fn boot_id(&self) -> String {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .and_then(|t| boot_id(&t))
            .unwrap_or_else(|| "0".repeat(32))
    }

    fn timestamp_us(&self) -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        (t.tv_sec as u64).saturating_mul(1_000_000) + (t.tv_nsec as u64) / 1000
    }
}

/// Small helpers so the open calls read as what they ask for.
trait OpenExt {
    fn custom_flags_cloexec(&mut self) -> &mut Self;
}

impl OpenExt for std::fs::OpenOptions {
    fn custom_flags_cloexec(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags((OFlags::CLOEXEC | OFlags::NOCTTY).bits() as i32)
    }
}

trait DirExt {
    fn mode_0755(&mut self) -> &mut Self;
}

impl DirExt for std::fs::DirBuilder {
    fn mode_0755(&mut self) -> &mut Self {
        use std::os::unix::fs::DirBuilderExt;
        self.mode(0o755)
    }
}
