//! `bpf-preload predict --pcr N --bundle DIR [--keys DIR] --preload-list FILE [--cmdline FILE]
//! [--policy FILE] [--pcrlock FILE]`: the PCR value a boot of that bundle and list yields from a
//! reset PCR, computed the way `run` measures: the same plan, the same trusted keys (built-in
//! keys plus DIR), the same read and the same checks (`verify::check`): an object `run` would
//! refuse is not measured by `run` either, so it is not counted here.
//!
//! The list is `--preload-list FILE` and its drop-ins `FILE.d/*.list`, merged as `run` merges
//! them. Output: the PCR value (64 hex digits) on the first line, then one `# ` line per event,
//! the list files in merge order, and one per object that is not measured (and why). `--pcrlock FILE` writes the events as a
//! systemd-pcrlock component.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use bpf_preload::cmdline::{self, Plan};
use bpf_preload::escape::escape;
use bpf_preload::keys;
use bpf_preload::keys::KeyRing;
use bpf_preload::measure::{self, MAX_PCR};
use bpf_preload::name::ObjectName;
use bpf_preload::policy::Policy;
use bpf_preload::verify::{self, hex};

use super::{is_help, missing, read, CommandError};

pub struct Args {
    pub pcr: u32,
    pub bundle: PathBuf,
    pub keys: PathBuf,
    pub preload_list: PathBuf,
    pub cmdline: Option<PathBuf>,
    pub policy: Option<PathBuf>,
    pub pcrlock: Option<PathBuf>,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut pcr, mut bundle, mut list) = (None, None, None);
        let mut keys = PathBuf::from("/etc/bpf-preload/keys");
        let (mut cmdline, mut policy, mut pcrlock) = (None, None, None);
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
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            pcr: pcr.ok_or_else(|| missing("predict", "--pcr N"))?,
            bundle: bundle.ok_or_else(|| missing("predict", "--bundle DIR"))?,
            keys,
            preload_list: list.ok_or_else(|| missing("predict", "--preload-list FILE"))?,
            cmdline,
            policy,
            pcrlock,
        }))
    }
}

fn text(path: &std::path::Path) -> Result<String, CommandError> {
    Ok(String::from_utf8_lossy(&read(path)?).into_owned())
}

/// The list and its drop-ins (`FILE.d/*.list`) merged as `run` merges them; an error when
/// neither exists.
fn lists(list: &std::path::Path) -> Result<cmdline::MergedList, CommandError> {
    let mut parts = Vec::new();
    let missing = match text(list) {
        Ok(t) => {
            parts.push((list.display().to_string(), t));
            None
        }
        Err(CommandError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Some(source)
        }
        Err(e) => return Err(e),
    };
    let dir = cmdline::dropin_dir(list);
    let names = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => return Err(CommandError::Read { path: dir, source }),
    };
    for name in cmdline::dropin_files(names) {
        let path = dir.join(name);
        parts.push((path.display().to_string(), text(&path)?));
    }
    cmdline::merge_lists(parts).ok_or_else(|| CommandError::Read {
        path: list.to_owned(),
        source: missing.unwrap_or_else(|| std::io::ErrorKind::NotFound.into()),
    })
}

pub fn run(args: &Args) -> Result<String, CommandError> {
    let list = lists(&args.preload_list)?;
    let cmdline = match args.cmdline.as_deref() {
        Some(p) => text(p)?,
        None => String::new(),
    };
    let policy = match &args.policy {
        Some(p) => Policy::parse(&text(p)?).map_err(|e| CommandError::Read {
            path: p.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        })?,
        None => Policy::default(),
    };
    let plan = cmdline::plan_with_lists(&cmdline, Some(&list), &policy);
    // The trusted keys exactly as `run` reads them (built-in keys, the directory, revocations).
    let ring = keys::trusted(&args.keys)?;
    let prediction = predict(&plan, &ring, |name| {
        let path = args.bundle.join(name.file_name());
        // `run` reads with O_NOFOLLOW; so does this (a symlink in the bundle is refused).
        bpf_preload::read_bounded(&path, bpf_preload::MAX_OBJECT_SIZE)
            .map_err(|e| format!("read {}: {e}", path.display()))
    });
    let mut notes = String::new();
    for (raw, why) in prediction.not_measured() {
        notes.push_str(&format!(
            "# not measured: {}: {}\n",
            escape(raw),
            escape(why)
        ));
    }
    let events = prediction.events;
    let value = prediction.value;
    if let Some(out) = &args.pcrlock {
        std::fs::write(out, measure::pcrlock_component(args.pcr, &events)).map_err(|source| {
            CommandError::Write {
                path: out.clone(),
                source,
            }
        })?;
    }
    let mut s = format!("{}\n", hex(&value));
    for e in &events {
        s.push_str(&format!("# pcr {} event {}\n", args.pcr, escape(e)));
    }
    if !plan.list_files.is_empty() {
        let files: Vec<_> = plan.list_files.iter().map(|f| escape(f)).collect();
        s.push_str(&format!(
            "# list: {} (merged in this order)\n",
            files.join(", ")
        ));
    }
    s.push_str(&notes);
    Ok(s)
}

/// One listed object as a boot would see it: measured (its key id, payload sha256, the path it
/// would load by) or why not.
pub struct ObjectCheck {
    pub raw: String,
    pub result: Result<Measured, String>,
}

pub struct Measured {
    pub key_id: String,
    pub sha256: String,
    pub fast_path: bool,
}

/// What a boot of this plan measures: one check per object it goes through, the events in
/// order (the closing event last) and the PCR value they give from a reset PCR.
pub struct Prediction {
    pub objects: Vec<ObjectCheck>,
    pub events: Vec<String>,
    pub value: [u8; 32],
}

impl Prediction {
    /// `(name as listed, why)` for every object that would not be measured.
    pub fn not_measured(&self) -> impl Iterator<Item = (&str, &str)> {
        self.objects.iter().filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|why| (o.raw.as_str(), why.as_str()))
        })
    }
}

/// The measurement `run` would make of `plan`: the same plan order, the same checks
/// (`verify::check`) against `ring`; `object` reads the bytes of a named object (from a bundle
/// directory, or from an initramfs image). An object `run` would refuse is not measured.
pub fn predict(
    plan: &Plan,
    ring: &KeyRing,
    mut object: impl FnMut(&ObjectName) -> Result<Vec<u8>, String>,
) -> Prediction {
    let mut objects = Vec::new();
    let mut events = Vec::new();
    let mut listed = 0;
    for entry in plan.to_load() {
        listed += 1;
        let result = match &entry.name {
            Err(e) => Err(format!("invalid name: {e}")),
            Ok(name) => object(name)
                .and_then(|bytes| verify::check(bytes, Some(name), ring).map_err(|e| e.to_string()))
                .map(|(v, _)| {
                    events.push(measure::object_event(
                        name.as_str(),
                        &v.sha256_hex(),
                        &v.key_id.to_string(),
                        v.offers_fast_path(),
                    ));
                    Measured {
                        key_id: v.key_id.to_string(),
                        sha256: v.sha256_hex(),
                        fast_path: v.offers_fast_path(),
                    }
                }),
        };
        objects.push(ObjectCheck {
            raw: entry.raw.clone(),
            result,
        });
    }
    let measured = events.len();
    events.push(measure::closing_event(listed, measured));
    let digests: Vec<[u8; 32]> = events.iter().map(|e| measure::event_digest(e)).collect();
    let value = measure::replay(&digests);
    Prediction {
        objects,
        events,
        value,
    }
}
