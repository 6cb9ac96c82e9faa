//! `bpf-preload`: parse the command line, run one command, and decide the output and the exit
//! code — here and nowhere else. Never panics on bad input: as an init-stage program a panic can
//! cost a boot.
#![forbid(unsafe_code)]
// The CLI reads and writes the files it is given; the library goes through sys/.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod commands;

use std::process::ExitCode;

use bpf_preload::escape::escape;
use bpf_preload::EXIT_REQUIRED_FAILED;
use commands::{Command, CommandError, USAGE};

const EXIT_FATAL: u8 = 1;
const EXIT_USAGE: u8 = 2;
/// `predict`: a listed object would not be measured, so the value does not cover it.
#[cfg(feature = "sign")]
const EXIT_UNMEASURED: u8 = 4;

fn print(result: Result<String, CommandError>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bpf-preload: {}", escape(&e.to_string()));
            ExitCode::from(EXIT_FATAL)
        }
    }
}

fn main() -> ExitCode {
    let command = match commands::parse(lexopt::Parser::from_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bpf-preload: {}\n{USAGE}", escape(&e.to_string()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match command {
        Command::Help => {
            print!("bpf-preload {}\n{USAGE}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::HelpFor(sub) => {
            print!("{}", commands::usage_of(sub));
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("bpf-preload {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Run(args) if args.dry_run => match commands::run::dry_run(&args) {
            Ok(d) => {
                print!("{}", d.text);
                if d.required_refused.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    eprintln!(
                        "bpf-preload: required object(s) would be refused: {}",
                        escape(&d.required_refused.join(", "))
                    );
                    ExitCode::from(EXIT_REQUIRED_FAILED as u8)
                }
            }
            Err(e) => print(Err(e)),
        },
        Command::Run(args) => match commands::run::run(&args) {
            Ok(status) => {
                let failed: Vec<&str> = status.required_failed().map(|o| o.name.as_str()).collect();
                if status.guard_required_failed() {
                    let why = status.guard.as_ref().map(|g| g.line()).unwrap_or_default();
                    eprintln!("bpf-preload: the required guard is not active: {why}");
                }
                if status.measurement_required_failed() {
                    let why = status
                        .measurement
                        .as_ref()
                        .map(|m| m.line())
                        .unwrap_or_default();
                    eprintln!("bpf-preload: required measurement failed: {}", escape(&why));
                }
                let fatal = status.guard_required_failed() || status.measurement_required_failed();
                if failed.is_empty() && !fatal {
                    ExitCode::SUCCESS
                } else if failed.is_empty() {
                    ExitCode::from(EXIT_REQUIRED_FAILED as u8)
                } else {
                    eprintln!(
                        "bpf-preload: required object(s) failed: {}",
                        escape(&failed.join(", "))
                    );
                    ExitCode::from(EXIT_REQUIRED_FAILED as u8)
                }
            }
            Err(e) => {
                eprintln!("bpf-preload: {}", escape(&e.to_string()));
                ExitCode::from(EXIT_FATAL)
            }
        },
        Command::Status(args) => match commands::status::run(&args) {
            Ok(report) => {
                print!("{}", report.text);
                match report.problems.first() {
                    Some((worst, _)) if args.check => {
                        for (_, what) in &report.problems {
                            // Names in it are escaped by `problems`.
                            eprintln!("bpf-preload: status --check: {what}");
                        }
                        ExitCode::from(worst.exit_code())
                    }
                    _ => ExitCode::SUCCESS,
                }
            }
            Err(e) => print(Err(e)),
        },
        #[cfg(feature = "sign")]
        Command::Sign(args) => print(commands::sign::run(&args)),
        Command::Verify(args) => print(commands::verify::run(&args)),
        Command::Inspect(args) => print(commands::inspect::run(&args)),
        // The report either way; exit 1 when an object the image loads would be refused.
        #[cfg(feature = "sign")]
        Command::InspectInitramfs(args) => match commands::inspect_initramfs::run(&args) {
            Ok(r) => {
                print!("{}", r.text);
                if r.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_FATAL)
                }
            }
            Err(e) => print(Err(e)),
        },
        #[cfg(feature = "sign")]
        Command::Keygen(args) => print(commands::keygen::run(&args)),
        #[cfg(feature = "sign")]
        Command::Predict(args) => match commands::predict::run(&args) {
            Ok(report) => {
                print!("{}", report.text);
                if report.unmeasured.is_empty() || args.allow_unmeasured {
                    ExitCode::SUCCESS
                } else {
                    eprintln!(
                        "bpf-preload: predict: listed but not measured: {} (the value does not cover them; --allow-unmeasured accepts this)",
                        escape(&report.unmeasured.join(", "))
                    );
                    ExitCode::from(EXIT_UNMEASURED)
                }
            }
            Err(e) => print(Err(e)),
        },
    }
}
