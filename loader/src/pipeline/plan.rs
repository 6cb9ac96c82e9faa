//! The plan's inputs: the command line (as dracut's tools see it), the preload list and the
//! build-time policy, read here through `Sys`; what they mean is decided by the pure `cmdline` and `policy`.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use super::config::{CmdlineFrom, RunConfig};
use super::error::RunError;
use crate::sys::Sys;
use bpf_preload_format::cmdline::{self, MergedList, Plan};
use bpf_preload_format::policy::Policy;

/// Largest command line or preload list file read.
const MAX_TEXT_SIZE: u64 = 1 << 20;

/// Read a text file lossily (a stray byte is not fatal; only our options matter); `None` when
/// it does not exist.
fn read_text(sys: &dyn Sys, path: &Path) -> io::Result<Option<String>> {
    match sys.read_bounded(path, MAX_TEXT_SIZE) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The command line, as dracut's tools see it (or as the file given).
pub fn read_cmdline(sys: &dyn Sys, from: &CmdlineFrom) -> Result<String, RunError> {
    let cmdline_err = |path: &Path| {
        let path = path.to_owned();
        move |source| RunError::Cmdline { path, source }
    };
    let (builtin, proc) = match from {
        CmdlineFrom::File(path) => (vec![], path),
        CmdlineFrom::Boot { etc, proc } => {
            let dir = etc.join("cmdline.d");
            // In name order (`list` sorts); none when the directory is missing.
            let mut confs: Vec<PathBuf> = sys
                .list(&dir)
                .map_err(cmdline_err(&dir))?
                .into_iter()
                .map(|name| dir.join(name))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            confs.push(etc.join("cmdline"));
            (confs, proc)
        }
    };
    let mut parts = Vec::new();
    for path in &builtin {
        parts.extend(read_text(sys, path).map_err(cmdline_err(path))?);
    }
    let kernel = sys
        .read_bounded(proc, MAX_TEXT_SIZE)
        .map_err(cmdline_err(proc))?;
    parts.push(String::from_utf8_lossy(&kernel).into_owned());
    Ok(cmdline::combine(parts.iter().map(String::as_str)))
}

/// The build-time policy (absent: none). A policy that cannot be read exactly is fatal: it must
/// not be taken as "no policy".
pub fn read_policy(sys: &dyn Sys, path: &Path) -> Result<Policy, RunError> {
    match read_text(sys, path) {
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

/// The preload list and its drop-ins (`FILE.d/*.list`, [`cmdline::dropin_files`]) merged in
/// order; `None` when neither exists.
pub fn read_lists(sys: &dyn Sys, list: &Path) -> Result<Option<MergedList>, RunError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| RunError::PreloadList { path, source }
    };
    let mut parts = Vec::new();
    if let Some(text) = read_text(sys, list).map_err(err(list))? {
        parts.push((list.display().to_string(), text));
    }
    let dir = cmdline::dropin_dir(list);
    for name in cmdline::dropin_files(sys.list(&dir).map_err(err(&dir))?) {
        let path = dir.join(&name);
        if let Some(text) = read_text(sys, &path).map_err(err(&path))? {
            parts.push((path.display().to_string(), text));
        }
    }
    Ok(cmdline::merge_lists(parts))
}

/// The plan: the command line, the build-time policy and, only when the command line names no
/// objects itself, the preload list file and its drop-ins.
pub fn read_plan(sys: &dyn Sys, cfg: &RunConfig) -> Result<Plan, RunError> {
    let text = read_cmdline(sys, &cfg.cmdline)?;
    let policy = read_policy(sys, &cfg.policy)?;
    plan_from(sys, &text, &cfg.preload_list, &policy)
}

/// The plan from a command line and a policy already read: the preload list file and its
/// drop-ins are read only when the command line names no objects itself (`predict` and
/// `run --dry-run` plan this way).
pub fn plan_from(
    sys: &dyn Sys,
    cmdline: &str,
    preload_list: &Path,
    policy: &Policy,
) -> Result<Plan, RunError> {
    let lists = if cmdline::names_objects(cmdline) {
        None
    } else {
        read_lists(sys, preload_list)?
    };
    Ok(cmdline::plan_with_lists(cmdline, lists.as_ref(), policy))
}
