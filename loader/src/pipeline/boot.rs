//! The boot job, one sequence of steps owned by one value ([`Boot`]; cilium/ebpf's
//! `collection.go`). Each step returns a value and logs as it ends, so the kmsg lines come in
//! the order of the work; the status record is assembled once, from those values:
//!
//! | step | value | where the work is |
//! |---|---|---|
//! | plan | [`Plan`] | [`plan`](super::plan) (the meaning: `cmdline`, `policy`) |
//! | keys | [`Keys`] | [`keys`](super::keys) |
//! | keyring | [`KernelKeys`] | [`signed`](super::signed) |
//! | bpffs | [`Prepared`] | [`pin::bpffs`](super::pin::bpffs) |
//! | objects | `Vec<ObjectStatus>` | [`object_run`](super::object_run), [`parallel`](super::parallel) |
//! | iterators | `Option<IteratorsStatus>` | [`iterators`](super::iterators) |
//! | measurement | `MeasurementStatus` | [`measure`](super::measure) |
//! | guard | `GuardStatus`, then signed-only mode's state | [`guard`](super::guard), [`signed`](super::signed) |
//! | report | [`Status`] | [`report`](super::report) |
//!
//! The kernel and the guard are made between the keyring and the bpffs steps, from the keyring
//! step's value ([`Signing`]): signed-only mode loads against the sealed keyring. Once the bpffs
//! step has prepared the instance, the guard begins beside the objects ([`GuardLoader::begin`]:
//! loaded and attached, not armed); its step, last, arms it.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::config::RunConfig;
use super::error::RunError;
use super::guard::{self, BpffsReady, GuardLoader};
use super::iterators::{self as iters, IteratorLoader};
use super::keys::{self, KeyError, KeyRing};
use super::live::{self, Instance};
use super::load::Kernel;
use super::measure::Measurer;
use super::object_run::{ms, record, Attempt, Ctx, SkipReason, Verdict};
use super::parallel;
use super::pin::{self, Bpffs, BpffsError};
use super::plan::read_plan;
use super::report;
use super::signed::{self, KernelKeys};
use crate::sys::keyring::Keyrings;
use crate::sys::tpm::MeasureIo;
use crate::sys::{Prio, Sys};
use bpf_preload_format::cmdline::{self, Entry, GuardMode, Plan};
use bpf_preload_format::escape::escape;
use bpf_preload_format::name::SHARED_DIR;
use bpf_preload_format::status::{
    GuardStatus, IteratorsStatus, MeasureState, MeasurementStatus, ObjectStatus, Outcome, RunInfo,
    Status, STATUS_VERSION,
};

/// The boundaries of a boot known before it starts (the kernel's come from [`Signing`]).
pub struct Boundaries<'a> {
    pub sys: &'a dyn Sys,
    pub keyrings: &'a dyn Keyrings,
    pub tpm: &'a dyn MeasureIo,
    /// The built-in iterators (they need no signing state).
    pub iterators: &'a dyn IteratorLoader,
}

/// What the keyring step leaves for the kernel and the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signing {
    /// The loader's sealed keyring: objects with a kernel signature are loaded against it.
    pub keyring: Option<i32>,
    /// Signed-only mode is asked for and has its keyring: the guard enforces it with this one.
    pub signed_only: Option<i32>,
    /// The guard is asked for (it may start what it can before the objects load).
    pub guard: bool,
}

impl Signing {
    pub fn of(plan: &Plan, keys: &KernelKeys) -> Self {
        Self {
            keyring: keys.keyring,
            signed_only: keys.keyring.filter(|_| plan.signed_only != GuardMode::Off),
            guard: plan.guard != GuardMode::Off,
        }
    }
}

/// The keys step's value: the trusted keys (or why there are none) and a warning per key file
/// left out.
pub struct Keys {
    pub ring: Result<KeyRing, Arc<KeyError>>,
    pub warnings: Vec<String>,
}

/// The bpffs step's value: the prepared bpffs (it holds the run's lock until dropped, after the
/// guard) or why not, and the instance it is, by its `+shared` directory; `None` when the plan
/// has nothing to do with a bpffs.
pub struct Prepared {
    pub bpffs: Result<Bpffs, Arc<BpffsError>>,
    pub instance: Option<Instance>,
}

/// The boot job: every step in order (see the module); whatever happens a status record is
/// written to `cfg.status`. Only a problem that stops planning is an `Err`.
pub fn boot<K: Kernel, G: GuardLoader>(
    cfg: &RunConfig,
    b: &Boundaries,
    connect: impl FnOnce(Signing) -> (K, G),
) -> Result<Status, RunError> {
    let boot = Boot::new(cfg, b.sys, b.tpm);
    let plan = match boot.plan() {
        Ok(plan) => plan,
        Err(e) => {
            b.sys.log(Prio::Err, &escape(&e.to_string()));
            boot.report(fatal(cfg, &e));
            return Err(e);
        }
    };
    let keys = boot.keys(&plan);
    let keyring = boot.keyring(&plan, b.keyrings);
    let (kernel, guard) = connect(Signing::of(&plan, &keyring));
    let status = boot.run(&plan, keys, keyring, &kernel, &guard, b.iterators);
    Ok(boot.report(status))
}

/// One boot: its configuration, the boundaries every step uses, when it began.
pub struct Boot<'a> {
    cfg: &'a RunConfig,
    sys: &'a dyn Sys,
    tpm: &'a dyn MeasureIo,
    start: Instant,
    /// When it began, in seconds since 1970 (the record's `run.started`).
    started: u64,
}

impl<'a> Boot<'a> {
    pub fn new(cfg: &'a RunConfig, sys: &'a dyn Sys, tpm: &'a dyn MeasureIo) -> Self {
        Self {
            cfg,
            sys,
            tpm,
            start: Instant::now(),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// The plan step: read it, then say what the build-time policy refused of the command line.
    pub fn plan(&self) -> Result<Plan, RunError> {
        let plan = read_plan(self.sys, self.cfg)?;
        self.notes(&plan);
        Ok(plan)
    }

    pub fn notes(&self, plan: &Plan) {
        for n in &plan.notes {
            self.sys.log(Prio::Warning, &escape(n));
        }
    }

    /// The keys step: the built-in keys and the keys directory.
    pub fn keys(&self, plan: &Plan) -> Keys {
        self.keys_from(plan, keys::trusted_from(self.sys, &self.cfg.keys))
    }

    /// The keys step's value from a ring read: a warning per key file left out; the ring's
    /// error when anything is to be loaded (every object fails with it).
    pub fn keys_from(&self, plan: &Plan, ring: Result<KeyRing, KeyError>) -> Keys {
        let warnings = ring.as_ref().map(key_warnings).unwrap_or_default();
        for w in &warnings {
            self.sys.log(Prio::Warning, &escape(w));
        }
        if let (Err(e), true) = (&ring, has_work(plan)) {
            self.sys
                .log(Prio::Err, &escape(&format!("trusted keys: {e}")));
        }
        Keys {
            ring: ring.map_err(Arc::new),
            warnings,
        }
    }

    /// The keyring step: the loader's sealed kernel keyring, when certificates or signed-only
    /// mode ask for one.
    pub fn keyring(&self, plan: &Plan, keyrings: &dyn Keyrings) -> KernelKeys {
        let keys = signed::setup(&self.cfg.keys, plan.signed_only, self.sys, keyrings);
        signed::report_keyring(self.sys, &keys);
        keys
    }

    /// Every step after the keyring, and the status record assembled from their values.
    pub fn run(
        &self,
        plan: &Plan,
        keys: Keys,
        keyring: KernelKeys,
        kernel: &dyn Kernel,
        guard: &dyn GuardLoader,
        iterators: &dyn IteratorLoader,
    ) -> Status {
        let todo: Vec<&Entry> = plan.to_load().collect();
        let mut objects = self.skipped(plan);
        let prepared = self.bpffs(plan);
        // The guard loads and attaches (not armed) while the objects load; it arms last.
        if plan.guard != GuardMode::Off
            && matches!(ready(prepared.as_ref()), BpffsReady::Ready)
            && !self.sys.exists(&self.cfg.bpffs.join(guard::GUARD_DIR))
        {
            guard.begin(&self.cfg.bpffs);
        }
        let measurer = Measurer::new(plan.measure, self.tpm);
        if let Some(p) = &prepared {
            objects.extend(self.objects(plan, &todo, &keys, p, kernel, &measurer));
        }
        let iterators = self.iterators(
            plan,
            iterators,
            kernel,
            prepared.as_ref(),
            &objects,
            &measurer,
        );
        let measurement = self.measurement(&measurer, todo.len());
        let files = iters::protected(&self.cfg.bpffs, iterators.as_ref());
        let guard = self.guard(plan, guard, kernel, prepared.as_ref(), &objects, &files);
        let signed_only =
            signed::report_state(self.sys, plan.signed_only, &keyring, guard.as_ref());
        // The first reason the run could not do its work: the bpffs, else the keys.
        let error = prepared
            .as_ref()
            .and_then(|p| match (&p.bpffs, &keys.ring) {
                (Err(e), _) => Some(e.to_string()),
                (Ok(_), Err(e)) => Some(format!("trusted keys: {e}")),
                (Ok(_), Ok(_)) => None,
            });
        let mut warnings = keys.warnings;
        warnings.extend(keyring.warnings);
        Status {
            version: STATUS_VERSION,
            run: None,
            source: plan.source,
            list_files: plan.list_files.clone(),
            disabled: plan.disabled,
            bpffs: self.cfg.bpffs.display().to_string(),
            mounted_bpffs: prepared
                .as_ref()
                .is_some_and(|p| p.bpffs.as_ref().is_ok_and(|b| b.mounted)),
            bpffs_instance: prepared.as_ref().and_then(|p| p.instance),
            error,
            objects,
            duration_ms: 0.0,
            guard,
            measurement: Some(measurement),
            signed_only,
            iterators,
            notes: plan.notes.clone(),
            warnings,
            live: None,
        }
    }

    /// The objects `rd.bpf_preload=0` skips (those the policy requires are loaded all the same).
    fn skipped(&self, plan: &Plan) -> Vec<ObjectStatus> {
        if !plan.disabled {
            return Vec::new();
        }
        let skipped = plan.entries.iter().filter(|e| !e.forced);
        let verdict = || Verdict::Skipped(SkipReason::Disabled);
        skipped
            .map(|entry| self.finish(entry, Attempt::default(), verdict(), Instant::now()))
            .collect()
    }

    /// The bpffs step: lock, mount, sweep; `None` when nothing is to be loaded or guarded.
    fn bpffs(&self, plan: &Plan) -> Option<Prepared> {
        if !has_work(plan) {
            if !plan.disabled {
                self.sys.log(Prio::Info, "nothing to load");
            }
            return None;
        }
        let bpffs = pin::prepare_bpffs(self.sys, &self.cfg.bpffs).map_err(Arc::new);
        match &bpffs {
            Ok(b) => {
                for stale in &b.swept {
                    let msg =
                        format!("removed stale staging directory {stale} left by an earlier run");
                    self.sys.log(Prio::Notice, &escape(&msg));
                }
            }
            Err(e) => self.sys.log(Prio::Err, &escape(&e.to_string())),
        }
        // Which instance this run pins into, by its `+shared` directory (every bpffs root is
        // inode 1; this number no other bpffs has): `status` tells a fresh bpffs from it later.
        let instance = bpffs.as_ref().ok().and_then(|_| {
            let shared = self.cfg.bpffs.join(SHARED_DIR);
            self.sys.stat_ids(&shared).ok().map(|(ino, dev)| Instance {
                ino,
                dev: live::kernel_dev(dev),
            })
        });
        Some(Prepared { bpffs, instance })
    }

    /// The objects step: every object to load, in order; a failure never stops the others.
    fn objects(
        &self,
        plan: &Plan,
        todo: &[&Entry],
        keys: &Keys,
        prepared: &Prepared,
        kernel: &dyn Kernel,
        measurer: &Measurer,
    ) -> Vec<ObjectStatus> {
        let (cfg, sys) = (self.cfg, self.sys);
        let ctx = Ctx {
            cfg,
            sys,
            kernel,
            bpffs: &prepared.bpffs,
            ring: &keys.ring,
            tracefs_ready: Cell::new(false),
            run_id: sys.nonce(),
            strict_shared: plan.strict_shared,
            shared_at_start: sys.list(&cfg.bpffs.join(SHARED_DIR)).map_err(Arc::new),
            measurer,
        };
        let jobs = parallel::jobs(cfg.jobs);
        let mut out: Vec<ObjectStatus> = if jobs > 1 {
            // The same steps, verification and independent loads on `jobs` threads; the
            // records and their log lines in list order all the same.
            let done = ctx.objects(todo, jobs);
            todo.iter()
                .zip(done)
                .map(|(&entry, (attempt, verdict, duration))| {
                    let verdict = verdict.unwrap_or_else(Verdict::Failed);
                    self.finish_ms(entry, attempt, verdict, duration)
                })
                .collect()
        } else {
            todo.iter()
                .map(|&entry| {
                    let t = Instant::now();
                    let mut attempt = Attempt::default();
                    let verdict = match ctx.object(entry, &mut attempt) {
                        Ok(v) => v,
                        Err(e) => Verdict::Failed(e),
                    };
                    self.finish(entry, attempt, verdict, t)
                })
                .collect()
        };
        if prepared.bpffs.is_ok() {
            // Each object's own directory, which `status` compares object by object.
            for o in &mut out {
                if matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded) {
                    let dir = cfg.bpffs.join(&o.name);
                    o.dir_ino = sys.stat_ids(&dir).ok().map(|(ino, _)| ino);
                }
            }
        }
        out
    }

    /// An object's status record, and its kmsg line.
    fn finish(&self, entry: &Entry, a: Attempt, verdict: Verdict, t: Instant) -> ObjectStatus {
        self.finish_ms(entry, a, verdict, ms(t))
    }

    fn finish_ms(
        &self,
        entry: &Entry,
        a: Attempt,
        verdict: Verdict,
        duration: f64,
    ) -> ObjectStatus {
        let o = record(entry, a, verdict, duration);
        self.sys.log(report::prio(&o), &o.log_line());
        o
    }

    /// The measurement step's end: after the list, whatever happened to its objects, the
    /// closing event (a verifier tells a complete list from one cut short).
    fn measurement(&self, measurer: &Measurer, listed: usize) -> MeasurementStatus {
        if measurer.on() {
            measurer.close(listed);
            let m = measurer.status();
            let prio = if m.required && m.state != MeasureState::Ok {
                Prio::Err
            } else if m.state != MeasureState::Ok || m.log_error.is_some() {
                Prio::Warning
            } else {
                Prio::Info
            };
            self.sys.log(prio, &escape(&m.line()));
        }
        measurer.status()
    }

    /// The iterators step, after the objects (their names go into the files) and before the
    /// measurement's closing event and the guard; `None` when not asked for.
    fn iterators(
        &self,
        plan: &Plan,
        loader: &dyn IteratorLoader,
        kernel: &dyn Kernel,
        prepared: Option<&Prepared>,
        objects: &[ObjectStatus],
        measurer: &Measurer,
    ) -> Option<IteratorsStatus> {
        if !plan.iterators {
            return None;
        }
        let probe = |p: &Path| kernel.probe(p);
        let st = iters::step(
            &self.cfg.bpffs,
            self.sys,
            loader,
            &probe,
            ready(prepared),
            objects,
            measurer,
        );
        iters::log(self.sys, &st);
        Some(st)
    }

    /// The guard step, last: it protects what loaded, and the iterators' `files`.
    fn guard(
        &self,
        plan: &Plan,
        guard: &dyn GuardLoader,
        kernel: &dyn Kernel,
        prepared: Option<&Prepared>,
        objects: &[ObjectStatus],
        files: &[std::path::PathBuf],
    ) -> Option<GuardStatus> {
        if plan.guard == GuardMode::Off {
            return None;
        }
        let probe = |p: &Path| kernel.probe(p);
        let g = guard::step(
            plan.guard,
            &self.cfg.bpffs,
            self.sys,
            guard,
            &probe,
            ready(prepared),
            guard::protected(&self.cfg.bpffs, objects, files),
        );
        self.sys.log(guard::prio(&g), &escape(&g.line()));
        Some(g)
    }

    /// The report step: the run's duration, then the status record written.
    pub fn report(&self, mut status: Status) -> Status {
        status.duration_ms = ms(self.start);
        status.run = Some(RunInfo {
            boot_id: self.tpm.boot_id(),
            started: self.started,
            place: self.cfg.place,
        });
        report::write_status(self.sys, &self.cfg.status, &status);
        status
    }
}

/// Whether the bpffs step prepared the bpffs the guard and the iterators pin into.
fn ready(prepared: Option<&Prepared>) -> BpffsReady<'_> {
    match prepared.map(|p| &p.bpffs) {
        Some(Ok(_)) => BpffsReady::Ready,
        Some(Err(e)) => BpffsReady::Failed(e),
        None => BpffsReady::NotPrepared,
    }
}

/// Is anything to be loaded, pinned or guarded (and so a bpffs to prepare)?
fn has_work(plan: &Plan) -> bool {
    plan.to_load().next().is_some() || plan.guard != GuardMode::Off || plan.iterators
}

/// The status of a run that could not plan: the reason, no objects. It replaces any stale one.
pub fn fatal(cfg: &RunConfig, error: &RunError) -> Status {
    Status {
        version: STATUS_VERSION,
        run: None,
        source: cmdline::Source::Nothing,
        list_files: Vec::new(),
        disabled: false,
        bpffs: cfg.bpffs.display().to_string(),
        mounted_bpffs: false,
        bpffs_instance: None,
        error: Some(error.to_string()),
        objects: Vec::new(),
        guard: None,
        measurement: None,
        signed_only: None,
        iterators: None,
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
