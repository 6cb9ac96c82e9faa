//! What `bpf-preload status` found at read time beside the boot-time record: the live-status
//! types the status record embeds and prints (pure). Deciding what is missing — probing pins,
//! link ids and switches — is the loader's (`bpf_preload::live`, through its `LiveProbe`).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::name::PinKind;

/// What the live checks found; `bpf-preload status` shows it beside the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Live {
    /// Every check could be made. False when some could not (not root, a name in the record
    /// that is not one): those objects are `unknown`, with why in `unchecked`.
    pub checked: bool,
    /// Objects the record calls loaded or already-loaded, by name.
    pub objects: BTreeMap<String, Check>,
    /// The guard, when the record says active or already-active.
    pub guard: Option<Check>,
    /// `kernel.ftrace_enabled`: false means no BPF trampoline runs (LSM, fentry/fexit,
    /// kprobe.multi); null when it could not be read (`ftrace_unknown` says why).
    pub ftrace_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ftrace_unknown: Option<String>,
    /// `<debugfs>/kprobes/enabled`: false means no kprobe runs; null when it could not be read
    /// (`kprobes_unknown` says why, e.g. "debugfs not mounted").
    pub kprobes_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kprobes_unknown: Option<String>,
    /// The debugfs mount the kprobes switch was read under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debugfs: Option<String>,
}

/// The live state of one object or of the guard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub state: LiveState,
    /// What is gone (`links/count_exec`, `maps/exec_count (not a map)`, `link-id 17`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    /// What could not be checked, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveState {
    /// An object with everything the record lists still in place.
    Loaded,
    /// An object that lost something the record lists.
    Removed,
    /// The guard with every link in place.
    Active,
    /// The guard with a link gone.
    Gone,
    /// Nothing found missing, but not everything could be checked.
    Unknown,
}

impl LiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveState::Loaded => "loaded",
            LiveState::Removed => "removed",
            LiveState::Active => "active",
            LiveState::Gone => "gone",
            LiveState::Unknown => "unknown",
        }
    }
}

/// One thing the record lists that is not there any more. Pin names in it were validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The directory itself (`counter/`, `+guard/links/`).
    Dir(String),
    /// Nothing pinned at `<dir>/<pin>` (`links/count_exec`, `+shared/events`).
    Pin { dir: &'static str, pin: String },
    /// Something else is pinned there (`maps/exec_count (not a map)`).
    WrongKind {
        dir: &'static str,
        pin: String,
        kind: PinKind,
    },
    /// A link that lost its program (`links/count_exec (detached)`).
    Detached { dir: &'static str, pin: String },
    /// Another link pinned in its place (`links/count_exec (link id 23, not 17)`).
    Replaced {
        dir: &'static str,
        pin: String,
        found: u32,
        recorded: u32,
    },
    /// A recorded link id the kernel no longer has (`link-id 17`).
    LinkId(u32),
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Dir(d) => write!(f, "{d}/"),
            Missing::Pin { dir, pin } => write!(f, "{dir}/{pin}"),
            Missing::WrongKind { dir, pin, kind } => {
                write!(f, "{dir}/{pin} (not a {})", kind.label())
            }
            Missing::Detached { dir, pin } => write!(f, "{dir}/{pin} (detached)"),
            Missing::Replaced {
                dir,
                pin,
                found,
                recorded,
            } => write!(f, "{dir}/{pin} (link id {found}, not {recorded})"),
            Missing::LinkId(id) => write!(f, "link-id {id}"),
        }
    }
}

impl Serialize for Missing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
