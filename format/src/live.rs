//! What `bpf-preload status` found at read time beside the boot-time record: the live-status
//! types the status record embeds and prints (pure). Deciding what is missing — probing pins,
//! link ids and switches — is the loader's (`bpf_preload::live`, through its `LiveProbe`).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::lockdown::Lockdown;
use crate::name::PinKind;

/// What the live checks found; `bpf-preload status` shows it beside the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Live {
    /// Every check could be made. False when some could not (not root, a name in the record
    /// that is not one): those objects are `unknown`, with why in `unchecked`.
    pub checked: bool,
    /// The bpffs instance at the record's path now, beside the one the boot pinned into.
    pub instance: InstanceCheck,
    /// Objects the record calls loaded or already-loaded, by name.
    pub objects: BTreeMap<String, Check>,
    /// The guard, when the record says active or already-active.
    pub guard: Option<Check>,
    /// Signed-only mode derived live, when the record says active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_only: Option<SignedOnlyCheck>,
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
    /// The kernel's lockdown mode (securityfs `lockdown`), when it could be read. At
    /// `integrity` and above debugfs is not opened (the kernel would refuse and log it), so
    /// `kprobes_enabled` is null and `kprobes_unknown` says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockdown: Option<Lockdown>,
}

/// The kernel's `dev_t` (`MKDEV`: major << 20 | minor) of a `st_dev` as user space sees it
/// (glibc's encoding: minor's low byte, major's 12 bits, minor's upper bits, major's upper bits).
pub fn kernel_dev(st_dev: u64) -> u32 {
    let major = ((st_dev >> 8) & 0xfff) | ((st_dev >> 32) & !0xfff);
    let minor = (st_dev & 0xff) | ((st_dev >> 12) & !0xff);
    ((major << 20) | (minor & 0xf_ffff)) as u32
}

/// `major:minor` as `/proc/self/mountinfo` shows it.
pub fn dev_string(st_dev: u64) -> String {
    let major = ((st_dev >> 8) & 0xfff) | ((st_dev >> 32) & !0xfff);
    let minor = (st_dev & 0xff) | ((st_dev >> 12) & !0xff);
    format!("{major}:{minor}")
}

/// A bpffs instance: the inode number of its `+shared` directory (made by every `run`, right
/// below the root) and its superblock's device number (the kernel's encoding,
/// `major << 20 | minor`). Every bpffs root is inode 1 and an anonymous device number is
/// recycled by the next fresh bpffs, but a directory's number comes from the kernel's global
/// `get_next_ino`: a fresh bpffs cannot have the boot's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub ino: u64,
    pub dev: u32,
}

impl Instance {
    pub fn major(self) -> u32 {
        self.dev >> 20
    }
    pub fn minor(self) -> u32 {
        self.dev & 0xf_ffff
    }
}

/// `ino 1 dev 0:27`.
impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ino {} dev {}:{}", self.ino, self.major(), self.minor())
    }
}

/// In the record: `{"ino": 1, "dev": "0:27"}`.
#[derive(Serialize, Deserialize)]
struct InstanceRecord {
    ino: u64,
    dev: String,
}

impl Serialize for Instance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        InstanceRecord {
            ino: self.ino,
            dev: format!("{}:{}", self.major(), self.minor()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Instance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = InstanceRecord::deserialize(d)?;
        let bad = || D::Error::custom(format!("dev {:?} is not major:minor", r.dev));
        let (major, minor) = r.dev.split_once(':').ok_or_else(bad)?;
        let major: u32 = major.parse().map_err(|_| bad())?;
        let minor: u32 = minor.parse().map_err(|_| bad())?;
        if major >= 1 << 12 || minor >= 1 << 20 {
            return Err(bad());
        }
        Ok(Instance {
            ino: r.ino,
            dev: major << 20 | minor,
        })
    }
}

/// Whose word a live check relied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// Nothing to compare with: not checked.
    None,
    /// The status record (a file root can edit).
    Record,
    /// The guard's frozen maps, read through read-only descriptors (root cannot change them).
    Guard,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::None => "none",
            Evidence::Record => "record",
            Evidence::Guard => "guard",
        }
    }
}

/// The bpffs instance at the record's path, now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceCheck {
    pub state: InstanceState,
    /// What `stat` finds there now.
    pub found: Option<Instance>,
    /// What it must be: the instance the guard protects, else the one the record names.
    pub expected: Option<Instance>,
    /// Where `expected` came from.
    pub evidence: Evidence,
    /// Why `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchecked: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// The instance the boot pinned into.
    Same,
    /// Another instance (a fresh bpffs mounted over or in place of the boot's).
    Moved,
    /// Not checked (`unchecked` says why).
    Unknown,
}

/// One link whose program is not the one recorded for it (`links/count_exec prog-id 40 -> 41`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// `links/count_exec`, `+guard/links/guard_unlink`, `link-id 17`.
    pub what: String,
    pub recorded: u32,
    pub found: u32,
}

impl fmt::Display for Replacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} prog-id {} -> {}",
            self.what, self.recorded, self.found
        )
    }
}

impl Serialize for Replacement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The live state of one object or of the guard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub state: LiveState,
    /// Why the state is what it is, where the lists below do not say it (the guard's probe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What is gone (`links/count_exec`, `maps/exec_count (not a map)`, `link-id 17`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    /// Links that run another program than the one recorded (`links/P prog-id 40 -> 41`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<Replacement>,
    /// What could not be checked, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    /// What the links' programs were compared with: `guard` (its `prot_links`), `record`, or
    /// `none` (not checked); absent without links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programs: Option<Evidence>,
    /// The guard only: what it answered (its probe, its instance).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl Check {
    /// A check in `state` with nothing found or left out.
    pub fn new(state: LiveState) -> Self {
        Self {
            state,
            reason: None,
            missing: Vec::new(),
            replaced: Vec::new(),
            unchecked: Vec::new(),
            programs: None,
            evidence: Vec::new(),
        }
    }
}

/// Signed-only mode as the live checks find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedOnlyCheck {
    pub state: SignedOnlyLive,
    /// Why not active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignedOnlyLive {
    /// The guard answered, it does not report the keyring freed, the keyring is there.
    Active,
    /// The guard is alive but the mode cannot hold: the keyring is gone or not a keyring.
    Broken,
    /// The guard that enforced it is gone.
    Gone,
    /// The guard could not be asked, or did not confirm (not root, an older guard).
    NotVerified,
}

impl SignedOnlyLive {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Broken => "broken",
            Self::Gone => "gone",
            Self::NotVerified => "not verified",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveState {
    /// An object with everything the record lists still in place.
    Loaded,
    /// An object that lost something the record lists.
    Removed,
    /// An object (or the guard) with a link that runs another program than recorded.
    Replaced,
    /// An object whose pins are found in another bpffs instance than the boot's.
    Moved,
    /// The guard, alive (it refused the probe and counted it) with every link in place.
    Active,
    /// The guard with a link gone, or that let the probe through.
    Gone,
    /// The guard is alive, but protects another bpffs instance than the one at the path.
    NotProtecting,
    /// The probe was refused, but the guard's info does not show it refused it.
    NotVerified,
    /// Nothing found missing, but not everything could be checked.
    Unknown,
}

impl LiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveState::Loaded => "loaded",
            LiveState::Removed => "removed",
            LiveState::Replaced => "replaced",
            LiveState::Moved => "moved",
            LiveState::Active => "active",
            LiveState::Gone => "gone",
            LiveState::NotProtecting => "not-protecting",
            LiveState::NotVerified => "not-verified",
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
    /// A recorded link id whose link lost its program (`link-id 17 (detached)`).
    LinkDetached(u32),
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
            Missing::LinkDetached(id) => write!(f, "link-id {id} (detached)"),
        }
    }
}

impl Serialize for Missing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_encoding_matches_the_kernel() {
        // anonymous bpffs instances: major 0, small minor -> same number
        assert_eq!(kernel_dev(0x2a), 0x2a);
        assert_eq!(dev_string(0x2a), "0:42");
        // minor 300 (0x12c): user space splits it around the major's bits
        let st = 0x2c | (0x100 << 12);
        assert_eq!(kernel_dev(st), 300);
        assert_eq!(dev_string(st), "0:300");
        // 8:1 (sda1)
        assert_eq!(kernel_dev(0x801), (8 << 20) | 1);
        assert_eq!(dev_string(0x801), "8:1");
    }
}
