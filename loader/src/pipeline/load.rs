//! The load step's interface to the kernel: what the pipeline asks of a loader, and what a loaded
//! object can tell and do. `kernel` implements it with libbpf; the tests with a fake. Nothing
//! here knows libbpf, and nothing here imports `kernel`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::object::{Pinnable, Probe};
use bpf_preload_format::verify::VerifiedObject;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("open: {source}")]
    Open {
        #[source]
        source: io::Error,
    },
    #[error("load: {source}{}", verifier.as_ref().map(|v| format!(" (verifier: {v})")).unwrap_or_default())]
    Load {
        #[source]
        source: io::Error,
        /// The verifier's own reason, when the kernel gave a log.
        verifier: Option<String>,
    },
    #[error("attach {prog}: {source}")]
    Attach {
        prog: String,
        #[source]
        source: io::Error,
    },
}

/// A load that failed, with the path it was on when it did (and why that path): a failed
/// object's status names it too.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct LoadFailed {
    #[source]
    pub error: LoadError,
    pub path: LoadPath,
    pub path_reason: Option<String>,
    /// The kernel's verdict on its kernel signature (status `kernel_signature`).
    pub kernel_signature: Option<String>,
}

impl LoadFailed {
    /// What the status records of the attempt: the path and the reason, nothing loaded.
    pub fn report(&self) -> LoadReport {
        LoadReport {
            path: self.path,
            path_reason: self.path_reason.clone(),
            kernel_signature: self.kernel_signature.clone(),
            ..LoadReport::default()
        }
    }
}

/// Loads verified objects into the running kernel. `Sync`: the objects step loads independent
/// objects on several threads at once (`boot::Boot::objects`).
pub trait Kernel: Sync {
    /// Whether loading `obj` touches nothing another object's load does (no map pinned by name
    /// in the shared directory, on any path its load may take): then it may load beside others,
    /// before its turn. The others load in list order, at their turn.
    fn independent(&self, obj: &VerifiedObject) -> bool;

    /// What the pin at `path` holds (BPF_OBJ_GET, then the type of the file it gives).
    fn probe(&self, path: &Path) -> io::Result<Probe>;

    /// Open the verified bytes (never the file again) and load them; maps declared pin-by-name
    /// are pinned (or reused) in `shared_dir`.
    fn load<'s>(
        &'s self,
        obj: &VerifiedObject,
        shared_dir: &Path,
    ) -> Result<Box<dyn Loaded + 's>, LoadFailed>;
}

/// Link ids and their programs' ids, by link name (the status record's `link_ids`,
/// `link_prog_ids`).
pub type LinkIds = (BTreeMap<String, u32>, BTreeMap<String, u32>);

/// An object in the kernel, not yet pinned. Dropping it closes every handle: what is not pinned
/// by then is gone (links detach, programs and maps are freed). `Send`: it may be loaded on
/// another thread than the one that attaches and pins it.
pub trait Loaded: Pinnable + Send {
    /// Attach every program that can be attached from its section; the others are reported.
    fn attach(&mut self) -> Result<(), LoadError>;
    /// What loading and attaching found out.
    fn report(&self) -> LoadReport;
    /// Its maps pinned by name in the shared directory (created or reused).
    fn shared_pins(&self) -> Vec<PathBuf>;
    /// The kernel's id of each of its links and of the program behind each, by link name:
    /// what this run attached, asked of the loader's own handles (not of the pins, which
    /// someone may have replaced meanwhile: `bpf-preload status` then says so). A link the
    /// kernel does not describe is left out of both.
    fn link_ids(&self) -> LinkIds;
    /// The object is in place: keep what is pinned attached when the loader's handles close.
    fn keep(&mut self);
    /// The same object, for pinning.
    fn as_pinnable(&mut self) -> &mut dyn Pinnable;
}

/// Which way an object went into the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadPath {
    /// libbpf in user space: ELF, vmlinux BTF, CO-RE relocations, then the programs.
    #[default]
    Libbpf,
    /// The light skeleton signed with the object, run in the kernel (`docs/format.md`).
    Fast,
}

impl LoadPath {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadPath::Libbpf => "libbpf",
            LoadPath::Fast => "fast",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Programs loaded but not attached (no attach function for their section).
    pub not_attached: Vec<String>,
    /// Programs marked not-autoload (`SEC("?…")`).
    pub skipped: Vec<String>,
    /// The path it took, and why not the fast one when it did not.
    pub path: LoadPath,
    pub path_reason: Option<String>,
    /// `verified`, `unsigned`, `refused: …`, `unsupported: …` (status `kernel_signature`).
    pub kernel_signature: Option<String>,
}
