//! Making the kernel's signature over a light-skeleton loader: the private key (RSA, ECDSA
//! P-256/P-384) checked against its certificate, and the detached CMS SignedData
//! `BPF_PROG_LOAD` checks. Sign time only (feature `sign`).

use der::asn1::{Any, OctetString, SetOfVec};
use der::Encode;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};

use super::{
    KernelCert, KeyKind, KsigError, ECDSA_WITH_SHA256, ID_DATA, ID_SHA256, ID_SIGNED_DATA,
    RSA_ENCRYPTION,
};

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

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    macro_rules! key {
        ($f:literal) => {
            include_bytes!(concat!("../../../keys/test-only/kernel/", $f)).as_slice()
        };
    }

    fn text(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
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
