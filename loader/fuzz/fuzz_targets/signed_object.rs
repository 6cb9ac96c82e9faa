#![no_main]
use std::sync::OnceLock;

use bpf_preload_format::keys::KeyRing;
use libfuzzer_sys::fuzz_target;

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let mut ring = KeyRing::default();
        ring.add(
            "fuzz",
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key(),
        );
        ring
    })
}

fuzz_target!(|data: &[u8]| bpf_preload_format::fuzz::signed_object(data, ring()));
