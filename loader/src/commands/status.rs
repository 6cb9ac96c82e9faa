//! `bpf-preload status [--status FILE] [--json] [--check]`: what the last `run` did, and what
//! of it is still in place now (the live checks, `bpf_preload::live`). `--check` makes the exit
//! code say whether all is well (`Status::problems`; `main` maps them to exit codes).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use bpf_preload::status::{Problem, Status};
use bpf_preload::RunConfig;

use super::{is_help, CommandError};

/// Larger than any status record `run` writes.
const MAX_STATUS_SIZE: u64 = 16 << 20;

pub struct Args {
    pub path: PathBuf,
    pub json: bool,
    pub check: bool,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let mut args = Self {
            path: RunConfig::default().status,
            json: false,
            check: false,
        };
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("status") => args.path = p.value()?.into(),
                Long("json") => args.json = true,
                Long("check") => args.check = true,
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(args))
    }
}

/// What `status` prints, and (for `--check`) what is wrong, most serious first.
pub struct Report {
    pub text: String,
    pub problems: Vec<(Problem, String)>,
}

pub fn run(args: &Args) -> Result<Report, CommandError> {
    let path = &args.path;
    let bytes = bpf_preload::read_bounded(path, MAX_STATUS_SIZE).map_err(|source| {
        CommandError::StatusRead {
            path: path.clone(),
            source,
        }
    })?;
    let mut st = Status::from_json_bytes(&bytes).map_err(|source| CommandError::StatusParse {
        path: path.clone(),
        source,
    })?;
    // The seal engages after `run` (when PID 1 execs the real init): read it live, before the
    // live checks ask the guard (their probe is one more refusal).
    let info = st
        .guard
        .as_ref()
        .filter(|g| g.is_active())
        .and_then(|_| bpf_preload::guard_info(std::path::Path::new(&st.bpffs)).ok());
    // What is still there now, beside what the boot recorded.
    let live = bpf_preload::live_status(&st);
    // Only a guard found alive, protecting this bpffs, is believed about its seal.
    let alive = live
        .guard
        .as_ref()
        .is_some_and(|c| c.state == bpf_preload::live::LiveState::Active);
    if let (Some(g), Some(info), true) = (st.guard.as_mut(), info, alive) {
        g.sealed = Some(info.sealed);
        g.refused = Some(info.refused);
        g.last_refused = info.last;
        g.mount = info.mount.map(str::to_owned);
    }
    st.live = Some(live);
    let text = if args.json { st.to_json() } else { st.render() };
    Ok(Report {
        text,
        problems: st.problems(),
    })
}
