//! The last step of `run`: the built-in guard over what is now in place. The pipeline only knows
//! the small [`GuardLoader`] trait; `kernel::guard` implements it (the libbpf-cargo skeleton),
//! and the unit tests use a fake, so the step's order and its status are tested without a
//! kernel.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::object::Probe;
use super::pin::BpffsError;
use crate::sys::{FsKind, Prio, Sys, SECURITYFS_PATH};
use bpf_preload_format::cmdline::GuardMode;
use bpf_preload_format::name::SHARED_DIR;
use bpf_preload_format::status::{GuardState, GuardStatus, GuardSteps, ObjectStatus, Outcome};

/// The guard's directory in the bpffs instance (`+` cannot start an object name).
pub const GUARD_DIR: &str = "+guard";
/// The sysctl that disarms every ftrace-based attachment (BPF trampolines, fprobes, kprobes on
/// function entry). The guard recognises it by its table entry, found through this file once.
pub const FTRACE_SYSCTL: &str = "/proc/sys/kernel/ftrace_enabled";
/// Where debugfs is mounted when it is not (the place systemd mounts it too).
pub const DEBUGFS_PATH: &str = "/sys/kernel/debug";
/// The debugfs file that disarms every kprobe, relative to debugfs.
pub const KPROBES_ENABLED: &str = "kprobes/enabled";

/// Where the loader's own stat shows the guard the switches it is to refuse.
#[derive(Debug)]
pub struct SwitchPaths {
    /// `/proc/sys/kernel/ftrace_enabled`.
    pub ftrace: PathBuf,
    /// `<debugfs>/kprobes/enabled`, or why debugfs could not be reached.
    pub kprobes: io::Result<PathBuf>,
}

/// A global switch that would disarm preloaded programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    /// `kernel.ftrace_enabled`, `kprobes/enabled`.
    pub name: &'static str,
    pub state: SwitchState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchState {
    /// Opening it for writing is refused.
    Refused,
    /// This kernel has no such switch (nothing to refuse): why.
    Absent(String),
    /// It exists but is not refused: why. The status says so.
    NotGuarded(String),
}

impl std::fmt::Display for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            SwitchState::Refused => write!(f, "{}:refused", self.name),
            SwitchState::Absent(why) => write!(f, "{}:absent ({why})", self.name),
            SwitchState::NotGuarded(why) => write!(f, "{}:NOT-GUARDED ({why})", self.name),
        }
    }
}

/// What an active guard reports.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardReport {
    /// The protected instance: `major:minor` of its superblock.
    pub instance: String,
    /// Protected directories, relative to the bpffs.
    pub protected: Vec<String>,
    /// Pins under `+guard/links`.
    pub links: Vec<String>,
    /// The kernel's id of each of them, by pin name.
    pub link_ids: BTreeMap<String, u32>,
    /// Link ids protected from BPF_LINK_DETACH / BPF_LINK_UPDATE.
    pub protected_links: usize,
    /// Program ids (the guard's and the preloaded objects') no tracing or extension program
    /// may attach to.
    pub protected_progs: usize,
    /// security_* and bpf_lsm_* functions no fmod_ret program may attach to.
    pub hook_funcs: usize,
    /// The kernel's verifier lets BPF LSM programs return positive values (6.1): LSM programs
    /// on the bpf hooks are refused too.
    pub lsm_positive_returns: bool,
    /// The global switches and what the guard does about each.
    pub switches: Vec<Switch>,
    /// Signed-only mode is armed (its program loaded with the keyring's serial).
    pub signed_only: bool,
    /// Where the time went (the loader's steps; `step` adds its own before and after).
    pub steps: GuardSteps,
}

/// Why the guard is not active: the guard's own error, as it is (the status record shows it as
/// it displays); `unavailable` when this kernel cannot run the guard at all.
#[derive(Debug, Clone)]
pub struct GuardFailure {
    pub unavailable: bool,
    /// The kernel refused to load the guard's programs: the reason then says what to check.
    pub load_refused: bool,
    pub error: Arc<dyn std::error::Error + Send + Sync>,
}

/// Whether the run prepared the bpffs the guard pins into.
#[derive(Debug, Clone, Copy)]
pub enum BpffsReady<'a> {
    Ready,
    Failed(&'a BpffsError),
    /// Nothing prepared it (the run had nothing to do with a bpffs).
    NotPrepared,
}

pub trait GuardLoader {
    /// Start what does not depend on the objects (the guard loaded and attached, not armed)
    /// while they load: the bpffs step prepared `bpffs` and no guard is there yet. `activate`
    /// finishes it (or does it all without it). Nothing by default.
    fn begin(&self, _bpffs: &Path) {}

    /// Load, attach and arm the guard over `bpffs`, protecting `protect` (directories, and link
    /// pins at the root) and `+guard`.
    /// `lsm_list`: the kernel's active LSM list (`/sys/kernel/security/lsm`).
    fn activate(
        &self,
        bpffs: &Path,
        protect: &[PathBuf],
        lsm_list: io::Result<String>,
        switches: &SwitchPaths,
    ) -> Result<GuardReport, GuardFailure>;
}

/// What a pin holds, as the kernel says (`Kernel::probe`).
pub type ProbeFn<'a> = &'a dyn Fn(&Path) -> io::Result<Probe>;

/// Activate the guard over `protect` ([`protected`]). Never fails the run
/// by itself: a required guard that is not active is `Status::guard_required_failed` (main).
/// A guard already there is described from its pins (`probe`): its live links and their ids.
pub fn step(
    mode: GuardMode,
    bpffs: &Path,
    sys: &dyn Sys,
    guard: &dyn GuardLoader,
    probe: ProbeFn<'_>,
    bpffs_ready: BpffsReady<'_>,
    protect: Vec<PathBuf>,
) -> GuardStatus {
    let t = Instant::now();
    let mut g = GuardStatus::new(GuardState::Failed, mode == GuardMode::Required);
    match bpffs_ready {
        BpffsReady::Ready => {}
        BpffsReady::Failed(e) => {
            g.reason = Some(e.to_string());
            return g;
        }
        BpffsReady::NotPrepared => {
            g.reason = Some("no bpffs prepared".into());
            return g;
        }
    }
    if sys.exists(&bpffs.join(GUARD_DIR)) {
        g.state = GuardState::AlreadyActive;
        let links = bpffs.join(GUARD_DIR).join("links");
        for name in sys.list(&links).unwrap_or_default() {
            if let Ok(Probe::Link {
                live: true,
                id,
                prog,
            }) = probe(&links.join(&name))
            {
                if id != 0 {
                    g.link_ids.insert(name.clone(), id);
                }
                if prog != 0 {
                    g.link_prog_ids.insert(name.clone(), prog);
                }
                g.links.push(name);
            }
        }
        return g;
    }
    let securityfs = Path::new(SECURITYFS_PATH);
    let lsm_list = match sys.is_mounted(FsKind::Security, securityfs) {
        Ok(true) => Ok(()),
        Ok(false) => sys.mount(FsKind::Security, securityfs),
        Err(e) => Err(e),
    }
    .and_then(|()| sys.read_text(&securityfs.join("lsm")));
    // debugfs is one superblock however often it is mounted: the standard place will do.
    let debugfs = Path::new(DEBUGFS_PATH);
    let kprobes = match sys.is_mounted(FsKind::Debug, debugfs) {
        Ok(true) => Ok(()),
        Ok(false) => sys.mount(FsKind::Debug, debugfs),
        Err(e) => Err(e),
    }
    .map(|()| debugfs.join(KPROBES_ENABLED));
    let switches = SwitchPaths {
        ftrace: FTRACE_SYSCTL.into(),
        kprobes,
    };
    let lsm_text = lsm_list.as_ref().ok().cloned();
    let prepare_ms = super::ms(t);
    match guard.activate(bpffs, &protect, lsm_list, &switches) {
        Ok(r) => {
            let described = Instant::now();
            g.state = GuardState::Active;
            g.instance = Some(r.instance);
            g.protected = r.protected;
            g.links = r.links;
            g.link_ids = r.link_ids;
            // The program behind each of its links, as its pin shows it now (just pinned).
            let links = bpffs.join(GUARD_DIR).join("links");
            for name in &g.links {
                if let Ok(Probe::Link { prog, .. }) = probe(&links.join(name)) {
                    if prog != 0 {
                        g.link_prog_ids.insert(name.clone(), prog);
                    }
                }
            }
            g.protected_links = r.protected_links;
            g.protected_progs = r.protected_progs;
            g.hook_funcs = r.hook_funcs;
            g.lsm_positive_returns = r.lsm_positive_returns;
            g.switches = r.switches.iter().map(Switch::to_string).collect();
            g.signed_only = r.signed_only;
            g.steps = Some(GuardSteps {
                prepare_ms,
                describe_ms: super::ms(described),
                ..r.steps
            });
        }
        Err(f) => {
            if f.unavailable {
                g.state = GuardState::Unavailable;
            }
            let mut reason = f.error.to_string();
            if f.load_refused {
                // Instead of libbpf's hint: what decides whether BPF LSM programs may load.
                let read = |p: &str| sys.read_text(Path::new(p)).ok();
                let advice = bpf_preload_format::guard::load_advice(
                    lsm_text.as_deref(),
                    read(bpf_preload_format::guard::LOCKDOWN).as_deref(),
                    read("/proc/self/status").as_deref(),
                    read("/proc/self/uid_map").as_deref(),
                );
                reason = format!("{reason}; {advice}");
            }
            g.reason = Some(reason);
        }
    }
    g.duration_ms = super::ms(t);
    g
}

/// What the guard protects: the loaded objects' directories, `+shared`, and `files` (pins at the
/// root of the instance, each by its own inode: the built-in iterators').
pub fn protected(bpffs: &Path, objects: &[ObjectStatus], files: &[PathBuf]) -> Vec<PathBuf> {
    let mut protect: Vec<PathBuf> = objects
        .iter()
        .filter(|o| matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded))
        .map(|o| bpffs.join(&o.name))
        .collect();
    protect.push(bpffs.join(SHARED_DIR));
    protect.extend(files.iter().cloned());
    protect
}

/// Priority of the guard's kmsg line.
pub fn prio(g: &GuardStatus) -> Prio {
    if g.is_active() {
        Prio::Info
    } else if g.required {
        Prio::Err
    } else {
        Prio::Warning
    }
}
