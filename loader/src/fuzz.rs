//! Entry points for fuzzing the parsers that see untrusted bytes, shared by the cargo-fuzz
//! targets (`loader/fuzz/`) and the deterministic mutation tests below. Each must never panic.
#![forbid(unsafe_code)]

use crate::keys::KeyRing;

/// The signed-object path: trailer, name, key lookup, signature, ELF checks.
pub fn signed_object(data: &[u8], ring: &KeyRing) {
    let _ = crate::trailer::parse(data);
    if let Ok(v) = crate::verify::verify(data.to_vec(), None, ring) {
        let _ = crate::elf::describe(v.payload());
    }
    let _ = crate::verify::payload_of(data).map(crate::elf::describe);
}

/// The kernel command line and preload list.
pub fn cmdline(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let plan = crate::cmdline::plan(&text, Some(&text));
    for e in plan.entries {
        if let Ok(n) = e.name {
            assert_eq!(n.as_str(), e.raw);
        }
    }
}

/// The ELF reader on its own.
pub fn elf(data: &[u8]) {
    let _ = crate::elf::describe(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::test_key;
    use crate::name::ObjectName;

    /// Fewer rounds in unoptimised builds, where the crypto is ~50x slower.
    const ROUNDS: usize = if cfg!(debug_assertions) {
        1_000
    } else {
        20_000
    };

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, buf: &mut Vec<u8>) {
        for _ in 0..=rng.below(4) {
            match rng.below(5) {
                0 if !buf.is_empty() => {
                    let i = rng.below(buf.len());
                    buf[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let at = rng.below(buf.len() + 1);
                    buf.insert(at, rng.next() as u8);
                }
                2 if !buf.is_empty() => {
                    let at = rng.below(buf.len());
                    buf.remove(at);
                }
                3 => buf.truncate(rng.below(buf.len() + 1)),
                _ if buf.len() >= 8 => {
                    // Overwrite 8 bytes with a little-endian length-like value.
                    let at = rng.below(buf.len() - 7);
                    let v = [0u64, 1, u64::MAX, buf.len() as u64, rng.next()][rng.below(5)];
                    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
                }
                _ => {}
            }
        }
    }

    #[test]
    fn mutated_signed_objects_never_verify_or_panic() {
        let key = test_key(3);
        let mut ring = KeyRing::default();
        ring.add("t", key.verifying_key());
        let payload = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let payload = &payload[..4096.min(payload.len())];
        let signed =
            crate::verify::sign(payload, &ObjectName::parse("obj").unwrap(), &key).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..ROUNDS {
            let mut m = signed.clone();
            mutate(&mut rng, &mut m);
            signed_object(&m, &ring);
            if m != signed {
                assert!(
                    crate::verify::verify(m, None, &ring).is_err(),
                    "a mutated object verified"
                );
            }
        }
    }

    #[test]
    fn random_cmdlines_and_elves_never_panic() {
        let mut rng = Rng(42);
        let alphabet = b"rd.bpf_preload=,.required0 \"\t\n/ab-_\xc3\xa9";
        for _ in 0..ROUNDS {
            let len = rng.below(80);
            let s: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            cmdline(&s);
        }
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let mut head = me[..4096.min(me.len())].to_vec();
        head[18..20].copy_from_slice(&goblin::elf::header::EM_BPF.to_le_bytes());
        for _ in 0..ROUNDS / 4 {
            let mut m = head.clone();
            mutate(&mut rng, &mut m);
            elf(&m);
        }
    }
}
