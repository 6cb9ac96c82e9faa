//! bpf-preload-format: everything bpf-preload decides from bytes alone, with no I/O.
//!
//! | module | what |
//! |---|---|
//! | [`name`] | object and pin names (safe as one bpffs path component), the bpffs layout names |
//! | [`trailer`] | the signature trailer: parse, encode, the signed message |
//! | [`keys`] | key ids, keys from PEM text, the key ring and revocation |
//! | [`verify`] | bytes + key ring → a verified object; signing, its mirror image |
//! | [`elf`] | what an eBPF ELF holds (programs, maps, externs) |
//! | [`fast`] | the fast-path section of a version-2 object and its descriptor |
//! | [`ksig`] | kernel signatures: X.509 certificates the kernel can use, CMS over the loader |
//! | [`cmdline`], [`policy`] | kernel command line + preload list + build-time policy → the plan |
//! | [`guard`] | the built-in guard: which program fits each hook, its config and info map values |
//! | [`btf`] | the kernel's BTF scanned for the guard: LSM hooks and their parameter names, hook functions |
//! | [`status`], [`live`] | the status record `run` writes, and the live view `status` adds |
//! | [`place`] | where a run runs: the boot's initramfs or a booted system |
//! | [`cpio`] | an initramfs image's cpio archives (newc) and where its compressed part starts |
//! | [`switch`] | the one vocabulary of every on/off/required setting |
//! | [`escape`] | the one escaper for text we did not write |
//! | [`measure`] | measured preload: events, their replay, systemd log records, pcrlock components, TPM 2.0 commands |
//!
//! The loader (`bpf-preload`) does the I/O: it reads objects, keys, the command line and the
//! policy, and hands the bytes here; it re-exports these modules under the same names
//! (`bpf_preload::name`, …).
//!
//! This is a build fact, not a promise: the crate's normal dependencies (goblin, sha2,
//! ed25519-dalek, serde, serde_json, thiserror, and RustCrypto's x509-cert, cms, rsa, p256, p384) reach no `libbpf-*`, `rustix`, `nix` or `libc`
//! (`cargo tree -p bpf-preload-format -e normal`, checked by `tests/run-all.sh`), and it
//! forbids `unsafe`.
#![forbid(unsafe_code)]

pub mod btf;
pub mod cmdline;
pub mod cpio;
pub mod elf;
pub mod escape;
pub mod fast;
/// Entry points for cargo-fuzz (`loader/fuzz/`, which depends on this crate alone) and the
/// mutation tests; not part of a normal build.
#[cfg(any(test, fuzzing))]
pub mod fuzz;
pub mod guard;
pub mod iterators;
pub mod keys;
pub mod ksig;
pub mod live;
pub mod lockdown;
pub mod measure;
pub mod name;
pub mod place;
pub mod policy;
pub mod status;
pub mod switch;
pub mod trailer;
pub mod verify;

#[cfg(test)]
mod known_answer;
