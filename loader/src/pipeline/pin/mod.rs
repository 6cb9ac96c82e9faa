//! Pinning, policy and execution apart, one file for each part:
//!
//! | file | what |
//! |---|---|
//! | [`plan`] | the pinning policy (pure): which links, maps and programs, under which names |
//! | [`install`] | pin through [`Pinnable`](super::object::Pinnable) into a staging directory, rename into place, all or nothing |
//! | [`damage`] | what is already at `<bpffs>/<NAME>`, and whether it really is that object, loaded |
//! | [`bpffs`] | preparing the bpffs: lock, mount, sweep stale staging, `+shared` |
//!
//! All of it reaches the system through `Sys` and the kernel through the traits of
//! [`object`](super::object), so it is unit-tested with the fakes.
#![forbid(unsafe_code)]

pub mod bpffs;
pub mod damage;
pub mod install;
pub mod plan;
#[cfg(test)]
mod tests;

pub use bpffs::{ensure_mounted, prepare_bpffs, Bpffs, BpffsError};
pub use damage::{check_loaded, existing, Damages, Existing};
pub use install::{install, remove_created_shared, PinError};
pub use plan::Pins;
