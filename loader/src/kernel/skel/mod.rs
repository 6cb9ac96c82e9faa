//! Light skeletons at the C boundary, one idea per file: libbpf's gen_loader at sign time, and
//! at boot for the built-in guard and iterators ([`generate`], [`boot`]); at boot the loader run
//! in the kernel ([`run`]) with its context as libbpf lays it out ([`context`], pure), its
//! cleanup fitted to its stack ([`cleanup`], pure); and the kernel's own attach, pin and probe
//! calls ([`calls`]).
//! `kernel::fast` decides what to call. `generate`, `run` and `calls` are the only files here
//! with `unsafe`, each block with its `// SAFETY:`.

pub mod boot;
pub mod calls;
pub mod cleanup;
pub mod context;
pub mod generate;
pub mod run;

#[cfg(feature = "sign")]
pub use generate::{generate, GenProg, GenerateError};
pub use run::{run_loader, LoaderSignature, SkelError};
