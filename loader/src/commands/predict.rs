//! `bpf-preload predict --bundle DIR [--keys DIR] --preload-list FILE [--cmdline FILE]
//! [--policy FILE] [--pcr N] [--pcrlock FILE] [--json] [--allow-unmeasured]`: the PCR value a
//! boot of that bundle and list yields from a reset PCR, computed the way `run` measures.
//!
//! Nothing here decides what the boot does: the command line and the policy are read by the
//! boot's own code and planned by the boot's own `plan_with` (so the PCR, and whether anything
//! is measured at all, are the boot's), the trusted keys are the boot's (built-in keys plus DIR),
//! and each object is read and checked as `run` does (`verify::check`): an object `run` would
//! refuse is not measured by `run` either, so it is not counted here.
//!
//! `--pcr N` stands for `rd.bpf_preload.measure=N` on the command line when `--cmdline` carries
//! no `rd.bpf_preload.measure=`; either way the PCR the boot would use must be N, else predict
//! refuses (a value "for PCR N" that the boot extends into another PCR, or not at all, would be
//! a lie).
//!
//! Output: the PCR value (64 hex digits) on the first line, or `measurement off` when the boot
//! would measure nothing; then one `# ` line per event, per object that is not measured (and
//! why) and per note of the plan. `--pcrlock FILE` writes the events as a systemd-pcrlock
//! component. A listed object that would not be measured makes the exit code non-zero (`main`)
//! unless `--allow-unmeasured`. The list is `--preload-list FILE` and its drop-ins
//! `FILE.d/*.list`, read and merged by the boot's own code; a `# list:` line names the files in
//! the order they were merged.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde::Serialize;

use bpf_preload::cmdline::{self, Entry, Plan};
use bpf_preload::escape::{escape, json_safe};
use bpf_preload::keys::{self, KeyRing};
use bpf_preload::measure::{self, MeasurePlan, MAX_PCR, MEASURE_OPTION};
use bpf_preload::name::{NameError, ObjectName};
use bpf_preload::policy::Policy;
use bpf_preload::verify::{self, hex, CheckError};
use bpf_preload::CmdlineFrom;

use super::{is_help, missing, CommandError};

pub struct Args {
    pub pcr: Option<u32>,
    pub bundle: PathBuf,
    pub keys: PathBuf,
    pub preload_list: PathBuf,
    pub cmdline: Option<PathBuf>,
    pub policy: Option<PathBuf>,
    pub pcrlock: Option<PathBuf>,
    pub json: bool,
    pub allow_unmeasured: bool,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut pcr, mut bundle, mut list) = (None, None, None);
        let mut keys = PathBuf::from("/etc/bpf-preload/keys");
        let (mut cmdline, mut policy, mut pcrlock) = (None, None, None);
        let (mut json, mut allow_unmeasured) = (false, false);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("pcr") => {
                    let n: u32 = p.value()?.parse()?;
                    if n > MAX_PCR {
                        return Err(format!("predict: --pcr {n}: a PCR is 0-{MAX_PCR}").into());
                    }
                    pcr = Some(n);
                }
                Long("bundle") => bundle = Some(PathBuf::from(p.value()?)),
                Long("keys") => keys = PathBuf::from(p.value()?),
                Long("preload-list") => list = Some(PathBuf::from(p.value()?)),
                Long("cmdline") => cmdline = Some(PathBuf::from(p.value()?)),
                Long("policy") => policy = Some(PathBuf::from(p.value()?)),
                Long("pcrlock") => pcrlock = Some(PathBuf::from(p.value()?)),
                Long("json") => json = true,
                Long("allow-unmeasured") => allow_unmeasured = true,
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            pcr,
            bundle: bundle.ok_or_else(|| missing("predict", "--bundle DIR"))?,
            keys,
            preload_list: list.ok_or_else(|| missing("predict", "--preload-list FILE"))?,
            cmdline,
            policy,
            pcrlock,
            json,
            allow_unmeasured,
        }))
    }
}

/// A listed object the boot would not measure, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotMeasured {
    pub name: String,
    pub reason: String,
}

/// What a boot of a plan would extend, computed without a TPM or a kernel.
#[derive(Debug, Serialize)]
pub struct Prediction {
    /// `on` or `off` (the boot measures nothing).
    pub measurement: &'static str,
    pub pcr: Option<u32>,
    /// `rd.bpf_preload.measure=…,required` or the policy's `measure = required`.
    pub required: bool,
    /// The PCR's value from a reset PCR, 64 hex digits; `None` when measurement is off.
    pub value: Option<String>,
    /// The event texts, in the order the boot extends them.
    pub events: Vec<String>,
    /// The listed objects the boot would refuse (so, when it measures, not measure).
    pub not_measured: Vec<NotMeasured>,
    /// What the boot would say about its command line and policy (refused or ignored options).
    pub notes: Vec<String>,
    /// The list files in the order they were merged (the list, then its drop-ins).
    pub list_files: Vec<String>,
    /// Each object the plan goes through, as checked (`inspect-initramfs` lists them).
    #[serde(skip)]
    pub objects: Vec<ObjectCheck>,
}

/// One listed object as a boot would see it: verified (its key id, payload sha256, whether it
/// offers the fast path) or why not.
#[derive(Debug)]
pub struct ObjectCheck {
    pub raw: String,
    pub result: Result<Checked, Refused>,
}

#[derive(Debug, Clone)]
pub struct Checked {
    pub key_id: String,
    pub sha256: String,
    pub fast_path: bool,
}

/// Why the boot would refuse a listed object (so not measure it).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("invalid name: {0}")]
    Name(#[source] NameError),
    /// The trusted keys could not be read: every object is refused (the error's text, as the
    /// one error cannot be handed to each object).
    #[error("trusted keys: {0}")]
    Keys(String),
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `inspect-initramfs`: the image has no such file.
    #[error("{0} is not in the image")]
    NotInImage(String),
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// `run`'s read of an object from a bundle directory (O_NOFOLLOW, bounded), for [`predict`].
pub fn from_bundle(bundle: &Path) -> impl FnMut(&ObjectName) -> Result<Vec<u8>, Refused> + '_ {
    move |name| {
        let path = bundle.join(name.file_name());
        // `run` reads with O_NOFOLLOW; so does this (a symlink in the bundle is refused).
        bpf_preload::read_bounded(&path, bpf_preload::MAX_OBJECT_SIZE)
            .map_err(|source| Refused::Read { path, source })
    }
}

/// The prediction for a plan: each entry the boot goes through, read by `object` (from a bundle
/// directory, [`from_bundle`], or from an initramfs image) and checked as `run` does, then the
/// closing event. Also `run --dry-run`'s and `inspect-initramfs`'s.
pub fn predict(
    plan: &Plan,
    ring: &Result<KeyRing, keys::KeyError>,
    mut object: impl FnMut(&ObjectName) -> Result<Vec<u8>, Refused>,
) -> Prediction {
    let todo: Vec<&Entry> = plan.to_load().collect();
    let mut events = Vec::new();
    let mut not_measured = Vec::new();
    let mut objects = Vec::new();
    for entry in &todo {
        let result = check(entry, ring, &mut object);
        match &result {
            Ok(c) => {
                if let Ok(name) = &entry.name {
                    events.push(measure::object_event(
                        name.as_str(),
                        &c.sha256,
                        &c.key_id,
                        c.fast_path,
                    ))
                }
            }
            Err(reason) => not_measured.push(NotMeasured {
                name: entry.raw.clone(),
                reason: reason.to_string(),
            }),
        }
        objects.push(ObjectCheck {
            raw: entry.raw.clone(),
            result,
        });
    }
    let Some(MeasurePlan { pcr, required }) = plan.measure else {
        return Prediction {
            measurement: "off",
            pcr: None,
            required: false,
            value: None,
            events: Vec::new(),
            not_measured,
            notes: plan.notes.clone(),
            list_files: plan.list_files.clone(),
            objects,
        };
    };
    let measured = events.len();
    let mut notes = plan.notes.clone();
    if plan.iterators {
        // `run` measures the built-in iterators before loading them (not when the kernel's own
        // maps.debug/progs.debug are there, or an earlier run's: then it loads nothing).
        events.push(measure::builtin_event(
            "iterators",
            &bpf_preload::iterators_sha256(),
        ));
        notes.push(
            "builtin=iterators: assumes the bpffs has no maps.debug/progs.debug of the kernel's"
                .to_owned(),
        );
    }
    events.push(measure::closing_event(todo.len(), measured));
    let digests: Vec<[u8; 32]> = events.iter().map(|e| measure::event_digest(e)).collect();
    Prediction {
        measurement: "on",
        pcr: Some(pcr),
        required,
        value: Some(hex(&measure::replay(&digests))),
        events,
        not_measured,
        notes,
        list_files: plan.list_files.clone(),
        objects,
    }
}

/// One entry as `run` reads and checks it: what verified, or why it would be refused.
fn check(
    entry: &Entry,
    ring: &Result<KeyRing, keys::KeyError>,
    object: &mut impl FnMut(&ObjectName) -> Result<Vec<u8>, Refused>,
) -> Result<Checked, Refused> {
    let name = entry.name.as_ref().map_err(|e| Refused::Name(e.clone()))?;
    let ring = ring.as_ref().map_err(|e| Refused::Keys(e.to_string()))?;
    let bytes = object(name)?;
    let (v, _) = verify::check(bytes, Some(name), ring)?;
    Ok(Checked {
        key_id: v.key_id.to_string(),
        sha256: v.sha256_hex(),
        fast_path: v.offers_fast_path(),
    })
}

/// What `main` prints, and what decides the exit code.
pub struct Report {
    pub text: String,
    /// Listed objects that would not be measured while the boot measures.
    pub unmeasured: Vec<String>,
}

/// A path a person names on the command line: a symlink is followed (as `read` does).
fn named(path: &Path) -> Result<PathBuf, CommandError> {
    std::fs::canonicalize(path).map_err(|source| CommandError::Read {
        path: path.to_owned(),
        source,
    })
}

pub fn run(args: &Args) -> Result<Report, CommandError> {
    let given = match &args.cmdline {
        Some(p) => bpf_preload::read_cmdline(&CmdlineFrom::File(named(p)?))?,
        None => String::new(),
    };
    let policy = match &args.policy {
        Some(p) => bpf_preload::read_policy(&named(p)?)?,
        None => Policy::default(),
    };
    // `--pcr N` is the command line's measurement option when the given one has none.
    let text = match args.pcr {
        Some(n) if !cmdline::has_option(&given, MEASURE_OPTION) => {
            format!("{given} {MEASURE_OPTION}={n}")
        }
        _ => given.clone(),
    };
    let plan = bpf_preload::plan_from(&text, &args.preload_list, &policy)?;
    // `run` takes a missing list as "nothing to load"; a prediction for a list that is not there
    // (a typo in --preload-list) would be a value for nothing: an error naming it.
    if !cmdline::names_objects(&text) && plan.list_files.is_empty() {
        return Err(CommandError::Read {
            path: args.preload_list.clone(),
            source: std::io::ErrorKind::NotFound.into(),
        });
    }
    if let Some(asked) = args.pcr {
        check_pcr(asked, &plan, &policy)?;
    }
    let ring = keys::trusted(&args.keys);
    let p = predict(&plan, &ring, from_bundle(&args.bundle));
    if let Some(out) = &args.pcrlock {
        let pcr = p.pcr.ok_or(CommandError::PcrlockNoMeasurement)?;
        std::fs::write(out, measure::pcrlock_component(pcr, &p.events)).map_err(|source| {
            CommandError::Write {
                path: out.clone(),
                source,
            }
        })?;
    }
    // With measurement off there is no value for them to be missing from.
    let unmeasured = match p.pcr {
        Some(_) => p.not_measured.iter().map(|n| n.name.clone()).collect(),
        None => Vec::new(),
    };
    let text = if args.json {
        let mut s = json_safe(serde_json::to_string_pretty(&p).unwrap_or_default());
        s.push('\n');
        s
    } else {
        render(&p)
    };
    Ok(Report { text, unmeasured })
}

/// `--pcr N` must be the PCR the boot extends: the policy's, else the command line's.
fn check_pcr(asked: u32, plan: &Plan, policy: &Policy) -> Result<(), CommandError> {
    let boot = plan.measure.map(|m| m.pcr);
    if boot == Some(asked) {
        return Ok(());
    }
    let why = match (boot, policy.measure_pcr) {
        (Some(pcr), Some(_)) => format!("the policy's measure_pcr = {pcr}"),
        (Some(pcr), None) => format!("the command line's {MEASURE_OPTION}= (PCR {pcr})"),
        (None, _) => format!("the boot would not measure (the command line's {MEASURE_OPTION}= is off or not understood)"),
    };
    Err(CommandError::PcrContradicts { asked, why })
}

fn render(p: &Prediction) -> String {
    let mut s = match (&p.value, p.pcr) {
        (Some(v), Some(pcr)) => {
            let mut s = format!("{v}\n");
            for e in &p.events {
                s.push_str(&format!("# pcr {pcr} event {}\n", escape(e)));
            }
            s
        }
        _ => format!(
            "measurement off\n# the boot measures nothing: no {MEASURE_OPTION}= in --cmdline (or --pcr), no measure_pcr in --policy\n"
        ),
    };
    if !p.list_files.is_empty() {
        let files: Vec<_> = p.list_files.iter().map(|f| escape(f)).collect();
        s.push_str(&format!(
            "# list: {} (merged in this order)\n",
            files.join(", ")
        ));
    }
    for n in &p.not_measured {
        s.push_str(&format!(
            "# not measured: {}: {}\n",
            escape(&n.name),
            escape(&n.reason)
        ));
    }
    for n in &p.notes {
        s.push_str(&format!("# note: {}\n", escape(n)));
    }
    s
}
