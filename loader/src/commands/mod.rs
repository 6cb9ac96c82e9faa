//! The command-line tools, one file per subcommand, each with its own arguments. They return
//! what to print or a typed error; `main` alone turns results into output and exit codes.
#![forbid(unsafe_code)]

pub mod inspect;
#[cfg(feature = "sign")]
pub mod inspect_initramfs;
#[cfg(feature = "sign")]
pub mod keygen;
// The initramfs build has no `predict` command, but `run --dry-run` predicts with it.
#[cfg_attr(not(feature = "sign"), allow(dead_code))]
pub mod predict;
pub mod run;
#[cfg(feature = "sign")]
pub mod sign;
pub mod status;
pub mod verify;

use std::io;
use std::path::{Path, PathBuf};

use bpf_preload::elf::ElfError;
use bpf_preload::keys::KeyError;
#[cfg(feature = "sign")]
use bpf_preload::ksig::KsigError;
#[cfg(feature = "sign")]
use bpf_preload::name::NameError;
use bpf_preload::trailer::TrailerError;
use bpf_preload::verify::CheckError;

/// The usage text; the sign-time commands only in the host build (feature `sign`).
macro_rules! usage {
    ($sign:literal, $tools:literal, $codes:literal) => {
        concat!(
            "\
usage:
  bpf-preload run [--cmdline FILE] [--preload-list FILE] [--bundle DIR] [--keys DIR]
                  [--bpffs DIR] [--status FILE] [--policy FILE] [--verbose]
                  [--tpm-device DEV] [--measure-log FILE] [--boot] [--dry-run]
                  [--sequential]
  bpf-preload status [--status FILE] [--json] [--check]
",
            $sign,
            "  bpf-preload verify [--key PUBLIC.pem ...] [--keys DIR ...] OBJECT   (none: built-in keys)
  bpf-preload inspect [--json] OBJECT
",
            $tools,
            "
exit codes of run: 0 every required object loaded; 3 a required object (or the
                   required guard, or required measurement) failed;
                   1 fatal error (nothing attempted; outside an initramfs
                   without --status, --dry-run or --boot); 2 usage error
exit codes of status --check: 0 all in place; 3 a required object, the required guard
                   or required measurement failed; 6 the guard is not active (at boot
                   or now); 5 an object was removed, replaced or moved since; 4 an
                   object failed; 7 a live check could not be made (not root?);
                   the most serious first, in this order; 1 no record; 2 usage error
",
            $codes
        )
    };
}

#[cfg(feature = "sign")]
pub const USAGE: &str = usage!(
    "  bpf-preload sign --key PRIVATE.pem [--name NAME] [--output OUT] [--no-fast-path]
                   [--kernel-key KEY.pem --kernel-cert CERT] OBJECT
  bpf-preload sign --public-key PUBLIC.pem --message-out MSG [--name NAME] [--output OUT]
                   [--no-fast-path] [--kernel-key KEY.pem --kernel-cert CERT] OBJECT
  bpf-preload sign --public-key PUBLIC.pem --signature SIG [--output OUT] PREPARED
",
    "  bpf-preload inspect-initramfs [--cmdline FILE] [--json] IMAGE
  bpf-preload keygen --private FILE --public FILE
  bpf-preload predict --bundle DIR [--keys DIR] --preload-list FILE [--cmdline FILE]
                      [--policy FILE] [--pcr N] [--pcrlock FILE] [--json] [--allow-unmeasured]
",
    "exit codes of predict: 0 the value covers every listed object (or measurement is off);
                   4 a listed object would not be measured (--allow-unmeasured: 0);
                   1 error, or --pcr contradicts the command line or policy; 2 usage error
"
);
#[cfg(not(feature = "sign"))]
pub const USAGE: &str = usage!(
    "",
    "(the initramfs build: sign, keygen and predict are in the host's bpf-preload)\n",
    ""
);

/// A parsed command line.
pub enum Command {
    Run(run::Args),
    Status(status::Args),
    #[cfg(feature = "sign")]
    Sign(sign::Args),
    Verify(verify::Args),
    Inspect(inspect::Args),
    #[cfg(feature = "sign")]
    InspectInitramfs(inspect_initramfs::Args),
    #[cfg(feature = "sign")]
    Keygen(keygen::Args),
    #[cfg(feature = "sign")]
    Predict(predict::Args),
    Help,
    /// `SUB --help`: that subcommand's usage alone.
    HelpFor(&'static str),
    Version,
}

/// The usage lines of one subcommand (its block of [`USAGE`], continuation lines included),
/// and the exit codes that name it.
pub fn usage_of(sub: &str) -> String {
    let head = format!("  bpf-preload {sub} ");
    let mut out = String::from("usage:\n");
    let mut inside = false;
    for line in USAGE.lines() {
        if line.starts_with("  bpf-preload ") {
            inside = line.starts_with(&head);
        } else if !line.starts_with("    ") {
            inside = false;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    let codes = format!("exit codes of {sub}");
    let mut inside = false;
    for line in USAGE.lines() {
        if line.starts_with("exit codes of") {
            inside = line.starts_with(&codes);
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What the initramfs build (no feature `sign`) answers to a sign-time command.
#[cfg(not(feature = "sign"))]
pub fn not_in_this_build(sub: &str) -> String {
    format!(
        "{sub}: not in this build: this is the initramfs build of bpf-preload (run, status, \
         verify, inspect); use the host's bpf-preload for sign, keygen, predict and \
         inspect-initramfs"
    )
}

/// Parse the whole command line: the subcommand, then its own arguments.
pub fn parse(mut p: lexopt::Parser) -> Result<Command, lexopt::Error> {
    use lexopt::prelude::*;
    let sub = match p.next()? {
        Some(Value(v)) => v.into_string().map_err(lexopt::Error::NonUnicodeValue)?,
        Some(Long("version") | Short('V')) => return Ok(Command::Version),
        Some(Long("help") | Short('h')) | None => return Ok(Command::Help),
        Some(other) => return Err(other.unexpected()),
    };
    let (name, command): (&'static str, Option<Command>) = match sub.as_str() {
        "run" => ("run", run::Args::parse(&mut p)?.map(Command::Run)),
        "status" => ("status", status::Args::parse(&mut p)?.map(Command::Status)),
        #[cfg(feature = "sign")]
        "sign" => ("sign", sign::Args::parse(&mut p)?.map(Command::Sign)),
        "verify" => ("verify", verify::Args::parse(&mut p)?.map(Command::Verify)),
        "inspect" => (
            "inspect",
            inspect::Args::parse(&mut p)?.map(Command::Inspect),
        ),
        #[cfg(feature = "sign")]
        "inspect-initramfs" => (
            "inspect-initramfs",
            inspect_initramfs::Args::parse(&mut p)?.map(Command::InspectInitramfs),
        ),
        #[cfg(feature = "sign")]
        "keygen" => ("keygen", keygen::Args::parse(&mut p)?.map(Command::Keygen)),
        #[cfg(feature = "sign")]
        "predict" => (
            "predict",
            predict::Args::parse(&mut p)?.map(Command::Predict),
        ),
        #[cfg(not(feature = "sign"))]
        sub @ ("sign" | "keygen" | "predict" | "inspect-initramfs") => {
            return Err(not_in_this_build(sub).into())
        }
        other => return Err(format!("unknown command {other:?}").into()),
    };
    Ok(command.unwrap_or(Command::HelpFor(name)))
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
    #[cfg(feature = "sign")]
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
    #[cfg(feature = "sign")]
    #[error("getrandom: {0}")]
    Random(#[source] io::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[cfg(feature = "sign")]
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
    #[cfg(feature = "sign")]
    #[error("kernel key {} / {}: {source}", key.display(), cert.display())]
    KernelKey {
        key: PathBuf,
        cert: PathBuf,
        #[source]
        source: KsigError,
    },
    #[cfg(feature = "sign")]
    #[error("{}: signature {}: {source}", path.display(), signature.display())]
    Attach {
        path: PathBuf,
        signature: PathBuf,
        #[source]
        source: bpf_preload::verify::AttachError,
    },
    #[cfg(feature = "sign")]
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
    /// The boot's own reading of the command line, list or policy failed.
    #[error(transparent)]
    Plan(#[from] bpf_preload::RunError),
    #[error("predict: --pcr {asked} refused: {why}")]
    PcrContradicts { asked: u32, why: String },
    #[error("predict: --pcrlock: the boot would not measure, there is no component to write")]
    PcrlockNoMeasurement,
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
