//! The live status's probe of the running system ([`LiveProbe`]): pins through BPF_OBJ_GET (the
//! same probe `run` uses on an object already loaded), links by id through
//! BPF_LINK_GET_FD_BY_ID, the guard's pinned maps through read-only descriptors (the only kind
//! the guard allows), the probe directory, the keyring, and small bounded reads of kernel text
//! files. It decides nothing: `pipeline::live` does.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::guard;
use super::skel::calls;
use super::Libbpf;
use crate::pipeline::live::{Instance, LiveProbe, PROT_LINKS};
use crate::pipeline::load::Kernel;
use crate::pipeline::object::Probe;
use crate::sys::{self, keyring};
use bpf_preload_format::guard::{GuardInfo, INFO_PIN};

/// Largest kernel text file read (the mount table of a busy machine included).
const MAX_TEXT: u64 = 1 << 20;
/// More entries than any guard's `prot_links` holds.
const MAX_PROT_LINKS: usize = 1 << 16;

/// Why the guard's `prot_links` could not be read (inside the `io::Error` the trait returns, so
/// the pipeline sees the message and the chain keeps libbpf's error).
#[derive(Debug, thiserror::Error)]
enum ProtLinksError {
    #[error("open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: libbpf_rs::Error,
    },
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: libbpf_rs::Error,
    },
    #[error("{}: {len}-byte keys, not link ids", path.display())]
    KeySize { path: PathBuf, len: usize },
    #[error("{}: {len}-byte values, not program ids (an older guard)", path.display())]
    ValueSize { path: PathBuf, len: usize },
}

/// Keep `NotFound` for a pin that is not there; any other failure is the error's own.
fn not_there(path: &Path) -> io::Result<()> {
    std::fs::symlink_metadata(path).map(drop)
}

impl LiveProbe for Libbpf {
    fn pin(&self, path: &Path) -> io::Result<Probe> {
        // Nothing at the path is "not pinned"; a directory or a symlink there is no pin (pins
        // are files of the bpffs); for the rest, BPF_OBJ_GET says what it is, or why not.
        if !std::fs::symlink_metadata(path)?.is_file() {
            return Ok(Probe::Other);
        }
        self.probe(path)
    }

    fn link_prog(&self, id: u32) -> io::Result<Option<u32>> {
        let fd = match calls::link_fd_by_id(id) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // Closing the descriptor only closes it: the link stays as it is.
        let info =
            std::fs::read_to_string(Path::new(&format!("/proc/self/fdinfo/{}", fd.as_raw_fd())))?;
        let prog = info
            .lines()
            .find_map(|l| l.strip_prefix("prog_id:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        Ok(Some(prog))
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match std::fs::symlink_metadata(path) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir)? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn read_text(&self, path: &Path) -> io::Result<String> {
        sys::read_bounded(path, MAX_TEXT).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn instance(&self, path: &Path) -> io::Result<Instance> {
        let m = std::fs::metadata(path)?;
        Ok(Instance {
            ino: m.ino(),
            dev: bpf_preload_format::live::kernel_dev(m.dev()),
        })
    }

    fn guard_info(&self, bpffs: &Path) -> io::Result<GuardInfo> {
        not_there(&bpffs.join(crate::pipeline::guard::GUARD_DIR).join(INFO_PIN))?;
        guard::read_info(bpffs).map_err(io::Error::other)
    }

    fn prot_links(&self, bpffs: &Path) -> io::Result<BTreeMap<u32, u32>> {
        let path = bpffs.join(PROT_LINKS);
        not_there(&path)?;
        let rdonly = libbpf_rs::libbpf_sys::BPF_F_RDONLY;
        let map = MapHandle::from_pinned_path_with_file_flags(&path, rdonly).map_err(|source| {
            io::Error::other(ProtLinksError::Open {
                path: path.clone(),
                source,
            })
        })?;
        let mut out = BTreeMap::new();
        for key in map.keys().take(MAX_PROT_LINKS) {
            let Ok(k) = <[u8; 4]>::try_from(key.as_slice()) else {
                return Err(io::Error::other(ProtLinksError::KeySize {
                    path,
                    len: key.len(),
                }));
            };
            let v = map.lookup(&key, MapFlags::ANY).map_err(|source| {
                io::Error::other(ProtLinksError::Read {
                    path: path.clone(),
                    source,
                })
            })?;
            // A key deleted between the walk and the lookup: not there (the map is frozen).
            let Some(v) = v else { continue };
            let Ok(v) = <[u8; 4]>::try_from(v.as_slice()) else {
                return Err(io::Error::other(ProtLinksError::ValueSize {
                    path,
                    len: v.len(),
                }));
            };
            out.insert(u32::from_ne_bytes(k), u32::from_ne_bytes(v));
        }
        Ok(out)
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn key_type(&self, serial: i32) -> io::Result<String> {
        keyring::key_type(serial)
    }
}
