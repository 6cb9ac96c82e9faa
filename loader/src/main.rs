//! `bpf-preload`: parse arguments, call the library, map the result to output and an exit code.
//! Never panics on bad input: as an init-stage program a panic can cost a boot.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use bpf_preload::{boot, cli, RunConfig, EXIT_REQUIRED_FAILED};
use lexopt::prelude::*;

const EXIT_FATAL: u8 = 1;
const EXIT_USAGE: u8 = 2;

const USAGE: &str = "\
usage:
  bpf-preload run [--cmdline FILE] [--preload-list FILE] [--bundle DIR] [--keys DIR]
                  [--bpffs DIR] [--status FILE] [--policy FILE] [--verbose]
  bpf-preload status [--status FILE] [--json]
  bpf-preload sign --key PRIVATE.pem [--name NAME] [--output OUT] OBJECT
  bpf-preload verify [--key PUBLIC.pem ...] [--keys DIR ...] OBJECT   (none: built-in keys)
  bpf-preload inspect [--json] OBJECT
  bpf-preload keygen --private FILE --public FILE

exit codes of run: 0 every required object loaded; 3 a required object (or the
                   required guard) failed;
                   1 fatal error (nothing attempted); 2 usage error
";

enum Cmd {
    Run(RunConfig),
    Status {
        path: PathBuf,
        json: bool,
    },
    Sign {
        key: PathBuf,
        name: Option<String>,
        output: Option<PathBuf>,
        object: PathBuf,
    },
    Verify {
        keys: Vec<PathBuf>,
        dirs: Vec<PathBuf>,
        object: PathBuf,
    },
    Inspect {
        object: PathBuf,
        json: bool,
    },
    Keygen {
        private: PathBuf,
        public: PathBuf,
    },
    Help,
}

fn string(v: OsString) -> Result<String, lexopt::Error> {
    v.into_string().map_err(lexopt::Error::NonUnicodeValue)
}

fn parse(mut p: lexopt::Parser) -> Result<Cmd, lexopt::Error> {
    let sub = match p.next()? {
        Some(Value(v)) => string(v)?,
        Some(Long("help") | Short('h')) | None => return Ok(Cmd::Help),
        Some(Long("version")) => return Ok(Cmd::Help),
        Some(other) => return Err(other.unexpected()),
    };
    let mut cfg = RunConfig::default();
    let (mut json, mut name, mut output, mut key, mut private, mut public) =
        (false, None, None, None, None, None);
    let (mut keys, mut dirs, mut object) = (Vec::new(), Vec::new(), None);
    while let Some(arg) = p.next()? {
        match (sub.as_str(), arg) {
            (_, Long("help") | Short('h')) => return Ok(Cmd::Help),
            ("run", Long("cmdline")) => cfg.cmdline = p.value()?.into(),
            ("run", Long("preload-list")) => cfg.preload_list = p.value()?.into(),
            ("run", Long("bundle")) => cfg.bundle = p.value()?.into(),
            ("run", Long("keys")) => cfg.keys = p.value()?.into(),
            ("run", Long("bpffs")) => cfg.bpffs = p.value()?.into(),
            ("run", Long("policy")) => cfg.policy = p.value()?.into(),
            ("run" | "status", Long("status")) => cfg.status = p.value()?.into(),
            ("run", Long("verbose") | Short('v')) => cfg.verbose = true,
            ("status" | "inspect", Long("json")) => json = true,
            ("sign", Long("key")) => key = Some(PathBuf::from(p.value()?)),
            ("sign", Long("name")) => name = Some(string(p.value()?)?),
            ("sign", Long("output") | Short('o')) => output = Some(PathBuf::from(p.value()?)),
            ("verify", Long("key")) => keys.push(PathBuf::from(p.value()?)),
            ("verify", Long("keys")) => dirs.push(PathBuf::from(p.value()?)),
            ("keygen", Long("private")) => private = Some(PathBuf::from(p.value()?)),
            ("keygen", Long("public")) => public = Some(PathBuf::from(p.value()?)),
            ("sign" | "verify" | "inspect", Value(v)) if object.is_none() => {
                object = Some(PathBuf::from(v))
            }
            (_, other) => return Err(other.unexpected()),
        }
    }
    let need = |what: &str| lexopt::Error::from(format!("{sub}: missing {what}"));
    Ok(match sub.as_str() {
        "run" => Cmd::Run(cfg),
        "status" => Cmd::Status {
            path: cfg.status,
            json,
        },
        "sign" => Cmd::Sign {
            key: key.ok_or_else(|| need("--key"))?,
            name,
            output,
            object: object.ok_or_else(|| need("OBJECT"))?,
        },
        "verify" => Cmd::Verify {
            keys,
            dirs,
            object: object.ok_or_else(|| need("OBJECT"))?,
        },
        "inspect" => Cmd::Inspect {
            object: object.ok_or_else(|| need("OBJECT"))?,
            json,
        },
        "keygen" => Cmd::Keygen {
            private: private.ok_or_else(|| need("--private"))?,
            public: public.ok_or_else(|| need("--public"))?,
        },
        other => return Err(format!("unknown command {other:?}").into()),
    })
}

fn print(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bpf-preload: {e}");
            ExitCode::from(EXIT_FATAL)
        }
    }
}

fn main() -> ExitCode {
    let cmd = match parse(lexopt::Parser::from_env()) {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("bpf-preload: {e}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cmd {
        Cmd::Help => {
            print!("bpf-preload {}\n{USAGE}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Cmd::Run(cfg) => match boot(&cfg) {
            Ok(status) => {
                let failed: Vec<&str> = status.required_failed().map(|o| o.name.as_str()).collect();
                if status.guard_required_failed() {
                    let why = status.guard.as_ref().map(|g| g.line()).unwrap_or_default();
                    eprintln!("bpf-preload: the required guard is not active: {why}");
                }
                if failed.is_empty() && !status.guard_required_failed() {
                    ExitCode::SUCCESS
                } else if failed.is_empty() {
                    ExitCode::from(EXIT_REQUIRED_FAILED as u8)
                } else {
                    eprintln!(
                        "bpf-preload: required object(s) failed: {}",
                        failed.join(", ")
                    );
                    ExitCode::from(EXIT_REQUIRED_FAILED as u8)
                }
            }
            Err(e) => {
                eprintln!("bpf-preload: {e}");
                ExitCode::from(EXIT_FATAL)
            }
        },
        Cmd::Status { path, json } => print(cli::status(&path, json)),
        Cmd::Sign {
            key,
            name,
            output,
            object,
        } => print(cli::sign(&key, name.as_deref(), output.as_deref(), &object)),
        Cmd::Verify { keys, dirs, object } => print(cli::verify(&keys, &dirs, &object)),
        Cmd::Inspect { object, json } => print(cli::inspect(&object, json)),
        Cmd::Keygen { private, public } => print(cli::keygen(&private, &public)),
    }
}
