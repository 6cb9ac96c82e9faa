//! `bpf-preload keygen --private FILE --public FILE`: a new ed25519 key pair, PEM.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bpf_preload::keys::{self, KeyId};

use super::{is_help, missing, CommandError};

pub struct Args {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut private, mut public) = (None, None);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("private") => private = Some(PathBuf::from(p.value()?)),
                Long("public") => public = Some(PathBuf::from(p.value()?)),
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            private: private.ok_or_else(|| missing("keygen", "--private"))?,
            public: public.ok_or_else(|| missing("keygen", "--public"))?,
        }))
    }
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), CommandError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| CommandError::Create {
            path: path.to_owned(),
            source,
        })?;
    f.write_all(text.as_bytes())
        .map_err(|source| CommandError::Write {
            path: path.to_owned(),
            source,
        })
}

pub fn run(args: &Args) -> Result<String, CommandError> {
    let mut seed = [0u8; 32];
    rustix::rand::getrandom(&mut seed, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| CommandError::Random(e.into()))?;
    let (sk_pem, pk_pem) = keys::keypair_pem(seed)?;
    seed.fill(0);
    let id = KeyId::of(&keys::parse_public_pem("new key", &pk_pem)?);
    write_new(&args.private, &sk_pem, 0o600)?;
    write_new(&args.public, &pk_pem, 0o644)?;
    Ok(format!(
        "key id {id}\nprivate key {}\npublic key {}\n",
        args.private.display(),
        args.public.display()
    ))
}
