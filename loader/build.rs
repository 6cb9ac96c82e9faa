//! Build-time inputs of the crate:
//! * the trusted public keys of `$BPF_PRELOAD_BUILTIN_KEYS` (a directory of `*.pub` SPKI PEM
//!   files), embedded in the binary (unset: no built-in keys);
//! * the libbpf-cargo skeletons of the built-in programs `bpf/builtin/*.bpf.c`
//!   (`$OUT_DIR/<stem>.skel.rs`, included by `kernel::<stem>`);
//! * the BPF objects of `bpf/` (examples, test and failure-case objects, bench objects), compiled
//!   through `bpf/Makefile` (the one place their compiler flags live) into `$OUT_DIR/bpf`, against
//!   the headers of the vendored libbpf this crate links; tests find them through
//!   `BPF_PRELOAD_OBJECTS`. So a fresh clone's `cargo test` needs nothing built before.
// A build script, not the library.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    builtin_keys(&out);
    skeletons(&out);
    bpf_objects(&out);
    no_unwind_tables();
}

/// The optimised binaries (the release builds) are linked without unwind tables:
/// `no-unwind-tables.ld` says why. (A build script cannot see the profile's `panic`: cargo sets
/// CARGO_CFG_PANIC from the target alone. The release-tests profile unwinds, but only its test
/// harnesses, which are not bins and keep their tables, ever catch a panic.)
fn no_unwind_tables() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-unwind-tables.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("OPT_LEVEL").is_ok_and(|o| o != "0") {
        println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
        println!("cargo:rustc-link-arg-bins={}", script.display());
    }
}

/// The built-in programs: source stems under `bpf/builtin/`.
const BUILTIN: &[&str] = &["guard", "iterators"];

fn skeletons(out: &Path) {
    let bpf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf");
    let multiarch = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    // The object's BTF names its source file: without the checkout's path, so that two
    // checkouts build the same bytes (tests/repro.sh).
    let top = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loader/ has a parent");
    let prefix_map = format!("-ffile-prefix-map={}=.", top.display());
    for stem in BUILTIN {
        let src = bpf.join("builtin").join(format!("{stem}.bpf.c"));
        println!("cargo:rerun-if-changed={}", src.display());
        libbpf_cargo::SkeletonBuilder::new()
            .source(&src)
            .obj(out.join(format!("{stem}.bpf.o")))
            .clang_args([
                OsStr::new("-Wall"),
                OsStr::new("-Werror"),
                OsStr::new("-Wno-unused-function"),
                OsStr::new("-I"),
                OsStr::new(&multiarch),
                OsStr::new(&prefix_map),
            ])
            .build_and_generate(out.join(format!("{stem}.skel.rs")))
            .unwrap_or_else(|e| panic!("skeleton of {}: {e:#}", src.display()));
    }
}

fn builtin_keys(out: &Path) {
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
    let mut src = String::from("/// (file name, SPKI PEM) of each built-in trusted key.\npub const KEYS: &[(&str, &str)] = &[\n");
    for (name, pem) in keys {
        writeln!(src, "    ({name:?}, {pem:?}),").unwrap();
    }
    src.push_str("];\n");
    std::fs::write(out.join("builtin_keys.rs"), src).unwrap();
}

fn bpf_objects(out: &Path) {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let bpf = manifest.parent().unwrap().join("bpf");
    // bpf/ holds sources only (`make -C bpf` by hand writes to build/bpf): any change there,
    // a new file included, is a reason to rebuild the objects.
    println!("cargo:rerun-if-changed={}", bpf.display());
    let include = std::env::var("DEP_BPF_INCLUDE").expect("libbpf-sys exports its headers");
    let dest = out.join("bpf");
    let status = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(&bpf)
        .arg(format!("BUILD={}", dest.display()))
        .arg(format!("BPF_INCLUDE={include}"))
        .env_remove("MAKEFLAGS")
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "run make -C {}: {e} (tests/deps.sh installs make and clang)",
                bpf.display()
            )
        });
    assert!(status.success(), "make -C {} failed", bpf.display());
    println!("cargo:rustc-env=BPF_PRELOAD_OBJECTS={}", dest.display());
}
