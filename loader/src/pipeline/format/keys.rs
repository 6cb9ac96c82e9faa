//! Trusted keys, revocation and key ids.
//!
//! A key id is the first 8 bytes of SHA-256 over the raw 32-byte ed25519 public key, written as 16
//! lowercase hex digits. Public keys are SPKI PEM (`openssl pkey -pubout`), private keys PKCS#8
//! PEM (`openssl genpkey -algorithm ed25519`).
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::trailer::KEY_ID_LEN;

/// The revocation list inside a keys directory.
pub const REVOKED_FILE: &str = "revoked";
/// Extension of trusted public keys inside a keys directory.
pub const PUBLIC_KEY_EXT: &str = "pub";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("public key {source_name}: not an ed25519 SPKI PEM public key: {source}")]
    ParsePublic {
        source_name: String,
        #[source]
        source: ed25519_dalek::pkcs8::spki::Error,
    },
    #[error("private key {source_name}: not an ed25519 PKCS#8 PEM private key: {source}")]
    ParsePrivate {
        source_name: String,
        #[source]
        source: ed25519_dalek::pkcs8::Error,
    },
    #[error("encode private key: {0}")]
    EncodePrivate(#[source] ed25519_dalek::pkcs8::Error),
    #[error("encode public key: {0}")]
    EncodePublic(#[source] ed25519_dalek::pkcs8::spki::Error),
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: line {line}: {text:?} is not a 16-hex-digit key id", path.display())]
    RevokedLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self(id)
    }

    pub fn parse_hex(s: &str) -> Option<Self> {
        if s.len() != 2 * KEY_ID_LEN || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut id = [0u8; KEY_ID_LEN];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

pub fn parse_public_pem(source_name: &str, pem: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|source| KeyError::ParsePublic {
        source_name: source_name.to_owned(),
        source,
    })
}

pub fn parse_private_pem(source_name: &str, pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|source| KeyError::ParsePrivate {
        source_name: source_name.to_owned(),
        source,
    })
}

/// PEM texts of a new key pair from 32 random bytes: (private PKCS#8, public SPKI).
pub fn keypair_pem(seed: [u8; 32]) -> Result<(String, String), KeyError> {
    let sk = SigningKey::from_bytes(&seed);
    let private = sk
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(KeyError::EncodePrivate)?;
    let public = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(KeyError::EncodePublic)?;
    Ok((private.to_string(), public))
}

/// A key we trust, and where it came from (for messages).
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub id: KeyId,
    pub key: VerifyingKey,
    pub source: String,
}

/// Why a key id does not resolve to a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    #[error("key {0} is not trusted")]
    Unknown(KeyId),
    #[error("key {0} is revoked")]
    Revoked(KeyId),
}

#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<TrustedKey>,
    revoked: BTreeSet<KeyId>,
}

impl KeyRing {
    pub fn add(&mut self, source: &str, key: VerifyingKey) {
        let id = KeyId::of(&key);
        if !self.keys.iter().any(|k| k.id == id) {
            self.keys.push(TrustedKey {
                id,
                key,
                source: source.to_owned(),
            });
        }
    }

    pub fn add_pem(&mut self, source: &str, pem: &str) -> Result<(), KeyError> {
        self.add(source, parse_public_pem(source, pem)?);
        Ok(())
    }

    pub fn revoke(&mut self, id: KeyId) {
        self.revoked.insert(id);
    }

    /// Parse a revocation list: one key id per line, `#` starts a comment, blank lines ignored.
    /// A line that is not a key id is an error: a typo must not silently un-revoke a key.
    pub fn add_revocations(&mut self, path: &Path, text: &str) -> Result<(), KeyError> {
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let id = KeyId::parse_hex(line).ok_or_else(|| KeyError::RevokedLine {
                path: path.to_owned(),
                line: i + 1,
                text: line.to_owned(),
            })?;
            self.revoke(id);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The usable key for an id: revocation wins over trust.
    pub fn lookup(&self, id: KeyId) -> Result<&TrustedKey, Untrusted> {
        if self.revoked.contains(&id) {
            return Err(Untrusted::Revoked(id));
        }
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(Untrusted::Unknown(id))
    }

    /// Load every `*.pub` and the `revoked` file of a keys directory. A missing directory adds
    /// nothing (built-in keys may be all there is).
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), KeyError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(KeyError::Read {
                    path: dir.to_owned(),
                    source,
                })
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == PUBLIC_KEY_EXT))
            .collect();
        paths.sort();
        for path in paths {
            let pem = read_text(&path)?;
            self.add_pem(&path.display().to_string(), &pem)?;
        }
        let revoked = dir.join(REVOKED_FILE);
        match std::fs::read_to_string(&revoked) {
            Ok(text) => self.add_revocations(&revoked, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(KeyError::Read {
                path: revoked,
                source,
            }),
        }
    }
}

pub fn read_text(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
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
pub fn trusted(dir: &Path) -> Result<KeyRing, KeyError> {
    let mut ring = builtin_ring()?;
    ring.load_dir(dir)?;
    Ok(ring)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Fixed seeds so unit tests are deterministic.
    pub(crate) fn test_key(seed_byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed_byte; 32])
    }

    #[test]
    fn key_id_is_sha256_prefix_and_round_trips() {
        let vk = test_key(1).verifying_key();
        let id = KeyId::of(&vk);
        let digest = Sha256::digest(vk.as_bytes());
        assert_eq!(id.0, digest[..8]);
        let hex = id.to_string();
        assert_eq!(hex.len(), 16);
        assert_eq!(KeyId::parse_hex(&hex), Some(id));
        assert_eq!(KeyId::parse_hex("xyz"), None);
        assert_eq!(KeyId::parse_hex(&"g".repeat(16)), None);
    }

    #[test]
    fn pem_round_trip() {
        let (private, public) = keypair_pem([7; 32]).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let sk = parse_private_pem("p", &private).unwrap();
        let vk = parse_public_pem("q", &public).unwrap();
        assert_eq!(sk.verifying_key(), vk);
        assert!(parse_public_pem("q", &private).is_err());
        assert!(parse_private_pem("p", &public).is_err());
        assert!(parse_public_pem("garbage", "hello")
            .unwrap_err()
            .to_string()
            .contains("garbage"));
    }

    #[test]
    fn openssl_made_keys_parse() {
        // Made with: openssl genpkey -algorithm ed25519; openssl pkey -pubout
        let private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDsozDx5eEUIxya222tYj0XWY/+hXUrrhfRauiQqtBdu\n-----END PRIVATE KEY-----\n";
        let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAPox+VJ3dCCcH7KimaItXxN2oK6slN9myYqodThnRps8=\n-----END PUBLIC KEY-----\n";
        let sk = parse_private_pem("openssl", private).unwrap();
        let vk = parse_public_pem("openssl", public).unwrap();
        assert_eq!(sk.verifying_key(), vk);
    }

    #[test]
    fn revocation_wins_and_bad_lines_fail() {
        let vk = test_key(1).verifying_key();
        let id = KeyId::of(&vk);
        let mut ring = KeyRing::default();
        ring.add("t", vk);
        assert!(ring.lookup(id).is_ok());
        let other = KeyId::of(&test_key(2).verifying_key());
        assert_eq!(ring.lookup(other).unwrap_err(), Untrusted::Unknown(other));
        ring.add_revocations(
            Path::new("revoked"),
            &format!("# comment\n\n  {id}  # old key\n"),
        )
        .unwrap();
        assert_eq!(ring.lookup(id).unwrap_err(), Untrusted::Revoked(id));
        let e = ring
            .add_revocations(Path::new("revoked"), "0011\n")
            .unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
