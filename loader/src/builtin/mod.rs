//! BPF programs built into the binary (libbpf-cargo skeletons of `bpf/builtin/*.bpf.c`, made by
//! build.rs): trusted as part of the binary, loaded by `run` itself. Like `kernel`, this is a
//! libbpf boundary: it implements the pipeline's small trait and nothing imports back.
//! (Not `forbid(unsafe_code)`: `guard` includes the generated skeleton, which has `unsafe`.)

pub mod guard;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pipeline::guard::{GuardFailure, GuardLoader, GuardReport, SwitchPaths};

/// The built-in guard.
/// The built-in guard; `signed_only`: the loader's sealed keyring, when signed-only mode is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin {
    pub signed_only: Option<i32>,
}

impl GuardLoader for Builtin {
    fn activate(
        &self,
        bpffs: &Path,
        protect: &[PathBuf],
        lsm_list: io::Result<String>,
        switches: &SwitchPaths,
    ) -> Result<GuardReport, GuardFailure> {
        guard::activate(bpffs, protect, lsm_list, switches, self.signed_only).map_err(|e| {
            GuardFailure {
                unavailable: e.is_unavailable(),
                error: Arc::new(e),
            }
        })
    }
}
