//! The command-line tools, one file per subcommand, each with its own arguments. They return
//! what to print or a typed error; `main` alone turns results into output and exit codes.
#![forbid(unsafe_code)]

pub mod inspect;
pub mod inspect_initramfs;
pub mod keygen;
pub mod predict;
pub mod run;
pub mod sign;
pub mod status;
pub mod verify;

use std::io;
use std::path::{Path, PathBuf};

use bpf_preload::elf::ElfError;
use bpf_preload::keys::KeyError;
use bpf_preload::ksig::KsigError;
use bpf_preload::name::NameError;
use bpf_preload::trailer::TrailerError;
use bpf_preload::verify::CheckError;

pub const USAGE: &str = "\
usage:
  bpf-preload run [--cmdline FILE] [--preload-list FILE] [--bundle DIR] [--keys DIR]
                  [--bpffs DIR] [--status FILE] [--policy FILE] [--verbose]
                  [--tpm-device DEV] [--measure-log FILE]
  bpf-preload status [--status FILE] [--json]
  bpf-preload sign --key PRIVATE.pem [--name NAME] [--output OUT] [--no-fast-path]
                   [--kernel-key KEY.pem --kernel-cert CERT] OBJECT
  bpf-preload verify [--key PUBLIC.pem ...] [--keys DIR ...] OBJECT   (none: built-in keys)
  bpf-preload inspect [--json] OBJECT
  bpf-preload inspect-initramfs [--cmdline FILE] IMAGE
  bpf-preload keygen --private FILE --public FILE
  bpf-preload predict --pcr N --bundle DIR [--keys DIR] --preload-list FILE [--pcrlock FILE]

exit codes of run: 0 every required object loaded; 3 a required object (or the
                   required guard, or required measurement) failed;
                   1 fatal error (nothing attempted); 2 usage error
";

/// A parsed command line.
pub enum Command {
    Run(run::Args),
    Status(status::Args),
    Sign(sign::Args),
    Verify(verify::Args),
    Inspect(inspect::Args),
    InspectInitramfs(inspect_initramfs::Args),
    Keygen(keygen::Args),
    Predict(predict::Args),
    Help,
}

/// Parse the whole command line: the subcommand, then its own arguments.
pub fn parse(mut p: lexopt::Parser) -> Result<Command, lexopt::Error> {
    use lexopt::prelude::*;
    let sub = match p.next()? {
        Some(Value(v)) => v.into_string().map_err(lexopt::Error::NonUnicodeValue)?,
        Some(Long("help") | Short('h') | Long("version")) | None => return Ok(Command::Help),
        Some(other) => return Err(other.unexpected()),
    };
    Ok(match sub.as_str() {
        "run" => run::Args::parse(&mut p)?.map(Command::Run),
        "status" => status::Args::parse(&mut p)?.map(Command::Status),
        "sign" => sign::Args::parse(&mut p)?.map(Command::Sign),
        "verify" => verify::Args::parse(&mut p)?.map(Command::Verify),
        "inspect" => inspect::Args::parse(&mut p)?.map(Command::Inspect),
        "inspect-initramfs" => {
            inspect_initramfs::Args::parse(&mut p)?.map(Command::InspectInitramfs)
        }
        "keygen" => keygen::Args::parse(&mut p)?.map(Command::Keygen),
        "predict" => predict::Args::parse(&mut p)?.map(Command::Predict),
        other => return Err(format!("unknown command {other:?}").into()),
    }
    .unwrap_or(Command::Help))
}

/// `--help` anywhere after the subcommand (each `Args::parse` then returns `None`).
pub fn is_help(arg: &lexopt::Arg) -> bool {
    matches!(arg, lexopt::Arg::Long("help") | lexopt::Arg::Short('h'))
}

pub fn missing(sub: &str, what: &str) -> lexopt::Error {
    format!("{sub}: missing {what}").into()
}

/// Why a command (other than `run`'s per-object failures) did not do its job. Its text quotes
/// paths and names as they are: `main` escapes it when printing ([`bpf_preload::escape`]).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("getrandom: {0}")]
    Random(#[source] io::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{}: object name: {source}", path.display())]
    Name {
        path: PathBuf,
        #[source]
        source: NameError,
    },
    #[error("{}: {source}", path.display())]
    Trailer {
        path: PathBuf,
        #[source]
        source: TrailerError,
    },
    #[error("{}: {source}", path.display())]
    Elf {
        path: PathBuf,
        #[source]
        source: ElfError,
    },
    #[error("{}: refused: {source}", path.display())]
    Refused {
        path: PathBuf,
        #[source]
        source: CheckError,
    },
    #[error("kernel key {} / {}: {source}", key.display(), cert.display())]
    KernelKey {
        key: PathBuf,
        cert: PathBuf,
        #[source]
        source: KsigError,
    },
    #[error("{}: cannot be kernel-signed: {why}", path.display())]
    NoKernelSignature { path: PathBuf, why: String },
    #[error("keys directory {}: {source}", path.display())]
    KeysDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "no trusted key: give --key PUBLIC.pem or --keys DIR (this binary has no built-in keys)"
    )]
    NoTrustedKey,
    #[error("read status {}: {source} (has `bpf-preload run` run?)", path.display())]
    StatusRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("status {}: {source}", path.display())]
    StatusParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Read a file named on the command line: a symlink a person names is followed (unlike `run`),
/// then the same rules as `run`: a regular file, at most as large as `run` accepts.
pub fn read(path: &Path) -> Result<Vec<u8>, CommandError> {
    let real = std::fs::canonicalize(path).map_err(|source| CommandError::Read {
        path: path.to_owned(),
        source,
    })?;
    bpf_preload::read_bounded(&real, bpf_preload::MAX_OBJECT_SIZE).map_err(|source| {
        CommandError::Read {
            path: path.to_owned(),
            source,
        }
    })
}
