//! The kernel's lockdown state, as securityfs's `lockdown` file shows it
//! (`none [integrity] confidentiality`: the active mode in brackets). Pure: the loader reads the
//! file (`/sys/kernel/security/lockdown`) through its system boundary and decides here.
//!
//! Why it matters to us: under `integrity` (what Secure Boot turns on in Debian's kernels) the
//! kernel refuses every open of a debugfs file that is not world-readable-only, reads included
//! (`kprobes/enabled` is 0600), and logs "Lockdown: COMM: debugfs access is restricted". So
//! nothing of ours opens debugfs files when the kernel is locked down.
#![forbid(unsafe_code)]

use std::fmt;

use serde::Serialize;

/// The securityfs file, relative to securityfs.
pub const LOCKDOWN_FILE: &str = "lockdown";

/// The active lockdown mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lockdown {
    None,
    /// Kernel integrity: module signatures, no /dev/mem, no debugfs opens, no kexec of unsigned
    /// images, …
    Integrity,
    /// Integrity plus no reading of kernel memory (kprobes, bpf_probe_read_kernel, …).
    Confidentiality,
}

impl Lockdown {
    /// The bracketed word of the file's one line; `None` when there is no known one.
    pub fn parse(text: &str) -> Option<Lockdown> {
        let start = text.find('[')?;
        let rest = &text[start + 1..];
        let word = &rest[..rest.find(']')?];
        match word {
            "none" => Some(Lockdown::None),
            "integrity" => Some(Lockdown::Integrity),
            "confidentiality" => Some(Lockdown::Confidentiality),
            _ => None,
        }
    }

    /// Does the kernel refuse opens of debugfs files like `kprobes/enabled` (LOCKDOWN_DEBUGFS,
    /// part of the integrity level)?
    pub fn closes_debugfs(self) -> bool {
        self >= Lockdown::Integrity
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lockdown::None => "none",
            Lockdown::Integrity => "integrity",
            Lockdown::Confidentiality => "confidentiality",
        }
    }
}

impl fmt::Display for Lockdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracketed_mode_is_the_active_one() {
        assert_eq!(
            Lockdown::parse("[none] integrity confidentiality\n"),
            Some(Lockdown::None)
        );
        assert_eq!(
            Lockdown::parse("none [integrity] confidentiality\n"),
            Some(Lockdown::Integrity)
        );
        assert_eq!(
            Lockdown::parse("none integrity [confidentiality]\n"),
            Some(Lockdown::Confidentiality)
        );
        assert_eq!(Lockdown::parse("none integrity confidentiality\n"), None);
        assert_eq!(Lockdown::parse("[integrity"), None);
        assert_eq!(Lockdown::parse("[paranoid] none"), None);
        assert_eq!(Lockdown::parse(""), None);
    }

    #[test]
    fn integrity_and_above_close_debugfs() {
        assert!(!Lockdown::None.closes_debugfs());
        assert!(Lockdown::Integrity.closes_debugfs());
        assert!(Lockdown::Confidentiality.closes_debugfs());
    }
}
