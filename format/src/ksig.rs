//! Kernel signatures (the second signature of a fast path, docs/format.md): X.509 certificates
//! the kernel's `asymmetric` key type can use, and the CMS (PKCS#7) signature `BPF_PROG_LOAD`
//! checks — detached, SHA-256, no signed attributes, the signer named by the certificate's
//! subject key identifier, as `bpftool gen skeleton -S` makes it. From bytes alone: the loader
//! adds the certificates to its keyring, `sign` signs the loader instructions.

use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, DecodePem, Encode};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::Certificate;

use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
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

enum Secret {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// A private key and its certificate: makes the kernel's signature.
pub struct KernelSigner {
    cert: KernelCert,
    secret: Secret,
}

impl std::fmt::Debug for KernelSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelSigner")
            .field("kind", &self.cert.kind)
            .finish_non_exhaustive()
    }
}

fn parse_secret(kind: KeyKind, pem: &str) -> Option<Secret> {
    match kind {
        KeyKind::Rsa => rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
            .ok()
            .map(|k| Secret::Rsa(Box::new(k))),
        KeyKind::P256 => p256::SecretKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
            .ok()
            .map(|k| Secret::P256(k.into())),
        KeyKind::P384 => p384::SecretKey::from_pkcs8_pem(pem)
            .or_else(|_| p384::SecretKey::from_sec1_pem(pem))
            .ok()
            .map(|k| Secret::P384(k.into())),
    }
}

impl KernelSigner {
    /// The private key (PEM) and its certificate (PEM or DER); refused unless the kernel can
    /// verify with this certificate and the key is the certificate's.
    pub fn new(key_pem: &str, cert: &[u8]) -> Result<Self, KsigError> {
        let cert = KernelCert::parse(cert)?;
        let secret = parse_secret(cert.kind, key_pem).ok_or(KsigError::PrivateKey)?;
        let public = match &secret {
            Secret::Rsa(k) => rsa::RsaPublicKey::from(k.as_ref())
                .to_pkcs1_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|e| KsigError::Encode(e.to_string()))?,
            Secret::P256(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            Secret::P384(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
        };
        if public != cert.public_key {
            return Err(KsigError::KeyMismatch);
        }
        Ok(Self { cert, secret })
    }

    pub fn cert(&self) -> &KernelCert {
        &self.cert
    }

    /// The raw signature over SHA-256 of `content`, and its algorithm identifier.
    fn raw_signature(
        &self,
        content: &[u8],
    ) -> Result<(Vec<u8>, AlgorithmIdentifierOwned), KsigError> {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        let sign_err = |e: rsa::signature::Error| KsigError::Sign(e.to_string());
        let ecdsa = AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        };
        let digest = Sha256::digest(content);
        Ok(match &self.secret {
            Secret::Rsa(k) => {
                let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new(k.as_ref().clone());
                let sig = sk.try_sign(content).map_err(sign_err)?;
                (
                    sig.to_vec(),
                    AlgorithmIdentifierOwned {
                        oid: RSA_ENCRYPTION,
                        parameters: Some(Any::null()),
                    },
                )
            }
            Secret::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign_prehash(&digest).map_err(sign_err)?;
                (sig.to_der().as_bytes().to_vec(), ecdsa)
            }
            Secret::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign_prehash(&digest).map_err(sign_err)?;
                (sig.to_der().as_bytes().to_vec(), ecdsa)
            }
        })
    }

    /// DER CMS ContentInfo(SignedData) over `content`, detached: version 3, SHA-256, no
    /// certificates, no signed attributes, the signer named by subject key identifier.
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, KsigError> {
        let enc = |e: der::Error| KsigError::Encode(e.to_string());
        let (signature, signature_algorithm) = self.raw_signature(content)?;
        let sha256 = AlgorithmIdentifierOwned {
            oid: ID_SHA256,
            parameters: None,
        };
        let skid = OctetString::new(self.cert.skid.clone()).map_err(enc)?;
        let signer = SignerInfo {
            version: CmsVersion::V3,
            sid: SignerIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(skid)),
            digest_alg: sha256.clone(),
            signed_attrs: None,
            signature_algorithm,
            signature: OctetString::new(signature).map_err(enc)?,
            unsigned_attrs: None,
        };
        let mut digests = SetOfVec::new();
        digests.insert(sha256).map_err(enc)?;
        let mut signers = SetOfVec::new();
        signers.insert(signer).map_err(enc)?;
        let signed = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: digests,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            },
            certificates: None,
            crls: None,
            signer_infos: SignerInfos(signers),
        };
        let ci = ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed).map_err(enc)?,
        };
        ci.to_der().map_err(enc)
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

    fn text(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
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

    #[test]
    fn key_must_belong_to_the_certificate() {
        assert_eq!(
            KernelSigner::new(text(key!("other.key")), key!("rsa.crt")).unwrap_err(),
            KsigError::KeyMismatch
        );
        assert_eq!(
            KernelSigner::new(text(key!("p256.key")), key!("rsa.crt")).unwrap_err(),
            KsigError::PrivateKey
        );
        assert_eq!(
            KernelSigner::new(text(key!("rsa.key")), key!("ed25519.crt")).unwrap_err(),
            KsigError::Ed25519
        );
    }

    /// The CMS structure: detached, SHA-256, SKID signer, no attributes, no certificates, and
    /// a signature that verifies over the content (RSA here; openssl checks all kinds in
    /// tests/cli.rs).
    #[test]
    fn cms_structure_and_rsa_signature() {
        use rsa::signature::Verifier;
        let signer = KernelSigner::new(text(key!("rsa.key")), key!("rsa.crt")).unwrap();
        let content = b"loader instructions";
        let der = signer.sign(content).unwrap();
        let ci = ContentInfo::from_der(&der).unwrap();
        assert_eq!(ci.content_type, ID_SIGNED_DATA);
        let sd: SignedData = ci.content.decode_as().unwrap();
        assert_eq!(sd.version, CmsVersion::V3);
        assert_eq!(sd.encap_content_info.econtent, None, "detached");
        assert_eq!(sd.certificates, None);
        let si = sd.signer_infos.0.get(0).unwrap();
        assert_eq!(si.digest_alg.oid, ID_SHA256);
        assert_eq!(si.signed_attrs, None);
        assert_eq!(
            si.sid,
            SignerIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(
                OctetString::new(signer.cert().skid.clone()).unwrap()
            ))
        );
        let Secret::Rsa(k) = &signer.secret else {
            panic!("rsa")
        };
        let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(rsa::RsaPublicKey::from(k.as_ref()));
        let sig = rsa::pkcs1v15::Signature::try_from(si.signature.as_bytes()).unwrap();
        assert!(
            vk.verify(content, &sig).is_ok(),
            "the signature verifies over the content"
        );
        assert!(vk.verify(b"other bytes", &sig).is_err());
    }

    #[test]
    fn ecdsa_signatures_use_sha256() {
        for (k, c) in [
            (key!("p256.key"), key!("p256.crt")),
            (key!("p384.key"), key!("p384.crt")),
        ] {
            let signer = KernelSigner::new(text(k), c).unwrap();
            let der = signer.sign(b"x").unwrap();
            let sd: SignedData = ContentInfo::from_der(&der)
                .unwrap()
                .content
                .decode_as()
                .unwrap();
            let si = sd.signer_infos.0.get(0).unwrap();
            assert_eq!(si.signature_algorithm.oid, ECDSA_WITH_SHA256);
        }
    }
}
