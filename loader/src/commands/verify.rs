//! `bpf-preload verify [--key PUBLIC.pem ...] [--keys DIR ...] OBJECT`: every check `run` makes
//! before the kernel (the same function, `verify::check`), so "ok" means `run` would load it.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use bpf_preload::escape::{escape, escape_path};
use bpf_preload::keys::{self, KeyRing};
use bpf_preload::name::ObjectName;
use bpf_preload::verify;

use super::{is_help, missing, read, CommandError};

pub struct Args {
    pub keys: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
    pub object: PathBuf,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut keys, mut dirs, mut object) = (Vec::new(), Vec::new(), None);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("key") => keys.push(PathBuf::from(p.value()?)),
                Long("keys") => dirs.push(PathBuf::from(p.value()?)),
                Value(v) if object.is_none() => object = Some(PathBuf::from(v)),
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            keys,
            dirs,
            object: object.ok_or_else(|| missing("verify", "OBJECT"))?,
        }))
    }
}

/// The keys named on the command line; none named: the keys built into this binary. A keys
/// directory named here must exist (unlike `run`'s default one): a typo is an error about it.
fn ring(args: &Args) -> Result<KeyRing, CommandError> {
    if args.keys.is_empty() && args.dirs.is_empty() {
        return Ok(keys::builtin_ring()?);
    }
    let mut ring = KeyRing::default();
    for k in &args.keys {
        let pem = String::from_utf8_lossy(&read(k)?).into_owned();
        ring.add_pem(&k.display().to_string(), &pem)?;
    }
    for d in &args.dirs {
        let not_a_dir = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory");
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(CommandError::KeysDir {
                    path: d.clone(),
                    source: not_a_dir(),
                })
            }
            Err(source) => {
                return Err(CommandError::KeysDir {
                    path: d.clone(),
                    source,
                })
            }
        }
        keys::load_dir(&mut ring, d)?;
    }
    Ok(ring)
}

/// The name `run` would expect: a file `NAME.bpf.o` is looked up as `NAME`. Any other file name
/// is not one `run` would find, so only the signed name's own rules apply.
fn expected_name(args: &Args) -> Option<ObjectName> {
    let file = args.object.file_name()?.to_str()?;
    file.strip_suffix(".bpf.o")
        .and_then(|stem| ObjectName::parse(stem).ok())
}

pub fn run(args: &Args) -> Result<String, CommandError> {
    let ring = ring(args)?;
    if ring.is_empty() {
        return Err(CommandError::NoTrustedKey);
    }
    let object = &args.object;
    let expected = expected_name(args);
    let (v, info) = verify::check(read(object)?, expected.as_ref(), &ring).map_err(|source| {
        CommandError::Refused {
            path: object.clone(),
            source,
        }
    })?;
    let source = ring
        .lookup(v.key_id)
        .map(|k| k.source.clone())
        .unwrap_or_default();
    // Key files `run` would skip are skipped here too, and named.
    let warnings: String = ring
        .skipped()
        .iter()
        .map(|e| {
            let w = format!("trusted keys: skipped a key file: {e}");
            format!("warning: {}\n", escape(&w))
        })
        .collect();
    Ok(format!(
        "{warnings}{}: ok name={} key={} sha256={} programs={} maps={} trusted-by={}\n",
        escape_path(object),
        v.name,
        v.key_id,
        v.sha256_hex(),
        info.programs.len(),
        info.maps.len(),
        escape(&source)
    ))
}
