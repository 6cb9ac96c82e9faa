//! Embeds the trusted public keys of `$BPF_PRELOAD_BUILTIN_KEYS` (a directory of `*.pub` SPKI PEM
//! files) into the binary. Unset: no built-in keys.
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=BPF_PRELOAD_BUILTIN_KEYS");
    let mut keys = Vec::new();
    if let Some(dir) = std::env::var_os("BPF_PRELOAD_BUILTIN_KEYS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("BPF_PRELOAD_BUILTIN_KEYS={}: {e}", dir.display()))
            .map(|e| e.expect("read key dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "pub"))
            .collect();
        paths.sort();
        for p in paths {
            println!("cargo:rerun-if-changed={}", p.display());
            let pem =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            keys.push((name, pem));
        }
        if keys.is_empty() {
            panic!(
                "BPF_PRELOAD_BUILTIN_KEYS={} holds no *.pub file",
                dir.display()
            );
        }
    }
    let mut out = String::from("/// (file name, SPKI PEM) of each built-in trusted key.\npub const KEYS: &[(&str, &str)] = &[\n");
    for (name, pem) in keys {
        writeln!(out, "    ({name:?}, {pem:?}),").unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("builtin_keys.rs");
    std::fs::write(dest, out).unwrap();
}
