//! Embeds the trusted public keys of `$BPF_PRELOAD_BUILTIN_KEYS` (a directory of `*.pub` SPKI PEM
//! files) into the binary (unset: no built-in keys), and generates the libbpf-cargo skeletons of
//! the built-in BPF programs in `bpf/builtin/*.bpf.c` (`$OUT_DIR/<stem>.skel.rs`).
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use libbpf_cargo::SkeletonBuilder;

/// The built-in programs: source stem under `bpf/builtin/`.
const BUILTIN: &[&str] = &["guard"];

fn skeletons(out: &Path) {
    let bpf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf");
    let multiarch = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    for stem in BUILTIN {
        let src = bpf.join("builtin").join(format!("{stem}.bpf.c"));
        println!("cargo:rerun-if-changed={}", src.display());
        SkeletonBuilder::new()
            .source(&src)
            .obj(out.join(format!("{stem}.bpf.o")))
            .clang_args([
                OsStr::new("-Wall"),
                OsStr::new("-Werror"),
                OsStr::new("-Wno-unused-function"),
                OsStr::new("-I"),
                OsStr::new(&multiarch),
            ])
            .build_and_generate(out.join(format!("{stem}.skel.rs")))
            .unwrap_or_else(|e| panic!("skeleton of {}: {e:#}", src.display()));
    }
}

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    skeletons(&out_dir);
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
