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

/// The fast-path section of a version-2 object (parsed only after its signature verified, but
/// hardened as if it were not): header, descriptor, and the match against an ELF description.
pub fn fast_section(data: &[u8]) {
    let info = crate::elf::ElfInfo {
        programs: Vec::new(),
        maps: Vec::new(),
        externs: Vec::new(),
    };
    if let Ok(s) = crate::fast::FastSection::parse(data) {
        assert_eq!(
            s.descriptor.len() + s.insns.len() + s.data.len() + crate::fast::HEADER_LEN,
            data.len()
        );
        if let Ok(d) = crate::fast::Descriptor::parse(s.descriptor) {
            let _ = d.matches_elf(&info);
        }
    }
    let _ = crate::fast::Descriptor::parse(data);
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

/// The ELF reader on its own, and the section classifier on every section it finds.
pub fn elf(data: &[u8]) {
    if let Ok(info) = crate::elf::describe(data) {
        for p in &info.programs {
            assert_eq!(crate::elf::auto_attach(&p.section), p.auto_attach);
        }
    }
}

/// The trailer parser alone (cheap checks, no crypto), and the payload split `sign` uses.
pub fn trailer(data: &[u8]) {
    let parsed = crate::trailer::parse(data);
    let payload = crate::verify::payload_of(data);
    match (parsed, payload) {
        (Ok(p), Ok(payload)) => assert_eq!(p.payload, payload),
        (Err(crate::trailer::TrailerError::Unsigned), Ok(payload)) => {
            assert_eq!(payload, data)
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("parse {a:?} and payload_of {b:?} disagree"),
    }
}

/// A status file, as `bpf-preload status` reads it: whatever parses renders (text and JSON)
/// without panicking, and every rendered line and kmsg line is one clean line.
pub fn status_json(data: &[u8]) {
    use crate::escape::is_clean_line;
    let Ok(st) = crate::status::Status::from_json_bytes(data) else {
        return;
    };
    for line in st.render().lines() {
        assert!(is_clean_line(line), "{line:?}");
    }
    for line in st.to_json().lines() {
        assert!(is_clean_line(line), "{line:?}");
    }
    for o in &st.objects {
        let line = o.log_line();
        assert!(is_clean_line(&line), "{line:?}");
    }
}

/// PEM keys as a keys directory or `--key` holds them: public and private.
pub fn pem_keys(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(vk) = crate::keys::parse_public_pem("fuzz", &text) {
        let mut ring = KeyRing::default();
        ring.add("fuzz", vk);
        assert!(ring.lookup(crate::keys::KeyId::of(&vk)).is_ok());
    }
    let _ = crate::keys::parse_private_pem("fuzz", &text);
}

/// The kernel's BTF as the guard scans it: whatever scans gives hook functions in id order,
/// and every `bpf_lsm_` hook kept is one of them.
pub fn btf(data: &[u8]) {
    let Ok(h) = crate::btf::scan(data) else {
        return;
    };
    assert!(h.funcs.windows(2).all(|w| w[0].0 < w[1].0), "{:?}", h.funcs);
    for (id, _) in h.lsm.values() {
        assert!(h.funcs.iter().any(|f| f.0 == *id), "hook {id}");
    }
}

/// A revocation list.
pub fn revoked(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut ring = KeyRing::default();
    let _ = ring.add_revocations(std::path::Path::new("revoked"), &text);
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests make and read files directly
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
    fn mutated_fast_sections_never_panic() {
        let (fast, info) = crate::fast::fixtures::sample();
        let good = fast.encode().unwrap();
        let mut rng = Rng(0x5eed_fa57);
        for _ in 0..ROUNDS {
            let mut buf = good.clone();
            mutate(&mut rng, &mut buf);
            fast_section(&buf);
            // A mutated section never parses into something other than what was signed.
            if let Ok(p) = crate::fast::FastPath::parse(&buf, &info) {
                assert_eq!(p.insns.len() % crate::fast::INSN_LEN, 0);
            }
        }
    }

    #[test]
    fn mutated_status_files_never_panic_status() {
        // The golden record, and one with hostile strings, mutated: whatever still parses must
        // render to clean lines (checked inside `status_json`); count what parsed, so the test
        // shows it reached the renderer.
        let golden = include_str!("../../format/src/status-v1.golden.json");
        let hostile = golden
            .replace("counter", "a\\n\\u001b[2J\\r\\u007f\\u202e")
            .replace("\"8e8e", "\"é8e");
        let st = crate::status::Status::from_json(&hostile).unwrap();
        assert_eq!(st.objects[0].name, "a\n\x1b[2J\r\x7f\u{202e}");
        assert!(
            st.render().contains("  a\\n\\x1b[2J\\r\\x7f\\u{202e} "),
            "{}",
            st.render()
        );
        let mut rng = Rng(7);
        let mut rendered = 0;
        for seed in [golden.as_bytes(), hostile.as_bytes()] {
            status_json(seed);
            for _ in 0..ROUNDS {
                let mut m = seed.to_vec();
                mutate(&mut rng, &mut m);
                if crate::status::Status::from_json_bytes(&m).is_ok() {
                    rendered += 1;
                }
                status_json(&m);
            }
        }
        // About 4% of the mutants still parse (1,733 of 40,000 in release builds).
        assert!(rendered > ROUNDS / 50, "only {rendered} mutants parsed");
    }

    #[test]
    fn status_with_multibyte_hash_renders() {
        let golden = include_str!("../../format/src/status-v1.golden.json");
        let json = golden.replace("\"8e8e", "\"éééééééééééééééééé");
        let st = crate::status::Status::from_json(&json).unwrap();
        assert!(
            st.render().contains(" sha256 éééééééééééééééé "),
            "{}",
            st.render()
        );
        status_json(json.as_bytes());
    }

    #[test]
    fn mutated_keys_and_revocations_never_panic() {
        let (private, public) = crate::keys::keypair_pem([9; 32]).unwrap();
        let mut rng = Rng(99);
        let mut parsed = 0;
        for seed in [public.as_bytes(), private.as_bytes()] {
            for _ in 0..ROUNDS {
                let mut m = seed.to_vec();
                mutate(&mut rng, &mut m);
                if crate::keys::parse_public_pem("m", &String::from_utf8_lossy(&m)).is_ok() {
                    parsed += 1;
                }
                pem_keys(&m);
            }
        }
        assert!(parsed > 0, "no mutant of a public key parsed");
        let list = b"# revoked\n0011223344556677\n  8899aabbccddeeff # old\n";
        for _ in 0..ROUNDS {
            let mut m = list.to_vec();
            mutate(&mut rng, &mut m);
            revoked(&m);
            trailer(&m);
        }
    }

    /// The fuzz seed (loader/fuzz/seeds/btf, made by Python's `struct`: every kind with a
    /// `vlen` or fixed extra bytes, three hooks, a security_ function) still scans.
    #[test]
    fn the_btf_fuzz_seed_scans() {
        let seed = include_bytes!("../../loader/fuzz/seeds/btf/sample.btf");
        let h = crate::btf::scan(seed).unwrap();
        assert_eq!(
            h.lsm.keys().collect::<Vec<_>>(),
            ["bpf", "file_open", "inode_unlink"]
        );
        assert_eq!(h.params("bpf").unwrap(), ["cmd", "attr", "size"]);
        assert_eq!(h.funcs.len(), 4);
        btf(seed);
    }

    #[test]
    fn mutated_btf_never_panics() {
        let good = crate::btf::tests::sample();
        let mut rng = Rng(0xb7f);
        let mut scanned = 0;
        for _ in 0..ROUNDS {
            let mut m = good.clone();
            mutate(&mut rng, &mut m);
            if crate::btf::scan(&m).is_ok() {
                scanned += 1;
            }
            btf(&m);
        }
        // Some mutants still scan (flipped bits in names or ids), so `btf` checked them.
        assert!(scanned > 0, "no mutant scanned");
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
