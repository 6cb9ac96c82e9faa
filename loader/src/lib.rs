//! bpf-preload: verify signed eBPF objects and preload them from the initramfs.
//!
//! The boot job is one pipeline, each step in its own module:
//! cmdline → plan ([`cmdline`]) → read once and verify ([`sys`], [`verify`]) → check the ELF
//! ([`elf`]) → load and attach ([`load`]) → pin all-or-nothing ([`pin`]) → report ([`status`]).
// Every module forbids unsafe code itself; the crate only denies it so that the generated
// skeleton in `builtin::guard` (libbpf-cargo output) can be included.
#![deny(unsafe_code)]

pub mod builtin;
pub mod cli;
pub mod cmdline;
pub mod elf;
pub mod fuzz_core;
pub mod keys;
pub mod load;
pub mod name;
pub mod pin;
pub mod policy;
pub mod status;
pub mod sys;
pub mod trailer;
pub mod verify;

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use builtin::guard::{GuardError, GuardReport};
use cmdline::{Entry, GuardMode, Plan};
use keys::{KeyError, KeyRing};
use load::{LoadError, Loader};
use name::{NameError, ObjectName, SHARED_DIR};
use pin::{Existing, PinError};
use policy::{Policy, POLICY_PATH};
use status::{GuardState, GuardStatus, ObjectStatus, Outcome, Status, STATUS_VERSION};
use sys::{FsKind, Prio, Sys};

/// Exit code of `run` when a required object failed: an initramfs hook can fail closed on it.
pub const EXIT_REQUIRED_FAILED: i32 = 3;

/// Where the boot job reads and writes. Defaults are the documented boot-time paths.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub cmdline: PathBuf,
    pub preload_list: PathBuf,
    pub bundle: PathBuf,
    pub keys: PathBuf,
    pub bpffs: PathBuf,
    pub status: PathBuf,
    /// The build-time policy written by the initramfs builder.
    pub policy: PathBuf,
    pub verbose: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            cmdline: "/proc/cmdline".into(),
            preload_list: "/etc/bpf-preload/preload.list".into(),
            bundle: "/usr/lib/bpf-preload".into(),
            keys: "/etc/bpf-preload/keys".into(),
            bpffs: "/sys/fs/bpf".into(),
            status: "/run/bpf-preload/status.json".into(),
            policy: POLICY_PATH.into(),
            verbose: false,
        }
    }
}

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
        source: policy::PolicyError,
    },
}

/// The built-in guard, behind a trait so the pipeline's use of it is unit-tested.
pub trait GuardLoader {
    /// Load, attach and arm the guard over `bpffs`, protecting `protect` and `+guard`.
    /// `lsm_list`: the kernel's active LSM list.
    fn activate(
        &self,
        bpffs: &Path,
        protect: &[PathBuf],
        lsm_list: io::Result<String>,
    ) -> Result<GuardReport, GuardError>;
}

/// The real guard: the libbpf-cargo skeleton in [`builtin::guard`].
pub struct BuiltinGuard;

impl GuardLoader for BuiltinGuard {
    fn activate(
        &self,
        bpffs: &Path,
        protect: &[PathBuf],
        lsm_list: io::Result<String>,
    ) -> Result<GuardReport, GuardError> {
        builtin::guard::activate(bpffs, protect, lsm_list)
    }
}

/// Why one object did not load. Displayed after `object <name>: `.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid name: {0}")]
    Name(#[source] NameError),
    #[error("{0}")]
    Setup(String),
    #[error("trusted keys: {0}")]
    Keys(String),
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("verify: {0}")]
    Verify(#[from] verify::VerifyError),
    #[error("check: {0}")]
    Elf(#[from] elf::ElfError),
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
    #[error("mount tracefs at {}: {source}", sys::TRACEFS_PATH)]
    Tracefs {
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error("{error}; cleanup also failed: remove shared map pins: {cleanup}")]
    SharedCleanup {
        error: Box<ObjectError>,
        cleanup: io::Error,
    },
}

/// Read the plan's inputs and the keys, run the plan against the real system, write the status.
pub fn boot(cfg: &RunConfig) -> Result<Status, RunError> {
    let start = Instant::now();
    load::init_logging(cfg.verbose);
    let cmdline = std::fs::read_to_string(&cfg.cmdline).map_err(|source| RunError::Cmdline {
        path: cfg.cmdline.clone(),
        source,
    })?;
    let list = match std::fs::read_to_string(&cfg.preload_list) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(RunError::PreloadList {
                path: cfg.preload_list.clone(),
                source,
            })
        }
    };
    let policy = match std::fs::read_to_string(&cfg.policy) {
        Ok(text) => Policy::parse(&text).map_err(|source| RunError::PolicyParse {
            path: cfg.policy.clone(),
            source,
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Policy::default(),
        Err(source) => {
            return Err(RunError::Policy {
                path: cfg.policy.clone(),
                source,
            })
        }
    };
    let plan = cmdline::plan_with(&cmdline, list.as_deref(), &policy);
    let sys = sys::RealSys::new(cfg.verbose);
    let mut status = run_plan(
        &plan,
        trusted_keys(&cfg.keys),
        cfg,
        &sys,
        &load::LibbpfLoader,
        &BuiltinGuard,
    );
    status.duration_ms = ms(start);
    if let Err(e) = write_status(&cfg.status, &status) {
        sys.log(
            Prio::Warning,
            &format!("write status {}: {e}", cfg.status.display()),
        );
    }
    Ok(status)
}

/// The built-in keys plus every `*.pub` in `dir`, less the revoked ones.
pub fn trusted_keys(dir: &Path) -> Result<KeyRing, KeyError> {
    let mut ring = keys::builtin_ring()?;
    ring.load_dir(dir)?;
    Ok(ring)
}

pub fn write_status(path: &Path, status: &Status) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, status.to_json())?;
    std::fs::rename(&tmp, path)
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e4).round() / 10.0
}

/// Make sure a filesystem of `kind` is at `path`; returns whether we mounted it.
fn ensure_mounted(sys: &dyn Sys, kind: FsKind, path: &Path) -> io::Result<bool> {
    if sys.is_mounted(kind, path)? {
        return Ok(false);
    }
    sys.mount(kind, path)?;
    Ok(true)
}

/// Run a plan. Every object gets a status; a failure never stops the others.
pub fn run_plan(
    plan: &Plan,
    ring: Result<KeyRing, KeyError>,
    cfg: &RunConfig,
    sys: &dyn Sys,
    loader: &dyn Loader,
    guard: &dyn GuardLoader,
) -> Status {
    let start = Instant::now();
    let mut status = Status {
        version: STATUS_VERSION,
        source: plan.source,
        disabled: plan.disabled,
        bpffs: cfg.bpffs.display().to_string(),
        mounted_bpffs: false,
        error: None,
        objects: Vec::new(),
        duration_ms: 0.0,
        guard: None,
        notes: plan.notes.clone(),
    };
    for n in &plan.notes {
        sys.log(Prio::Warning, n);
    }
    if plan.disabled {
        sys.log(Prio::Notice, "loading disabled by rd.bpf_preload=0");
        for e in plan.entries.iter().filter(|e| !e.forced) {
            let mut o = ObjectStatus::new(&e.raw, e.required);
            o.result = Outcome::Skipped;
            o.error = Some("loading disabled by rd.bpf_preload=0".into());
            status.objects.push(o);
        }
    }
    let todo: Vec<&Entry> = plan
        .entries
        .iter()
        .filter(|e| !plan.disabled || e.forced)
        .collect();
    if todo.is_empty() && plan.guard == GuardMode::Off {
        if !plan.disabled {
            sys.log(Prio::Info, "nothing to load");
        }
        return status;
    }
    let setup = prepare_bpffs(sys, &cfg.bpffs).inspect(|&mounted| status.mounted_bpffs = mounted);
    if let Err(e) = &setup {
        sys.log(Prio::Err, e);
        status.error = Some(e.clone());
    }
    let ring = ring.map_err(|e| e.to_string());
    if let Err(e) = &ring {
        sys.log(Prio::Err, &format!("trusted keys: {e}"));
        status
            .error
            .get_or_insert_with(|| format!("trusted keys: {e}"));
    }
    let ctx = Ctx {
        cfg,
        sys,
        loader,
        setup: &setup,
        ring: &ring,
        tracefs_ready: Cell::new(false),
    };
    for entry in todo {
        let t = Instant::now();
        let mut o = ObjectStatus::new(&entry.raw, entry.required);
        match ctx.process(entry, &mut o) {
            Ok(outcome) => o.result = outcome,
            Err(e) => {
                o.result = Outcome::Failed;
                o.error = Some(e.to_string());
            }
        }
        o.duration_ms = ms(t);
        sys.log(log_prio(&o), &log_line(&o));
        status.objects.push(o);
    }
    if plan.guard != GuardMode::Off {
        let g = guard_step(plan.guard, cfg, sys, guard, &setup, &status.objects);
        sys.log(
            if g.is_active() {
                Prio::Info
            } else if g.required {
                Prio::Err
            } else {
                Prio::Warning
            },
            &g.line(),
        );
        status.guard = Some(g);
    }
    status.duration_ms = ms(start);
    status
}

/// The last step: the guard over what is now in place (the loaded objects' directories and
/// `+shared`). Never fails the run by itself; a required guard that is not active does (main).
fn guard_step(
    mode: GuardMode,
    cfg: &RunConfig,
    sys: &dyn Sys,
    guard: &dyn GuardLoader,
    setup: &Result<bool, String>,
    objects: &[ObjectStatus],
) -> GuardStatus {
    let t = Instant::now();
    let required = mode == GuardMode::Required;
    let mut g = GuardStatus::new(GuardState::Failed, required);
    if let Err(e) = setup {
        g.reason = Some(e.clone());
        return g;
    }
    let bpffs = &cfg.bpffs;
    if sys.exists(&bpffs.join(builtin::guard::GUARD_DIR)) {
        g.state = GuardState::AlreadyActive;
        return g;
    }
    let mut protect: Vec<PathBuf> = objects
        .iter()
        .filter(|o| matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded))
        .map(|o| bpffs.join(&o.name))
        .collect();
    protect.push(bpffs.join(SHARED_DIR));
    let lsm = Path::new(sys::SECURITYFS_PATH);
    let lsm_list = ensure_mounted(sys, FsKind::Security, lsm)
        .and_then(|_| sys.read_text(&lsm.join("lsm")));
    match guard.activate(bpffs, &protect, lsm_list) {
        Ok(r) => {
            g.state = GuardState::Active;
            g.instance = Some(r.instance);
            g.protected = r.protected;
            g.links = r.links;
            g.protected_links = r.protected_links;
        }
        Err(e) => {
            if e.is_unavailable() {
                g.state = GuardState::Unavailable;
            }
            g.reason = Some(e.to_string());
        }
    }
    g.duration_ms = ms(t);
    g
}

/// Mount bpffs unless one is there, create the shared directory, sweep stale staging dirs.
fn prepare_bpffs(sys: &dyn Sys, bpffs: &Path) -> Result<bool, String> {
    let mounted = ensure_mounted(sys, FsKind::Bpf, bpffs)
        .map_err(|e| format!("mount bpffs at {}: {e}", bpffs.display()))?;
    for stale in pin::sweep_stale(sys, bpffs).map_err(|e| e.to_string())? {
        sys.log(
            Prio::Notice,
            &format!("removed stale staging directory {stale} left by an earlier run"),
        );
    }
    let shared = bpffs.join(SHARED_DIR);
    if !sys.exists(&shared) {
        sys.mkdir(&shared)
            .map_err(|e| format!("mkdir {}: {e}", shared.display()))?;
    }
    Ok(mounted)
}

struct Ctx<'a> {
    cfg: &'a RunConfig,
    sys: &'a dyn Sys,
    loader: &'a dyn Loader,
    setup: &'a Result<bool, String>,
    ring: &'a Result<KeyRing, String>,
    /// tracefs is mounted once, for the first object that needs it.
    tracefs_ready: Cell<bool>,
}

impl Ctx<'_> {
    fn process(&self, entry: &Entry, o: &mut ObjectStatus) -> Result<Outcome, ObjectError> {
        let name: ObjectName = entry.name.clone().map_err(ObjectError::Name)?;
        self.setup
            .as_ref()
            .map_err(|e| ObjectError::Setup(e.clone()))?;
        let ring = self
            .ring
            .as_ref()
            .map_err(|e| ObjectError::Keys(e.clone()))?;
        let t = Instant::now();
        let path = self.cfg.bundle.join(name.file_name());
        let bytes = self
            .sys
            .read_object(&path)
            .map_err(|source| ObjectError::Read { path, source })?;
        let verified = verify::verify(bytes, Some(&name), ring)?;
        let sha = verified.sha256_hex();
        o.sha256 = Some(sha.clone());
        o.key_id = Some(verified.key_id.to_string());
        let info = elf::describe(verified.payload())?;
        let bpffs = &self.cfg.bpffs;
        let dir = bpffs.join(name.as_str());
        match pin::existing(self.sys, bpffs, &name, &sha).map_err(|source| {
            ObjectError::Existing {
                path: dir.clone(),
                source,
            }
        })? {
            Existing::Nothing => {}
            Existing::Same => return Ok(Outcome::AlreadyLoaded),
            Existing::Conflict(found) => return Err(ObjectError::Conflict { path: dir, found }),
        }
        o.phases.verify_ms = ms(t);
        let t = Instant::now();
        if info.needs_tracefs() && !self.tracefs_ready.get() {
            ensure_mounted(self.sys, FsKind::Trace, Path::new(sys::TRACEFS_PATH))
                .map_err(|source| ObjectError::Tracefs { source })?;
            self.tracefs_ready.set(true);
        }
        let shared = bpffs.join(SHARED_DIR);
        let shared_before = self
            .sys
            .list(&shared)
            .map_err(|source| ObjectError::Existing {
                path: shared.clone(),
                source,
            })?;
        let mut loaded = self.loader.load(&verified, &shared)?;
        let attached = loaded.attach();
        let report = loaded.report();
        o.not_attached = report.not_attached;
        o.skipped_programs = report.skipped;
        o.shared_maps = report.shared_maps;
        o.phases.load_ms = ms(t);
        let t = Instant::now();
        let installed = attached.map_err(ObjectError::Load).and_then(|()| {
            pin::install(self.sys, bpffs, &name, &sha, loaded.as_mut()).map_err(ObjectError::Pin)
        });
        o.phases.pin_ms = ms(t);
        match installed {
            Ok(pins) => {
                loaded.keep();
                o.links = pins.links;
                o.maps = pins.maps;
                o.programs = pins.progs;
                Ok(Outcome::Loaded)
            }
            // Whatever failed after the load, the maps this object pinned by name go too.
            Err(error) => {
                match pin::remove_created_shared(self.sys, &shared_before, loaded.as_ref()) {
                    Ok(()) => Err(error),
                    Err(cleanup) => Err(ObjectError::SharedCleanup {
                        error: Box::new(error),
                        cleanup,
                    }),
                }
            }
        }
    }
}

fn log_prio(o: &ObjectStatus) -> Prio {
    match o.result {
        Outcome::Failed if o.required => Prio::Err,
        Outcome::Failed => Prio::Warning,
        Outcome::Skipped => Prio::Notice,
        Outcome::Loaded | Outcome::AlreadyLoaded => Prio::Info,
    }
}

/// One line per object, `key=value` after a short phrase.
pub fn log_line(o: &ObjectStatus) -> String {
    let mut line = format!("object {}: {}", o.name, o.result.as_str());
    if let Some(e) = &o.error {
        line.push_str(": ");
        line.push_str(e);
    }
    if o.required {
        line.push_str(" required=yes");
    }
    if matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded) {
        line.push_str(&format!(
            " links={} maps={} progs={}",
            o.links.len(),
            o.maps.len(),
            o.programs.len()
        ));
        if !o.not_attached.is_empty() {
            line.push_str(&format!(" not_attached={}", o.not_attached.join(",")));
        }
    }
    if let Some(k) = &o.key_id {
        line.push_str(&format!(" key={k}"));
    }
    if let Some(h) = &o.sha256 {
        line.push_str(&format!(" sha256={}", &h[..h.len().min(16)]));
    }
    line.push_str(&format!(" ms={:.1}", o.duration_ms));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::test_key;
    use crate::pin::tests::FakeObject;
    use crate::sys::fake::FakeSys;
    use crate::verify::VerifiedObject;
    use std::cell::RefCell;

    /// Hands out fake objects pinning through the fake system; fails names listed in `reject`.
    struct FakeLoader<'a> {
        sys: &'a FakeSys,
        reject: Vec<&'static str>,
        loaded: RefCell<Vec<String>>,
    }

    impl<'a> FakeLoader<'a> {
        fn new(sys: &'a FakeSys, reject: Vec<&'static str>) -> Self {
            Self {
                sys,
                reject,
                loaded: Default::default(),
            }
        }
    }

    fn run(cmdline: &str, cfg: &RunConfig, sys: &FakeSys, loader: &FakeLoader) -> Status {
        run_plan(&cmdline::plan(cmdline, None), ring(), cfg, sys, loader, &NoGuard)
    }

    impl Loader for FakeLoader<'_> {
        fn load<'s>(
            &'s self,
            obj: &VerifiedObject,
            _shared: &Path,
        ) -> Result<Box<dyn load::LoadedObject + 's>, LoadError> {
            self.loaded.borrow_mut().push(obj.name.to_string());
            if self.reject.contains(&obj.name.as_str()) {
                return Err(LoadError::Load {
                    cause: "Permission denied (os error 13)".into(),
                    verifier: Some("R0 invalid mem access".into()),
                });
            }
            let mut o = FakeObject::new(self.sys, vec!["prog_a"], vec!["map_a"]);
            if obj.name.as_str() == "xdp" {
                o.progs = vec!["xdp_pass"];
            }
            if obj.name.as_str() == "badpin" {
                self.sys
                    .fail_on
                    .borrow_mut()
                    .insert("/bpf/+staging-badpin/maps/map_a".into());
                o.shared = vec![
                    "/bpf/+shared/shared_events".into(),
                    "/bpf/+shared/reused".into(),
                ];
                self.sys
                    .files
                    .borrow_mut()
                    .insert("/bpf/+shared/shared_events".into(), vec![]);
            }
            Ok(Box::new(o))
        }
    }

    /// A guard that must never be asked for (the plan has it off).
    struct NoGuard;

    impl GuardLoader for NoGuard {
        fn activate(
            &self,
            _bpffs: &Path,
            _protect: &[PathBuf],
            _lsm_list: io::Result<String>,
        ) -> Result<GuardReport, GuardError> {
            panic!("the guard is off in this plan")
        }
    }

    /// Records what it was asked to protect; answers like a kernel with or without BPF LSM.
    #[derive(Default)]
    struct FakeGuard {
        asked: RefCell<Vec<Vec<PathBuf>>>,
    }

    impl GuardLoader for FakeGuard {
        fn activate(
            &self,
            _bpffs: &Path,
            protect: &[PathBuf],
            lsm_list: io::Result<String>,
        ) -> Result<GuardReport, GuardError> {
            self.asked.borrow_mut().push(protect.to_vec());
            let list = lsm_list.map_err(|source| GuardError::LsmList { source })?;
            if !builtin::guard::bpf_lsm_active(&list) {
                return Err(GuardError::NoBpfLsm {
                    active: list.trim().into(),
                });
            }
            Ok(GuardReport {
                instance: "0:42".into(),
                protected: protect.iter().map(|p| p.display().to_string()).collect(),
                links: vec!["guard_unlink".into()],
                protected_links: 2,
            })
        }
    }

    #[test]
    fn guard_is_the_last_step_and_protects_what_loaded() {
        let (sys, cfg) = setup(&["a", "rej"]);
        sys.files
            .borrow_mut()
            .insert("/sys/kernel/security/lsm".into(), b"capability,bpf".to_vec());
        let loader = FakeLoader::new(&sys, vec!["rej"]);
        let guard = FakeGuard::default();
        let plan = cmdline::plan("rd.bpf_preload=a,rej rd.bpf_preload.guard=1", None);
        let st = run_plan(&plan, ring(), &cfg, &sys, &loader, &guard);
        let g = st.guard.as_ref().unwrap();
        assert_eq!((g.state, g.required), (GuardState::Active, false));
        assert_eq!(
            *guard.asked.borrow(),
            vec![vec![PathBuf::from("/bpf/a"), PathBuf::from("/bpf/+shared")]]
        );
        // securityfs was mounted for the LSM list, after the objects were pinned.
        let ops = sys.ops.borrow();
        let sec = ops.iter().position(|o| o == "mount securityfs /sys/kernel/security").unwrap();
        let rename = ops.iter().position(|o| o == "rename /bpf/+staging-a /bpf/a").unwrap();
        assert!(rename < sec, "{ops:?}");
        assert!(sys
            .logs
            .borrow()
            .iter()
            .any(|(p, l)| *p == Prio::Info && l.starts_with("guard: active instance=0:42")));
    }

    #[test]
    fn guard_without_bpf_lsm_is_unavailable_and_fails_a_required_run() {
        let (sys, cfg) = setup(&["a"]);
        sys.files
            .borrow_mut()
            .insert("/sys/kernel/security/lsm".into(), b"capability,yama\n".to_vec());
        let loader = FakeLoader::new(&sys, vec![]);
        let guard = FakeGuard::default();
        for (cmd, required) in [
            ("rd.bpf_preload=a rd.bpf_preload.guard=1", false),
            ("rd.bpf_preload=a rd.bpf_preload.guard=required", true),
        ] {
            let st = run_plan(&cmdline::plan(cmd, None), ring(), &cfg, &sys, &loader, &guard);
            let g = st.guard.clone().unwrap();
            assert_eq!(g.state, GuardState::Unavailable, "{cmd}");
            assert_eq!(
                g.reason.as_deref(),
                Some("BPF LSM is not active (lsm=\"capability,yama\"): boot with lsm=capability,yama,bpf")
            );
            assert_eq!(st.guard_required_failed(), required, "{cmd}");
        }
    }

    #[test]
    fn policy_forced_objects_load_under_rd_bpf_preload_0() {
        let (sys, cfg) = setup(&["a", "b"]);
        let loader = FakeLoader::new(&sys, vec![]);
        let pol = Policy::parse("required = a\n").unwrap();
        let plan = cmdline::plan_with("rd.bpf_preload=0", Some("a\nb\n"), &pol);
        let st = run_plan(&plan, ring(), &cfg, &sys, &loader, &NoGuard);
        assert!(st.disabled);
        assert_eq!(results(&st), vec![("a", Outcome::Loaded)]);
        assert_eq!(
            st.notes,
            vec!["rd.bpf_preload=0 refused for a: required by the initramfs policy"]
        );
        assert!(sys.logs.borrow().iter().any(|(p, l)| *p == Prio::Warning
            && l == "rd.bpf_preload=0 refused for a: required by the initramfs policy"));
    }

    fn elf_stub() -> Vec<u8> {
        // A minimal valid eBPF ELF: header only, no sections.
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // 64-bit
        h[5] = 1; // little endian
        h[6] = 1;
        h[16] = 1; // ET_REL
        h[18..20].copy_from_slice(&goblin::elf::header::EM_BPF.to_le_bytes());
        h[20] = 1;
        h[52] = 64; // e_ehsize
        h
    }

    fn setup(objects: &[&str]) -> (FakeSys, RunConfig) {
        let sys = FakeSys::default();
        let cfg = RunConfig {
            bundle: "/bundle".into(),
            bpffs: "/bpf".into(),
            ..RunConfig::default()
        };
        for name in objects {
            let signed =
                verify::sign(&elf_stub(), &ObjectName::parse(name).unwrap(), &test_key(1)).unwrap();
            sys.files
                .borrow_mut()
                .insert(format!("/bundle/{name}.bpf.o").into(), signed);
        }
        (sys, cfg)
    }

    fn ring() -> Result<KeyRing, KeyError> {
        let mut r = KeyRing::default();
        r.add("test", test_key(1).verifying_key());
        Ok(r)
    }

    fn results(st: &Status) -> Vec<(&str, Outcome)> {
        st.objects
            .iter()
            .map(|o| (o.name.as_str(), o.result))
            .collect()
    }

    #[test]
    fn pipeline_order_mount_then_stage_then_rename() {
        let (sys, cfg) = setup(&["a", "xdp"]);
        let loader = FakeLoader::new(&sys, vec![]);
        let st = run("rd.bpf_preload=a,xdp", &cfg, &sys, &loader);
        assert_eq!(
            results(&st),
            vec![("a", Outcome::Loaded), ("xdp", Outcome::Loaded)]
        );
        assert!(st.mounted_bpffs);
        let ops = sys.ops.borrow();
        assert_eq!(ops[0], "mount bpf /bpf");
        assert_eq!(ops[1], "mkdir /bpf/+shared");
        assert_eq!(ops[2], "mkdir /bpf/+staging-a");
        assert!(ops.contains(&"rename /bpf/+staging-a /bpf/a".to_string()));
        let t = sys.tree(Path::new("/bpf"));
        assert!(t.contains(&"a/links/prog_a".to_string()), "{t:?}");
        assert!(t.contains(&"xdp/progs/xdp_pass".to_string()), "{t:?}");
        assert_eq!(st.objects[1].not_attached, vec!["xdp_pass"]);
        assert_eq!(st.objects[1].programs, vec!["xdp_pass"]);
        assert!(!t.iter().any(|p| p.starts_with("+staging")), "{t:?}");
    }

    #[test]
    fn existing_bpffs_is_reused() {
        let (sys, cfg) = setup(&["a"]);
        sys.mounted.borrow_mut().push((FsKind::Bpf, "/bpf".into()));
        sys.dirs.borrow_mut().insert("/bpf".into());
        let loader = FakeLoader::new(&sys, vec![]);
        let st = run("rd.bpf_preload=a", &cfg, &sys, &loader);
        assert!(!st.mounted_bpffs);
        assert!(!sys.ops.borrow().iter().any(|o| o.starts_with("mount")));
    }

    #[test]
    fn failures_are_per_object_and_leave_nothing() {
        let (sys, cfg) = setup(&["good", "rej", "badpin", "tail"]);
        // A map an earlier object pinned by name, which badpin reuses: it must stay.
        sys.files
            .borrow_mut()
            .insert("/bpf/+shared/reused".into(), vec![]);
        sys.files
            .borrow_mut()
            .insert("/bundle/unsigned.bpf.o".into(), elf_stub());
        let loader = FakeLoader::new(&sys, vec!["rej"]);
        let plan = cmdline::plan(
            "rd.bpf_preload=good,rej,a.b,missing,unsigned,badpin,tail rd.bpf_preload.required=rej",
            None,
        );
        let st = run_plan(&plan, ring(), &cfg, &sys, &loader, &NoGuard);
        assert_eq!(
            results(&st),
            vec![
                ("good", Outcome::Loaded),
                ("rej", Outcome::Failed),
                ("a.b", Outcome::Failed),
                ("missing", Outcome::Failed),
                ("unsigned", Outcome::Failed),
                ("badpin", Outcome::Failed),
                ("tail", Outcome::Loaded),
            ]
        );
        let err = |i: usize| st.objects[i].error.clone().unwrap();
        assert_eq!(
            err(1),
            "load: Permission denied (os error 13) (verifier: R0 invalid mem access)"
        );
        assert!(
            err(2).starts_with("invalid name: name \"a.b\" has '.'"),
            "{}",
            err(2)
        );
        assert!(
            err(3).starts_with("read /bundle/missing.bpf.o: "),
            "{}",
            err(3)
        );
        assert_eq!(err(4), "verify: no signature trailer (unsigned object)");
        assert!(err(5).starts_with("pin map map_a: "), "{}", err(5));
        // The unsigned object never reached the loader.
        assert_eq!(
            *loader.loaded.borrow(),
            vec!["good", "rej", "badpin", "tail"]
        );
        let t = sys.tree(Path::new("/bpf"));
        assert!(
            !t.iter().any(|p| p.starts_with("badpin")
                || p.starts_with("rej")
                || p.starts_with("+staging")),
            "{t:?}"
        );
        assert!(
            !t.contains(&"+shared/shared_events".to_string()),
            "shared pin left behind: {t:?}"
        );
        assert!(
            t.contains(&"+shared/reused".to_string()),
            "reused shared pin removed: {t:?}"
        );
        assert_eq!(
            st.required_failed()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>(),
            vec!["rej"]
        );
        let logs = sys.logs.borrow();
        assert!(
            logs.iter()
                .any(|(p, l)| *p == Prio::Err && l.starts_with("object rej: failed: load:")),
            "{logs:?}"
        );
        assert!(
            logs.iter()
                .any(|(p, l)| *p == Prio::Warning && l.starts_with("object unsigned: failed")),
            "{logs:?}"
        );
    }

    #[test]
    fn second_run_reports_already_loaded_or_conflict() {
        let (sys, cfg) = setup(&["a"]);
        let loader = FakeLoader::new(&sys, vec![]);
        let plan = cmdline::plan("rd.bpf_preload=a", None);
        run_plan(&plan, ring(), &cfg, &sys, &loader, &NoGuard);
        let before = sys.tree(Path::new("/bpf"));
        let st = run_plan(&plan, ring(), &cfg, &sys, &loader, &NoGuard);
        assert_eq!(results(&st), vec![("a", Outcome::AlreadyLoaded)]);
        assert_eq!(sys.tree(Path::new("/bpf")), before);
        // Same name, other bytes: a conflict, and the loaded one stays.
        let mut other = elf_stub();
        other.push(0);
        let signed = verify::sign(&other, &ObjectName::parse("a").unwrap(), &test_key(1)).unwrap();
        sys.files
            .borrow_mut()
            .insert("/bundle/a.bpf.o".into(), signed);
        let st = run_plan(&plan, ring(), &cfg, &sys, &loader, &NoGuard);
        assert_eq!(results(&st), vec![("a", Outcome::Failed)]);
        assert!(
            st.objects[0]
                .error
                .as_ref()
                .unwrap()
                .contains("holds another object (sha256 "),
            "{:?}",
            st.objects[0].error
        );
        assert_eq!(sys.tree(Path::new("/bpf")), before);
        assert_eq!(loader.loaded.borrow().len(), 1);
    }

    #[test]
    fn stale_staging_is_removed_first() {
        let (sys, cfg) = setup(&["a"]);
        for d in ["/bpf", "/bpf/+staging-a", "/bpf/+staging-a/links"] {
            sys.dirs.borrow_mut().insert(d.into());
        }
        sys.files
            .borrow_mut()
            .insert("/bpf/+staging-a/links/old".into(), vec![]);
        sys.mounted.borrow_mut().push((FsKind::Bpf, "/bpf".into()));
        let loader = FakeLoader::new(&sys, vec![]);
        let st = run("rd.bpf_preload=a", &cfg, &sys, &loader);
        assert_eq!(results(&st), vec![("a", Outcome::Loaded)]);
        assert_eq!(sys.ops.borrow()[0], "remove /bpf/+staging-a");
        assert!(!sys
            .tree(Path::new("/bpf"))
            .iter()
            .any(|p| p.contains("old")));
    }

    #[test]
    fn disabled_and_empty_plans_touch_nothing() {
        let (sys, cfg) = setup(&["a"]);
        let loader = FakeLoader::new(&sys, vec![]);
        let st = run("rd.bpf_preload=a,0", &cfg, &sys, &loader);
        assert_eq!(results(&st), vec![("a", Outcome::Skipped)]);
        let st = run("", &cfg, &sys, &loader);
        assert!(st.objects.is_empty());
        assert!(sys.ops.borrow().is_empty());
    }

    #[test]
    fn key_errors_fail_every_object_closed() {
        let (sys, cfg) = setup(&["a"]);
        let loader = FakeLoader::new(&sys, vec![]);
        let bad = Err(KeyError::RevokedLine {
            path: "/k/revoked".into(),
            line: 2,
            text: "zz".into(),
        });
        let st = run_plan(
            &cmdline::plan("rd.bpf_preload=a", None),
            bad,
            &cfg,
            &sys,
            &loader,
            &NoGuard,
        );
        assert_eq!(results(&st), vec![("a", Outcome::Failed)]);
        assert!(st.objects[0]
            .error
            .as_ref()
            .unwrap()
            .starts_with("trusted keys: /k/revoked: line 2"));
        assert!(loader.loaded.borrow().is_empty());
    }

    #[test]
    fn log_line_is_one_short_line() {
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::Loaded;
        o.links = vec!["a".into()];
        o.sha256 = Some("0123456789abcdef0123".into());
        o.key_id = Some("00112233aabbccdd".into());
        assert_eq!(log_line(&o), "object counter: loaded required=yes links=1 maps=0 progs=0 key=00112233aabbccdd sha256=0123456789abcdef ms=0.0");
    }
}
