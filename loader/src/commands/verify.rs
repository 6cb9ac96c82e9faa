//! `bpf-preload verify [--key PUBLIC.pem ...] [--keys DIR ...] OBJECT`.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use bpf_preload::keys::{self, KeyRing};
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

/// The keys named on the command line; none named: the keys built into this binary.
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
        ring.load_dir(d)?;
    }
    Ok(ring)
}

pub fn run(args: &Args) -> Result<String, CommandError> {
    let ring = ring(args)?;
    if ring.is_empty() {
        return Err(CommandError::NoTrustedKey);
    }
    let object = &args.object;
    let v = verify::verify(read(object)?, None, &ring).map_err(|source| CommandError::Refused {
        path: object.clone(),
        source,
    })?;
    let source = ring
        .lookup(v.key_id)
        .map(|k| k.source.clone())
        .unwrap_or_default();
    Ok(format!(
        "{}: ok name={} key={} sha256={} trusted-by={source}\n",
        object.display(),
        v.name,
        v.key_id,
        v.sha256_hex()
    ))
}
