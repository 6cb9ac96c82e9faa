//! What is already at `<bpffs>/<NAME>` ([`existing`]), and whether a directory whose marker
//! matches really holds that object, loaded ([`check_loaded`]): the damage check.
#![forbid(unsafe_code)]

use std::io;
use std::path::Path;

use super::plan::{marker_name, plan, Described, Pins, PlanError};
use crate::pipeline::object::Probe;
use crate::sys::Sys;
use bpf_preload_format::elf::ElfInfo;
use bpf_preload_format::name::{ObjectName, PinKind, PinName, SHA256_MARKER_PREFIX, SHARED_DIR};

/// One way an object directory is not what its marker claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    Missing {
        kind: PinKind,
        pin: PinName,
    },
    WrongType {
        kind: PinKind,
        pin: PinName,
        found: Probe,
    },
    DeadLink {
        pin: PinName,
    },
    Unreadable {
        kind: PinKind,
        pin: PinName,
        errno: Option<i32>,
    },
    /// The ELF's names cannot all be pinned: no install could have made this directory.
    Unpinnable(PlanError),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Missing { kind, pin } => write!(f, "{}/{pin} is missing", kind.dir()),
            Damage::WrongType { kind, pin, found } => {
                write!(
                    f,
                    "{}/{pin} is not a {} ({found:?})",
                    kind.dir(),
                    kind.label()
                )
            }
            Damage::DeadLink { pin } => write!(f, "links/{pin} has no program"),
            Damage::Unreadable { kind, pin, errno } => write!(
                f,
                "{}/{pin} cannot be opened ({})",
                kind.dir(),
                errno.map_or("?".into(), |e| io::Error::from_raw_os_error(e).to_string())
            ),
            Damage::Unpinnable(e) => write!(f, "its pins cannot be planned ({e})"),
        }
    }
}

/// The damages of an object directory, as one message: at least one (the list is private and
/// [`Damages::new`] refuses an empty one, so "damaged:" is never followed by nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damages(Vec<Damage>);

impl Damages {
    /// `None` when there is nothing to report.
    pub fn new(damages: Vec<Damage>) -> Option<Self> {
        (!damages.is_empty()).then_some(Self(damages))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Damage> {
        self.0.iter()
    }
}

impl From<Damage> for Damages {
    fn from(d: Damage) -> Self {
        Self(vec![d])
    }
}

impl std::fmt::Display for Damages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Is `<bpffs>/<NAME>`, whose marker matched, really that object, loaded? Every pin its ELF
/// description implies must be there and hold the right kind of BPF object (links with their
/// program); a map may instead be pinned by name in the shared directory. Returns the pins, or
/// every damage found.
pub fn check_loaded(
    sys: &dyn Sys,
    probe: &dyn Fn(&Path) -> io::Result<Probe>,
    bpffs: &Path,
    name: &ObjectName,
    info: &ElfInfo,
) -> Result<Pins, Damages> {
    let planned = plan(&Described(info)).map_err(|e| Damages::from(Damage::Unpinnable(e)))?;
    let dir = bpffs.join(name.as_str());
    let mut pins = Pins::default();
    let mut damages = Vec::new();
    for p in planned {
        let path = dir.join(p.kind.dir()).join(p.pin.as_str());
        if !sys.exists(&path) {
            let shared = bpffs.join(SHARED_DIR).join(p.pin.as_str());
            let in_shared = || sys.exists(&shared) && matches!(probe(&shared), Ok(Probe::Map));
            if p.kind == PinKind::Map && in_shared() {
                continue;
            }
            damages.push(Damage::Missing {
                kind: p.kind,
                pin: p.pin,
            });
            continue;
        }
        let (kind, pin) = (p.kind, p.pin);
        match (kind, probe(&path)) {
            (
                PinKind::Link,
                Ok(Probe::Link {
                    live: true,
                    id,
                    prog,
                }),
            ) => {
                pins.push(kind, &pin);
                if id != 0 {
                    pins.link_ids.insert(pin.to_string(), id);
                }
                if prog != 0 {
                    pins.link_progs.insert(pin.to_string(), prog);
                }
            }
            (PinKind::Map, Ok(Probe::Map)) | (PinKind::Prog, Ok(Probe::Prog)) => {
                pins.push(kind, &pin)
            }
            (PinKind::Link, Ok(Probe::Link { live: false, .. })) => {
                damages.push(Damage::DeadLink { pin })
            }
            (_, Ok(found)) => damages.push(Damage::WrongType { kind, pin, found }),
            (_, Err(e)) => damages.push(Damage::Unreadable {
                kind,
                pin,
                errno: e.raw_os_error(),
            }),
        }
    }
    match Damages::new(damages) {
        None => Ok(pins),
        Some(d) => Err(d),
    }
}

/// What is already at `<bpffs>/<NAME>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    /// The same payload (sha256 marker matches).
    Same,
    /// Something else: another version, or a directory we did not make.
    Conflict(Option<String>),
}

pub fn existing(
    sys: &dyn Sys,
    bpffs: &Path,
    name: &ObjectName,
    sha256_hex: &str,
) -> io::Result<Existing> {
    let dir = bpffs.join(name.as_str());
    if !sys.exists(&dir) {
        return Ok(Existing::Nothing);
    }
    let marker = sys
        .list(&dir)?
        .into_iter()
        .find(|n| n.starts_with(SHA256_MARKER_PREFIX));
    Ok(match marker {
        Some(m) if m == marker_name(sha256_hex) => Existing::Same,
        other => Existing::Conflict(other.map(|m| m[SHA256_MARKER_PREFIX.len()..].to_owned())),
    })
}
