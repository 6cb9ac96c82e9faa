//! Tests of `bpf_preload_format` that need what only the loader has: the objects build.rs
//! builds from bpf/, and libbpf's gen_loader behind [`crate::fast_path_section`].

use crate::keys::parse_private_pem;
use bpf_preload_format::elf::{describe, ExternInfo};
use bpf_preload_format::name::ObjectName;
use bpf_preload_format::verify;

const ELF: &[u8] = include_bytes!("../../format/src/vectors/counter.elf");
const V2: &[u8] = include_bytes!("../../format/src/vectors/counter.v2.signed");
const PRIVATE: &str = include_str!("../../keys/test-only/signing-key.pem");

fn name() -> ObjectName {
    ObjectName::parse("counter").unwrap()
}

/// The externs of real objects (built from bpf/): which are weak, which a loaded program
/// uses.
#[test]
fn externs_say_who_uses_them() {
    let built = |n: &str| {
        let p = std::path::Path::new(env!("BPF_PRELOAD_OBJECTS")).join(format!("{n}.bpf.o"));
        describe(&std::fs::read(p).unwrap()).unwrap().externs
    };
    let ext = |weak| ExternInfo {
        name: "bpf_no_such_kfunc".into(),
        weak,
        used_by_loaded: false,
    };
    assert_eq!(built("optional_kfunc"), vec![ext(false)]);
    assert_eq!(built("optional_weak_kfunc"), vec![ext(true)]);
    assert_eq!(built("counter"), vec![]);
}

#[test]
fn known_answer_v2_sign_reproduces_the_bytes() {
    let sk = parse_private_pem("test-only", PRIVATE).unwrap();
    let section = crate::fast_path_section(ELF, &name(), None).expect("counter has a fast path");
    let signed = verify::sign_with(ELF, &name(), &sk, Some(&section)).unwrap();
    assert_eq!(signed.len(), V2.len());
    assert!(
        signed == V2,
        "version-2 signing changed: first difference at byte {:?}",
        signed.iter().zip(V2).position(|(a, b)| a != b)
    );
}

/// A kernel-signed version 2 (section version 2): `sign --kernel-key keys/test-only/kernel/rsa.key
/// --kernel-cert …/rsa.crt` of the same ELF. RSA PKCS#1 v1.5 is deterministic, so signing again
/// reproduces every byte, the CMS included; a change to what is kernel-signed (the scheme) or
/// to its encoding breaks it.
#[test]
fn known_answer_kernel_signed_v2_reproduces_the_bytes() {
    const V2K: &[u8] = include_bytes!("../../format/src/vectors/counter.v2k.signed");
    let key = include_str!("../../keys/test-only/kernel/rsa.key");
    let cert = include_bytes!("../../keys/test-only/kernel/rsa.crt");
    let signer = bpf_preload_format::ksig::KernelSigner::new(key, cert).unwrap();
    let sk = parse_private_pem("test-only", PRIVATE).unwrap();
    let section = crate::fast_path_section(ELF, &name(), Some(&signer)).expect("a fast path");
    let signed = verify::sign_with(ELF, &name(), &sk, Some(&section)).unwrap();
    assert!(
        signed == V2K,
        "kernel-signed version-2 signing changed: first difference at byte {:?}",
        signed.iter().zip(V2K).position(|(a, b)| a != b)
    );
    let parsed = bpf_preload_format::trailer::parse(V2K).unwrap();
    let s = bpf_preload_format::fast::FastSection::parse(parsed.fast.unwrap()).unwrap();
    assert_eq!(
        bpf_preload_format::fast::Header::from_bytes(
            parsed.fast.unwrap()[..32].try_into().unwrap()
        )
        .unwrap()
        .version,
        bpf_preload_format::fast::VERSION_KERNEL_SIGNED
    );
    assert_eq!(
        s.kernel_sig.len(),
        375,
        "RSA-2048 CMS, no certificates, no attributes"
    );
}
