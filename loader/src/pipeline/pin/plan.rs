//! The pinning policy (pure): which of an object's links, maps and programs get pinned, under
//! which name, in which directory ([`plan`]), and the names of the marker and the pins made.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::pipeline::object::PinNames;
use bpf_preload_format::elf::ElfInfo;
use bpf_preload_format::name::{PinKind, PinName, SHA256_MARKER_PREFIX};

/// Why the names of an object cannot all be pinned: an error of the object, found before
/// anything is made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("pin {}: {first:?} and {second:?} both map to pin name {pin}", kind.label())]
    Collision {
        kind: PinKind,
        first: String,
        second: String,
        pin: PinName,
    },
    #[error("pin name {raw:?}: {source}")]
    Name {
        raw: String,
        #[source]
        source: bpf_preload_format::name::NameError,
    },
}

/// One pin the policy decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPin {
    pub kind: PinKind,
    /// The libbpf name.
    pub raw: String,
    pub pin: PinName,
}

/// What was pinned, by pin name, relative to the object's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    pub links: Vec<String>,
    pub maps: Vec<String>,
    pub progs: Vec<String>,
    /// The kernel's id of each link, by pin name, as far as the kernel said.
    pub link_ids: BTreeMap<String, u32>,
    /// The program id behind each link, by pin name, as far as the kernel said.
    pub link_progs: BTreeMap<String, u32>,
}

impl Pins {
    pub(super) fn push(&mut self, kind: PinKind, pin: &PinName) {
        let list = match kind {
            PinKind::Link => &mut self.links,
            PinKind::Map => &mut self.maps,
            PinKind::Prog => &mut self.progs,
        };
        list.push(pin.to_string());
    }
}

/// Is this a map libbpf made for the object's sections (`.rodata`, `.data`, `.bss`, `.kconfig`,
/// `obj.rodata`, ...)? Those carry a '.' in their libbpf name and are never pinned: bpffs refuses
/// '.', and they are the object's internals.
pub(super) fn is_internal_map(raw: &str) -> bool {
    raw.contains('.')
}

/// The pinning policy: every pin of `obj`, by kind, with its pin name. Two names of one kind that
/// map to the same pin name are an error of the object, never a silent overwrite.
pub fn plan(obj: &dyn PinNames) -> Result<Vec<PlannedPin>, PlanError> {
    let mut out: Vec<PlannedPin> = Vec::new();
    for kind in PinKind::ALL {
        let start = out.len();
        for raw in obj.names(kind) {
            if kind == PinKind::Map && is_internal_map(&raw) {
                continue;
            }
            let pin = PinName::sanitize(&raw).map_err(|source| PlanError::Name {
                raw: raw.clone(),
                source,
            })?;
            if let Some(first) = out[start..].iter().find(|p| p.pin == pin) {
                return Err(PlanError::Collision {
                    kind,
                    first: first.raw.clone(),
                    second: raw,
                    pin,
                });
            }
            out.push(PlannedPin { kind, raw, pin });
        }
    }
    Ok(out)
}

/// The name of the marker directory recording which payload is loaded (`sha256-<hex>`).
pub fn marker_name(sha256_hex: &str) -> String {
    format!("{SHA256_MARKER_PREFIX}{sha256_hex}")
}

/// The names a loaded copy of an object has, from its ELF description alone.
pub(super) struct Described<'a>(pub(super) &'a ElfInfo);

impl PinNames for Described<'_> {
    fn names(&self, kind: PinKind) -> Vec<String> {
        let progs = |attached: bool| {
            self.0
                .programs
                .iter()
                .filter(|p| p.autoload && p.auto_attach == attached)
                .map(|p| p.name.clone())
                .collect()
        };
        match kind {
            PinKind::Link => progs(true),
            PinKind::Prog => progs(false),
            PinKind::Map => self.0.maps.clone(),
        }
    }
}
