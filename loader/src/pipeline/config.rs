//! Where the boot job reads and writes: [`RunConfig`], with the documented boot-time paths as
//! its defaults, and where the command line comes from ([`CmdlineFrom`]).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use bpf_preload_format::place::Place;
use bpf_preload_format::policy::POLICY_PATH;

/// Exit code of `run` when a required object failed: an initramfs hook can fail closed on it.
pub const EXIT_REQUIRED_FAILED: i32 = 3;

/// Where the command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdlineFrom {
    /// What dracut's own tools see: `<etc>/cmdline.d/*.conf`, `<etc>/cmdline` (options built
    /// into the initramfs, e.g. by `dracut --kernel-cmdline`), then the kernel's (`proc`).
    Boot { etc: PathBuf, proc: PathBuf },
    /// This file alone (`run --cmdline FILE`).
    File(PathBuf),
}

/// Where the boot job reads and writes. Defaults are the documented boot-time paths.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub cmdline: CmdlineFrom,
    pub preload_list: PathBuf,
    pub bundle: PathBuf,
    pub keys: PathBuf,
    pub bpffs: PathBuf,
    pub status: PathBuf,
    /// The build-time policy written by the initramfs builder (absent: none).
    pub policy: PathBuf,
    /// Measured preload: the TPM devices tried in order, and systemd's measurement log.
    pub tpm_devices: Vec<PathBuf>,
    pub measure_log: PathBuf,
    pub verbose: bool,
    /// Where the run is (recorded in the status): the boot's initramfs, or a booted system.
    pub place: Place,
    /// Log to /dev/kmsg (the boot's kernel log); off: stderr only (a manual run).
    pub kmsg: bool,
    /// How many threads verify objects and load the independent ones (attaching and pinning
    /// stay in list order): 0 every core; 1 every step of one object before the next object
    /// (`run --sequential`, or `BPF_PRELOAD_SEQUENTIAL=1` in the environment), for debugging.
    pub jobs: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            cmdline: CmdlineFrom::Boot {
                etc: "/etc".into(),
                proc: "/proc/cmdline".into(),
            },
            preload_list: "/etc/bpf-preload/preload.list".into(),
            bundle: "/usr/lib/bpf-preload".into(),
            keys: "/etc/bpf-preload/keys".into(),
            bpffs: "/sys/fs/bpf".into(),
            status: "/run/bpf-preload/status.json".into(),
            policy: POLICY_PATH.into(),
            tpm_devices: crate::sys::tpm::TPM_DEVICES
                .iter()
                .map(PathBuf::from)
                .collect(),
            measure_log: bpf_preload_format::measure::LOG_PATH.into(),
            verbose: false,
            place: Place::Initramfs,
            kmsg: true,
            jobs: 0,
        }
    }
}
