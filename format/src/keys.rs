//! Trusted keys, revocation and key ids.
//!
//! A key id is the first 8 bytes of SHA-256 over the raw 32-byte ed25519 public key, written as 16
//! lowercase hex digits. Public keys are SPKI PEM (`openssl pkey -pubout`), private keys PKCS#8
//! PEM (`openssl genpkey -algorithm ed25519`).
//!
//! Keys from PEM bytes only: reading a keys directory is the loader's (`bpf_preload::keys`).
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::pkcs8::spki::der::asn1::ObjectIdentifier;
use ed25519_dalek::pkcs8::spki::der::pem::{self, LineEnding};
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::spki::der::Decode;
use ed25519_dalek::pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, PrivateKeyInfo};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::trailer::KEY_ID_LEN;

/// A PKCS#8 v1 Ed25519 private key (RFC 8410) is this DER prefix followed by the 32-byte seed:
/// exactly what `openssl genpkey -algorithm ed25519` writes.
const PKCS8_V1_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{what} key {source_name}: an {algorithm} key: only Ed25519 keys are supported")]
    Algorithm {
        what: &'static str,
        source_name: String,
        algorithm: String,
    },
    #[error("{what} key {source_name}: {count} PEM blocks: one key per file, not more than one PEM block")]
    PemBlocks {
        what: &'static str,
        source_name: String,
        count: usize,
    },
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
    EncodePrivate(ed25519_dalek::pkcs8::spki::der::pem::Error),
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

/// The Ed25519 algorithm OID (RFC 8410).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A person's name for the algorithm of a key that is not Ed25519 (for the message refusing it).
fn algorithm_name(alg: &AlgorithmIdentifierRef<'_>) -> String {
    let curve = || {
        alg.parameters
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .map(|c| c.to_string())
    };
    let name = match alg.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.113" => "Ed448",
        "1.2.840.10045.2.1" => {
            return match curve().as_deref() {
                Some("1.2.840.10045.3.1.7") => "EC P-256".into(),
                Some("1.3.132.0.34") => "EC P-384".into(),
                Some("1.3.132.0.35") => "EC P-521".into(),
                Some("1.3.132.0.10") => "EC secp256k1".into(),
                Some(other) => format!("EC (curve OID {other})"),
                None => "EC".into(),
            }
        }
        other => return format!("unknown algorithm (OID {other})"),
    };
    name.into()
}

/// Look at a PEM text before the Ed25519 decoder does, to say precisely what is wrong with it:
/// more than one PEM block, or a key of another algorithm. `Ok` means "let the decoder try".
fn precheck(what: &'static str, source_name: &str, text: &str) -> Result<(), KeyError> {
    let count = text.matches("-----BEGIN ").count();
    if count > 1 {
        return Err(KeyError::PemBlocks {
            what,
            source_name: source_name.to_owned(),
            count,
        });
    }
    let Ok((label, der)) = pem::decode_vec(text.trim().as_bytes()) else {
        return Ok(());
    };
    let der = Zeroizing::new(der);
    let algorithm = match label {
        "PUBLIC KEY" => SubjectPublicKeyInfoRef::from_der(&der)
            .ok()
            .map(|spki| spki.algorithm),
        "PRIVATE KEY" => PrivateKeyInfo::from_der(&der).ok().map(|pk| pk.algorithm),
        "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => {
            return Err(KeyError::Algorithm {
                what,
                source_name: source_name.to_owned(),
                algorithm: "RSA".into(),
            })
        }
        "EC PRIVATE KEY" => {
            return Err(KeyError::Algorithm {
                what,
                source_name: source_name.to_owned(),
                algorithm: "EC".into(),
            })
        }
        _ => None,
    };
    match algorithm {
        Some(alg) if alg.oid != OID_ED25519 => Err(KeyError::Algorithm {
            what,
            source_name: source_name.to_owned(),
            algorithm: algorithm_name(&alg),
        }),
        _ => Ok(()),
    }
}

pub fn parse_public_pem(source_name: &str, pem: &str) -> Result<VerifyingKey, KeyError> {
    precheck("public", source_name, pem)?;
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|source| KeyError::ParsePublic {
        source_name: source_name.to_owned(),
        source,
    })
}

pub fn parse_private_pem(source_name: &str, pem: &str) -> Result<SigningKey, KeyError> {
    precheck("private", source_name, pem)?;
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|source| KeyError::ParsePrivate {
        source_name: source_name.to_owned(),
        source,
    })
}

/// PEM texts of a new key pair from 32 random bytes: (private PKCS#8 v1, public SPKI), the
/// forms `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write. (PKCS#8 v2, with
/// the public key embedded, is refused by OpenSSL 3.0 and python-cryptography.)
pub fn keypair_pem(seed: [u8; 32]) -> Result<(Zeroizing<String>, String), KeyError> {
    let sk = SigningKey::from_bytes(&seed);
    let mut der = Zeroizing::new(Vec::with_capacity(48));
    der.extend_from_slice(&PKCS8_V1_ED25519_PREFIX);
    der.extend_from_slice(&seed);
    let private = pem::encode_string("PRIVATE KEY", LineEnding::LF, &der)
        .map(Zeroizing::new)
        .map_err(KeyError::EncodePrivate)?;
    let public = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(KeyError::EncodePublic)?;
    Ok((private, public))
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
    /// `*.pub` files of the keys directory that could not be read or parsed: left out, the
    /// other keys still count (the loader's `keys::load_dir`).
    skipped: Vec<Arc<KeyError>>,
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

    /// The key files left out when the ring was loaded, each with why (the error names the file).
    pub fn skipped(&self) -> &[Arc<KeyError>] {
        &self.skipped
    }

    /// Remember a key file that was left out (unreadable, or not a key), with why; see
    /// [`KeyRing::skipped`].
    pub fn skip(&mut self, e: KeyError) {
        self.skipped.push(Arc::new(e));
    }
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
    fn keygen_writes_pkcs8_v1_like_openssl() {
        // The openssl-made key of `openssl_made_keys_parse`: keygen from its seed is that text.
        let openssl = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDsozDx5eEUIxya222tYj0XWY/+hXUrrhfRauiQqtBdu\n-----END PRIVATE KEY-----\n";
        let seed = parse_private_pem("openssl", openssl).unwrap().to_bytes();
        let (private, public) = keypair_pem(seed).unwrap();
        assert_eq!(private.as_str(), openssl);
        assert_eq!(public, "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAPox+VJ3dCCcH7KimaItXxN2oK6slN9myYqodThnRps8=\n-----END PUBLIC KEY-----\n");
    }

    /// Keys of other algorithms, made with `openssl genpkey` (and `pkey -pubout`), are named.
    #[test]
    fn other_algorithms_are_named() {
        const ED448_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMEMwBQYDK2VxAzoAyEHr6zFYcem1u+Mru8xZn6UT+Dc4Qta54RCcLAi6lFGyPo/p\nsdvZxYdAmZjPc2ZOIMTnoRB5wlyA\n-----END PUBLIC KEY-----\n";
        const P256_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqsfix58WytP3tG7gVYriP3L5RDwr\nm61HX3rep/mbBACHxtrvO18N6qNBbMSl8SZVJByR6Lt3N4BxVeeEFmDoMQ==\n-----END PUBLIC KEY-----\n";
        const X25519_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEA/kJBK1qKCTsZOea3mF18zipxLKYs9PcxpNwHjM+KuTc=\n-----END PUBLIC KEY-----\n";
        const RSA_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDVv1Ym2KWxMbCE2AfEla3ucmYj\n0dAsl2BiUTPC4Y4ue4EStKzXyU0UO4sJd31ZHmi9Go9YTBl0Abk6iT0DPge3nDwb\nJCBBMRbjVNX+kldQQ4Ncd2nk8fdMBf/18OisyEHVSTK+upG5vewnf7DuRaLIQD0a\nVKTld7DfR5r5MIQoTwIDAQAB\n-----END PUBLIC KEY-----\n";
        const ED448_PRIV: &str = "-----BEGIN PRIVATE KEY-----\nMEcCAQAwBQYDK2VxBDsEOWz/dmAXZ2+YnkTJ66r67BnjltXLF2WsZz/tCpDo1rAM\nsV7MkKhNuaGlVfL0oGBXwsPzQhfQP9LJmA==\n-----END PRIVATE KEY-----\n";
        const P256_PRIV: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgP5SS/QYV83I6kaDk\nAVRo7zGoV5MWNClN/s6ZHBtwcgmhRANCAASqx+LHnxbK0/e0buBViuI/cvlEPCub\nrUdfet6n+ZsEAIfG2u87Xw3qo0FsxKXxJlUkHJHou3c3gHFV54QWYOgx\n-----END PRIVATE KEY-----\n";
        let public_cases = [
            (
                ED448_PUB,
                "public key k: an Ed448 key: only Ed25519 keys are supported",
            ),
            (
                P256_PUB,
                "public key k: an EC P-256 key: only Ed25519 keys are supported",
            ),
            (
                X25519_PUB,
                "public key k: an X25519 key: only Ed25519 keys are supported",
            ),
            (
                RSA_PUB,
                "public key k: an RSA key: only Ed25519 keys are supported",
            ),
        ];
        for (pem, want) in public_cases {
            assert_eq!(parse_public_pem("k", pem).unwrap_err().to_string(), want);
        }
        let private_cases = [
            (
                ED448_PRIV,
                "private key k: an Ed448 key: only Ed25519 keys are supported",
            ),
            (
                P256_PRIV,
                "private key k: an EC P-256 key: only Ed25519 keys are supported",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "private key k: an RSA key: only Ed25519 keys are supported",
            ),
        ];
        for (pem, want) in private_cases {
            assert_eq!(parse_private_pem("k", pem).unwrap_err().to_string(), want);
        }
        let (_, ed25519) = keypair_pem([1; 32]).unwrap();
        let two = format!("{ed25519}{ED448_PUB}");
        assert_eq!(
            parse_public_pem("k", &two).unwrap_err().to_string(),
            "public key k: 2 PEM blocks: one key per file, not more than one PEM block"
        );
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
