//! Kernel signatures (the second signature of a fast path, docs/format.md): X.509 certificates
//! the kernel's `asymmetric` key type can use, and the CMS (PKCS#7) signature `BPF_PROG_LOAD`
//! checks — detached, SHA-256, no signed attributes, the signer named by the certificate's
//! subject key identifier, as `bpftool gen skeleton -S` makes it. From bytes alone: the loader
//! adds the certificates to its keyring, `sign` signs the loader instructions.

use der::asn1::ObjectIdentifier;
use der::{Decode, DecodePem, Encode};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::Certificate;

/// Making kernel signatures (`sign --kernel-key`): RSA, ECDSA and CMS, sign time only — the
/// initramfs build (`--no-default-features`) has none of it.
#[cfg(feature = "sign")]
mod signer;
#[cfg(feature = "sign")]
pub use signer::KernelSigner;

#[cfg_attr(not(feature = "sign"), allow(dead_code))]
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
#[cfg_attr(not(feature = "sign"), allow(dead_code))]
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
#[cfg_attr(not(feature = "sign"), allow(dead_code))]
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
#[cfg_attr(not(feature = "sign"), allow(dead_code))]
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// Why a certificate or key cannot make or check kernel signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KsigError {
    #[error("not an X.509 certificate (PEM or DER): {0}")]
    Certificate(String),
    #[error("Ed25519 certificate: the kernel has no Ed25519 for BPF signatures (use RSA or ECDSA P-256/P-384)")]
    Ed25519,
    #[error("Ed448 certificate: the kernel cannot verify Ed448 (use RSA or ECDSA P-256/P-384)")]
    Ed448,
    #[error("DSA certificate: the kernel cannot verify DSA (use RSA or ECDSA P-256/P-384)")]
    Dsa,
    #[error("unsupported public key algorithm {0} (use RSA or ECDSA P-256/P-384)")]
    Algorithm(String),
    #[error("unsupported elliptic curve {0} (use P-256 or P-384)")]
    Curve(String),
    #[error("certificate has no subject key identifier (the signature names its signer by it)")]
    NoSubjectKeyIdentifier,
    #[error("unreadable subject key identifier")]
    BadSubjectKeyIdentifier,
    #[error("not a private key (PEM PKCS#8, PKCS#1 RSA or SEC1 EC) of a supported kind")]
    PrivateKey,
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("signing: {0}")]
    Sign(String),
    #[error("encoding the signature: {0}")]
    Encode(String),
}

/// The public key kinds the kernel verifies BPF signatures with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    P256,
    P384,
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Rsa => "rsa",
            Self::P256 => "ecdsa-p256",
            Self::P384 => "ecdsa-p384",
        })
    }
}

/// A certificate the kernel can use: its DER (what `add_key("asymmetric", …)` takes), kind and
/// subject key identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCert {
    pub der: Vec<u8>,
    pub kind: KeyKind,
    pub skid: Vec<u8>,
    /// The raw subjectPublicKey bits (RSA: PKCS#1 public key; EC: the uncompressed point).
    public_key: Vec<u8>,
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

impl KernelCert {
    /// A certificate, PEM or DER, checked for what the kernel needs.
    pub fn parse(bytes: &[u8]) -> Result<Self, KsigError> {
        let cert = if is_pem(bytes) {
            Certificate::from_pem(bytes)
        } else {
            Certificate::from_der(bytes)
        }
        .map_err(|e| KsigError::Certificate(e.to_string()))?;
        let der = cert
            .to_der()
            .map_err(|e| KsigError::Certificate(e.to_string()))?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let oid = spki.algorithm.oid;
        let kind = match oid {
            RSA_ENCRYPTION => KeyKind::Rsa,
            EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                match curve {
                    Some(SECP256R1) => KeyKind::P256,
                    Some(SECP384R1) => KeyKind::P384,
                    Some(c) => return Err(KsigError::Curve(c.to_string())),
                    None => return Err(KsigError::Curve("(none)".into())),
                }
            }
            ED25519 => return Err(KsigError::Ed25519),
            ED448 => return Err(KsigError::Ed448),
            DSA => return Err(KsigError::Dsa),
            other => return Err(KsigError::Algorithm(other.to_string())),
        };
        let ext = cert
            .tbs_certificate
            .extensions
            .as_ref()
            .and_then(|exts| exts.iter().find(|e| e.extn_id == SUBJECT_KEY_IDENTIFIER))
            .ok_or(KsigError::NoSubjectKeyIdentifier)?;
        let skid = SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes())
            .map_err(|_| KsigError::BadSubjectKeyIdentifier)?;
        let skid = skid.0.as_bytes().to_vec();
        if skid.is_empty() {
            return Err(KsigError::NoSubjectKeyIdentifier);
        }
        let public_key = spki.subject_public_key.raw_bytes().to_vec();
        Ok(Self {
            der,
            kind,
            skid,
            public_key,
        })
    }
}

/// What the kernel checks the signature of a light-skeleton loader over (7.x, the scheme of
/// Debian's 7.3): the loader's instructions followed by the contents of the exclusive, frozen
/// array map at `fd_array[0]` (its data), with `fd_array_cnt` = 1 (docs/format.md).
pub fn signed_content(insns: &[u8], data: &[u8]) -> Vec<u8> {
    [insns, data].concat()
}

/// The SHA-256 the loader's data map must be created exclusive to (`excl_prog_hash`).
pub fn insns_hash(insns: &[u8]) -> [u8; 32] {
    Sha256::digest(insns).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! key {
        ($f:literal) => {
            include_bytes!(concat!("../../keys/test-only/kernel/", $f)).as_slice()
        };
    }

    #[test]
    fn certificates_the_kernel_can_use() {
        assert_eq!(
            KernelCert::parse(key!("rsa.crt")).unwrap().kind,
            KeyKind::Rsa
        );
        assert_eq!(
            KernelCert::parse(key!("p256.crt")).unwrap().kind,
            KeyKind::P256
        );
        assert_eq!(
            KernelCert::parse(key!("p384.crt")).unwrap().kind,
            KeyKind::P384
        );
        // DER and PEM of one certificate are the same certificate.
        assert_eq!(
            KernelCert::parse(key!("p256.der")).unwrap(),
            KernelCert::parse(key!("p256.crt")).unwrap()
        );
        assert_eq!(
            KernelCert::parse(key!("rsa.crt")).unwrap().skid.len(),
            20,
            "openssl's subjectKeyIdentifier=hash is a SHA-1"
        );
    }

    #[test]
    fn certificates_the_kernel_cannot_use_are_refused_with_the_reason() {
        assert_eq!(
            KernelCert::parse(key!("ed25519.crt")),
            Err(KsigError::Ed25519)
        );
        assert_eq!(
            KernelCert::parse(key!("noskid.crt")),
            Err(KsigError::NoSubjectKeyIdentifier)
        );
        assert!(matches!(
            KernelCert::parse(b"not a certificate"),
            Err(KsigError::Certificate(_))
        ));
        assert!(matches!(
            KernelCert::parse(key!("rsa.key")),
            Err(KsigError::Certificate(_))
        ));
    }
}
