//! `bpf-preload sign --key PRIVATE.pem [--name NAME] [--output OUT] [--no-fast-path]
//! [--kernel-key KEY.pem --kernel-cert CERT] OBJECT`.
//!
//! By default the object gets a fast path when it fits: a light skeleton (libbpf's gen_loader,
//! run here without privileges) signed with it, version 2 of the format (docs/format.md). With
//! `--kernel-key` the loader also carries the kernel's own (CMS) signature; an object that
//! cannot take the fast path then is an error.
//!
//! Without the private key (an HSM, a PKCS#11 token, an OpenSSL provider): `--public-key PUB
//! --message-out MSG` writes the object with its whole trailer and a placeholder signature, and
//! MSG, the exact bytes the ed25519 signature covers; `--public-key PUB --signature SIG
//! PREPARED` checks the signature made elsewhere over that object's own message and only then
//! writes it in.
#![forbid(unsafe_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bpf_preload::escape::{escape, escape_path};
use bpf_preload::keys::{self, KeyId};
use bpf_preload::ksig::KernelSigner;
use bpf_preload::name::ObjectName;
use bpf_preload::{elf, trailer, verify, Durability};

use super::{is_help, missing, read, CommandError};

/// Which signing this is.
pub enum Mode {
    /// `--key PRIVATE.pem`: sign here.
    Key(PathBuf),
    /// `--public-key PUBLIC.pem --message-out MSG`: prepare for a signer elsewhere.
    Prepare { public: PathBuf, message: PathBuf },
    /// `--public-key PUBLIC.pem --signature SIG`: attach the signature made elsewhere.
    Attach { public: PathBuf, signature: PathBuf },
}

pub struct Args {
    pub mode: Mode,
    pub name: Option<String>,
    pub output: Option<PathBuf>,
    pub object: PathBuf,
    /// `--no-fast-path`: sign the ELF alone (version 1).
    pub no_fast_path: bool,
    /// `--kernel-key KEY.pem --kernel-cert CERT`: add the kernel's signature.
    pub kernel: Option<(PathBuf, PathBuf)>,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut key, mut name, mut output, mut object) = (None, None, None, None);
        let (mut public, mut message, mut signature) = (None, None, None);
        let mut no_fast_path = false;
        let (mut kernel_key, mut kernel_cert) = (None, None);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("key") => key = Some(PathBuf::from(p.value()?)),
                Long("public-key") => public = Some(PathBuf::from(p.value()?)),
                Long("message-out") => message = Some(PathBuf::from(p.value()?)),
                Long("signature") => signature = Some(PathBuf::from(p.value()?)),
                Long("name") => {
                    name = Some(
                        p.value()?
                            .into_string()
                            .map_err(lexopt::Error::NonUnicodeValue)?,
                    )
                }
                Long("output") | Short('o') => output = Some(PathBuf::from(p.value()?)),
                Long("no-fast-path") => no_fast_path = true,
                Long("kernel-key") => kernel_key = Some(PathBuf::from(p.value()?)),
                Long("kernel-cert") => kernel_cert = Some(PathBuf::from(p.value()?)),
                Value(v) if object.is_none() => object = Some(PathBuf::from(v)),
                other => return Err(other.unexpected()),
            }
        }
        let kernel = match (kernel_key, kernel_cert) {
            (Some(k), Some(c)) => Some((k, c)),
            (None, None) => None,
            (Some(_), None) => return Err(missing("sign", "--kernel-cert (with --kernel-key)")),
            (None, Some(_)) => return Err(missing("sign", "--kernel-key (with --kernel-cert)")),
        };
        let mode = match (key, public, message, signature) {
            (Some(key), None, None, None) => Mode::Key(key),
            (None, Some(public), Some(message), None) => Mode::Prepare { public, message },
            (None, Some(public), None, Some(signature)) => {
                // The object was fixed when it was prepared: these would change nothing.
                if name.is_some() || no_fast_path || kernel.is_some() {
                    return Err("sign --signature: --name, --no-fast-path and --kernel-key \
                                belong to the step that prepared the object (--message-out)"
                        .into());
                }
                Mode::Attach { public, signature }
            }
            (None, None, None, None) => return Err(missing("sign", "--key")),
            (None, Some(_), None, None) => {
                return Err(missing(
                    "sign",
                    "--message-out or --signature (with --public-key)",
                ))
            }
            (None, None, _, _) => {
                return Err(missing(
                    "sign",
                    "--public-key (with --message-out or --signature)",
                ))
            }
            _ => {
                return Err("sign: one of --key, --public-key --message-out, \
                            --public-key --signature"
                    .into())
            }
        };
        Ok(Some(Self {
            kernel,
            mode,
            name,
            output,
            object: object.ok_or_else(|| missing("sign", "OBJECT"))?,
            no_fast_path,
        }))
    }
}

/// Where the signed object goes: `--output`, else the object itself — its real path, so that
/// signing through a symlink signs the file it points to and leaves the link alone.
fn destination(args: &Args) -> Result<PathBuf, CommandError> {
    match &args.output {
        Some(out) => Ok(out.clone()),
        None => std::fs::canonicalize(&args.object).map_err(|source| CommandError::Read {
            path: args.object.clone(),
            source,
        }),
    }
}

/// The signed name: `--name`, else the file name the object will have (`counter.bpf.o` →
/// `counter`), which is the name `run` looks it up by.
fn object_name(args: &Args, out: &Path) -> Result<ObjectName, CommandError> {
    let named_by = args.output.as_deref().unwrap_or(&args.object);
    match &args.name {
        Some(n) => ObjectName::parse(n),
        None => {
            ObjectName::from_file_name(&named_by.file_name().unwrap_or_default().to_string_lossy())
        }
    }
    .map_err(|source| CommandError::Name {
        path: out.to_owned(),
        source,
    })
}

/// `rsa key f7b510e9…` for the sign message.
fn signer_desc(signer: Option<&KernelSigner>) -> String {
    signer.map_or_else(String::new, |s| {
        let skid: String = s.cert().skid.iter().map(|b| format!("{b:02x}")).collect();
        format!("{} certificate skid {skid}", s.cert().kind)
    })
}

/// The object to sign, decided: its payload checked as an ELF, its name, its fast-path
/// section (if any) and the words that say which.
struct Plan {
    buf: Vec<u8>,
    name: ObjectName,
    fast: Option<Vec<u8>>,
    path: String,
}

fn plan(args: &Args, out: &Path) -> Result<Plan, CommandError> {
    let signer = match &args.kernel {
        None => None,
        Some((key, cert)) => {
            let key_pem = String::from_utf8_lossy(&read(key)?).into_owned();
            let signer = KernelSigner::new(&key_pem, &read(cert)?).map_err(|source| {
                CommandError::KernelKey {
                    key: key.clone(),
                    cert: cert.clone(),
                    source,
                }
            })?;
            Some(signer)
        }
    };
    let name = object_name(args, out)?;
    let object = &args.object;
    let buf = read(object)?;
    let payload = verify::payload_of(&buf).map_err(|source| CommandError::Trailer {
        path: object.clone(),
        source,
    })?;
    elf::describe(payload).map_err(|source| CommandError::Elf {
        path: object.clone(),
        source,
    })?;
    // No fast path is not an error (the object is signed as version 1 and the reason printed)
    // unless a kernel signature was asked for: only a fast path can carry one.
    let (fast, path) = if args.no_fast_path {
        (None, "no fast path: --no-fast-path".to_owned())
    } else {
        match bpf_preload::fast_path_section(payload, &name, signer.as_ref()) {
            Ok(section) if signer.is_some() => (
                Some(section),
                format!(
                    "fast path, kernel-signed with {}",
                    signer_desc(signer.as_ref())
                ),
            ),
            Ok(section) => (Some(section), "fast path".to_owned()),
            Err(why) => (None, format!("no fast path: {}", escape(&why.to_string()))),
        }
    };
    if signer.is_some() && fast.is_none() {
        return Err(CommandError::NoKernelSignature {
            path: object.clone(),
            why: path,
        });
    }
    Ok(Plan {
        buf,
        name,
        fast,
        path,
    })
}

fn public_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey, CommandError> {
    let text = String::from_utf8_lossy(&read(path)?).into_owned();
    Ok(keys::parse_public_pem(&path.display().to_string(), &text)?)
}

/// Replace `out` with `bytes`, keeping the mode of a file being replaced; a new one is
/// world-readable like any object.
fn write(out: &Path, bytes: &[u8]) -> Result<(), CommandError> {
    let mode = std::fs::metadata(out)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    bpf_preload::write_replace(out, bytes, mode, Durability::Synced).map_err(|source| {
        CommandError::Write {
            path: out.to_owned(),
            source,
        }
    })
}

pub fn run(args: &Args) -> Result<String, CommandError> {
    match &args.mode {
        Mode::Key(key) => sign_here(args, key),
        Mode::Prepare { public, message } => prepare(args, public, message),
        Mode::Attach { public, signature } => attach(args, public, signature),
    }
}

fn sign_here(args: &Args, key: &Path) -> Result<String, CommandError> {
    let key_text = String::from_utf8_lossy(&read(key)?).into_owned();
    let sk = keys::parse_private_pem(&key.display().to_string(), &key_text)?;
    let out = destination(args)?;
    let p = plan(args, &out)?;
    let signed = verify::sign_with(&p.buf, &p.name, &sk, p.fast.as_deref());
    let signed = signed.map_err(|source| CommandError::Trailer {
        path: args.object.clone(),
        source,
    })?;
    write(&out, &signed)?;
    Ok(format!(
        "{}: signed as {} with key {} ({})\n",
        escape_path(&out),
        p.name,
        KeyId::of(&sk.verifying_key()),
        p.path
    ))
}

/// `--message-out`: the prepared object, then the message (the object first: a message on
/// disk always has its object).
fn prepare(args: &Args, public: &Path, message: &Path) -> Result<String, CommandError> {
    let key_id = KeyId::of(&public_key(public)?);
    let out = destination(args)?;
    let p = plan(args, &out)?;
    let prepared = verify::prepare(&p.buf, &p.name, key_id, p.fast.as_deref());
    let prepared = prepared.map_err(|source| CommandError::Trailer {
        path: args.object.clone(),
        source,
    })?;
    write(&out, &prepared.object)?;
    write(message, &prepared.message)?;
    Ok(format!(
        "{}: prepared as {} for key {key_id} ({}), not signed yet\n\
         {}: the {} bytes to sign with ed25519 (pure, not a digest), e.g.\n  \
         openssl pkeyutl -sign -rawin -inkey KEY -in MSG -out SIG\nthen\n  \
         bpf-preload sign --public-key PUBLIC.pem --signature SIG {}\n",
        escape_path(&out),
        p.name,
        p.path,
        escape_path(message),
        prepared.message.len(),
        escape_path(&out),
    ))
}

/// `--signature`: check, then write. A signature that does not verify writes nothing.
fn attach(args: &Args, public: &Path, signature: &Path) -> Result<String, CommandError> {
    let key = public_key(public)?;
    let out = destination(args)?;
    let object = &args.object;
    let prepared = read(object)?;
    let sig = read(signature)?;
    let signed = verify::attach(&prepared, &key, &sig).map_err(|source| CommandError::Attach {
        path: object.clone(),
        signature: signature.to_owned(),
        source,
    })?;
    let name = trailer::parse(&signed)
        .map(|t| t.name.to_string())
        .unwrap_or_default();
    write(&out, &signed)?;
    Ok(format!(
        "{}: signed as {name} with key {} (signature {}, checked)\n",
        escape_path(&out),
        KeyId::of(&key),
        escape_path(signature),
    ))
}
