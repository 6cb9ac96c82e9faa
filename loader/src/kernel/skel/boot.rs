//! A built-in skeleton (libbpf-rs: the guard, the iterators), opened and set up at boot, loaded
//! as a light skeleton: libbpf's gen_loader writes its loader program ([`super::generate`]),
//! fitted to its stack ([`super::cleanup`]), and the kernel runs it ([`super::run`]), relocating
//! CO-RE and finding attach targets and kfuncs with its own BTF: no kernel BTF is read in user
//! space. Each caller keeps libbpf's own load as its fallback.

use std::os::fd::OwnedFd;

use super::cleanup::{fit_cleanup_to_stack, CleanupError};
use super::generate::{generate_opened, GenerateError, Generated};
use super::run::{run_loader, SkelError};

/// Why a built-in skeleton did not load as a light skeleton.
#[derive(Debug, thiserror::Error)]
pub enum BootLightError {
    #[error(transparent)]
    Generate(#[from] GenerateError<std::convert::Infallible>),
    #[error(transparent)]
    Cleanup(#[from] CleanupError),
    #[error(transparent)]
    Loader(#[from] SkelError),
}

/// The loader program of an opened skeleton. The object is left loaded in gen_loader mode:
/// good only for closing, which the caller may do at once.
pub fn generate(
    obj: std::ptr::NonNull<libbpf_sys::bpf_object>,
) -> Result<Generated, BootLightError> {
    let mut gen = generate_opened(obj)?;
    fit_cleanup_to_stack(&mut gen.insns)?;
    Ok(gen)
}

/// What the loader made: each map's fd by its libbpf name, each loaded program's (autoload) by
/// its name, in the loader's order.
#[derive(Debug)]
pub struct BootLoaded {
    pub maps: Vec<(String, OwnedFd)>,
    pub progs: Vec<(String, OwnedFd)>,
}

/// Run `gen`'s loader once in the kernel.
pub fn load(gen: &Generated) -> Result<BootLoaded, BootLightError> {
    let loaded: Vec<String> = gen
        .progs
        .iter()
        .filter(|p| p.autoload)
        .map(|p| p.name.clone())
        .collect();
    let out = run_loader(
        &gen.insns,
        &gen.data,
        gen.maps.len(),
        loaded.len(),
        false,
        None,
    )?;
    Ok(BootLoaded {
        maps: gen
            .maps
            .iter()
            .map(|(name, _, _)| name.clone())
            .zip(out.maps)
            .collect(),
        progs: loaded.into_iter().zip(out.progs).collect(),
    })
}
