//! Install, all or nothing: build `<bpffs>/+staging-<NAME>/`, pin through the small
//! [`Pinnable`] trait the kernel boundary implements, mark it with the payload's sha256, and
//! rename it to `<bpffs>/<NAME>` only when every pin succeeded ([`install`]). On any failure the
//! staging tree is removed and nothing named `<NAME>` appears.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use super::plan::{marker_name, plan, Pins, PlanError, PlannedPin};
use crate::pipeline::object::Pinnable;
use crate::sys::Sys;
use bpf_preload_format::name::{ObjectName, PinKind};

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The object's names cannot all be pinned (decided before anything is made).
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("remove stale {}: {source}", path.display())]
    RemoveStale {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("mkdir {}: {source}", path.display())]
    Mkdir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("pin {} {name}: {source}", kind.label())]
    Pin {
        kind: PinKind,
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("rename into place as {}: {source}", path.display())]
    Rename {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{error}; cleanup also failed: remove {}: {cleanup}", path.display())]
    Cleanup {
        error: Box<PinError>,
        path: PathBuf,
        cleanup: io::Error,
    },
}

/// Pin `obj` as `<bpffs>/<NAME>`, all or nothing.
pub fn install(
    sys: &dyn Sys,
    bpffs: &Path,
    run_id: &str,
    name: &ObjectName,
    sha256_hex: &str,
    obj: &mut dyn Pinnable,
) -> Result<Pins, PinError> {
    let planned = plan(&*obj)?;
    let staging = bpffs.join(name.staging_dir(run_id));
    if sys.exists(&staging) {
        sys.remove_tree(&staging)
            .map_err(|source| PinError::RemoveStale {
                path: staging.clone(),
                source,
            })?;
    }
    let result = build(sys, &staging, sha256_hex, &planned, obj).and_then(|pins| {
        let target = bpffs.join(name.as_str());
        sys.rename_noreplace(&staging, &target)
            .map_err(|source| PinError::Rename {
                path: target,
                source,
            })?;
        Ok(pins)
    });
    result.map_err(|error| match sys.remove_tree(&staging) {
        Ok(()) => error,
        Err(cleanup) => PinError::Cleanup {
            error: Box::new(error),
            path: staging.clone(),
            cleanup,
        },
    })
}

fn build(
    sys: &dyn Sys,
    staging: &Path,
    sha256_hex: &str,
    planned: &[PlannedPin],
    obj: &mut dyn Pinnable,
) -> Result<Pins, PinError> {
    let mkdir = |path: PathBuf| {
        sys.mkdir(&path)
            .map_err(|source| PinError::Mkdir { path, source })
    };
    mkdir(staging.to_owned())?;
    for kind in PinKind::ALL {
        mkdir(staging.join(kind.dir()))?;
    }
    let mut pins = Pins::default();
    for p in planned {
        let path = staging.join(p.kind.dir()).join(p.pin.as_str());
        obj.pin(p.kind, &p.raw, &path)
            .map_err(|source| PinError::Pin {
                kind: p.kind,
                name: p.raw.clone(),
                source,
            })?;
        pins.push(p.kind, &p.pin);
    }
    mkdir(staging.join(marker_name(sha256_hex)))?;
    Ok(pins)
}

/// Remove the shared (pin-by-name) map pins a failed object created: those it pinned that were
/// not in the shared directory before it loaded (`before`). Returns the first error, if any.
pub fn remove_created_shared(sys: &dyn Sys, before: &[String], pins: &[PathBuf]) -> io::Result<()> {
    let mut first = Ok(());
    for p in pins {
        let existed = p
            .file_name()
            .is_some_and(|n| before.iter().any(|b| *b == *n.to_string_lossy()));
        if !existed {
            if let Err(e) = sys.remove_tree(p) {
                first = first.and(Err(e));
            }
        }
    }
    first
}
