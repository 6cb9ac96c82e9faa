//! Known-answer tests of the signed object format: fixed objects signed with the published test
//! key (`vectors/`, see its README). Round trips cannot catch a change made on both sides of the
//! format; these fail on any byte of it. That signing reproduces the version-2 vector, whose
//! fast-path section libbpf makes, is tested in the loader (`bpf_preload::fast_path_section`).

use crate::keys::{parse_private_pem, parse_public_pem, KeyRing};
use crate::name::ObjectName;
use crate::verify::{self, hex};

const ELF: &[u8] = include_bytes!("vectors/counter.elf");
const V1: &[u8] = include_bytes!("vectors/counter.v1.signed");
const V2: &[u8] = include_bytes!("vectors/counter.v2.signed");
const PRIVATE: &str = include_str!("../../keys/test-only/signing-key.pem");
const PUBLIC: &str = include_str!("../../keys/test-only/signing-key.pub");
const SHA256: &str = "8ec9c8f9478bf9c29a597a5371a2721b75cac27c4861c03a2f92bfc541c202a5";
const KEY_ID: &str = "bfec6534c3009d50";

fn ring() -> KeyRing {
    let mut ring = KeyRing::default();
    ring.add("test-only", parse_public_pem("test-only", PUBLIC).unwrap());
    ring
}

fn name() -> ObjectName {
    ObjectName::parse("counter").unwrap()
}

#[test]
fn known_answer_v1_verifies() {
    let v = verify::verify(V1.to_vec(), Some(&name()), &ring()).unwrap();
    assert_eq!(v.name, name());
    assert_eq!(v.key_id.to_string(), KEY_ID);
    assert_eq!(v.sha256_hex(), SHA256);
    assert_eq!(v.payload(), ELF);
    assert_eq!(v.fast_section(), None);
}

#[test]
fn known_answer_v2_verifies_with_its_fast_path() {
    let (v, _) = verify::check(V2.to_vec(), Some(&name()), &ring()).unwrap();
    assert_eq!(v.key_id.to_string(), KEY_ID);
    assert_eq!(v.sha256_hex(), SHA256);
    assert_eq!(v.payload(), ELF);
    let section = v
        .fast_section()
        .expect("a version-2 object carries its fast path");
    assert_eq!(&V2[ELF.len()..ELF.len() + section.len()], section);
    assert!(v.fast.is_some(), "the fast-path section parses");
}

#[test]
fn known_answer_v1_sign_reproduces_the_bytes() {
    let sk = parse_private_pem("test-only", PRIVATE).unwrap();
    let signed = verify::sign(ELF, &name(), &sk).unwrap();
    assert_eq!(hex(&signed), hex(V1));
}

#[test]
fn known_answer_vectors_refuse_another_name_or_a_flipped_byte() {
    let other = ObjectName::parse("netpol").unwrap();
    assert!(verify::verify(V1.to_vec(), Some(&other), &ring()).is_err());
    for v in [V1, V2] {
        // one byte of the payload, of the trailer's signature, of the footer
        for at in [100, v.len() - 70, v.len() - 5] {
            let mut b = v.to_vec();
            b[at] ^= 0x01;
            assert!(
                verify::verify(b, Some(&name()), &ring()).is_err(),
                "flip at {at} of {} bytes accepted",
                v.len()
            );
        }
    }
}

/// Measured preload of the version-2 vector: its event, the log records (fixed boot id and
/// timestamps), the pcrlock component, the PCR value and the `TPM2_PCR_Extend` command bytes,
/// all written by an independent encoder (Python's hashlib, json, struct) into `vectors/`.
#[test]
fn known_answer_measurement_of_the_v2_vector() {
    use crate::measure;
    let (v, _) = verify::check(V2.to_vec(), Some(&name()), &ring()).unwrap();
    let fast = v.fast.is_some() || v.fast_declined.is_some();
    let events = [
        measure::object_event("counter", &v.sha256_hex(), &v.key_id.to_string(), fast),
        measure::closing_event(1, 1),
    ];
    let boot = "0123456789abcdef0123456789abcdef";
    let log: Vec<u8> = events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| measure::log_record(12, e, boot, 1_000_000 + i as u64))
        .collect();
    assert_eq!(log, include_bytes!("vectors/measure-counter.log"));
    assert_eq!(
        measure::pcrlock_component(12, &events),
        include_str!("vectors/measure-counter.pcrlock")
    );
    let digests: Vec<[u8; 32]> = events.iter().map(|e| measure::event_digest(e)).collect();
    assert_eq!(
        hex(&measure::replay(&digests)),
        "b143fa0a2f11d10737e6ad8946079cb6e8b355aa585b8ddc83e35210e2a86eb5"
    );
    assert_eq!(
        measure::pcr_extend_command(12, &digests[1]),
        include_bytes!("vectors/measure-extend-pcr12.cmd")
    );
}
