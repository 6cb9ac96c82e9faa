//! bpf-preload: verify signed eBPF objects and preload them from the initramfs.
//!
//! Everything decided from bytes alone (names, trailer, keys from PEM text, signatures, the ELF
//! and fast-path descriptions, the command line, the policy, the status record, escaping) is the
//! pure crate `bpf_preload_format`, whose dependencies reach no I/O; this crate re-exports its
//! modules under the same names ([`name`], [`verify`], [`status`], …) and does the I/O.
//!
//! The boot job, [`boot`], is one sequence of steps owned by one value (`pipeline::boot`), each
//! returning a value; the status record is assembled once from them, and kmsg's order is the
//! order of the work:
//!
//! | step | module | I/O |
//! |---|---|---|
//! | plan | [`cmdline`], [`policy`] (pure), `pipeline::plan` | the command line, list, policy |
//! | trusted keys | [`keys`] (parsing pure) | the keys directory |
//! | kernel keyring | `pipeline::signed` | certificates; the keyring (`sys::keyring`) |
//! | bpffs | `pipeline::pin::bpffs` | lock, mount, sweep |
//! | per object: read once → verify → check ELF → measure → load → attach → pin | `pipeline::object_run`, [`verify`], [`elf`], `kernel` (libbpf-rs, the fast path), `pipeline::pin` | one read; the TPM; the kernel; bpffs |
//! | measurement: the closing event | [`measure`] (pure), `pipeline::measure` | the TPM, systemd's log (`sys::tpm`) |
//! | guard, then signed-only mode's state | [`guard`] (pure), `kernel::guard`, `pipeline::guard`, `pipeline::signed` | the kernel |
//! | report | [`status`], `pipeline::report` | status file |
//!
//! `bpf-preload status` adds a live view beside the record: [`live`] decides what is missing
//! (behind a small trait), `kernel::live` probes the pins, link ids and switches.
//!
//! Every system call of the pipeline goes through `sys` (clippy's `disallowed-methods` keeps
//! `std::fs` there); every libbpf call through `kernel` (the only module that imports libbpf-rs
//! or libbpf-sys). The pipeline only knows the small traits it implements (`pipeline::object`,
//! `pipeline::load`, `pipeline::guard`, `pipeline::live`), so its order of operations and its
//! pinning policy are unit-tested with recording fakes (`fakes`, test builds only). In `kernel`,
//! `unsafe` is confined to `kernel::libbpf_log` (the C callback that formats libbpf's messages),
//! `kernel::skel` (light skeletons) and the libbpf-cargo skeleton `kernel::guard` includes
//! (generated code); in `sys`, to the keyring and TPM calls and the mapping of the kernel's BTF
//! (`sys::view`).
//!
//! The last step before the report is the built-in guard (BPF LSM programs compiled into the
//! binary: its pure side is [`guard`], its load and arm `kernel::guard`), when the command line or
//! the build-time policy asks for it.
#![deny(unsafe_code)]

mod kernel;
mod pipeline;
mod sys;

#[cfg(test)]
mod fakes;
#[cfg(all(test, feature = "sign"))]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests make and read files directly
mod format_tests;

// What the command-line tools and the integration tests use, on purpose.
pub use bpf_preload_format::{
    cmdline, cpio, elf, escape, fast, guard, iterators, ksig, lockdown, measure, name, place,
    policy, status, switch, trailer, verify,
};
#[cfg(feature = "sign")]
pub use kernel::convert::ConvertError;
pub use kernel::guard::InfoError as GuardInfoError;
/// SHA-256 of the built-in iterators' BPF object (what `run` measures before loading them).
pub use kernel::iterators::object_sha256 as iterators_sha256;
#[cfg(feature = "sign")]
pub use kernel::skel::GenerateError;
pub use pipeline::{keys, live};
pub use pipeline::{CmdlineFrom, RunConfig, RunError, EXIT_REQUIRED_FAILED};
pub use sys::{read_bounded, write_replace, Durability, MAX_OBJECT_SIZE};

/// The boot job (`pipeline::boot`): plan from the command line, trusted keys, the kernel
/// keyring, every object, the built-in iterators, measurement, the guard, then the status
/// record, through the real system, keyrings, TPM, kernel, iterators and guard. Only a problem
/// that stops planning is an `Err`; everything else is in the returned status. Either way a
/// status record is written to `cfg.status`.
pub fn boot(cfg: &RunConfig) -> Result<status::Status, RunError> {
    kernel::init_logging(cfg.verbose);
    let mut sys = sys::RealSys::new(cfg.verbose);
    sys.to_kmsg = cfg.kmsg;
    let tpm = sys::tpm::RealMeasure::new(cfg.tpm_devices.clone(), cfg.measure_log.clone());
    let boundaries = pipeline::boot::Boundaries {
        sys: &sys,
        keyrings: &sys::keyring::RealKeyrings {
            signatures_supported: kernel::signatures_supported,
        },
        tpm: &tpm,
        iterators: &kernel::iterators::Builtin::from_env(),
    };
    pipeline::boot::boot(cfg, &boundaries, |s| {
        let kernel = kernel::Libbpf {
            keyring: s.keyring,
            signed_only: s.signed_only.is_some(),
        };
        // The guard's kernel BTF work starts now, beside the objects' loading.
        let guard = kernel::guard::Builtin::start(s.signed_only, s.guard);
        (kernel, guard)
    })
}

/// The boot's own reading of a command line file (`CmdlineFrom`), for `predict`: the same
/// bounded read `run` does. Nothing is logged.
pub fn read_cmdline(from: &CmdlineFrom) -> Result<String, RunError> {
    pipeline::plan::read_cmdline(&sys::RealSys::new(false), from)
}

/// The boot's own reading of a build-time policy file (absent: none; unreadable: an error).
pub fn read_policy(path: &std::path::Path) -> Result<policy::Policy, RunError> {
    pipeline::plan::read_policy(&sys::RealSys::new(false), path)
}

/// The plan `run` makes from this command line and policy, reading the preload list (only when
/// the command line names no objects) the way `run` reads it. Nothing is logged.
pub fn plan_from(
    cmdline: &str,
    preload_list: &std::path::Path,
    policy: &policy::Policy,
) -> Result<cmdline::Plan, RunError> {
    pipeline::plan::plan_from(&sys::RealSys::new(false), cmdline, preload_list, policy)
}

/// The plan `run` makes with this configuration (command line, policy, list), read as `run`
/// reads them. Nothing is logged.
pub fn read_plan(cfg: &RunConfig) -> Result<cmdline::Plan, RunError> {
    pipeline::plan::read_plan(&sys::RealSys::new(false), cfg)
}

/// Where this process runs: the boot's initramfs (`/etc/initrd-release` exists, or the root is
/// the kernel's `rootfs`), or a booted system ([`place`]).
pub fn where_running() -> place::Place {
    use sys::Sys;
    let sys = sys::RealSys::new(false);
    // access(F_OK) as systemd does: a symlink to /usr/lib/initrd-release counts.
    let release = sys
        .stat_ids(std::path::Path::new(place::INITRD_RELEASE))
        .is_ok();
    let mountinfo = sys
        .read_bounded(std::path::Path::new(place::MOUNTINFO), 4 << 20)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    place::Place::decide(release, place::root_fstype(&mountinfo))
}

/// Sign time: the fast-path section of an ELF object signed as `name` (a light skeleton made by
/// libbpf's gen_loader, no kernel involved), or why it cannot have one.
///
/// The section is checked by the very code `run` checks it with ([`fast::FastPath::parse`]:
/// limits, names, characters, the match with the ELF): a section that `run` would refuse is
/// never signed; its rule becomes the reason for version 1.
///
/// With `signer`, the section carries the kernel's signature over the loader (docs/format.md).
/// Only in the host build (feature `sign`).
#[cfg(feature = "sign")]
pub fn fast_path_section(
    elf: &[u8],
    name: &name::ObjectName,
    signer: Option<&ksig::KernelSigner>,
) -> Result<Vec<u8>, ConvertError> {
    let info = elf::describe(elf)?;
    if let Some(why) = fast::libbpf_only(&info) {
        return Err(why.into());
    }
    let section = kernel::convert::convert(elf, name.as_str(), signer)?
        .encode()
        .ok_or(ConvertError::TooLarge)?;
    fast::FastPath::parse(&section, &info)?;
    Ok(section)
}

/// The live status of a record: what is still pinned, attached and switched on now
/// (`pipeline::live`), through the real kernel. For `status`; the record itself is unchanged.
pub fn live_status(st: &status::Status) -> live::Live {
    live::check(st, &kernel::Libbpf::default())
}

/// What the guard's read-only info map says (sealed, refusals, the last one); for `status`.
pub fn guard_info(bpffs: &std::path::Path) -> Result<guard::GuardInfo, GuardInfoError> {
    kernel::guard::read_info(bpffs)
}
