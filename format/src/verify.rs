//! Bytes + trusted keys → [`VerifiedObject`] (pure). Signing lives here too, as its mirror image.
#![forbid(unsafe_code)]

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::elf::{self, ElfError, ElfInfo};
use crate::fast::{self, FastError, FastPath, Unconvertible};
use crate::keys::{KeyId, KeyRing, Untrusted};
use crate::name::ObjectName;
use crate::trailer::{self, TrailerError, ED25519_SIG_LEN, FOOTER_LEN};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Trailer(#[from] TrailerError),
    #[error("signed as {signed:?}, not {expected:?}")]
    NameMismatch { expected: String, signed: String },
    #[error(transparent)]
    Key(#[from] Untrusted),
    #[error("signature does not verify with key {0}")]
    BadSignature(KeyId),
    #[error("not signed yet: prepared for key {0} by `sign --message-out`, no signature attached (`sign --signature`)")]
    Placeholder(KeyId),
}

/// Why [`check`] refused an object. Displayed as `verify: …` or `check: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("verify: {0}")]
    Verify(#[from] VerifyError),
    #[error("check: {0}")]
    Elf(#[from] ElfError),
    #[error("check: {0}")]
    Fast(#[from] FastError),
}

/// Every check `run` makes on an object's bytes before the kernel sees them, in order: trailer
/// and name rules, the expected name, key (trusted, not revoked), signature, then the payload is
/// a 64-bit little-endian eBPF ELF (whose programs and maps are listed). `bpf-preload verify`
/// and the boot pipeline both call this, so `verify` says ok exactly when `run` would go on to
/// load. Pure.
pub fn check(
    bytes: Vec<u8>,
    expected: Option<&ObjectName>,
    ring: &KeyRing,
) -> Result<(VerifiedObject, ElfInfo), CheckError> {
    let mut verified = verify(bytes, expected, ring)?;
    let info = elf::describe(verified.payload())?;
    // The signature covers the section; only now are its bytes parsed.
    if let Some(section) = verified.fast_section() {
        let parsed = FastPath::parse(section, &info)?;
        // Signed before `sign` knew that libbpf would load this object differently: libbpf's
        // path, so that one signed file has one outcome.
        match fast::libbpf_only(&info) {
            Some(why) => verified.fast_declined = Some(why),
            None => verified.fast = Some(parsed),
        }
    }
    Ok((verified, info))
}

/// An object whose signature verified. Holds the very buffer that was read, once; the payload
/// handed to libbpf is a slice of it.
#[derive(Debug, Clone)]
pub struct VerifiedObject {
    pub name: ObjectName,
    pub key_id: KeyId,
    pub sha256: [u8; 32],
    /// Version 2, after [`check`]: the fast path (light skeleton) made at sign time.
    pub fast: Option<FastPath>,
    /// Version 2, after [`check`]: why its fast path is not taken ([`fast::libbpf_only`]).
    pub fast_declined: Option<Unconvertible>,
    bytes: Vec<u8>,
    payload_len: usize,
    /// Version 2: where the fast-path section is in `bytes`.
    fast_range: Option<(usize, usize)>,
}

impl VerifiedObject {
    /// Signed with a fast path (format version 2), whether or not it is then taken: the load
    /// path the signed object offers, which measured preload names in its event before loading.
    pub fn offers_fast_path(&self) -> bool {
        self.fast.is_some() || self.fast_declined.is_some()
    }

    /// The ELF object, exactly the bytes the signature covers.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[..self.payload_len]
    }

    /// The fast-path section's bytes (version 2), as signed; not parsed.
    pub fn fast_section(&self) -> Option<&[u8]> {
        self.fast_range.map(|(start, end)| &self.bytes[start..end])
    }

    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verify a signed buffer. With `expected`, the signed name must be that name: an object signed
/// as `audit` and renamed to `netpol.bpf.o` is refused.
pub fn verify(
    bytes: Vec<u8>,
    expected: Option<&ObjectName>,
    ring: &KeyRing,
) -> Result<VerifiedObject, VerifyError> {
    let parsed = trailer::parse(&bytes)?;
    if let Some(expected) = expected {
        if *expected != parsed.name {
            return Err(VerifyError::NameMismatch {
                expected: expected.to_string(),
                signed: parsed.name.to_string(),
            });
        }
    }
    let key_id = KeyId(parsed.footer.key_id);
    if parsed.signature == PLACEHOLDER_SIGNATURE {
        return Err(VerifyError::Placeholder(key_id));
    }
    let trusted = ring.lookup(key_id)?;
    let sha256: [u8; 32] = Sha256::digest(parsed.payload).into();
    let fast_sha256: Option<[u8; 32]> = parsed.fast.map(|f| Sha256::digest(f).into());
    let message =
        trailer::signed_message(&parsed.footer, &parsed.name, &sha256, fast_sha256.as_ref());
    let signature = Signature::from_bytes(&parsed.signature);
    trusted
        .key
        .verify_strict(&message, &signature)
        .map_err(|_| VerifyError::BadSignature(key_id))?;
    let (name, payload_len) = (parsed.name, parsed.payload.len());
    let fast_range = parsed.fast.map(|f| (payload_len, payload_len + f.len()));
    Ok(VerifiedObject {
        name,
        key_id,
        sha256,
        fast: None,
        fast_declined: None,
        bytes,
        payload_len,
        fast_range,
    })
}

/// The payload of a file: the whole file when unsigned, the part before the trailer when signed.
/// A damaged trailer is an error (we will not guess where the object ends).
pub fn payload_of(buf: &[u8]) -> Result<&[u8], TrailerError> {
    match trailer::parse(buf) {
        Ok(p) => Ok(p.payload),
        Err(TrailerError::Unsigned) => Ok(buf),
        Err(e) => Err(e),
    }
}

/// Sign an object as `name`. An existing trailer (and fast-path section) is replaced, never
/// stacked.
pub fn sign(buf: &[u8], name: &ObjectName, key: &SigningKey) -> Result<Vec<u8>, TrailerError> {
    sign_with(buf, name, key, None)
}

/// [`sign`], with a fast-path section (`docs/format.md`, version 2) when `fast` is given.
///
/// The same steps as the detached flow ([`prepare`], an external signature, [`attach`]), with
/// the key at hand: both produce the same bytes (ed25519 is deterministic).
pub fn sign_with(
    buf: &[u8],
    name: &ObjectName,
    key: &SigningKey,
    fast: Option<&[u8]>,
) -> Result<Vec<u8>, TrailerError> {
    let key_id = KeyId::of(&key.verifying_key());
    let Prepared {
        mut object,
        message,
    } = prepare(buf, name, key_id, fast)?;
    put_signature(&mut object, &key.sign(&message).to_bytes());
    Ok(object)
}

/// The signature bytes of a prepared object before one is attached: all zero, which no
/// ed25519 signature made by `verify_strict`'s rules can be (its R would be a small-order
/// point), so a prepared object can never verify and [`verify`] names it.
pub const PLACEHOLDER_SIGNATURE: [u8; ED25519_SIG_LEN] = [0; ED25519_SIG_LEN];

/// The first half of a detached signature: the object with its whole trailer (name, key id,
/// fast-path section) and a placeholder signature, and the exact message the ed25519
/// signature must cover (`docs/format.md`, "What is signed").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub object: Vec<u8>,
    pub message: Vec<u8>,
}

/// Prepare `buf` (its payload: an existing trailer is dropped, as [`sign`] does) to be signed
/// as `name` by the key `key_id`, elsewhere.
pub fn prepare(
    buf: &[u8],
    name: &ObjectName,
    key_id: KeyId,
    fast: Option<&[u8]>,
) -> Result<Prepared, TrailerError> {
    let payload = payload_of(buf)?;
    let footer = trailer::new_footer(payload.len(), name, key_id.0, fast.is_some());
    let sha256: [u8; 32] = Sha256::digest(payload).into();
    let fast_sha256: Option<[u8; 32]> = fast.map(|f| Sha256::digest(f).into());
    let message = trailer::signed_message(&footer, name, &sha256, fast_sha256.as_ref());
    let object = trailer::encode(
        payload,
        fast.unwrap_or_default(),
        name,
        &PLACEHOLDER_SIGNATURE,
        &footer,
    );
    Ok(Prepared { object, message })
}

/// Why a detached signature was not attached. Nothing is written when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Trailer(#[from] TrailerError),
    #[error("signature is {0} bytes, an ed25519 signature is {ED25519_SIG_LEN} (raw, as `openssl pkeyutl -sign -rawin` writes it)")]
    SignatureLength(usize),
    #[error("the object was prepared for key {prepared}, the public key given is {given}")]
    WrongKey { prepared: KeyId, given: KeyId },
    #[error("signature does not verify over this object's message with key {0}: made over other bytes (another object, name or key id) or with another private key")]
    BadSignature(KeyId),
}

/// The second half: check `signature` against `key` over the message of the prepared (or
/// already signed) object `prepared`, recomputed from its own bytes, and return the object with
/// the signature in place. The key must be the one the object was prepared for.
pub fn attach(
    prepared: &[u8],
    key: &VerifyingKey,
    signature: &[u8],
) -> Result<Vec<u8>, AttachError> {
    let parsed = trailer::parse(prepared)?;
    let (prepared_for, given) = (KeyId(parsed.footer.key_id), KeyId::of(key));
    if prepared_for != given {
        return Err(AttachError::WrongKey {
            prepared: prepared_for,
            given,
        });
    }
    let sig: [u8; ED25519_SIG_LEN] = signature
        .try_into()
        .map_err(|_| AttachError::SignatureLength(signature.len()))?;
    let sha256: [u8; 32] = Sha256::digest(parsed.payload).into();
    let fast_sha256: Option<[u8; 32]> = parsed.fast.map(|f| Sha256::digest(f).into());
    let message =
        trailer::signed_message(&parsed.footer, &parsed.name, &sha256, fast_sha256.as_ref());
    key.verify_strict(&message, &Signature::from_bytes(&sig))
        .map_err(|_| AttachError::BadSignature(given))?;
    let mut out = prepared.to_vec();
    put_signature(&mut out, &sig);
    Ok(out)
}

/// Write the signature into a buffer [`trailer::parse`] accepted (it sits just before the
/// footer).
fn put_signature(object: &mut [u8], sig: &[u8; ED25519_SIG_LEN]) {
    let end = object.len() - FOOTER_LEN;
    object[end - ED25519_SIG_LEN..end].copy_from_slice(sig);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::test_key;

    fn name(s: &str) -> ObjectName {
        ObjectName::parse(s).unwrap()
    }

    fn ring_with(seed: u8) -> KeyRing {
        let mut ring = KeyRing::default();
        ring.add("test", test_key(seed).verifying_key());
        ring
    }

    const PAYLOAD: &[u8] = b"\x7fELF pretend object bytes";

    #[test]
    fn sign_then_verify() {
        let signed = sign(PAYLOAD, &name("counter"), &test_key(1)).unwrap();
        let v = verify(signed, Some(&name("counter")), &ring_with(1)).unwrap();
        assert_eq!(v.payload(), PAYLOAD);
        assert_eq!(v.name.as_str(), "counter");
        assert_eq!(v.key_id, KeyId::of(&test_key(1).verifying_key()));
        assert_eq!(v.sha256_hex().len(), 64);
    }

    /// The detached flow: prepare, sign the message elsewhere, attach. Same bytes as `sign`;
    /// the prepared object alone never verifies; a signature over another object's message, by
    /// another key, or cut short is refused before anything is returned.
    #[test]
    fn detached_signature_gives_the_same_bytes_and_checks_before_attaching() {
        let (k1, k2) = (test_key(1), test_key(2));
        let id1 = KeyId::of(&k1.verifying_key());
        for fast in [None, Some(b"FAST".as_slice())] {
            let p = prepare(PAYLOAD, &name("counter"), id1, fast).unwrap();
            assert_eq!(
                verify(p.object.clone(), None, &ring_with(1)).unwrap_err(),
                VerifyError::Placeholder(id1)
            );
            let sig = k1.sign(&p.message).to_bytes();
            let signed = attach(&p.object, &k1.verifying_key(), &sig).unwrap();
            assert_eq!(
                signed,
                sign_with(PAYLOAD, &name("counter"), &k1, fast).unwrap()
            );
            verify(signed.clone(), Some(&name("counter")), &ring_with(1)).unwrap();
            // Re-attaching to the signed object is the same object.
            assert_eq!(attach(&signed, &k1.verifying_key(), &sig).unwrap(), signed);

            // The message of another name, or another payload, is useless here.
            for other in [
                prepare(PAYLOAD, &name("audit"), id1, fast).unwrap(),
                prepare(b"\x7fELF other", &name("counter"), id1, fast).unwrap(),
            ] {
                assert_ne!(other.message, p.message);
                let sig = k1.sign(&other.message).to_bytes();
                assert_eq!(
                    attach(&p.object, &k1.verifying_key(), &sig).unwrap_err(),
                    AttachError::BadSignature(id1)
                );
            }
            // Another private key, with the prepared key's public key: bad signature; with
            // its own public key: not the key the object was prepared for.
            let sig2 = k2.sign(&p.message).to_bytes();
            assert_eq!(
                attach(&p.object, &k1.verifying_key(), &sig2).unwrap_err(),
                AttachError::BadSignature(id1)
            );
            assert_eq!(
                attach(&p.object, &k2.verifying_key(), &sig2).unwrap_err(),
                AttachError::WrongKey {
                    prepared: id1,
                    given: KeyId::of(&k2.verifying_key())
                }
            );
            assert_eq!(
                attach(&p.object, &k1.verifying_key(), &sig[..63]).unwrap_err(),
                AttachError::SignatureLength(63)
            );
            assert_eq!(
                attach(PAYLOAD, &k1.verifying_key(), &sig).unwrap_err(),
                AttachError::Trailer(TrailerError::Unsigned)
            );
        }
    }

    #[test]
    fn version_2_signs_the_fast_section_too() {
        let ring = ring_with(1);
        let signed = sign_with(PAYLOAD, &name("counter"), &test_key(1), Some(b"FAST")).unwrap();
        let v = verify(signed.clone(), Some(&name("counter")), &ring).unwrap();
        assert_eq!(
            (v.payload(), v.fast_section()),
            (PAYLOAD, Some(b"FAST".as_slice()))
        );
        // Every byte of the section (and of the rest) is covered.
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x01;
            assert!(
                verify(bad, None, &ring).is_err(),
                "flip at byte {i} accepted"
            );
        }
        // Re-signing without a fast path drops the section: version 1 again.
        let plain = sign(&signed, &name("counter"), &test_key(1)).unwrap();
        assert_eq!(
            plain,
            sign(PAYLOAD, &name("counter"), &test_key(1)).unwrap()
        );
        // A version-1 signature grafted onto the same payload with a section does not verify.
        let v1 = sign(PAYLOAD, &name("counter"), &test_key(1)).unwrap();
        let mut grafted = signed.clone();
        let sig_at = grafted.len() - FOOTER_LEN - 64;
        grafted[sig_at..sig_at + 64].copy_from_slice(&v1[v1.len() - FOOTER_LEN - 64..][..64]);
        assert_eq!(
            verify(grafted, None, &ring).unwrap_err(),
            VerifyError::BadSignature(KeyId::of(&test_key(1).verifying_key()))
        );
    }

    #[test]
    fn resigning_replaces_the_trailer() {
        let once = sign(PAYLOAD, &name("a"), &test_key(1)).unwrap();
        let twice = sign(&once, &name("b"), &test_key(2)).unwrap();
        assert_eq!(twice.len(), once.len());
        let v = verify(twice, None, &ring_with(2)).unwrap();
        assert_eq!((v.payload(), v.name.as_str()), (PAYLOAD, "b"));
    }

    #[test]
    fn every_single_byte_flip_is_refused() {
        let signed = sign(PAYLOAD, &name("counter"), &test_key(1)).unwrap();
        let ring = ring_with(1);
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x01;
            assert!(
                verify(bad, Some(&name("counter")), &ring).is_err(),
                "flip at byte {i} accepted"
            );
        }
    }

    #[test]
    fn refusals_name_their_reason() {
        let signed = sign(PAYLOAD, &name("audit"), &test_key(1)).unwrap();
        let other_bytes = sign(b"\x7fELF other object", &name("audit"), &test_key(1)).unwrap();
        // A valid signature over other bytes: graft the trailer of one onto the payload of another.
        let mut grafted = PAYLOAD.to_vec();
        grafted.extend_from_slice(&other_bytes[b"\x7fELF other object".len()..]);
        let mut revoked = ring_with(1);
        revoked.revoke(KeyId::of(&test_key(1).verifying_key()));
        type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, KeyRing, &'a str);
        let cases: Vec<Case> = vec![
            ("unsigned", PAYLOAD.to_vec(), None, ring_with(1), "unsigned"),
            ("empty", vec![], None, ring_with(1), "unsigned"),
            (
                "wrong key",
                signed.clone(),
                None,
                ring_with(2),
                "is not trusted",
            ),
            (
                "no keys",
                signed.clone(),
                None,
                KeyRing::default(),
                "is not trusted",
            ),
            ("revoked", signed.clone(), None, revoked, "is revoked"),
            (
                "name swap",
                signed.clone(),
                Some("netpol"),
                ring_with(1),
                "signed as \"audit\", not \"netpol\"",
            ),
            (
                "grafted",
                grafted,
                None,
                ring_with(1),
                "lengths do not add up",
            ),
        ];
        for (what, buf, expected, ring, want) in cases {
            let expected = expected.map(name);
            let e = verify(buf, expected.as_ref(), &ring)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{what}: {e}");
        }
    }

    #[test]
    fn valid_signature_over_other_bytes_of_same_length_is_refused() {
        let signed = sign(b"\x7fELF AAAA", &name("x"), &test_key(1)).unwrap();
        let other = sign(b"\x7fELF BBBB", &name("x"), &test_key(1)).unwrap();
        let mut mixed = other[..9].to_vec();
        mixed.extend_from_slice(&signed[9..]);
        assert_eq!(
            verify(mixed, None, &ring_with(1)).unwrap_err(),
            VerifyError::BadSignature(KeyId::of(&test_key(1).verifying_key()))
        );
    }

    #[test]
    fn check_refuses_signed_payloads_run_would_refuse() {
        let ring = ring_with(1);
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let cases: Vec<(&str, &[u8], CheckError)> = vec![
            ("empty", b"", CheckError::Elf(ElfError::Empty)),
            (
                "shell script",
                b"#!/bin/sh\necho hi\n",
                CheckError::Elf(ElfError::NotElf),
            ),
            (
                "x86 ELF",
                &me[..4096],
                CheckError::Elf(ElfError::NotBpf("X86_64".into())),
            ),
            (
                "32-bit ELF",
                b"\x7fELF\x01\x01\x01",
                CheckError::Elf(ElfError::WrongClass),
            ),
        ];
        for (what, payload, want) in cases {
            let signed = sign(payload, &name("obj"), &test_key(1)).unwrap();
            // The signature is fine: only the ELF check refuses it.
            assert!(
                verify(signed.clone(), Some(&name("obj")), &ring).is_ok(),
                "{what}"
            );
            assert_eq!(
                check(signed, Some(&name("obj")), &ring).unwrap_err(),
                want,
                "{what}"
            );
        }
        let signed = sign(b"#!/bin/sh\n", &name("obj"), &test_key(1)).unwrap();
        assert_eq!(
            check(signed, Some(&name("other")), &ring).unwrap_err(),
            CheckError::Verify(VerifyError::NameMismatch {
                expected: "other".into(),
                signed: "obj".into()
            })
        );
        assert_eq!(
            check(PAYLOAD.to_vec(), None, &ring)
                .unwrap_err()
                .to_string(),
            "verify: no signature trailer (unsigned object)"
        );
    }

    #[test]
    fn damaged_trailer_is_not_resigned() {
        let mut signed = sign(PAYLOAD, &name("a"), &test_key(1)).unwrap();
        let n = signed.len();
        signed[n - FOOTER_LEN + 16] = 9; // version
        assert_eq!(
            sign(&signed, &name("a"), &test_key(1)).unwrap_err(),
            TrailerError::UnknownVersion(9)
        );
    }
}
