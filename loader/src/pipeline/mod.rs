//! The per-object pipeline: name → read once → verify → check ELF → (already there?) → load →
//! attach → pin, each step a function returning a value; the object's status record is built
//! from those values in one place ([`record`]).
#![forbid(unsafe_code)]

pub mod guard;
pub mod keys;
pub mod live;
pub mod load;
pub mod measure;
pub mod object;
pub mod pin;
pub mod report;
pub mod signed;

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cmdline::{self, Entry, GuardMode, Plan};
use crate::elf::ElfInfo;
use crate::escape::escape;
use crate::name::{NameError, ObjectName, SHARED_DIR};
use crate::policy::{Policy, PolicyError, POLICY_PATH};
use crate::status::{MeasureState, ObjectStatus, Outcome, Phases, Status, STATUS_VERSION};
use crate::sys::tpm::MeasureIo;
use crate::sys::{FsKind, Prio, Sys, TRACEFS_PATH};
use crate::verify::{self, CheckError, VerifiedObject};
use guard::GuardLoader;
use keys::{KeyError, KeyRing};
use load::{Kernel, LoadError, LoadReport};
use measure::Measurer;
use pin::{BpffsError, Existing, PinError, Pins};

/// Exit code of `run` when a required object failed: an initramfs hook can fail closed on it.
pub const EXIT_REQUIRED_FAILED: i32 = 3;

/// Where the command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdlineFrom {
    /// What dracut's own tools see: `<etc>/cmdline.d/*.conf`, `<etc>/cmdline` (options built
    /// into the initramfs, e.g. by `dracut --kernel-cmdline`), then the kernel's (`proc`).
    Boot { etc: PathBuf, proc: PathBuf },
    /// This file alone (`run --cmdline FILE`).
    File(PathBuf),
}

/// Where the boot job reads and writes. Defaults are the documented boot-time paths.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub cmdline: CmdlineFrom,
    pub preload_list: PathBuf,
    pub bundle: PathBuf,
    pub keys: PathBuf,
    pub bpffs: PathBuf,
    pub status: PathBuf,
    /// The build-time policy written by the initramfs builder (absent: none).
    pub policy: PathBuf,
    /// Measured preload: the TPM devices tried in order, and systemd's measurement log.
    pub tpm_devices: Vec<PathBuf>,
    pub measure_log: PathBuf,
    pub verbose: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            cmdline: CmdlineFrom::Boot {
                etc: "/etc".into(),
                proc: "/proc/cmdline".into(),
            },
            preload_list: "/etc/bpf-preload/preload.list".into(),
            bundle: "/usr/lib/bpf-preload".into(),
            keys: "/etc/bpf-preload/keys".into(),
            bpffs: "/sys/fs/bpf".into(),
            status: "/run/bpf-preload/status.json".into(),
            policy: POLICY_PATH.into(),
            tpm_devices: crate::sys::tpm::TPM_DEVICES
                .iter()
                .map(PathBuf::from)
                .collect(),
            measure_log: crate::measure::LOG_PATH.into(),
            verbose: false,
        }
    }
}

/// Largest command line or preload list file read.
const MAX_TEXT_SIZE: u64 = 1 << 20;

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
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error("shared map {} was in {} before this run: refused (strict shared maps)", maps.join(", "), dir.display())]
    SharedPreexisting { dir: PathBuf, maps: Vec<String> },
    #[error("not loaded: {0}")]
    Measure(String),
    #[error("{error}; cleanup also failed: remove shared map pins: {cleanup}")]
    SharedCleanup {
        error: Box<ObjectError>,
        cleanup: io::Error,
    },
}

/// Why an object was not attempted although listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    Disabled,
}

impl SkipReason {
    fn as_str(self) -> &'static str {
        match self {
            SkipReason::Disabled => "loading disabled by rd.bpf_preload=0",
        }
    }
}

/// How one object ended.
#[derive(Debug)]
pub enum Verdict {
    Loaded,
    AlreadyLoaded,
    Skipped(SkipReason),
    Failed(ObjectError),
}

/// What the steps of one object produced, as far as they got.
#[derive(Debug, Default)]
pub struct Attempt {
    /// The verified payload's sha256 (hex) and the key id that signed it.
    pub verified: Option<(String, String)>,
    pub phases: Phases,
    pub load: Option<LoadReport>,
    /// The load's pin-by-name maps, by name in the shared directory.
    pub shared: Vec<String>,
    /// Of those, the ones already in the shared directory before it loaded.
    pub shared_reused: Vec<String>,
    pub pins: Option<Pins>,
    /// Its event was extended into the measurement PCR.
    pub measured: bool,
}

/// The file names of pins, as the status lists them.
fn pin_names_of(pins: &[PathBuf]) -> Vec<String> {
    pins.iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect()
}

/// Milliseconds since `since`, to 0.1 ms.
pub fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e4).round() / 10.0
}

/// Run `step`, storing its duration in `slot` whatever it returns.
fn timed<T>(slot: &mut f64, step: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = step();
    *slot = ms(t);
    out
}

/// Read a text file lossily (a stray byte is not fatal; only our options matter); `None` when
/// it does not exist.
fn read_text(path: &Path) -> io::Result<Option<String>> {
    match crate::sys::read_bounded(path, MAX_TEXT_SIZE) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The command line, as dracut's tools see it (or as the file given).
pub fn read_cmdline(from: &CmdlineFrom) -> Result<String, RunError> {
    let cmdline_err = |path: &Path| {
        let path = path.to_owned();
        move |source| RunError::Cmdline { path, source }
    };
    let (builtin, proc) = match from {
        CmdlineFrom::File(path) => (vec![], path),
        CmdlineFrom::Boot { etc, proc } => {
            let dir = etc.join("cmdline.d");
            let mut confs: Vec<PathBuf> = match crate::sys::list_dir(&dir) {
                Ok(entries) => entries
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                    .collect(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => vec![],
                Err(e) => return Err(cmdline_err(&dir)(e)),
            };
            confs.sort();
            confs.push(etc.join("cmdline"));
            (confs, proc)
        }
    };
    let mut parts = Vec::new();
    for path in &builtin {
        parts.extend(read_text(path).map_err(cmdline_err(path))?);
    }
    let kernel = crate::sys::read_bounded(proc, MAX_TEXT_SIZE).map_err(cmdline_err(proc))?;
    parts.push(String::from_utf8_lossy(&kernel).into_owned());
    Ok(cmdline::combine(parts.iter().map(String::as_str)))
}

/// The build-time policy (absent: none). A policy that cannot be read exactly is fatal: it must
/// not be taken as "no policy".
pub fn read_policy(path: &Path) -> Result<Policy, RunError> {
    match read_text(path) {
        Ok(Some(text)) => Policy::parse(&text).map_err(|source| RunError::PolicyParse {
            path: path.to_owned(),
            source,
        }),
        Ok(None) => Ok(Policy::default()),
        Err(source) => Err(RunError::Policy {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The plan: the command line, the build-time policy and, only when the command line names no
/// objects itself, the preload list file.
pub fn read_plan(cfg: &RunConfig) -> Result<Plan, RunError> {
    let text = read_cmdline(&cfg.cmdline)?;
    let list = if cmdline::names_objects(&text) {
        None
    } else {
        read_text(&cfg.preload_list).map_err(|source| RunError::PreloadList {
            path: cfg.preload_list.clone(),
            source,
        })?
    };
    let policy = read_policy(&cfg.policy)?;
    Ok(cmdline::plan_with(&text, list.as_deref(), &policy))
}

/// The status of a run that could not plan: the reason, no objects. It replaces any stale one.
pub fn fatal(cfg: &RunConfig, error: &RunError, sys: &dyn Sys) -> Status {
    sys.log(Prio::Err, &escape(&error.to_string()));
    Status {
        version: STATUS_VERSION,
        source: cmdline::Source::Nothing,
        disabled: false,
        bpffs: cfg.bpffs.display().to_string(),
        mounted_bpffs: false,
        bpffs_instance: None,
        error: Some(error.to_string()),
        objects: Vec::new(),
        guard: None,
        measurement: None,
        signed_only: None,
        notes: Vec::new(),
        warnings: Vec::new(),
        live: None,
        duration_ms: 0.0,
    }
}

/// At most this many skipped key files are named, in the status and in kmsg; the rest are
/// counted.
const MAX_KEY_WARNINGS: usize = 32;

/// One warning per key file the ring left out (bounded): each names the file.
fn key_warnings(ring: &KeyRing) -> Vec<String> {
    let skipped = ring.skipped();
    let mut out: Vec<String> = skipped
        .iter()
        .take(MAX_KEY_WARNINGS)
        .map(|e| format!("trusted keys: skipped a key file: {e}"))
        .collect();
    if skipped.len() > MAX_KEY_WARNINGS {
        out.push(format!(
            "trusted keys: skipped {} more key files",
            skipped.len() - MAX_KEY_WARNINGS
        ));
    }
    out
}

/// Run a plan. Every object gets a status; a failure never stops the others.
pub fn run(
    plan: &Plan,
    ring: Result<KeyRing, KeyError>,
    cfg: &RunConfig,
    sys: &dyn Sys,
    kernel: &dyn Kernel,
    guard: &dyn GuardLoader,
    measure_io: &dyn MeasureIo,
) -> Status {
    let start = Instant::now();
    let measurer = Measurer::new(plan.measure, measure_io);
    let mut status = Status {
        version: STATUS_VERSION,
        source: plan.source,
        disabled: plan.disabled,
        bpffs: cfg.bpffs.display().to_string(),
        mounted_bpffs: false,
        bpffs_instance: None,
        error: None,
        objects: Vec::new(),
        duration_ms: 0.0,
        guard: None,
        measurement: None,
        signed_only: None,
        notes: plan.notes.clone(),
        warnings: ring.as_ref().map(key_warnings).unwrap_or_default(),
        live: None,
    };
    for n in plan.notes.iter().chain(&status.warnings) {
        sys.log(Prio::Warning, &escape(n));
    }
    let mut finish = |entry: &Entry, attempt: Attempt, verdict: Verdict, t: Instant| {
        let o = record(entry, attempt, verdict, ms(t));
        sys.log(report::prio(&o), &report::log_line(&o));
        status.objects.push(o);
    };
    if plan.disabled {
        // Objects the build-time policy requires are loaded all the same (plan.notes says so).
        for entry in plan.entries.iter().filter(|e| !e.forced) {
            let verdict = Verdict::Skipped(SkipReason::Disabled);
            finish(entry, Attempt::default(), verdict, Instant::now());
        }
    }
    let todo: Vec<&Entry> = plan.to_load().collect();
    // The prepared bpffs (or why not), for the guard.
    let mut prepared: Option<Result<(), Arc<BpffsError>>> = None;
    // The prepared bpffs, and with it the run's lock, is held until the guard has run too.
    let mut _held = None;
    if todo.is_empty() && plan.guard == GuardMode::Off {
        if !plan.disabled {
            sys.log(Prio::Info, "nothing to load");
        }
    } else {
        let bpffs = pin::prepare_bpffs(sys, &cfg.bpffs).map_err(Arc::new);
        let ring = ring.map_err(Arc::new);
        let mut run_error = None;
        match &bpffs {
            Ok(b) => {
                for stale in &b.swept {
                    let msg =
                        format!("removed stale staging directory {stale} left by an earlier run");
                    sys.log(Prio::Notice, &escape(&msg));
                }
            }
            Err(e) => {
                sys.log(Prio::Err, &escape(&e.to_string()));
                run_error = Some(e.to_string());
            }
        }
        if let Err(e) = &ring {
            let msg = format!("trusted keys: {e}");
            sys.log(Prio::Err, &escape(&msg));
            run_error.get_or_insert(msg);
        }
        let ctx = Ctx {
            cfg,
            sys,
            kernel,
            bpffs: &bpffs,
            ring: &ring,
            tracefs_ready: Cell::new(false),
            run_id: sys.nonce(),
            strict_shared: plan.strict_shared,
            shared_at_start: sys.list(&cfg.bpffs.join(SHARED_DIR)),
            measurer: &measurer,
        };
        for &entry in &todo {
            let t = Instant::now();
            let mut attempt = Attempt::default();
            let verdict = match ctx.object(entry, &mut attempt) {
                Ok(v) => v,
                Err(e) => Verdict::Failed(e),
            };
            finish(entry, attempt, verdict, t);
        }
        status.mounted_bpffs = bpffs.as_ref().is_ok_and(|b| b.mounted);
        // Which instance this run pinned into, by its `+shared` directory (every bpffs root is
        // inode 1; this number no other bpffs has): `status` tells a fresh bpffs from it later.
        if bpffs.is_ok() {
            // ... and each object's own directory, which `status` compares object by object.
            for o in &mut status.objects {
                if matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded) {
                    o.dir_ino = sys
                        .stat_ids(&cfg.bpffs.join(&o.name))
                        .ok()
                        .map(|(ino, _)| ino);
                }
            }
            status.bpffs_instance =
                sys.stat_ids(&cfg.bpffs.join(SHARED_DIR))
                    .ok()
                    .map(|(ino, dev)| live::Instance {
                        ino,
                        dev: live::kernel_dev(dev),
                    });
        }
        status.error = run_error;
        prepared = Some(bpffs.map(|b| {
            _held = Some(b);
        }));
    }
    // After the list, whatever happened to its objects: a verifier tells a complete list from
    // one cut short.
    if measurer.on() {
        measurer.close(todo.len());
        let m = measurer.status();
        let prio = if m.required && m.state != MeasureState::Ok {
            Prio::Err
        } else if m.state != MeasureState::Ok || m.log_error.is_some() {
            Prio::Warning
        } else {
            Prio::Info
        };
        sys.log(prio, &escape(&m.line()));
    }
    status.measurement = Some(measurer.status());
    if plan.guard != GuardMode::Off {
        let probe = |p: &Path| kernel.probe(p);
        let g = guard::step(
            plan.guard,
            &cfg.bpffs,
            sys,
            guard,
            &probe,
            match &prepared {
                Some(Ok(())) => guard::BpffsReady::Ready,
                Some(Err(e)) => guard::BpffsReady::Failed(e),
                None => guard::BpffsReady::NotPrepared,
            },
            &status.objects,
        );
        sys.log(guard::prio(&g), &escape(&g.line()));
        status.guard = Some(g);
    }
    status.duration_ms = ms(start);
    status
}

/// The one place an object's status record is made.
pub fn record(entry: &Entry, a: Attempt, verdict: Verdict, duration_ms: f64) -> ObjectStatus {
    let (result, error) = match verdict {
        Verdict::Loaded => (Outcome::Loaded, None),
        Verdict::AlreadyLoaded => (Outcome::AlreadyLoaded, None),
        Verdict::Skipped(why) => (Outcome::Skipped, Some(why.as_str().to_owned())),
        Verdict::Failed(e) => (Outcome::Failed, Some(e.to_string())),
    };
    let (sha256, key_id) = a.verified.unzip();
    let (mut shared, mut shared_reused) = (a.shared, a.shared_reused);
    if result == Outcome::Failed {
        // Nothing of a failed object stays: the shared maps it created are gone.
        shared.clear();
        shared_reused.clear();
    }
    let pins = a.pins.unwrap_or_default();
    // The path of this run's load, failed or not (an object already loaded was not loaded now).
    let attempted = a.load.is_some() && result != Outcome::AlreadyLoaded;
    let load = a.load.unwrap_or_default();
    let load_path = attempted.then(|| load.path.as_str().to_owned());
    let load_path_reason = if attempted { load.path_reason } else { None };
    let kernel_signature = if attempted {
        load.kernel_signature
    } else {
        None
    };
    ObjectStatus {
        name: entry.raw.clone(),
        result,
        required: entry.required,
        sha256,
        key_id,
        error,
        links: pins.links,
        link_ids: pins.link_ids,
        link_prog_ids: pins.link_progs,
        dir_ino: None,
        maps: pins.maps,
        programs: pins.progs,
        not_attached: load.not_attached,
        skipped_programs: load.skipped,
        shared_maps: shared,
        shared_maps_reused: shared_reused,
        load_path,
        load_path_reason,
        measured: a.measured,
        kernel_signature,
        duration_ms,
        phases: a.phases,
    }
}

struct Ctx<'a> {
    cfg: &'a RunConfig,
    sys: &'a dyn Sys,
    kernel: &'a dyn Kernel,
    bpffs: &'a Result<pin::Bpffs, Arc<BpffsError>>,
    ring: &'a Result<KeyRing, Arc<KeyError>>,
    /// tracefs is mounted once, for the first object that needs it.
    tracefs_ready: Cell<bool>,
    /// Names this run's staging directories.
    run_id: String,
    /// `rd.bpf_preload.strict_shared=1` or the build-time policy.
    strict_shared: bool,
    /// The shared directory's names when the run began.
    shared_at_start: io::Result<Vec<String>>,
    /// Measured preload (off unless the plan asks).
    measurer: &'a Measurer<'a>,
}

impl Ctx<'_> {
    /// Every step of one object, in order; each returns its value into `a`.
    fn object(&self, entry: &Entry, a: &mut Attempt) -> Result<Verdict, ObjectError> {
        let name = entry.name.clone().map_err(ObjectError::Name)?;
        self.bpffs
            .as_ref()
            .map_err(|e| ObjectError::Bpffs(e.clone()))?;
        let ring = self
            .ring
            .as_ref()
            .map_err(|e| ObjectError::Keys(e.clone()))?;
        let (verified, info, existing) = timed(&mut a.phases.verify_ms, || {
            let (verified, info) = self.read_and_check(&name, ring)?;
            let existing = self.existing(&name, &verified)?;
            Ok::<_, ObjectError>((verified, info, existing))
        })?;
        let sha = verified.sha256_hex();
        let key_id = verified.key_id.to_string();
        a.verified = Some((sha.clone(), key_id.clone()));
        // Measured before any byte of it reaches the kernel; required and not measured: refused.
        a.measured = self
            .measurer
            .object(name.as_str(), &sha, &key_id, verified.offers_fast_path())
            .map_err(ObjectError::Measure)?;
        match existing {
            Existing::Nothing => {}
            Existing::Same => return self.already_loaded(&name, &info, a),
            Existing::Conflict(found) => {
                let path = self.cfg.bpffs.join(name.as_str());
                return Err(ObjectError::Conflict { path, found });
            }
        }
        let shared = self.cfg.bpffs.join(SHARED_DIR);
        let (mut obj, attached, shared_before) = timed(&mut a.phases.load_ms, || {
            self.ensure_tracefs(&info)?;
            let before = self
                .sys
                .list(&shared)
                .map_err(|source| ObjectError::ListShared {
                    path: shared.clone(),
                    source,
                })?;
            let mut obj = self.kernel.load(&verified, &shared).map_err(|f| {
                a.load = Some(f.report());
                f.error
            })?;
            a.shared = pin_names_of(&obj.shared_pins());
            // Nothing of the object has run yet: refuse planted maps before attaching.
            let attached = self
                .refuse_preexisting(&a.shared)
                .and_then(|()| Ok(obj.attach()?));
            Ok::<_, ObjectError>((obj, attached, before))
        })?;
        a.load = Some(obj.report());
        a.shared_reused = a
            .shared
            .iter()
            .filter(|m| shared_before.contains(m))
            .cloned()
            .collect();
        let installed = timed(&mut a.phases.pin_ms, || {
            attached?;
            let (bpffs, run_id) = (&self.cfg.bpffs, self.run_id.as_str());
            let pins = pin::install(self.sys, bpffs, run_id, &name, &sha, obj.as_pinnable())?;
            Ok::<_, ObjectError>(pins)
        });
        match installed {
            Ok(mut pins) => {
                obj.keep();
                let probe = |p: &Path| self.kernel.probe(p);
                let dir = self.cfg.bpffs.join(name.as_str());
                (pins.link_ids, pins.link_progs) = pin::link_ids(&probe, &dir, &pins.links);
                a.pins = Some(pins);
                Ok(Verdict::Loaded)
            }
            // Another writer put the same object in place first: that one stands.
            Err(ObjectError::Pin(PinError::Rename { .. }))
                if self.existing(&name, &verified)? == Existing::Same =>
            {
                self.already_loaded(&name, &info, a)
            }
            // Whatever failed after the load, the maps this object pinned by name go too.
            Err(error) => {
                let created = obj.shared_pins();
                match pin::remove_created_shared(self.sys, &shared_before, &created) {
                    Ok(()) => Err(error),
                    Err(cleanup) => Err(ObjectError::SharedCleanup {
                        error: Box::new(error),
                        cleanup,
                    }),
                }
            }
        }
    }

    /// In strict mode, an object may not use a shared map that was there before the run began.
    fn refuse_preexisting(&self, shared: &[String]) -> Result<(), ObjectError> {
        if !self.strict_shared {
            return Ok(());
        }
        let dir = self.cfg.bpffs.join(SHARED_DIR);
        let at_start = self
            .shared_at_start
            .as_ref()
            .map_err(|e| ObjectError::ListShared {
                path: dir.clone(),
                source: io::Error::new(e.kind(), e.to_string()),
            })?;
        let maps: Vec<String> = shared
            .iter()
            .filter(|m| at_start.contains(m))
            .cloned()
            .collect();
        if maps.is_empty() {
            return Ok(());
        }
        Err(ObjectError::SharedPreexisting { dir, maps })
    }

    /// The marker matched: believe it only when every pin is there, of the right kind, links
    /// live; report what is pinned.
    fn already_loaded(
        &self,
        name: &ObjectName,
        info: &ElfInfo,
        a: &mut Attempt,
    ) -> Result<Verdict, ObjectError> {
        let probe = |p: &Path| self.kernel.probe(p);
        match pin::check_loaded(self.sys, &probe, &self.cfg.bpffs, name, info) {
            Ok(pins) => {
                a.pins = Some(pins);
                Ok(Verdict::AlreadyLoaded)
            }
            Err(damages) => Err(ObjectError::Damaged {
                path: self.cfg.bpffs.join(name.as_str()),
                name: name.clone(),
                damages,
            }),
        }
    }

    /// Read once, then every check `run` (and `bpf-preload verify`) makes before the kernel.
    fn read_and_check(
        &self,
        name: &ObjectName,
        ring: &KeyRing,
    ) -> Result<(VerifiedObject, ElfInfo), ObjectError> {
        let path = self.cfg.bundle.join(name.file_name());
        let bytes = self
            .sys
            .read_object(&path)
            .map_err(|source| ObjectError::Read { path, source })?;
        Ok(verify::check(bytes, Some(name), ring)?)
    }

    fn existing(&self, name: &ObjectName, v: &VerifiedObject) -> Result<Existing, ObjectError> {
        pin::existing(self.sys, &self.cfg.bpffs, name, &v.sha256_hex()).map_err(|source| {
            ObjectError::Existing {
                path: self.cfg.bpffs.join(name.as_str()),
                source,
            }
        })
    }

    fn ensure_tracefs(&self, info: &ElfInfo) -> Result<(), ObjectError> {
        if info.needs_tracefs() && !self.tracefs_ready.get() {
            pin::ensure_mounted(self.sys, FsKind::Trace, Path::new(TRACEFS_PATH))
                .map_err(ObjectError::Tracefs)?;
            self.tracefs_ready.set(true);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests make and read files directly
mod tests;
