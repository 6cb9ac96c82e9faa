//! The libbpf boundary: the only module that imports libbpf-rs.
//!
//! [`VerifiedObject`] → an opened, loaded and auto-attached object, which then pins itself through
//! [`Pinnable`]. Pin-by-name maps go to the shared directory given by the caller.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use libbpf_rs::{ErrorKind, Link, MapCore, Object, ObjectBuilder, PrintLevel};

use crate::pin::{pin_names, PinError, Pins, LINKS_DIR, MAPS_DIR, PROGS_DIR};
use crate::verify::VerifiedObject;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("open: {cause}")]
    Open { cause: String },
    #[error("load: {cause}{}", verifier.as_ref().map(|v| format!(" (verifier: {v})")).unwrap_or_default())]
    Load {
        cause: String,
        verifier: Option<String>,
    },
    #[error("attach {prog}: {cause}")]
    Attach { prog: String, cause: String },
}

/// libbpf's messages: kept for error reports, echoed to stderr when verbose.
static LIBBPF_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
static VERBOSE: AtomicBool = AtomicBool::new(false);
/// Bound on the kept log, so a huge verifier log cannot eat the initramfs's memory.
const LOG_KEEP: usize = 256;

fn on_libbpf_print(level: PrintLevel, msg: String) {
    if VERBOSE.load(Ordering::Relaxed) {
        eprint!("libbpf: {msg}");
    }
    if level != PrintLevel::Debug {
        let mut log = LIBBPF_LOG.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= LOG_KEEP {
            log.remove(0);
        }
        log.extend(msg.lines().map(str::to_owned));
    }
}

/// Route libbpf's own messages through us: debug level only when `verbose`.
pub fn init_logging(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    let level = if verbose {
        PrintLevel::Debug
    } else {
        PrintLevel::Warn
    };
    libbpf_rs::set_print(Some((level, on_libbpf_print)));
}

/// Forget what libbpf said so far (before a load whose reason we want).
pub fn clear_log() {
    take_log();
}

/// The verifier's reason for the last failed program load, if libbpf logged one.
pub fn last_verifier_reason() -> Option<String> {
    verifier_reason(&take_log())
}

fn take_log() -> Vec<String> {
    std::mem::take(&mut *LIBBPF_LOG.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The verifier's own reason: the last meaningful line of the last program load log.
fn verifier_reason(log: &[String]) -> Option<String> {
    let end = log
        .iter()
        .rposition(|l| l.contains("-- END PROG LOAD LOG --"))?;
    log[..end]
        .iter()
        .rev()
        .take_while(|l| !l.contains("-- BEGIN PROG LOAD LOG --"))
        .map(|l| l.trim())
        .find(|l| {
            !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
        })
        .map(str::to_owned)
}

/// The innermost cause of a libbpf-rs error (its outer layers say "failed to …").
fn cause(e: &libbpf_rs::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// An object loaded into the kernel. The pipeline drives it: attach, pin, then keep (or drop,
/// which detaches and closes everything that was not pinned).
pub trait LoadedObject {
    /// Auto-attach every program libbpf can attach; the others are reported as not attached.
    fn attach(&mut self) -> Result<(), LoadError>;
    /// Pin into `dir/links`, `dir/maps`, `dir/progs` (which exist).
    fn pin_into(&mut self, dir: &Path) -> Result<Pins, PinError>;
    /// Its maps pinned by name in the shared directory (created or reused).
    fn shared_pins(&self) -> Vec<PathBuf>;
    /// What loading and attaching found out.
    fn report(&self) -> LoadReport;
    /// The object is in place: keep what is pinned attached when the loader's handles close.
    fn keep(&mut self);
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub not_attached: Vec<String>,
    pub skipped: Vec<String>,
    pub shared_maps: Vec<String>,
}

/// Loads objects into the running kernel. The pipeline sees only this trait, so its order of
/// operations can be tested with a fake.
pub trait Loader {
    fn load<'s>(
        &'s self,
        obj: &VerifiedObject,
        shared_dir: &Path,
    ) -> Result<Box<dyn LoadedObject + 's>, LoadError>;
}

/// The real loader: libbpf.
pub struct LibbpfLoader;

impl Loader for LibbpfLoader {
    fn load<'s>(
        &'s self,
        obj: &VerifiedObject,
        shared_dir: &Path,
    ) -> Result<Box<dyn LoadedObject + 's>, LoadError> {
        Ok(Box::new(load(obj, shared_dir)?))
    }
}

/// An object loaded into the kernel, attached where libbpf can, not yet pinned.
pub struct Loaded {
    obj: Object,
    links: Vec<(String, Link)>,
    not_attached: Vec<String>,
    skipped: Vec<String>,
    shared_pins: Vec<PathBuf>,
}

/// Open `obj` from memory (the verified bytes, never the file again) and load it.
pub fn load(obj: &VerifiedObject, shared_dir: &Path) -> Result<Loaded, LoadError> {
    take_log();
    let mut builder = ObjectBuilder::default();
    let open = builder
        .name(obj.name.as_str())
        .and_then(|b| b.pin_root_path(shared_dir))
        .and_then(|b| b.open_memory(obj.payload()))
        .map_err(|e| LoadError::Open { cause: cause(&e) })?;
    let skipped: Vec<String> = open
        .progs()
        .filter(|p| !p.autoload())
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect();
    // On failure libbpf itself unpins the pin-by-name maps this load created.
    let loaded = open.load().map_err(|e| LoadError::Load {
        cause: cause(&e),
        verifier: verifier_reason(&take_log()),
    })?;
    let shared_pins = loaded
        .maps()
        .filter_map(|m| m.get_pin_path().map(PathBuf::from))
        .collect();
    Ok(Loaded {
        obj: loaded,
        links: Vec::new(),
        not_attached: Vec::new(),
        skipped,
        shared_pins,
    })
}

fn pin_err(kind: &'static str, name: &str, e: libbpf_rs::Error) -> PinError {
    PinError::Pin {
        kind,
        name: name.to_owned(),
        source: cause(&e).into(),
    }
}

impl LoadedObject for Loaded {
    fn attach(&mut self) -> Result<(), LoadError> {
        for prog in self.obj.progs_mut().filter(|p| p.autoload()) {
            let name = prog.name().to_string_lossy().into_owned();
            match prog.attach() {
                Ok(link) => self.links.push((name, link)),
                // libbpf has no attach function for the section (xdp, tc, cgroup, ...).
                Err(e) if e.kind() == ErrorKind::Unsupported => self.not_attached.push(name),
                Err(e) => {
                    return Err(LoadError::Attach {
                        prog: name,
                        cause: cause(&e),
                    })
                }
            }
        }
        Ok(())
    }

    fn pin_into(&mut self, dir: &Path) -> Result<Pins, PinError> {
        let mut pins = Pins::default();
        for (raw, pin) in pin_names("link", self.links.iter().map(|(n, _)| n.as_str()))? {
            let (_, link) = self
                .links
                .iter_mut()
                .find(|(n, _)| *n == raw)
                .expect("named above");
            link.pin(dir.join(LINKS_DIR).join(pin.as_str()))
                .map_err(|e| pin_err("link", &raw, e))?;
            pins.links.push(pin.to_string());
        }
        let progs = pin_names("prog", self.not_attached.iter().map(String::as_str))?;
        for mut prog in self.obj.progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            if let Some((_, pin)) = progs.iter().find(|(raw, _)| *raw == name) {
                prog.pin(dir.join(PROGS_DIR).join(pin.as_str()))
                    .map_err(|e| pin_err("prog", &name, e))?;
                pins.progs.push(pin.to_string());
            }
        }
        // Internal maps (.rodata, .data, .bss, .kconfig) carry a '.' in their libbpf name; maps
        // pinned by name already live in the shared directory.
        let own: Vec<String> = self
            .obj
            .maps()
            .filter(|m| m.get_pin_path().is_none())
            .map(|m| m.name().to_string_lossy().into_owned())
            .filter(|n| !n.contains('.'))
            .collect();
        let maps = pin_names("map", own.iter().map(String::as_str))?;
        for mut map in self.obj.maps_mut() {
            let name = map.name().to_string_lossy().into_owned();
            if let Some((_, pin)) = maps.iter().find(|(raw, _)| *raw == name) {
                map.pin(dir.join(MAPS_DIR).join(pin.as_str()))
                    .map_err(|e| pin_err("map", &name, e))?;
                pins.maps.push(pin.to_string());
            }
        }
        Ok(pins)
    }

    fn shared_pins(&self) -> Vec<PathBuf> {
        self.shared_pins.clone()
    }

    fn report(&self) -> LoadReport {
        LoadReport {
            not_attached: self.not_attached.clone(),
            skipped: self.skipped.clone(),
            shared_maps: self
                .shared_pins
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect(),
        }
    }

    fn keep(&mut self) {
        for (_, mut link) in self.links.drain(..) {
            // Dropping an attached libbpf link detaches it (for perf-event links it even disables
            // the event): disconnect so only the pin holds it.
            link.disconnect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_reason_is_the_last_real_line() {
        let log: Vec<String> = [
            "libbpf: prog 'bad': BPF program load failed: Permission denied",
            "libbpf: prog 'bad': -- BEGIN PROG LOAD LOG --",
            "0: R1=ctx() R10=fp0",
            "R0 invalid mem access 'map_value_or_null'",
            "processed 5 insns (limit 1000000) max_states_per_insn 0",
            "-- END PROG LOAD LOG --",
            "libbpf: failed to load object 'rejected'",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            verifier_reason(&log).as_deref(),
            Some("R0 invalid mem access 'map_value_or_null'")
        );
        assert_eq!(verifier_reason(&log[..2]), None);
    }
}
