//! The run of a plan: bpffs, every object, measurement, the guard; the status record.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::config::RunConfig;
use super::error::RunError;
use super::guard::{self, GuardLoader};
use super::keys::{KeyError, KeyRing};
use super::live;
use super::load::Kernel;
use super::measure::Measurer;
use super::object_run::{record, Attempt, Ctx, SkipReason, Verdict};
use super::pin::{self, BpffsError};
use super::report;
use crate::cmdline::{self, Entry, GuardMode, Plan};
use crate::escape::escape;
use crate::name::SHARED_DIR;
use crate::status::{MeasureState, Outcome, Status, STATUS_VERSION};
use crate::sys::tpm::MeasureIo;
use crate::sys::{Prio, Sys};

/// Milliseconds since `since`, to 0.1 ms.
pub fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e4).round() / 10.0
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
