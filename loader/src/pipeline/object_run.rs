//! One object's steps: name → read once → verify → check ELF → (already there?) → measure →
//! load → attach → pin, each returning a value into its [`Attempt`]; its status record is built
//! from those values in one place ([`record`]).
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::config::RunConfig;
use super::error::ObjectError;
use super::keys::{KeyError, KeyRing};
use super::load::{Kernel, LoadReport};
use super::measure::{Measured, Measurer};
use super::pin::{self, BpffsError, Existing, PinError, Pins};
use crate::sys::{FsKind, Sys, MAX_OBJECT_SIZE, TRACEFS_PATH};
use bpf_preload_format::cmdline::Entry;
use bpf_preload_format::elf::ElfInfo;
use bpf_preload_format::name::{ObjectName, SHARED_DIR};
use bpf_preload_format::status::{ObjectStatus, Outcome, Phases};
use bpf_preload_format::verify::{self, VerifiedObject};

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

/// What every object's steps share: the run's configuration, boundaries and step values.
pub(super) struct Ctx<'a> {
    pub(super) cfg: &'a RunConfig,
    pub(super) sys: &'a dyn Sys,
    pub(super) kernel: &'a dyn Kernel,
    pub(super) bpffs: &'a Result<pin::Bpffs, Arc<BpffsError>>,
    pub(super) ring: &'a Result<KeyRing, Arc<KeyError>>,
    /// tracefs is mounted once, for the first object that needs it.
    pub(super) tracefs_ready: Cell<bool>,
    /// Names this run's staging directories.
    pub(super) run_id: String,
    /// `rd.bpf_preload.strict_shared=1` or the build-time policy.
    pub(super) strict_shared: bool,
    /// The shared directory's names when the run began.
    pub(super) shared_at_start: Result<Vec<String>, Arc<io::Error>>,
    /// Measured preload (off unless the plan asks).
    pub(super) measurer: &'a Measurer<'a>,
}

impl Ctx<'_> {
    /// Every step of one object, in order; each returns its value into `a`.
    pub(super) fn object(&self, entry: &Entry, a: &mut Attempt) -> Result<Verdict, ObjectError> {
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
            .map_err(ObjectError::Measure)?
            == Measured::Extended;
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
        let at_start =
            self.shared_at_start
                .as_ref()
                .map_err(|e| ObjectError::ListSharedAtStart {
                    path: dir.clone(),
                    source: e.clone(),
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
            .read_bounded(&path, MAX_OBJECT_SIZE)
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
