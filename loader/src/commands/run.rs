//! `bpf-preload run`: the boot job, and what it may do when it is not the boot.
//!
//! The boot's evidence is the boot's: outside an initramfs ([`bpf_preload::where_running`]) a
//! run by hand would overwrite the boot's status record, write boot-looking lines into the
//! kernel log and extend the boot's PCR again. So there, unless `--boot` says to act as the
//! boot anyway, `run` needs `--status FILE` (the default record is refused), logs to stderr
//! only, and uses a TPM only when `--tpm-device` (with `--measure-log`) names one. `--dry-run`
//! plans, verifies and predicts without a single kernel call and writes nothing.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::PathBuf;

use bpf_preload::escape::escape;
use bpf_preload::keys;
use bpf_preload::place::Place;
use bpf_preload::status::Status;
use bpf_preload::{CmdlineFrom, RunConfig, RunError};

use super::predict;
use super::{is_help, CommandError};

pub struct Args {
    pub cfg: RunConfig,
    /// `--status` was given.
    pub status_given: bool,
    pub tpm_given: bool,
    pub log_given: bool,
    /// `--boot`: act as the boot (kmsg, the default record, the TPM) even outside an initramfs.
    pub boot: bool,
    pub dry_run: bool,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let mut cfg = RunConfig {
            // For debugging a boot whose hook cannot pass --sequential.
            jobs: if std::env::var_os("BPF_PRELOAD_SEQUENTIAL").is_some_and(|v| v == "1") {
                1
            } else {
                0
            },
            ..RunConfig::default()
        };
        let (mut status_given, mut tpm_given, mut log_given) = (false, false, false);
        let (mut boot, mut dry_run) = (false, false);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("cmdline") => cfg.cmdline = CmdlineFrom::File(p.value()?.into()),
                Long("preload-list") => cfg.preload_list = p.value()?.into(),
                Long("bundle") => cfg.bundle = p.value()?.into(),
                Long("keys") => cfg.keys = p.value()?.into(),
                Long("bpffs") => cfg.bpffs = p.value()?.into(),
                Long("status") => {
                    cfg.status = p.value()?.into();
                    status_given = true;
                }
                Long("policy") => cfg.policy = p.value()?.into(),
                Long("tpm-device") => {
                    cfg.tpm_devices = vec![p.value()?.into()];
                    tpm_given = true;
                }
                Long("measure-log") => {
                    cfg.measure_log = p.value()?.into();
                    log_given = true;
                }
                Long("verbose") | Short('v') => cfg.verbose = true,
                Long("sequential") => cfg.jobs = 1,
                Long("boot") => boot = true,
                Long("dry-run") => dry_run = true,
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            cfg,
            status_given,
            tpm_given,
            log_given,
            boot,
            dry_run,
        }))
    }
}

/// Why `run` did not start.
#[derive(Debug, thiserror::Error)]
pub enum RunRefused {
    #[error(
        "not in an initramfs (no {release}, the root is not the kernel's rootfs): a run by hand \
         would overwrite the boot's record {status}; give --status FILE (kmsg and the TPM are \
         then left alone), --dry-run, or --boot to act as the boot",
        release = bpf_preload::place::INITRD_RELEASE,
        status = .0.display()
    )]
    DefaultStatus(PathBuf),
    #[error(
        "not in an initramfs: --tpm-device without --measure-log would add records to the \
         boot's log {}; give --measure-log FILE, or --boot",
        .0.display()
    )]
    DefaultLog(PathBuf),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The configuration `run` uses here: the boot's outside an initramfs only with `--boot`.
pub fn config(args: &Args, place: Place) -> Result<RunConfig, RunRefused> {
    let mut cfg = args.cfg.clone();
    cfg.place = place;
    if place == Place::Initramfs || args.boot {
        return Ok(cfg);
    }
    if !args.status_given {
        return Err(RunRefused::DefaultStatus(cfg.status));
    }
    if args.tpm_given && !args.log_given {
        return Err(RunRefused::DefaultLog(cfg.measure_log));
    }
    cfg.kmsg = false;
    if !args.tpm_given {
        cfg.tpm_devices.clear();
    }
    Ok(cfg)
}

pub fn run(args: &Args) -> Result<Status, RunRefused> {
    let cfg = config(args, bpf_preload::where_running())?;
    Ok(bpf_preload::boot(&cfg)?)
}

/// What `--dry-run` found: the text, and the required objects that would be refused.
pub struct DryRun {
    pub text: String,
    pub required_refused: Vec<String>,
}

/// `--dry-run`: the plan (read as the boot reads it), each object verified as the boot
/// verifies it, and the measurement predicted. No kernel call, nothing written.
pub fn dry_run(args: &Args) -> Result<DryRun, CommandError> {
    let cfg = &args.cfg;
    let plan = bpf_preload::read_plan(cfg)?;
    let ring = keys::trusted(&cfg.keys);
    let p = predict::predict(&plan, &ring, predict::from_bundle(&cfg.bundle));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "dry run ({}): nothing loaded, pinned, logged or measured",
        bpf_preload::where_running().describe()
    );
    if plan.disabled {
        s.push_str("loading disabled by rd.bpf_preload=0\n");
    }
    let refused: std::collections::BTreeMap<&str, &str> = p
        .not_measured
        .iter()
        .map(|n| (n.name.as_str(), n.reason.as_str()))
        .collect();
    let mut required_refused = Vec::new();
    for entry in plan.to_load() {
        let req = if entry.required { " (required)" } else { "" };
        match refused.get(entry.raw.as_str()) {
            Some(why) => {
                if entry.required {
                    required_refused.push(entry.raw.clone());
                }
                let _ = writeln!(
                    s,
                    "object {}{req}: refused: {}",
                    escape(&entry.raw),
                    escape(why)
                );
            }
            None => {
                let _ = writeln!(s, "object {}{req}: verified", escape(&entry.raw));
            }
        }
    }
    let _ = writeln!(s, "guard: {}", format!("{:?}", plan.guard).to_lowercase());
    match (p.pcr, &p.value) {
        (Some(pcr), Some(v)) => {
            let _ = writeln!(s, "measurement: PCR {pcr} would be {v} (from a reset PCR)");
        }
        _ => s.push_str("measurement: off\n"),
    }
    for n in &plan.notes {
        let _ = writeln!(s, "note: {}", escape(n));
    }
    Ok(DryRun {
        text: s,
        required_refused,
    })
}
