//! `bpf-preload run`: the boot job.
#![forbid(unsafe_code)]

use bpf_preload::status::Status;
use bpf_preload::{CmdlineFrom, RunConfig, RunError};

use super::is_help;

pub struct Args {
    pub cfg: RunConfig,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let mut cfg = RunConfig::default();
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("cmdline") => cfg.cmdline = CmdlineFrom::File(p.value()?.into()),
                Long("preload-list") => cfg.preload_list = p.value()?.into(),
                Long("bundle") => cfg.bundle = p.value()?.into(),
                Long("keys") => cfg.keys = p.value()?.into(),
                Long("bpffs") => cfg.bpffs = p.value()?.into(),
                Long("status") => cfg.status = p.value()?.into(),
                Long("policy") => cfg.policy = p.value()?.into(),
                Long("tpm-device") => cfg.tpm_devices = vec![p.value()?.into()],
                Long("measure-log") => cfg.measure_log = p.value()?.into(),
                Long("verbose") | Short('v') => cfg.verbose = true,
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self { cfg }))
    }
}

pub fn run(args: &Args) -> Result<Status, RunError> {
    bpf_preload::boot(&args.cfg)
}
