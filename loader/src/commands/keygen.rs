//! `bpf-preload keygen --private FILE --public FILE`: a new ed25519 key pair, PEM.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bpf_preload::escape::escape_path;
use bpf_preload::keys::{self, KeyId};
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;

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

/// Create a file that must not exist yet (never following a planted symlink).
fn create_new(path: &Path, mode: u32) -> Result<File, CommandError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nofollow_cloexec())
        .open(path)
        .map_err(|source| CommandError::Create {
            path: path.to_owned(),
            source,
        })
}

fn nofollow_cloexec() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC).bits() as i32
}

fn write_all(mut f: File, path: &Path, text: &str) -> Result<(), CommandError> {
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|source| CommandError::Write {
            path: path.to_owned(),
            source,
        })
}

/// Both files or neither: both are created (exclusively) before either is written, and what
/// was created is removed when anything fails, so no stray private key is left behind.
pub fn run(args: &Args) -> Result<String, CommandError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rustix::rand::getrandom(&mut seed[..], rustix::rand::GetRandomFlags::empty())
        .map_err(|e| CommandError::Random(e.into()))?;
    let (sk_pem, pk_pem) = keys::keypair_pem(*seed)?;
    let id = KeyId::of(&keys::parse_public_pem("new key", &pk_pem)?);
    let private = create_new(&args.private, 0o600)?;
    let public = match create_new(&args.public, 0o644) {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_file(&args.private);
            return Err(e);
        }
    };
    let written = write_all(private, &args.private, &sk_pem)
        .and_then(|()| write_all(public, &args.public, &pk_pem));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&args.private);
        let _ = std::fs::remove_file(&args.public);
        return Err(e);
    }
    Ok(format!(
        "key id {id}\nprivate key {}\npublic key {}\n",
        escape_path(&args.private),
        escape_path(&args.public)
    ))
}
