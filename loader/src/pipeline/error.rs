//! The pipeline's two errors: [`RunError`], which stops the boot before it can plan, and
//! [`ObjectError`], why one object did not load (the others go on).
#![forbid(unsafe_code)]

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::keys::KeyError;
use super::load::LoadError;
use super::measure::MeasureError;
use super::pin::{self, BpffsError, PinError};
use bpf_preload_format::name::{NameError, ObjectName};
use bpf_preload_format::policy::PolicyError;
use bpf_preload_format::verify::CheckError;

/// Errors that stop the boot job before it can plan anything.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("read cmdline {}: {source}", path.display())]
    Cmdline {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read preload list {}: {source}", path.display())]
    PreloadList {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read policy {}: {source}", path.display())]
    Policy {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("policy {}: {source}", path.display())]
    PolicyParse {
        path: PathBuf,
        #[source]
        source: PolicyError,
    },
}

/// Why one object did not load. Displayed after `object <name>: `.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid name: {0}")]
    Name(#[source] NameError),
    /// Its step's thread ended without an answer (it panicked, in a build that unwinds).
    #[error("{step}: the step's thread ended without an answer")]
    Lost { step: &'static str },
    #[error(transparent)]
    Bpffs(Arc<BpffsError>),
    #[error("trusted keys: {0}")]
    Keys(#[source] Arc<KeyError>),
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("{} holds another object ({})", path.display(), found.as_deref().map(|s| format!("sha256 {s}")).unwrap_or_else(|| "not made by bpf-preload".into()))]
    Conflict {
        path: PathBuf,
        found: Option<String>,
    },
    #[error("inspect {}: {source}", path.display())]
    Existing {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Tracefs(BpffsError),
    #[error("{} holds {name} but is damaged: {damages}", path.display())]
    Damaged {
        path: PathBuf,
        name: ObjectName,
        damages: pin::Damages,
    },
    #[error("list shared maps in {}: {source}", path.display())]
    ListShared {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The shared directory could not be listed when the run began (strict shared maps need it).
    #[error("list shared maps in {}: {source}", path.display())]
    ListSharedAtStart {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error("shared map {} was in {} before this run: refused (strict shared maps)", maps.join(", "), dir.display())]
    SharedPreexisting { dir: PathBuf, maps: Vec<String> },
    #[error("not loaded: {0}")]
    Measure(#[source] MeasureError),
    #[error("{error}; cleanup also failed: remove shared map pins: {cleanup}")]
    SharedCleanup {
        error: Box<ObjectError>,
        cleanup: io::Error,
    },
}
