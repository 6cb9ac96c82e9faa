#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bpf_preload_format::fuzz::btf(data));
