//! Kernel signatures at boot: the loader's own keyring (certificates `*.crt` from the keys
//! directory, read through `Sys`, then closed for good), and signed-only mode's state. The keyring calls go through
//! the small [`Keyrings`] trait (beside its real implementation in `sys::keyring`; the tests use a
//! fake).
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use crate::sys::keyring::Keyrings;
use crate::sys::{Prio, Sys};
use bpf_preload_format::cmdline::GuardMode;
use bpf_preload_format::escape::escape;
use bpf_preload_format::escape::escape_path;
use bpf_preload_format::ksig::KernelCert;
use bpf_preload_format::status::{GuardStatus, SignedOnlyState, SignedOnlyStatus};

/// Extension of kernel certificates inside the keys directory.
pub const CERT_EXT: &str = "crt";
/// Largest certificate file read.
pub const MAX_CERT_FILE_SIZE: u64 = 1 << 20;

/// What the keyring step made.
#[derive(Debug, Default)]
pub struct KernelKeys {
    /// The sealed keyring's serial.
    pub keyring: Option<i32>,
    /// Certificates in it.
    pub certificates: usize,
    /// Certificate files skipped, each naming the file and why.
    pub warnings: Vec<String>,
    /// Why there is no keyring although one was wanted (or BPF signatures are unsupported).
    pub error: Option<KeyringError>,
}

/// Why the keyring step made no sealed keyring.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("certificates in {}: {source}", escape_path(path))]
    List {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The kernel has no BPF signatures (signed-only mode is unavailable, not failed).
    #[error("this kernel has no BPF signatures (BPF_PROG_LOAD refuses the signature fields: {0})")]
    Unsupported(#[source] io::Error),
    #[error("create the loader's keyring: {0}")]
    Create(#[source] io::Error),
    /// An open keyring would let root add its own certificate: it must not count.
    #[error("close the loader's keyring {keyring}: {source}")]
    Restrict {
        keyring: i32,
        #[source]
        source: io::Error,
    },
    #[error("link the loader's keyring {keyring} into root's user keyring: {source}")]
    Keep {
        keyring: i32,
        #[source]
        source: io::Error,
    },
}

/// Make the loader's keyring when there are certificates (or signed-only mode wants one): add
/// each usable certificate (a bad one is skipped with a warning naming it; the others count),
/// restrict the keyring so that nothing can ever be added or linked to it, then keep it.
pub fn setup(dir: &Path, mode: GuardMode, sys: &dyn Sys, k: &dyn Keyrings) -> KernelKeys {
    let mut out = KernelKeys::default();
    // In name order (`list` sorts); none when the directory is missing.
    let names = match sys.list(dir) {
        Ok(names) => names,
        Err(source) => {
            let path = dir.to_owned();
            out.error = Some(KeyringError::List { path, source });
            return out;
        }
    };
    let paths: Vec<PathBuf> = names
        .into_iter()
        .map(|name| dir.join(name))
        .filter(|p| p.extension().is_some_and(|x| x == CERT_EXT))
        .collect();
    if paths.is_empty() && mode == GuardMode::Off {
        return out;
    }
    if let Err(e) = k.supported() {
        out.error = Some(KeyringError::Unsupported(e));
        return out;
    }
    let keyring = match k.create() {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(KeyringError::Create(e));
            return out;
        }
    };
    for path in paths {
        let skip =
            |why: String| format!("kernel certificate skipped: {}: {why}", escape_path(&path));
        let bytes = match sys.read_bounded(&path, MAX_CERT_FILE_SIZE) {
            Ok(b) => b,
            Err(e) => {
                out.warnings.push(skip(format!("read: {e}")));
                continue;
            }
        };
        let cert = match KernelCert::parse(&bytes) {
            Ok(c) => c,
            Err(e) => {
                out.warnings.push(skip(e.to_string()));
                continue;
            }
        };
        match k.add(keyring, &cert.der) {
            Ok(_) => out.certificates += 1,
            Err(e) => out
                .warnings
                .push(skip(format!("the kernel refused it: {e}"))),
        }
    }
    if let Err(source) = k.restrict(keyring) {
        out.error = Some(KeyringError::Restrict { keyring, source });
        return out;
    }
    if let Err(source) = k.keep(keyring) {
        out.error = Some(KeyringError::Keep { keyring, source });
        return out;
    }
    out.keyring = Some(keyring);
    out
}

/// Signed-only mode's state, from the keyring step and the guard's: active only when the kernel
/// has BPF signatures, the keyring is sealed and the guard enforces the mode.
pub fn state(
    mode: GuardMode,
    keys: &KernelKeys,
    guard: Option<&GuardStatus>,
) -> Option<SignedOnlyStatus> {
    if mode == GuardMode::Off {
        return None;
    }
    let mut st = SignedOnlyStatus {
        state: SignedOnlyState::Failed,
        keyring: keys.keyring,
        reason: None,
        required: mode == GuardMode::Required,
    };
    if let Some(e) = &keys.error {
        if matches!(e, KeyringError::Unsupported(_)) {
            st.state = SignedOnlyState::Unavailable;
        }
        st.reason = Some(e.to_string());
        return Some(st);
    }
    match guard {
        Some(g) if g.is_active() && g.signed_only => st.state = SignedOnlyState::Active,
        Some(g) if g.is_active() => {
            st.reason = Some("the guard does not enforce it on this kernel".into());
        }
        Some(g) => {
            if g.state == bpf_preload_format::status::GuardState::Unavailable {
                st.state = SignedOnlyState::Unavailable;
            }
            st.reason = Some(format!("guard {}", g.line().trim_start_matches("guard: ")));
        }
        None => st.reason = Some("no guard".into()),
    }
    Some(st)
}

/// The keyring step's lines: skipped certificates as warnings, the keyring made.
pub fn report_keyring(sys: &dyn Sys, keys: &KernelKeys) {
    for w in &keys.warnings {
        sys.log(Prio::Warning, &escape(w));
    }
    if let Some(k) = keys.keyring {
        let line = format!(
            "kernel keyring {k}: {} certificate(s), closed",
            keys.certificates
        );
        sys.log(Prio::Info, &line);
    }
}

/// Signed-only mode's state after the guard step ([`state`]), and its line.
pub fn report_state(
    sys: &dyn Sys,
    mode: GuardMode,
    keys: &KernelKeys,
    guard: Option<&GuardStatus>,
) -> Option<SignedOnlyStatus> {
    let so = state(mode, keys, guard)?;
    let prio = if so.state == SignedOnlyState::Active {
        Prio::Info
    } else if so.required {
        Prio::Err
    } else {
        Prio::Warning
    };
    sys.log(prio, &escape(&so.line()));
    Some(so)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeKeyrings, FakeSys};

    /// The fake system with these certificate files in `dir`.
    fn sys_with(dir: &str, files: &[(&str, &[u8])]) -> FakeSys {
        let sys = FakeSys::default();
        sys.dirs.borrow_mut().insert(dir.into());
        for (name, bytes) in files {
            let path = Path::new(dir).join(name);
            sys.files.borrow_mut().insert(path, bytes.to_vec());
        }
        sys
    }

    const RSA: &[u8] = include_bytes!("../../../keys/test-only/kernel/rsa.crt");
    const ED: &[u8] = include_bytes!("../../../keys/test-only/kernel/ed25519.crt");

    #[test]
    fn bad_certificates_are_skipped_by_name_and_the_keyring_is_closed_last() {
        let sys = sys_with("/keys", &[("b.crt", RSA), ("a.crt", ED), ("c.pub", RSA)]);
        let f = FakeKeyrings::default();
        let k = setup(Path::new("/keys"), GuardMode::Off, &sys, &f);
        // The certificates alone, each read once, in name order.
        assert_eq!(*sys.ops.borrow(), ["read /keys/a.crt", "read /keys/b.crt"]);
        assert_eq!(k.keyring, Some(42));
        assert_eq!(k.certificates, 1);
        assert_eq!(
            k.warnings,
            vec!["kernel certificate skipped: /keys/a.crt: Ed25519 certificate: the kernel has no Ed25519 for BPF signatures (use RSA or ECDSA P-256/P-384)".to_string()]
        );
        let der_len = KernelCert::parse(RSA).unwrap().der.len();
        assert_eq!(
            *f.log.borrow(),
            vec![
                "create".to_string(),
                format!("add 42 {der_len}"),
                "restrict 42".into(),
                "keep 42".into()
            ]
        );
    }

    #[test]
    fn no_certificates_no_keyring_unless_the_mode_wants_one() {
        let sys = FakeSys::default();
        let f = FakeKeyrings::default();
        let k = setup(Path::new("/k"), GuardMode::Off, &sys, &f);
        assert_eq!((k.keyring, k.certificates), (None, 0));
        assert!(k.error.is_none() && k.warnings.is_empty(), "{k:?}");
        assert!(f.log.borrow().is_empty());
        let k = setup(Path::new("/k"), GuardMode::On, &sys, &f);
        assert_eq!(k.keyring, Some(42));
    }

    #[test]
    fn unsupported_kernel_makes_the_mode_unavailable() {
        let sys = sys_with("/k", &[("b.crt", RSA)]);
        let f = FakeKeyrings {
            unsupported: true,
            ..FakeKeyrings::default()
        };
        let k = setup(Path::new("/k"), GuardMode::Required, &sys, &f);
        assert_eq!(k.keyring, None);
        assert!(
            matches!(k.error, Some(KeyringError::Unsupported(_))),
            "{k:?}"
        );
        let st = state(GuardMode::Required, &k, None).unwrap();
        assert_eq!(st.state, SignedOnlyState::Unavailable);
        assert!(st.required);
        assert_eq!(
            st.reason.as_deref(),
            Some("this kernel has no BPF signatures (BPF_PROG_LOAD refuses the signature fields: Argument list too long (os error 7))")
        );
        assert_eq!(state(GuardMode::Off, &k, None), None);
    }
}
