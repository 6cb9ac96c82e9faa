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
use super::load::{Kernel, LoadFailed, LoadReport, Loaded};
use super::measure::{Measured, Measurer};
use super::parallel;
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

/// Run `step`, adding its duration to `slot` whatever it returns.
fn add_timed<T>(slot: &mut f64, step: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = step();
    *slot += ms(t);
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

/// An object named and read, its bytes not yet checked.
pub(super) struct Read {
    name: ObjectName,
    bytes: Vec<u8>,
}

/// An object verified and its ELF described.
pub(super) struct Checked {
    name: ObjectName,
    verified: VerifiedObject,
    info: ElfInfo,
}

/// An object to load: checked, measured, nothing of it in place yet.
pub(super) struct ToLoad {
    name: ObjectName,
    sha: String,
    verified: VerifiedObject,
    info: ElfInfo,
    /// The shared directory's names just before its load.
    shared_before: Vec<String>,
}

/// What the decide step leaves: the object's end, or its load to do.
pub(super) enum Decided {
    Done(Verdict),
    Load(Box<ToLoad>),
}

/// An object at its turn in [`Ctx::objects`]: loaded on the threads (its time), or what the
/// decide step left (loaded here, at its turn, if at all).
enum Ready<'k> {
    Loaded(Box<ToLoad>, LoadResult<'k>, f64),
    AtItsTurn(Result<Decided, ObjectError>),
}

/// The steps of [`Ctx::objects`] on its own thread, in list order: decide, then attach and pin.
struct InOrderSteps<'c, 'a> {
    ctx: &'c Ctx<'a>,
    /// Per object: what its steps produced, and their time (on the threads too).
    attempts: Vec<(Attempt, f64)>,
    verdicts: Vec<Option<Result<Verdict, ObjectError>>>,
}

/// A verified object (or why not), and the time that took.
type VerifyDone = (Result<Checked, ObjectError>, f64);

/// What the kernel made of one load.
pub(super) type LoadResult<'k> = Result<Box<dyn Loaded + 'k>, LoadFailed>;

/// The verify step, pure (bytes and keys in, a verified object out): it may run on any thread.
pub(super) fn check(ring: &KeyRing, r: Read) -> Result<Checked, ObjectError> {
    let (verified, info) = verify::check(r.bytes, Some(&r.name), ring)?;
    Ok(Checked {
        name: r.name,
        verified,
        info,
    })
}

/// The load step: the kernel alone, no other effect; it may run on any thread. Its time.
pub(super) fn load<'k>(kernel: &'k dyn Kernel, t: &ToLoad, shared: &Path) -> (LoadResult<'k>, f64) {
    let start = Instant::now();
    let out = kernel.load(&t.verified, shared);
    (out, ms(start))
}

impl Ctx<'_> {
    /// Every step of one object, in order; each returns its value into `a`. The sequential
    /// composition (`run --sequential`); [`Ctx::objects`] composes the same steps over a list.
    pub(super) fn object(&self, entry: &Entry, a: &mut Attempt) -> Result<Verdict, ObjectError> {
        let read = add_timed(&mut a.phases.verify_ms, || self.read(entry))?;
        let ring = self.ring_ok()?;
        let checked = add_timed(&mut a.phases.verify_ms, || check(ring, read))?;
        let t = match self.decide(checked, a)? {
            Decided::Done(v) => return Ok(v),
            Decided::Load(t) => t,
        };
        let (loaded, load_ms) = load(self.kernel, &t, &self.shared_dir());
        a.phases.load_ms += load_ms;
        self.effects(*t, loaded, a)
    }

    /// Every object of the list: read, verify, decide (measure), load, then attach and pin.
    /// Verifying, and loading the objects the kernel calls independent, run on up to `jobs`
    /// threads; everything with an effect beyond the kernel's load (reading through `sys`,
    /// measuring, attaching, pinning, the shared directory, the status and its log line)
    /// happens here in list order, object by object, as [`Ctx::object`] does it. Each object
    /// is decided as soon as its signature is checked and loads at once, while later ones are
    /// still checked; it is attached and pinned as soon as it is loaded and every object before
    /// it is done. An object that is not independent loads at its turn. Each object's attempt,
    /// verdict and time.
    pub(super) fn objects(
        &self,
        entries: &[&Entry],
        jobs: usize,
    ) -> Vec<(Attempt, Result<Verdict, ObjectError>, f64)> {
        let mut steps = InOrderSteps {
            ctx: self,
            attempts: entries.iter().map(|_| (Attempt::default(), 0.0)).collect(),
            verdicts: entries.iter().map(|_| None).collect(),
        };
        // Read, in list order (the system boundary is this thread's).
        let mut reads = Vec::with_capacity(entries.len());
        for (e, (a, spent)) in entries.iter().zip(steps.attempts.iter_mut()) {
            let t = Instant::now();
            reads.push(add_timed(&mut a.phases.verify_ms, || self.read(e)));
            *spent += ms(t);
        }
        let ring = self.ring.as_ref().map_err(Arc::clone);
        let verify = |r: Result<Read, ObjectError>| {
            let start = Instant::now();
            let out = r.and_then(|r| match &ring {
                Ok(ring) => check(ring, r),
                Err(e) => Err(ObjectError::Keys(e.clone())),
            });
            (out, ms(start))
        };
        let (kernel, shared) = (self.kernel, self.shared_dir());
        let load_early = |t: Box<ToLoad>| {
            let (result, load_ms) = load(kernel, &t, &shared);
            Ready::Loaded(t, result, load_ms)
        };
        parallel::pipeline(reads, jobs, verify, load_early, &mut steps);
        steps
            .attempts
            .into_iter()
            .zip(steps.verdicts)
            .map(|((a, spent), v)| {
                let v = v.unwrap_or(Err(ObjectError::Lost { step: "attach" }));
                (a, v, spent)
            })
            .collect()
    }

    fn shared_dir(&self) -> PathBuf {
        self.cfg.bpffs.join(SHARED_DIR)
    }

    fn list_shared(&self) -> Result<Vec<String>, ObjectError> {
        let shared = self.shared_dir();
        self.sys
            .list(&shared)
            .map_err(|source| ObjectError::ListShared {
                path: shared,
                source,
            })
    }

    fn ring_ok(&self) -> Result<&KeyRing, ObjectError> {
        self.ring.as_ref().map_err(|e| ObjectError::Keys(e.clone()))
    }

    /// The read step: a name the bpffs can hold, the run's bpffs and keys usable, the bytes.
    fn read(&self, entry: &Entry) -> Result<Read, ObjectError> {
        let name = entry.name.clone().map_err(ObjectError::Name)?;
        self.bpffs
            .as_ref()
            .map_err(|e| ObjectError::Bpffs(e.clone()))?;
        self.ring_ok()?;
        let path = self.cfg.bundle.join(name.file_name());
        let bytes = self
            .sys
            .read_bounded(&path, MAX_OBJECT_SIZE)
            .map_err(|source| ObjectError::Read { path, source })?;
        Ok(Read { name, bytes })
    }

    /// The decide step: is it in place already, measured before any byte of it reaches the
    /// kernel; what its load needs (tracefs, the shared directory's names before it).
    fn decide(&self, c: Checked, a: &mut Attempt) -> Result<Decided, ObjectError> {
        let Checked {
            name,
            verified,
            info,
        } = c;
        let existing = add_timed(&mut a.phases.verify_ms, || self.existing(&name, &verified))?;
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
            Existing::Same => return self.already_loaded(&name, &info, a).map(Decided::Done),
            Existing::Conflict(found) => {
                let path = self.cfg.bpffs.join(name.as_str());
                return Err(ObjectError::Conflict { path, found });
            }
        }
        let shared_before = add_timed(&mut a.phases.load_ms, || {
            self.ensure_tracefs(&info)?;
            self.list_shared()
        })?;
        Ok(Decided::Load(Box::new(ToLoad {
            name,
            sha,
            verified,
            info,
            shared_before,
        })))
    }

    /// After the load, in list order: refuse planted shared maps, attach, pin, keep.
    fn effects(
        &self,
        t: ToLoad,
        loaded: LoadResult<'_>,
        a: &mut Attempt,
    ) -> Result<Verdict, ObjectError> {
        let ToLoad {
            name,
            sha,
            verified,
            info,
            shared_before,
        } = t;
        let (mut obj, attached) = add_timed(&mut a.phases.load_ms, || {
            let mut obj = loaded.map_err(|f| {
                a.load = Some(f.report());
                f.error
            })?;
            a.shared = pin_names_of(&obj.shared_pins());
            // Nothing of the object has run yet: refuse planted maps before attaching.
            let attached = self
                .refuse_preexisting(&a.shared)
                .and_then(|()| Ok(obj.attach()?));
            Ok::<_, ObjectError>((obj, attached))
        })?;
        a.load = Some(obj.report());
        a.shared_reused = a
            .shared
            .iter()
            .filter(|m| shared_before.contains(m))
            .cloned()
            .collect();
        let installed = add_timed(&mut a.phases.pin_ms, || {
            attached?;
            let (bpffs, run_id) = (&self.cfg.bpffs, self.run_id.as_str());
            let pins = pin::install(self.sys, bpffs, run_id, &name, &sha, obj.as_pinnable())?;
            Ok::<_, ObjectError>(pins)
        });
        match installed {
            Ok(mut pins) => {
                // Of the links this run made (not what the pins hold by now).
                (pins.link_ids, pins.link_progs) = obj.link_ids();
                obj.keep();
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

impl<'a> parallel::InOrder<VerifyDone, Box<ToLoad>, Ready<'a>> for InOrderSteps<'_, 'a> {
    /// Decide, in list order: already there, measured, tracefs, the shared directory; an
    /// independent object goes to the threads to load.
    fn decide(
        &mut self,
        i: usize,
        checked: Option<VerifyDone>,
    ) -> parallel::Next<Box<ToLoad>, Ready<'a>> {
        let Some((a, spent)) = self.attempts.get_mut(i) else {
            return parallel::Next::Done(Ready::AtItsTurn(Err(ObjectError::Lost {
                step: "decide",
            })));
        };
        let c = match checked {
            Some((c, verify_ms)) => {
                a.phases.verify_ms += verify_ms;
                *spent += verify_ms;
                c
            }
            None => Err(ObjectError::Lost { step: "verify" }),
        };
        let t = Instant::now();
        let decided = c.and_then(|c| self.ctx.decide(c, a));
        *spent += ms(t);
        match decided {
            Ok(Decided::Load(t)) if self.ctx.kernel.independent(&t.verified) => {
                parallel::Next::Work(t)
            }
            other => parallel::Next::Done(Ready::AtItsTurn(other)),
        }
    }

    /// Attach and pin, in list order, each object as soon as its load is done (the threads go
    /// on with the later ones); one that is not independent loads here, at its turn.
    fn apply(&mut self, i: usize, ready: Option<Ready<'a>>) {
        let (Some((a, spent)), Some(verdict)) =
            (self.attempts.get_mut(i), self.verdicts.get_mut(i))
        else {
            return;
        };
        let ctx = self.ctx;
        let t = Instant::now();
        let v = match ready {
            Some(Ready::Loaded(to_load, result, load_ms)) => {
                a.phases.load_ms += load_ms;
                *spent += load_ms;
                ctx.effects(*to_load, result, a)
            }
            Some(Ready::AtItsTurn(d)) => d.and_then(|d| match d {
                Decided::Done(v) => Ok(v),
                Decided::Load(mut to_load) => {
                    // Objects before it may have pinned shared maps since it was decided:
                    // what was there is what is there now.
                    to_load.shared_before = add_timed(&mut a.phases.load_ms, || ctx.list_shared())?;
                    let (result, load_ms) = load(ctx.kernel, &to_load, &ctx.shared_dir());
                    a.phases.load_ms += load_ms;
                    ctx.effects(*to_load, result, a)
                }
            }),
            None => Err(ObjectError::Lost { step: "load" }),
        };
        *spent += ms(t);
        *verdict = Some(v);
    }
}
