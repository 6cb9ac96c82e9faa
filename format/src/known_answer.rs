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
