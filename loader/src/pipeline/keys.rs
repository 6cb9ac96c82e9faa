//! The trusted keys of `run`: the keys built into the binary and the keys directory, read here
//! (through `Sys`), parsed by the pure `bpf_preload_format::keys`, which this module re-exports
//! so that `bpf_preload::keys` is the whole of it.
#![forbid(unsafe_code)]

use std::path::Path;

pub use bpf_preload_format::keys::*;

#[cfg(test)]
use ed25519_dalek::SigningKey;

use crate::sys::{RealSys, Sys};

/// The revocation list inside a keys directory.
pub const REVOKED_FILE: &str = "revoked";
/// Extension of trusted public keys inside a keys directory.
pub const PUBLIC_KEY_EXT: &str = "pub";
/// Largest key or revocation file read: a PEM key is a few hundred bytes.
pub const MAX_KEY_FILE_SIZE: u64 = 64 << 10;

/// Load every `*.pub` and the `revoked` file of a keys directory. A missing directory adds
/// nothing (built-in keys may be all there is).
///
/// A `*.pub` that cannot be read (a FIFO, a socket, a symlink, a directory, over
/// [`MAX_KEY_FILE_SIZE`]) or parsed is skipped and remembered ([`KeyRing::skipped`]): one
/// stray file must not disable every other key. Leaving a key out can only refuse objects,
/// never admit one. The `revoked` file is the opposite: leaving it (or a line of it) out
/// would trust keys that were revoked, so a `revoked` that cannot be read or parsed exactly
/// is an error for the whole ring.
pub fn load_dir_from(sys: &dyn Sys, ring: &mut KeyRing, dir: &Path) -> Result<(), KeyError> {
    // In name order (`list` sorts); nothing when the directory is missing.
    let names = sys.list(dir).map_err(|source| KeyError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let paths = names
        .into_iter()
        .map(|name| dir.join(name))
        .filter(|p| p.extension().is_some_and(|x| x == PUBLIC_KEY_EXT));
    for path in paths {
        let added =
            read_text(sys, &path).and_then(|pem| ring.add_pem(&path.display().to_string(), &pem));
        if let Err(e) = added {
            ring.skip(e);
        }
    }
    let revoked = dir.join(REVOKED_FILE);
    match read_text(sys, &revoked) {
        Ok(text) => ring.add_revocations(&revoked, &text),
        Err(KeyError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Read a key or revocation file as `run` reads objects: not through a symlink, never blocking
/// on a FIFO, a regular file only, at most [`MAX_KEY_FILE_SIZE`] bytes.
pub fn read_text(sys: &dyn Sys, path: &Path) -> Result<String, KeyError> {
    sys.read_bounded(path, MAX_KEY_FILE_SIZE)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })
}

/// Keys built into the binary: every `*.pub` of the directory named by `BPF_PRELOAD_BUILTIN_KEYS`
/// when it was built (none when unset).
pub mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_keys.rs"));
}

/// The built-in keys, parsed.
pub fn builtin_ring() -> Result<KeyRing, KeyError> {
    let mut ring = KeyRing::default();
    for (name, pem) in builtin::KEYS {
        ring.add_pem(&format!("built-in:{name}"), pem)?;
    }
    Ok(ring)
}

/// What `run` trusts: the built-in keys plus every `*.pub` in `dir`, less the revoked ones.
pub fn trusted_from(sys: &dyn Sys, dir: &Path) -> Result<KeyRing, KeyError> {
    let mut ring = builtin_ring()?;
    load_dir_from(sys, &mut ring, dir)?;
    Ok(ring)
}

/// [`load_dir_from`] the real system, for the command-line tools.
pub fn load_dir(ring: &mut KeyRing, dir: &Path) -> Result<(), KeyError> {
    load_dir_from(&RealSys::new(false), ring, dir)
}

/// [`trusted_from`] the real system, for the command-line tools.
pub fn trusted(dir: &Path) -> Result<KeyRing, KeyError> {
    trusted_from(&RealSys::new(false), dir)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests make and read files directly
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    // Fixed seeds so unit tests are deterministic (the same keys as the format crate's tests).
    pub(crate) fn test_key(seed_byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed_byte; 32])
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bpf-preload-keys-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A FIFO, a socket, a symlink (dangling or not), a directory, an oversized or an
    /// unparsable `*.pub` in the keys directory is skipped at once, with its reason: `run` never
    /// blocks on it, never follows it, never reads it whole, and the other keys still count.
    #[test]
    fn a_bad_key_file_is_skipped_and_the_others_count() {
        let (_, public) = keypair_pem([5; 32]).unwrap();
        let good = KeyId::of(&parse_public_pem("g", &public).unwrap());
        type Make = Box<dyn Fn(&Path)>;
        let cases: Vec<(&str, &str, Make, String)> = vec![
            (
                "fifo",
                "x.pub",
                Box::new(|p| nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).unwrap()),
                "read {}: is a special file (refused)".into(),
            ),
            (
                "socket",
                "s.pub",
                Box::new(|p| {
                    std::os::unix::net::UnixListener::bind(p).unwrap();
                }),
                "read {}: is a socket (refused)".into(),
            ),
            (
                "symlink",
                "l.pub",
                Box::new(|p| std::os::unix::fs::symlink("/etc/hostname", p).unwrap()),
                "read {}: is a symbolic link (refused)".into(),
            ),
            (
                "dangling",
                "d.pub",
                Box::new(|p| std::os::unix::fs::symlink("/nonexistent/key.pub", p).unwrap()),
                "read {}: is a symbolic link (refused)".into(),
            ),
            (
                "directory",
                "dir.pub",
                Box::new(|p| std::fs::create_dir(p).unwrap()),
                "read {}: is a directory (refused)".into(),
            ),
            (
                "big",
                "big.pub",
                Box::new(|p| std::fs::write(p, vec![b'A'; 65 << 10]).unwrap()),
                "read {}: is 66560 bytes, more than the 65536 allowed".into(),
            ),
            (
                "garbage",
                "a\x1b.pub",
                Box::new(|p| std::fs::write(p, "hello\n").unwrap()),
                "public key {}: not an ed25519 SPKI PEM public key: ".into(),
            ),
        ];
        for (tag, file, make, want) in cases {
            let dir = scratch(tag);
            std::fs::write(dir.join("good.pub"), &public).unwrap();
            make(&dir.join(file));
            let mut ring = KeyRing::default();
            load_dir(&mut ring, &dir).unwrap();
            assert_eq!(ring.lookup(good).unwrap().id, good, "{tag}");
            let skipped: Vec<String> = ring.skipped().iter().map(|e| e.to_string()).collect();
            let want = want.replace("{}", &dir.join(file).display().to_string());
            assert_eq!(skipped.len(), 1, "{tag}: {skipped:?}");
            assert!(skipped[0].starts_with(&want), "{tag}: {skipped:?}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
        // The directory itself missing is not an error for `run` (built-in keys may be all).
        let mut ring = KeyRing::default();
        load_dir(&mut ring, Path::new("/nonexistent/bpf-preload-keys")).unwrap();
        assert!(ring.is_empty() && ring.skipped().is_empty());
    }

    /// A `revoked` that cannot be read exactly fails the whole ring: skipping it would trust
    /// the keys it revokes.
    #[test]
    fn an_unreadable_revocation_list_fails_the_ring() {
        let (_, public) = keypair_pem([5; 32]).unwrap();
        type Make = Box<dyn Fn(&Path)>;
        let cases: Vec<(&str, Make, &str)> = vec![
            (
                "revoked-fifo",
                Box::new(|p| nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).unwrap()),
                "read {}: is a special file (refused)",
            ),
            (
                "revoked-dir",
                Box::new(|p| std::fs::create_dir(p).unwrap()),
                "read {}: is a directory (refused)",
            ),
            (
                "revoked-dangling",
                Box::new(|p| std::os::unix::fs::symlink("/nonexistent/revoked", p).unwrap()),
                "read {}: is a symbolic link (refused)",
            ),
            (
                "revoked-typo",
                Box::new(|p| std::fs::write(p, "00112233aabbccd\n").unwrap()),
                "{}: line 1: \"00112233aabbccd\" is not a 16-hex-digit key id",
            ),
        ];
        for (tag, make, want) in cases {
            let dir = scratch(tag);
            std::fs::write(dir.join("good.pub"), &public).unwrap();
            make(&dir.join(REVOKED_FILE));
            let e = load_dir(&mut KeyRing::default(), &dir).unwrap_err();
            let path = dir.join(REVOKED_FILE).display().to_string();
            assert_eq!(e.to_string(), want.replace("{}", &path), "{tag}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
