//! The fast path: a light skeleton made at sign time, run in the kernel at boot.
//!
//! `kernel::convert` (sign time) runs libbpf's gen_loader over the ELF and describes the result;
//! [`FastObject::load`] (boot) runs the loader — the kernel creates the maps, loads the BTF, does
//! the CO-RE relocations and loads the programs — then attaches with the kernel's own calls. No
//! ELF and no vmlinux BTF is parsed in user space. It implements the same [`Loaded`] and
//! [`Pinnable`] traits as the libbpf path, so pinning, status and refusals are the pipeline's.
#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::skel::calls;
use super::skel::{self, SkelError};
use crate::pipeline::load::{LinkIds, LoadError, LoadPath, LoadReport, Loaded};
use crate::pipeline::object::{PinNames, Pinnable};
use crate::sys::TRACEFS_PATH;
use bpf_preload_format::fast::{Attach, FastPath, ProgDesc};
use bpf_preload_format::name::PinKind;

const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe";

/// An object the loader made: its maps and programs, then its links.
pub struct FastObject {
    maps: Vec<(String, OwnedFd)>,
    progs: Vec<(ProgDesc, OwnedFd)>,
    links: Vec<(String, OwnedFd)>,
    not_attached: Vec<String>,
    skipped: Vec<String>,
    /// The kernel's verdict on the loader's signature (status `kernel_signature`).
    pub kernel_signature: Option<String>,
}

impl FastObject {
    /// Run the loader in the kernel; a kernel-signed one against `keyring` (the loader's sealed
    /// keyring), whose verdict the kernel gives by loading it or not.
    pub fn load(fast: &FastPath, keyring: Option<i32>) -> Result<Self, SkelError> {
        let d = &fast.descriptor;
        let signature = match (fast.kernel_sig.is_empty(), keyring) {
            (false, Some(keyring)) => Some(skel::LoaderSignature {
                cms: &fast.kernel_sig,
                keyring,
            }),
            _ => None,
        };
        let out = skel::run_loader(
            &fast.insns,
            &fast.data,
            d.maps.len(),
            d.programs.len(),
            !fast.kernel_sig.is_empty(),
            signature,
        )?;
        Ok(Self {
            maps: d
                .maps
                .iter()
                .map(|m| m.name.clone())
                .zip(out.maps)
                .collect(),
            progs: d.programs.iter().cloned().zip(out.progs).collect(),
            links: Vec::new(),
            not_attached: Vec::new(),
            skipped: d.skipped.clone(),
            kernel_signature: Some(
                match (signature.is_some(), fast.kernel_sig.is_empty()) {
                    (true, _) => "verified",
                    (false, true) => "unsigned",
                    (false, false) => {
                        "unsupported: no loader keyring (no usable certificate, or no BPF \
                         signatures in this kernel)"
                    }
                }
                .to_owned(),
            ),
        })
    }
}

/// The tracepoint's id, from tracefs (where libbpf reads it too).
fn tracepoint_id(category: &str, event: &str) -> io::Result<u64> {
    let path = Path::new(TRACEFS_PATH)
        .join("events")
        .join(category)
        .join(event)
        .join("id");
    let text = std::fs::read_to_string(&path)?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::from_raw_os_error(rustix::io::Errno::INVAL.raw_os_error()))
}

/// This kernel has no kprobe PMU in sysfs (kept inside the `io::Error`, its kind the read's).
#[derive(Debug, thiserror::Error)]
#[error("no kprobe PMU ({KPROBE_PMU}): {source}")]
struct NoKprobePmu {
    #[source]
    source: io::Error,
}

/// The kprobe PMU's type and the config bit that makes a kretprobe, from sysfs (as libbpf reads
/// them: `/sys/bus/event_source/devices/kprobe/{type,format/retprobe}`, the latter `config:N`).
fn kprobe_pmu(retprobe: bool) -> io::Result<(u32, u64)> {
    let dir = Path::new(KPROBE_PMU);
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let kind = std::fs::read_to_string(dir.join("type"))
        .map_err(|source| io::Error::new(source.kind(), NoKprobePmu { source }))?
        .trim()
        .parse()
        .map_err(|_| invalid("kprobe PMU type"))?;
    if !retprobe {
        return Ok((kind, 0));
    }
    let format = std::fs::read_to_string(dir.join("format/retprobe"))?;
    let bit: u32 = format
        .trim()
        .strip_prefix("config:")
        .and_then(|b| b.parse().ok())
        .filter(|&b| b < 64)
        .ok_or_else(|| invalid("kprobe PMU retprobe format"))?;
    Ok((kind, 1 << bit))
}

fn attach_one(attach: &Attach, prog: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let fd = prog.as_raw_fd();
    Ok(Some(match attach {
        Attach::None => return Ok(None),
        Attach::Tracepoint { category, event } => {
            let id = tracepoint_id(category, event)?;
            let event = calls::perf_tracepoint_open(id)?;
            // The link holds the perf event; our descriptor of it can close.
            calls::link_create(fd, event.as_raw_fd(), libbpf_sys::BPF_PERF_EVENT)?
        }
        Attach::RawTracepoint { name } => calls::raw_tracepoint_open(name, fd)?,
        Attach::Btf { attach_type } => calls::link_create(fd, 0, *attach_type)?,
        Attach::Iter => calls::link_create(fd, 0, libbpf_sys::BPF_TRACE_ITER)?,
        Attach::Kprobe {
            func,
            offset,
            retprobe,
        } => {
            let (pmu, config) = kprobe_pmu(*retprobe)?;
            let event = calls::perf_kprobe_open(pmu, config, func, *offset)?;
            calls::link_create(fd, event.as_raw_fd(), libbpf_sys::BPF_PERF_EVENT)?
        }
        Attach::KprobeMulti { func, retprobe } => calls::kprobe_multi_link(fd, func, *retprobe)?,
    }))
}

impl PinNames for FastObject {
    fn names(&self, kind: PinKind) -> Vec<String> {
        match kind {
            PinKind::Link => self.links.iter().map(|(n, _)| n.clone()).collect(),
            PinKind::Prog => self.not_attached.clone(),
            PinKind::Map => self.maps.iter().map(|(n, _)| n.clone()).collect(),
        }
    }
}

impl Pinnable for FastObject {
    fn pin(&mut self, kind: PinKind, raw: &str, path: &Path) -> io::Result<()> {
        let fd = match kind {
            PinKind::Link => self.links.iter().find(|(n, _)| n == raw).map(|(_, f)| f),
            PinKind::Prog => self
                .progs
                .iter()
                .find(|(p, _)| p.name == raw)
                .map(|(_, f)| f),
            PinKind::Map => self.maps.iter().find(|(n, _)| n == raw).map(|(_, f)| f),
        };
        let fd =
            fd.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no {raw:?}")))?;
        calls::obj_pin(fd.as_raw_fd(), path)
    }
}

impl Loaded for FastObject {
    fn attach(&mut self) -> Result<(), LoadError> {
        for (p, fd) in &self.progs {
            match attach_one(&p.attach, fd) {
                Ok(Some(link)) => self.links.push((p.name.clone(), link)),
                Ok(None) => self.not_attached.push(p.name.clone()),
                Err(source) => {
                    return Err(LoadError::Attach {
                        prog: p.name.clone(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    fn report(&self) -> LoadReport {
        LoadReport {
            not_attached: self.not_attached.clone(),
            skipped: self.skipped.clone(),
            path: LoadPath::Fast,
            path_reason: None,
            kernel_signature: self.kernel_signature.clone(),
        }
    }

    fn shared_pins(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    fn link_ids(&self) -> LinkIds {
        super::link_ids(self.links.iter().map(|(n, fd)| (n, fd.as_fd())))
    }

    fn keep(&mut self) {
        // Links are plain kernel links: closing our descriptors leaves the pinned ones attached.
    }

    fn as_pinnable(&mut self) -> &mut dyn Pinnable {
        self
    }
}
