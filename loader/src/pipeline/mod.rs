//! The boot's pipeline, one idea per file:
//!
//! | file | what |
//! |---|---|
//! | [`config`] | where the boot reads and writes |
//! | [`error`] | what stops the boot, what fails one object |
//! | [`plan`] | reading the command line, the list and the policy |
//! | [`keys`], [`signed`] | the trusted keys; the kernel keyring and signed-only mode |
//! | [`object_run`] | one object's steps and its status record |
//! | [`parallel`] | work on several threads, answers in list order |
//! | [`load`], [`object`] | the kernel boundary's traits: loading; a loaded object's names and pins |
//! | [`measure`], [`pin`], [`iterators`], [`guard`], [`report`] | measured preload, pinning, the built-in iterators, the guard, reporting |
//! | [`live`] | what `status` finds still in place |
//! | [`boot`] | the boot: every step in order, the status assembled once |
#![forbid(unsafe_code)]

pub mod boot;
pub mod config;
pub mod error;
pub mod guard;
pub mod iterators;
pub mod keys;
pub mod live;
pub mod load;
pub mod measure;
pub mod object;
pub mod object_run;
pub mod parallel;
pub mod pin;
pub mod plan;
pub mod report;
pub mod signed;

pub use config::{CmdlineFrom, RunConfig, EXIT_REQUIRED_FAILED};
pub use error::RunError;
pub use object_run::ms;

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests make and read files directly
mod tests;
