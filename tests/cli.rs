//! The command-line tools, through the real binary: bad input of every kind is refused with a
//! message that names it, nothing is written where it should not be, and nothing that reaches
//! the terminal carries a control character or an escape sequence it did not write.
//!
//! No root needed (the root tests of `run` are in integration.rs). `openssl` is needed for the
//! key interoperability tests; the README test command installs it.
// Tests make and read files directly.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::ffi::OsStr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bpf_preload::escape::is_clean_line;
use bpf_preload::name::ObjectName;
use bpf_preload::trailer::MAGIC;

mod common;
use common::*;

fn signing_key() -> ed25519_dalek::SigningKey {
    let pem = std::fs::read_to_string(test_private_key()).unwrap();
    bpf_preload::keys::parse_private_pem("test", &pem).unwrap()
}

/// Every line the command printed is clean: no control character, no invisible character.
fn assert_clean(o: &Output) {
    for stream in [&o.stdout, &o.stderr] {
        let s = std::str::from_utf8(stream).expect("output is UTF-8");
        for line in s.lines() {
            assert!(is_clean_line(line), "unescaped output line {line:?}");
        }
    }
}

fn sign_args<'a>(extra: &[&'a OsStr]) -> Vec<&'a OsStr> {
    let key: &'static Path = Box::leak(test_private_key().into_boxed_path());
    let mut v = vec![OsStr::new("sign"), OsStr::new("--key"), key.as_os_str()];
    v.extend_from_slice(extra);
    v
}

fn verify_ok(path: &Path) -> String {
    let o = bin(&[
        OsStr::new("verify"),
        OsStr::new("--key"),
        test_public_key().as_os_str(),
        path.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

// ---- item 14: sign writes where it should and nowhere else ----

#[test]
fn sign_in_place_keeps_the_mode() {
    let s = Scratch::new("mode");
    for mode in [0o400, 0o640, 0o755] {
        let f = s.p("counter.bpf.o");
        let _ = std::fs::remove_file(&f);
        std::fs::copy(object("counter"), &f).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = bin(&sign_args(&[f.as_os_str()]));
        assert!(o.status.success(), "{}", text(&o));
        let after = std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777;
        assert_eq!(after, mode, "mode {mode:o}");
        assert!(verify_ok(&f).contains("ok name=counter "));
    }
    assert_eq!(s.names(), ["counter.bpf.o"], "no temporary file left");
}

#[test]
fn sign_through_a_symlink_signs_the_target_and_keeps_the_link() {
    let s = Scratch::new("symlink");
    std::fs::create_dir(s.p("store")).unwrap();
    std::fs::copy(object("counter"), s.p("store/counter.bpf.o")).unwrap();
    std::os::unix::fs::symlink("store/counter.bpf.o", s.p("counter.bpf.o")).unwrap();
    let o = bin(&sign_args(&[s.p("counter.bpf.o").as_os_str()]));
    assert!(o.status.success(), "{}", text(&o));
    let link = std::fs::symlink_metadata(s.p("counter.bpf.o")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert_eq!(
        std::fs::read_link(s.p("counter.bpf.o")).unwrap(),
        Path::new("store/counter.bpf.o")
    );
    assert!(verify_ok(&s.p("store/counter.bpf.o")).contains("ok name=counter "));
    assert_eq!(s.names(), ["counter.bpf.o", "store"]);
}

#[test]
fn sign_does_not_follow_symlinks_planted_at_temporary_names() {
    let s = Scratch::new("planted");
    std::fs::copy(object("counter"), s.p("counter.bpf.o")).unwrap();
    std::fs::write(s.p("victim"), b"precious").unwrap();
    // The names a naive writer would use; ours add the pid and 64 random bits.
    let planted = [
        "counter.bpf.o.tmp",
        ".counter.bpf.o.tmp",
        "counter.bpf.o~",
        ".counter.bpf.o.swp",
    ];
    for name in planted {
        std::os::unix::fs::symlink(s.p("victim"), s.p(name)).unwrap();
    }
    let o = bin(&sign_args(&[s.p("counter.bpf.o").as_os_str()]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(s.p("victim")).unwrap(), b"precious");
    for name in planted {
        assert!(std::fs::symlink_metadata(s.p(name))
            .unwrap()
            .file_type()
            .is_symlink());
    }
    let mut want: Vec<String> = planted.iter().map(|n| n.to_string()).collect();
    want.extend(["counter.bpf.o".into(), "victim".into()]);
    want.sort();
    assert_eq!(s.names(), want);
}

#[test]
fn a_failed_write_leaves_no_temporary_file() {
    let s = Scratch::new("failwrite");
    std::fs::create_dir(s.p("out.bpf.o")).unwrap();
    std::fs::write(s.p("out.bpf.o/keep"), b"x").unwrap();
    // The output is a non-empty directory: the temporary file is written, the rename fails.
    let o = bin(&sign_args(&[
        OsStr::new("--output"),
        s.p("out.bpf.o").as_os_str(),
        object("counter").as_os_str(),
    ]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("write {}: ", s.p("out.bpf.o").display())),
        "{}",
        text(&o)
    );
    assert_eq!(s.names(), ["out.bpf.o"]);
}

#[test]
fn sign_output_is_named_after_the_output_file() {
    let s = Scratch::new("outname");
    std::fs::copy(object("counter"), s.p("counter-v2.bpf.o")).unwrap();
    let o = bin(&sign_args(&[
        OsStr::new("-o"),
        s.p("counter.bpf.o").as_os_str(),
        s.p("counter-v2.bpf.o").as_os_str(),
    ]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(verify_ok(&s.p("counter.bpf.o")).contains("ok name=counter "));
    // The input is untouched.
    assert_eq!(
        std::fs::read(s.p("counter-v2.bpf.o")).unwrap(),
        std::fs::read(object("counter")).unwrap()
    );
}

// ---- item 14: verify says ok exactly when run would go on ----

#[test]
fn verify_refuses_signed_payloads_run_refuses() {
    let s = Scratch::new("verifyrefuse");
    let name = ObjectName::parse("x").unwrap();
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "x86 ELF",
            std::fs::read(BIN).unwrap()[..8192].to_vec(),
            "refused: check: not an eBPF object: ELF machine is X86_64",
        ),
        (
            "shell script",
            b"#!/bin/sh\nreboot\n".to_vec(),
            "refused: check: not an ELF file",
        ),
        ("empty", Vec::new(), "refused: check: empty file"),
    ];
    for (what, payload, want) in cases {
        let signed = bpf_preload::verify::sign(payload, &name, &signing_key()).unwrap();
        let f = s.p("x.bpf.o");
        std::fs::write(&f, &signed).unwrap();
        let o = bin(&[
            OsStr::new("verify"),
            OsStr::new("--key"),
            test_public_key().as_os_str(),
            f.as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", text(&o));
        assert!(text(&o).contains(want), "{what}: {}", text(&o));
    }
    // A file named NAME.bpf.o must be signed as NAME, as run requires.
    let signed = bpf_preload::verify::sign(
        &std::fs::read(object("counter")).unwrap(),
        &ObjectName::parse("audit").unwrap(),
        &signing_key(),
    )
    .unwrap();
    std::fs::write(s.p("netpol.bpf.o"), signed).unwrap();
    let o = bin(&[
        OsStr::new("verify"),
        OsStr::new("--key"),
        test_public_key().as_os_str(),
        s.p("netpol.bpf.o").as_os_str(),
    ]);
    assert!(
        text(&o).contains("refused: verify: signed as \"audit\", not \"netpol\""),
        "{}",
        text(&o)
    );
}

#[test]
fn verify_with_a_missing_keys_dir_names_that_dir() {
    let o = bin(&[
        "verify",
        "--keys",
        "/nonexistent-typo",
        object("counter").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "bpf-preload: keys directory /nonexistent-typo: No such file or directory (os error 2)\n"
    );
}

// ---- item 15: errors that say what is wrong ----

fn openssl(args: &[&OsStr]) {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is not installed: the README test command installs it");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn keys_of_other_algorithms_are_named() {
    let s = Scratch::new("algs");
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "rsa",
            &["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024"],
            "an RSA key",
        ),
        (
            "p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "an EC P-256 key",
        ),
        ("ed448", &["-algorithm", "ed448"], "an Ed448 key"),
    ];
    for (tag, gen, want) in cases {
        let (pem, public) = (s.p(&format!("{tag}.pem")), s.p(&format!("{tag}.pub")));
        let mut args: Vec<&OsStr> = vec![OsStr::new("genpkey")];
        args.extend(gen.iter().map(OsStr::new));
        args.extend([OsStr::new("-out"), pem.as_os_str()]);
        openssl(&args);
        openssl(&[
            OsStr::new("pkey"),
            OsStr::new("-in"),
            pem.as_os_str(),
            OsStr::new("-pubout"),
            OsStr::new("-out"),
            public.as_os_str(),
        ]);
        let o = bin(&[
            OsStr::new("verify"),
            OsStr::new("--key"),
            public.as_os_str(),
            object("counter").as_os_str(),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!(
                "bpf-preload: public key {}: {want}: only Ed25519 keys are supported\n",
                public.display()
            ),
            "{tag}"
        );
        let o = bin(&sign_args(&[])
            .into_iter()
            .take(2)
            .chain([pem.as_os_str(), object("counter").as_os_str()])
            .collect::<Vec<_>>());
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!(
                "bpf-preload: private key {}: {want}: only Ed25519 keys are supported\n",
                pem.display()
            ),
            "{tag}"
        );
    }
    let two = s.p("two.pub");
    let pub_text = std::fs::read_to_string(test_public_key()).unwrap();
    std::fs::write(&two, format!("{pub_text}{pub_text}")).unwrap();
    let o = bin(&[
        OsStr::new("verify"),
        OsStr::new("--key"),
        two.as_os_str(),
        object("counter").as_os_str(),
    ]);
    assert!(
        text(&o).contains("2 PEM blocks: one key per file, not more than one PEM block"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_object_whose_tail_holds_the_magic_can_be_signed() {
    let s = Scratch::new("magic");
    let mut bytes = std::fs::read(object("counter")).unwrap();
    bytes.extend_from_slice(b"a string that happens to be ");
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[0u8; 100]);
    std::fs::write(s.p("counter.bpf.o"), &bytes).unwrap();
    let o = bin(&["inspect", s.p("counter.bpf.o").to_str().unwrap()]);
    assert!(text(&o).contains("name     (unsigned)"), "{}", text(&o));
    let o = bin(&sign_args(&[s.p("counter.bpf.o").as_os_str()]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(verify_ok(&s.p("counter.bpf.o")).contains("ok name=counter "));
    let signed = std::fs::read(s.p("counter.bpf.o")).unwrap();
    assert_eq!(
        &signed[..bytes.len()],
        &bytes[..],
        "the payload is the whole object"
    );
}

// ---- items 10 and 17: bounded, non-blocking reads of regular files only ----

#[test]
fn special_and_oversized_files_are_refused_at_once() {
    let s = Scratch::new("special");
    nix::unistd::mkfifo(&s.p("fifo.bpf.o"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(s.p("sock.bpf.o")).unwrap();
    let big = std::fs::File::create(s.p("big.bpf.o")).unwrap();
    big.set_len(bpf_preload::MAX_OBJECT_SIZE + 1).unwrap();
    let cases: &[(&Path, &str)] = &[
        (Path::new("/dev/zero"), "is a special file (refused)"),
        (&s.p("fifo.bpf.o"), "is a special file (refused)"),
        (&s.p("sock.bpf.o"), "is a socket (refused)"),
        (
            &s.p("big.bpf.o"),
            "is 67108865 bytes, more than the 67108864 allowed",
        ),
        (&s.0, "is a directory (refused)"),
    ];
    for (path, want) in cases {
        for cmd in [
            vec!["inspect"],
            vec!["verify", "--key", test_public_key().to_str().unwrap()],
        ] {
            let mut args: Vec<&OsStr> = cmd.iter().map(OsStr::new).collect();
            args.push(path.as_os_str());
            let o = bin(&args);
            assert_eq!(
                String::from_utf8_lossy(&o.stderr),
                format!("bpf-preload: read {}: {want}\n", path.display()),
                "{cmd:?}"
            );
        }
    }
    assert!(std::fs::symlink_metadata(s.p("sock.bpf.o"))
        .unwrap()
        .file_type()
        .is_socket());
}

/// A bad `*.pub` in the keys directory is skipped, named (escaped) in a warning, and the good
/// key still verifies; a `revoked` that cannot be read refuses everything (skipping it would
/// trust revoked keys).
#[test]
fn a_bad_file_in_the_keys_dir_is_skipped_and_a_bad_revoked_is_refused() {
    let cases: &[(&str, &str)] = &[
        ("fifo", "is a special file (refused)"),
        ("link", "is a symbolic link (refused)"),
        ("dangling", "is a symbolic link (refused)"),
        ("dir", "is a directory (refused)"),
        ("big", "is 66560 bytes, more than the 65536 allowed"),
        ("revoked-fifo", "is a special file (refused)"),
    ];
    for (tag, want) in cases {
        let s = Scratch::new(&format!("keys-{tag}"));
        let (signed, _, _) = signed_object(&s, "counter", true);
        std::fs::create_dir(s.p("keys")).unwrap();
        std::fs::copy(test_public_key(), s.p("keys/test.pub")).unwrap();
        let bad = s.p("keys/x\x1b.pub");
        match *tag {
            "fifo" => nix::unistd::mkfifo(&bad, nix::sys::stat::Mode::S_IRWXU).unwrap(),
            "link" => std::os::unix::fs::symlink(test_public_key(), &bad).unwrap(),
            "dangling" => std::os::unix::fs::symlink("/nonexistent/k.pub", &bad).unwrap(),
            "dir" => std::fs::create_dir(&bad).unwrap(),
            "big" => std::fs::write(&bad, vec![b'#'; 65 << 10]).unwrap(),
            _ => nix::unistd::mkfifo(&s.p("keys/revoked"), nix::sys::stat::Mode::S_IRWXU).unwrap(),
        };
        let o = bin(&[
            OsStr::new("verify"),
            OsStr::new("--keys"),
            s.p("keys").as_os_str(),
            signed.as_os_str(),
        ]);
        assert_clean(&o);
        if *tag == "revoked-fifo" {
            assert_eq!(
                String::from_utf8_lossy(&o.stderr),
                format!(
                    "bpf-preload: read {}: {want}\n",
                    s.p("keys/revoked").display()
                ),
                "{tag}"
            );
            assert_eq!(o.status.code(), Some(1));
            continue;
        }
        assert!(o.status.success(), "{tag}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let first = format!(
            "warning: trusted keys: skipped a key file: read {}/x\\x1b.pub: {want}\n",
            s.p("keys").display()
        );
        assert!(out.starts_with(&first), "{tag}: {out}");
        assert!(out.contains(": ok name=counter "), "{tag}: {out}");
    }
}

// ---- item 16: keygen ----

#[test]
fn keygen_writes_both_files_or_neither() {
    let s = Scratch::new("keygen");
    std::fs::write(s.p("taken.pub"), b"mine").unwrap();
    let cases: &[(&str, PathBuf)] = &[
        ("public exists", s.p("taken.pub")),
        ("public dir missing", s.p("missing/k.pub")),
        ("public is the private", s.p("k.pem")),
    ];
    for (what, public) in cases {
        let o = bin(&[
            OsStr::new("keygen"),
            OsStr::new("--private"),
            s.p("k.pem").as_os_str(),
            OsStr::new("--public"),
            public.as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", text(&o));
        assert!(
            text(&o).contains(&format!("create {}: ", public.display())),
            "{what}: {}",
            text(&o)
        );
        assert_eq!(s.names(), ["taken.pub"], "{what}");
    }
    assert_eq!(std::fs::read(s.p("taken.pub")).unwrap(), b"mine");
}

#[test]
fn keygen_keys_are_read_by_openssl() {
    let s = Scratch::new("keygen-openssl");
    let o = bin(&[
        OsStr::new("keygen"),
        OsStr::new("--private"),
        s.p("k.pem").as_os_str(),
        OsStr::new("--public"),
        s.p("k.pub").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mode = std::fs::metadata(s.p("k.pem"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    openssl(&[
        OsStr::new("pkey"),
        OsStr::new("-in"),
        s.p("k.pem").as_os_str(),
        OsStr::new("-pubout"),
        OsStr::new("-out"),
        s.p("openssl.pub").as_os_str(),
    ]);
    assert_eq!(
        std::fs::read_to_string(s.p("openssl.pub")).unwrap(),
        std::fs::read_to_string(s.p("k.pub")).unwrap()
    );
    // The key id printed is the documented one: sha256 of the raw public key, 8 bytes.
    let der = Command::new("openssl")
        .args([
            OsStr::new("pkey"),
            OsStr::new("-pubin"),
            OsStr::new("-in"),
            s.p("k.pub").as_os_str(),
            OsStr::new("-outform"),
            OsStr::new("DER"),
        ])
        .output()
        .unwrap()
        .stdout;
    let raw = &der[der.len() - 32..];
    let id: String = <sha2::Sha256 as sha2::Digest>::digest(raw)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with(&format!("key id {id}\n")),
        "{}",
        text(&o)
    );
    // Signing with it works, and verify names the same key.
    std::fs::copy(object("counter"), s.p("counter.bpf.o")).unwrap();
    let o = bin(&[
        OsStr::new("sign"),
        OsStr::new("--key"),
        s.p("k.pem").as_os_str(),
        s.p("counter.bpf.o").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = bin(&[
        OsStr::new("verify"),
        OsStr::new("--key"),
        s.p("k.pub").as_os_str(),
        s.p("counter.bpf.o").as_os_str(),
    ]);
    assert!(text(&o).contains(&format!("key={id} ")), "{}", text(&o));
}

// ---- item 12: untrusted text is escaped on its way out ----

const HOSTILE: &[(&str, &str)] = &[
    ("nl", "a\nb"),
    ("clear", "\x1b[2J"),
    ("cr", "x\ry"),
    ("del", "d\x7f"),
    ("rlo", "\u{202e}fdp"),
];

#[test]
fn paths_and_names_are_escaped_in_every_command() {
    let s = Scratch::new("escape");
    for (tag, bad) in HOSTILE {
        let file = s.p(&format!("{bad}.bpf.o"));
        std::fs::copy(object("counter"), &file).unwrap();
        let out = s.p(&format!("{tag}.bpf.o"));
        let runs = [
            bin(&[OsStr::new("inspect"), file.as_os_str()]),
            bin(&sign_args(&[
                OsStr::new("-o"),
                out.as_os_str(),
                file.as_os_str(),
            ])),
            bin(&[
                OsStr::new("verify"),
                OsStr::new("--key"),
                test_public_key().as_os_str(),
                out.as_os_str(),
            ]),
            // Refused, quoting the path: errors are escaped too.
            bin(&[
                OsStr::new("verify"),
                OsStr::new("--key"),
                test_public_key().as_os_str(),
                file.as_os_str(),
            ]),
            bin(&sign_args(&[file.as_os_str()])),
            bin(&[
                OsStr::new("inspect"),
                s.p(&format!("missing{bad}")).as_os_str(),
            ]),
        ];
        for o in &runs {
            assert_clean(o);
        }
        let inspect = String::from_utf8_lossy(&runs[0].stdout).into_owned();
        let want = bpf_preload::escape::escape_path(&file);
        assert!(
            inspect.starts_with(&format!("file     {want}\n")),
            "{tag}: {inspect}"
        );
        assert!(
            text(&runs[3]).contains("refused: verify: no signature trailer"),
            "{tag}: {}",
            text(&runs[3])
        );
        assert!(
            text(&runs[4]).contains("object name: name \""),
            "{tag}: {}",
            text(&runs[4])
        );
    }
}

#[test]
fn elf_symbol_names_are_escaped_by_inspect() {
    let s = Scratch::new("symbols");
    let mut bytes = std::fs::read(object("counter")).unwrap();
    // Rename the program symbol in place (same length): the string table is not checked.
    let from = b"count_exec";
    let to = b"c\x1b[2J\n\r\x7fxx";
    assert_eq!(from.len(), to.len());
    let at: Vec<usize> = (0..bytes.len() - from.len())
        .filter(|&i| &bytes[i..i + from.len()] == from)
        .collect();
    assert!(!at.is_empty(), "symbol name not found");
    for i in at {
        bytes[i..i + to.len()].copy_from_slice(to);
    }
    std::fs::write(s.p("counter.bpf.o"), &bytes).unwrap();
    let o = bin(&["inspect", s.p("counter.bpf.o").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_clean(&o);
    assert!(
        text(&o).contains("  c\\x1b[2J\\n\\r\\x7fxx "),
        "{}",
        text(&o)
    );
    let o = bin(&["inspect", "--json", s.p("counter.bpf.o").to_str().unwrap()]);
    assert_clean(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["programs"][0]["name"], "c\x1b[2J\n\r\x7fxx");
}

// ---- item 13: no status file makes `status` panic or lie ----

fn golden() -> String {
    std::fs::read_to_string(repo().join("format/src/status-v1.golden.json")).unwrap()
}

#[test]
fn status_escapes_hostile_records() {
    let s = Scratch::new("status-hostile");
    for (tag, bad) in HOSTILE {
        let json_bad = serde_json::to_string(bad).unwrap();
        let record = golden()
            .replace("\"counter\"", &json_bad)
            .replace("\"invalid name\"", &json_bad)
            .replace("\"count_exec\"", &json_bad)
            .replace("\"/sys/fs/bpf\"", &json_bad);
        let f = s.p(&format!("{tag}.json"));
        std::fs::write(&f, record).unwrap();
        for json in [false, true] {
            let mut args = vec![OsStr::new("status"), OsStr::new("--status"), f.as_os_str()];
            if json {
                args.push(OsStr::new("--json"));
            }
            let o = bin(&args);
            assert!(o.status.success(), "{tag}: {}", text(&o));
            assert_clean(&o);
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            if json {
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert_eq!(v["objects"][0]["name"], *bad, "{tag}");
            } else {
                let want = bpf_preload::escape::escape(bad);
                assert!(
                    out.contains(&format!("      error: {want}\n")),
                    "{tag}: {out}"
                );
                assert!(
                    out.contains(&format!("      links: {want}\n")),
                    "{tag}: {out}"
                );
            }
        }
    }
}

/// A forged record: an object named `../etc` (and one with escapes) marked loaded, pin names
/// that climb out. `status` probes nothing outside the bpffs, says it could not check them,
/// and prints them escaped.
#[test]
fn status_does_not_follow_a_forged_record_out_of_the_bpffs() {
    let s = Scratch::new("status-forged");
    std::fs::create_dir_all(s.p("bpffs")).unwrap();
    std::fs::create_dir_all(s.p("etc/links")).unwrap();
    std::fs::write(s.p("etc/links/passwd"), "x").unwrap();
    let bpffs = s.p("bpffs").display().to_string();
    let record = serde_json::json!({
        "version": 1, "source": "cmdline", "disabled": false, "bpffs": bpffs,
        "mounted_bpffs": true, "error": null, "duration_ms": 1.0,
        "objects": [
            {"name": "../etc", "result": "loaded", "required": false, "sha256": null,
             "key_id": null, "error": null, "links": ["passwd"], "link_ids": {"passwd": 1},
             "maps": [], "programs": [], "not_attached": [], "skipped_programs": [],
             "shared_maps": ["../../etc"], "duration_ms": 0.0,
             "phases": {"verify_ms": 0.0, "load_ms": 0.0, "pin_ms": 0.0}},
            {"name": "ok", "result": "already-loaded", "required": false, "sha256": null,
             "key_id": null, "error": null, "links": ["../../../etc/passwd", "a\u{1b}[2J"],
             "maps": [], "programs": [], "not_attached": [], "skipped_programs": [],
             "shared_maps": [], "duration_ms": 0.0,
             "phases": {"verify_ms": 0.0, "load_ms": 0.0, "pin_ms": 0.0}}
        ]
    });
    let f = s.p("status.json");
    std::fs::write(&f, record.to_string()).unwrap();
    let o = bin(&[OsStr::new("status"), OsStr::new("--status"), f.as_os_str()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_clean(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("\n  ../etc               loaded         0.0 ms\n      live: not checked: not an object name: name \"../etc\" has '.' at byte 0: only A-Z a-z 0-9 _ - are allowed; bpffs instance not checked\n"),
        "{out}"
    );
    // `ok` has no directory in the bpffs: removed; its forged pin names are not probed. The
    // record names no instance (and there is no guard): not checked, and said so once.
    assert!(
        out.contains("\n  ok                   removed        0.0 ms\n      missing: ok/\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  live: bpffs instance not checked (no instance recorded (an older record, and no guard info))\n"),
        "{out}"
    );
    assert!(
        !out.contains("etc/passwd (") && !out.contains("links/passwd"),
        "{out}"
    );
    let o = bin(&[
        OsStr::new("status"),
        OsStr::new("--json"),
        OsStr::new("--status"),
        f.as_os_str(),
    ]);
    assert_clean(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["live"]["objects"]["../etc"]["state"], "unknown", "{j}");
    assert_eq!(j["live"]["objects"]["ok"]["state"], "removed", "{j}");
    assert_eq!(
        j["live"]["objects"]["ok"]["missing"],
        serde_json::json!(["ok/"])
    );
    assert_eq!(j["live"]["checked"], false);
    // The file was only read.
    assert_eq!(std::fs::read_to_string(&f).unwrap(), record.to_string());
}

#[test]
fn no_status_file_makes_status_panic() {
    let s = Scratch::new("status-garbage");
    let deep = format!(
        "{{\"unknown_field\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let g = golden();
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "multibyte sha256",
            g.replace("\"8e8e", "\"ééééééééééééé8e").into_bytes(),
            None,
        ),
        (
            "short sha256",
            g.replace(&"8e".repeat(32), "é").into_bytes(),
            None,
        ),
        ("empty", Vec::new(), Some("EOF while parsing")),
        ("null", b"null".to_vec(), Some("invalid type: null")),
        ("object", b"{}".to_vec(), Some("missing field")),
        ("deep", deep.into_bytes(), Some("missing field `version`")),
        (
            "not utf-8",
            b"{\"version\": \"\xff\xfe\"}".to_vec(),
            Some("invalid unicode"),
        ),
        (
            "huge version",
            g.replace("\"version\": 1", "\"version\": 99999999999999999999")
                .into_bytes(),
            Some(""),
        ),
        (
            "negative time",
            g.replace("\"duration_ms\": 16.1", "\"duration_ms\": -1e308")
                .into_bytes(),
            None,
        ),
        (
            "truncated",
            g.as_bytes()[..g.len() / 2].to_vec(),
            Some("EOF while parsing"),
        ),
    ];
    for (what, bytes, error) in cases {
        let f = s.p("status.json");
        std::fs::write(&f, &bytes).unwrap();
        let o = bin(&[OsStr::new("status"), OsStr::new("--status"), f.as_os_str()]);
        assert_clean(&o);
        match error {
            None => assert!(o.status.success(), "{what}: {}", text(&o)),
            Some(e) => {
                assert_eq!(o.status.code(), Some(1), "{what}");
                let stderr = String::from_utf8_lossy(&o.stderr);
                assert!(
                    stderr.starts_with(&format!("bpf-preload: status {}: ", f.display()))
                        && stderr.contains(e),
                    "{what}: {stderr}"
                );
            }
        }
    }
    // Every single-byte truncation and a round of byte flips of the golden record: never a
    // panic (bin() fails on a signal), always a clean exit 0 or 1.
    let f = s.p("status.json");
    let mut parsed = 0;
    // (Up to the closing brace: cutting only the final newline leaves valid JSON.)
    for len in (0..g.trim_end().len()).step_by(7) {
        std::fs::write(&f, &g.as_bytes()[..len]).unwrap();
        let o = bin(&[OsStr::new("status"), OsStr::new("--status"), f.as_os_str()]);
        assert_eq!(o.status.code(), Some(1), "truncated to {len}");
    }
    for i in (0..g.len()).step_by(11) {
        let mut b = g.clone().into_bytes();
        b[i] ^= 0x01;
        std::fs::write(&f, &b).unwrap();
        let o = bin(&[OsStr::new("status"), OsStr::new("--status"), f.as_os_str()]);
        assert_clean(&o);
        if o.status.success() {
            parsed += 1;
        }
    }
    assert!(
        parsed > 0,
        "no flipped record parsed: the renderer was not reached"
    );
    // A FIFO or a device as the status file is refused, not waited on.
    nix::unistd::mkfifo(&s.p("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let o = bin(&[
        OsStr::new("status"),
        OsStr::new("--status"),
        s.p("fifo").as_os_str(),
    ]);
    assert!(
        text(&o).contains("is a special file (refused)"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_binary_signed_name_is_quoted_short_and_escaped() {
    use bpf_preload::trailer::{new_footer, ED25519_SIG_LEN};
    let s = Scratch::new("name255");
    let payload = std::fs::read(object("counter")).unwrap();
    let mut footer = new_footer(
        payload.len(),
        &ObjectName::parse("x").unwrap(),
        [1; 8],
        false,
    );
    footer.name_len = 255;
    let mut bytes = payload;
    bytes.extend((0..255u8).map(|i| if i % 2 == 0 { 0x1b } else { 0x80 | i }));
    bytes.extend_from_slice(&[0u8; ED25519_SIG_LEN]);
    bytes.extend_from_slice(&footer.to_bytes());
    std::fs::write(s.p("x.bpf.o"), &bytes).unwrap();
    let o = bin(&["inspect", s.p("x.bpf.o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!(
            "bpf-preload: {}: signed name: name \"\\x1b\u{fffd}\\x1b\u{fffd}",
            s.p("x.bpf.o").display()
        )),
        "{err}"
    );
    assert!(err.contains("…\" has '\u{fffd}' at byte 1"), "{err}");
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
}

/// Sign a built object into `dir` (with the fast path unless `plain`), return the signed bytes.
fn signed_object(s: &Scratch, obj: &str, plain: bool) -> (PathBuf, Vec<u8>, Output) {
    let out = s.p(&format!("{obj}.bpf.o"));
    let mut args = vec!["sign".to_string()];
    if plain {
        args.push("--no-fast-path".into());
    }
    args.extend([
        "--key".into(),
        test_private_key().display().to_string(),
        "--output".into(),
        out.display().to_string(),
        object(obj).display().to_string(),
    ]);
    let o = bin(&args);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = std::fs::read(&out).unwrap();
    (out, bytes, o)
}

fn verify_file(path: &Path) -> Output {
    bin(&[
        OsStr::new("verify"),
        OsStr::new("--key"),
        test_public_key().as_os_str(),
        path.as_os_str(),
    ])
}

#[test]
fn sign_adds_a_fast_path_inspect_says_which_path_and_why() {
    let s = Scratch::new("fastpath");
    let (fast, bytes, o) = signed_object(&s, "counter", false);
    assert!(text(&o).ends_with("(fast path)\n"), "{}", text(&o));
    assert_eq!(bytes[bytes.len() - 52 + 16], 2, "version 2");
    let i = text(&bin(&[OsStr::new("inspect"), fast.as_os_str()]));
    assert!(
        i.contains("path     fast (") && i.contains("1 programs)"),
        "{i}"
    );
    let o = verify_file(&fast);
    assert!(o.status.success(), "{}", text(&o));

    let s2 = Scratch::new("fastpath-plain");
    let (plain, bytes, o) = signed_object(&s2, "counter", true);
    assert!(
        text(&o).ends_with("(no fast path: --no-fast-path)\n"),
        "{}",
        text(&o)
    );
    assert_eq!(bytes[bytes.len() - 52 + 16], 1, "version 1");
    let i = text(&bin(&[OsStr::new("inspect"), plain.as_os_str()]));
    assert!(
        i.contains("path     libbpf: signed without a fast path (sign again to add one)"),
        "{i}"
    );
    // An object that cannot have one says why, at sign time and in inspect.
    let (shared, _, o) = signed_object(&s2, "shared_a", false);
    let why = "map \"shared_events\" is pinned by name (shared maps need libbpf)";
    assert!(text(&o).contains(why), "{}", text(&o));
    let i = text(&bin(&[
        OsStr::new("inspect"),
        OsStr::new("--json"),
        shared.as_os_str(),
    ]));
    let j: serde_json::Value = serde_json::from_str(&i).unwrap();
    assert_eq!(j["load_path"], "libbpf");
    assert_eq!(
        j["load_path_reason"],
        format!("signed without a fast path; it has none because {why}")
    );
}

/// The fast-path section is signed: a flipped byte in it is refused by the signature; a damaged
/// descriptor that is validly signed (a signer bug, a hostile key holder) is refused by the
/// checks, before any kernel call.
#[test]
fn a_tampered_or_damaged_fast_path_is_refused() {
    use bpf_preload::fast::{Attach, FastPath};
    use bpf_preload::trailer;
    let s = Scratch::new("fast-tamper");
    let (path, bytes, _) = signed_object(&s, "counter", false);
    let parsed = trailer::parse(&bytes).unwrap();
    let (payload, section) = (parsed.payload.to_vec(), parsed.fast.unwrap().to_vec());
    let name = parsed.name.clone();
    // Tampered: one byte of the loader's instructions, the descriptor, the data.
    for at in [40, section.len() / 2, section.len() - 1] {
        let mut bad = bytes.clone();
        bad[payload.len() + at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let o = verify_file(&path);
        assert_eq!(o.status.code(), Some(1), "flip at {at}: {}", text(&o));
        assert!(
            text(&o).contains("signature does not verify"),
            "{}",
            text(&o)
        );
    }
    // Damaged but signed.
    let info = bpf_preload::elf::describe(&payload).unwrap();
    let good = FastPath::parse(&section, &info).unwrap();
    let key_text = std::fs::read_to_string(test_private_key()).unwrap();
    let key = bpf_preload::keys::parse_private_pem("test", &key_text).unwrap();
    let mut traversal = good.clone();
    traversal.descriptor.programs[0].attach = Attach::Tracepoint {
        category: "..".into(),
        event: "x".into(),
    };
    let mut unattached = good.clone();
    unattached.descriptor.programs[0].attach = Attach::None;
    let mut lengths = good.encode().unwrap();
    lengths.push(0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "tracefs path traversal",
            traversal.encode().unwrap(),
            "check: fast-path descriptor: tracepoint category \"..\" is not [A-Za-z0-9_]+",
        ),
        (
            "not the ELF's programs",
            unattached.encode().unwrap(),
            "check: fast-path descriptor does not match the ELF: programs",
        ),
        (
            "lengths",
            lengths,
            "check: fast-path section lengths do not add up",
        ),
    ];
    for (what, section, want) in cases {
        let signed = bpf_preload::verify::sign_with(&payload, &name, &key, Some(&section)).unwrap();
        std::fs::write(&path, &signed).unwrap();
        let o = verify_file(&path);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", text(&o));
        assert!(text(&o).contains(want), "{what}: {}", text(&o));
    }
}

/// `sign` never signs a fast path that `run` would refuse or that would load differently from
/// libbpf: each of these objects (bpf/) is signed as version 1 with the rule, in words, and
/// `verify` accepts what it signed. The reasons are compared whole, so a sign that skipped a
/// check (and said "(fast path)") fails here.
#[test]
fn sign_says_in_words_why_an_object_has_no_fast_path() {
    let s = Scratch::new("sign-limits");
    let long = |c: char| format!("{c}123456789abcdef").repeat(4);
    let cases = [
        ("many_maps", "more than 64 maps (65)".to_owned()),
        ("many_progs", "more than 32 loaded programs (33)".to_owned()),
        (
            "long_prog_name",
            format!(
                "program name longer than 128 bytes (129): \"{}…\"",
                long('p')
            ),
        ),
        (
            "long_map_name",
            format!("map name longer than 128 bytes (129): \"{}…\"", long('m')),
        ),
        (
            "raw_tp_colon",
            "raw tracepoint \"sys_enter:skip_loop\" is not [A-Za-z0-9_]+".to_owned(),
        ),
        (
            "optional_kfunc",
            "extern \"bpf_no_such_kfunc\" is used only by programs not loaded (SEC(\"?...\")); \
             libbpf resolves it all the same (declare it __weak to make it optional)"
                .to_owned(),
        ),
    ];
    for (obj, why) in cases {
        let (path, bytes, o) = signed_object(&s, obj, false);
        assert_clean(&o);
        assert_eq!(
            text(&o),
            format!(
                "{}: signed as {obj} with key bfec6534c3009d50 (no fast path: {why})\n",
                path.display()
            ),
            "{obj}"
        );
        assert_eq!(bytes[bytes.len() - 52 + 16], 1, "{obj}: version 1");
        let v = verify_file(&path);
        assert!(v.status.success(), "{obj}: {}", text(&v));
        let i = text(&bin(&[
            OsStr::new("inspect"),
            OsStr::new("--json"),
            path.as_os_str(),
        ]));
        let j: serde_json::Value = serde_json::from_str(&i).unwrap();
        assert_eq!(
            j["load_path_reason"],
            format!("signed without a fast path; it has none because {why}"),
            "{obj}"
        );
    }
    // The same kfunc declared __weak, as libbpf asks for an optional one: a fast path.
    let (_, bytes, o) = signed_object(&s, "optional_weak_kfunc", false);
    assert!(text(&o).ends_with("(fast path)\n"), "{}", text(&o));
    assert_eq!(bytes[bytes.len() - 52 + 16], 2);
}

/// A version-2 object whose programs not loaded (`SEC("?…")`) use a strong extern (signed so
/// by an older `sign`): `verify` accepts it, `inspect` says `run` takes the libbpf path and why.
#[test]
fn an_old_fast_path_with_unloaded_externs_is_not_taken() {
    use bpf_preload::fast::{Descriptor, FastPath, MapDesc};
    let s = Scratch::new("sign-old-kfunc");
    let payload = std::fs::read(object("optional_kfunc")).unwrap();
    let info = bpf_preload::elf::describe(&payload).unwrap();
    // What the previous sign made of it: the map, the skipped program (the loader itself does
    // not matter here: it is never run).
    let fast = FastPath {
        descriptor: Descriptor {
            maps: vec![MapDesc {
                name: "kfunc_count".into(),
                map_type: 2,
            }],
            programs: vec![],
            skipped: vec!["calls_missing_kfunc".into()],
        },
        insns: vec![0x95, 0, 0, 0, 0, 0, 0, 0],
        data: vec![],
        kernel_sig: vec![],
    };
    let section = fast.encode().unwrap();
    assert_eq!(FastPath::parse(&section, &info), Ok(fast));
    let name = ObjectName::parse("optional_kfunc").unwrap();
    let signed =
        bpf_preload::verify::sign_with(&payload, &name, &signing_key(), Some(&section)).unwrap();
    let path = s.p("optional_kfunc.bpf.o");
    std::fs::write(&path, &signed).unwrap();
    assert!(verify_file(&path).status.success());
    let i = text(&bin(&[
        OsStr::new("inspect"),
        OsStr::new("--json"),
        path.as_os_str(),
    ]));
    let j: serde_json::Value = serde_json::from_str(&i).unwrap();
    assert_eq!(j["load_path"], "libbpf");
    assert_eq!(
        j["load_path_reason"],
        "fast path not taken: extern \"bpf_no_such_kfunc\" is used only by programs not loaded \
         (SEC(\"?...\")); libbpf resolves it all the same (declare it __weak to make it optional)"
    );
}

/// The man page docs/bpf-preload.8 (shipped by `make deb`) has a section for every subcommand
/// of `bpf-preload --help` and for every file in loader/src/commands/, and names there every
/// option the help shows for it and every long option its parser accepts: a subcommand or an
/// option added without a man entry fails here.
#[test]
fn man_page_covers_every_subcommand() {
    let man = std::fs::read_to_string(repo().join("docs/bpf-preload.8")).unwrap();
    // `.SS NAME` sections, with the option names as written in groff (`\-\-name`).
    let mut sections: std::collections::BTreeMap<String, String> = Default::default();
    let mut current: Option<String> = None;
    for line in man.lines() {
        if let Some(name) = line.strip_prefix(".SS ") {
            current = Some(name.trim_matches('"').to_owned());
            sections.insert(name.trim_matches('"').to_owned(), String::new());
        } else if line.starts_with(".SH ") {
            current = None;
        } else if let Some(c) = &current {
            let s = sections.get_mut(c).unwrap();
            s.push_str(&line.replace("\\-", "-"));
            s.push('\n');
        }
    }
    // From the help: "  bpf-preload SUB [--opt ...]" and its indented continuation lines.
    let help = bin(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8(help.stdout).unwrap();
    let mut from_help: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut sub: Option<String> = None;
    for line in help.lines() {
        let t = line.trim_start();
        if let Some(rest) = line.strip_prefix("  bpf-preload ") {
            let name = rest.split_whitespace().next().unwrap().to_owned();
            from_help.insert(name.clone(), Vec::new());
            sub = Some(name);
        } else if !line.starts_with("    ") {
            sub = None;
            continue;
        }
        if let Some(s) = &sub {
            let opts = t
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.starts_with("--") && w.len() > 2)
                .map(str::to_owned);
            from_help.get_mut(s).unwrap().extend(opts);
        }
    }
    let expected = [
        "inspect",
        "inspect-initramfs",
        "keygen",
        "predict",
        "run",
        "sign",
        "status",
        "verify",
    ];
    assert_eq!(
        from_help.keys().map(String::as_str).collect::<Vec<_>>(),
        expected,
        "the subcommands of --help"
    );
    // From the parsers: one file per subcommand, Long("opt") for each long option.
    let dir = repo().join("loader/src/commands");
    let mut from_source: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        // inspect_initramfs.rs is `inspect-initramfs`.
        let stem = p.file_stem().unwrap().to_str().unwrap().replace('_', "-");
        if stem == "mod" {
            continue;
        }
        let src = std::fs::read_to_string(&p).unwrap();
        let opts = src
            .split("Long(\"")
            .skip(1)
            .map(|r| format!("--{}", &r[..r.find('"').unwrap()]))
            .collect();
        from_source.insert(stem, opts);
    }
    assert_eq!(
        from_source.keys().map(String::as_str).collect::<Vec<_>>(),
        expected,
        "the files of loader/src/commands"
    );
    for (sub, opts) in from_help.iter().chain(from_source.iter()) {
        let Some(text) = sections.get(sub) else {
            panic!("docs/bpf-preload.8 has no `.SS {sub}` section");
        };
        for o in opts {
            assert!(
                text.contains(o.as_str()),
                "docs/bpf-preload.8, section {sub}: option {o} is not described"
            );
        }
    }
}

// ---- issue 16: kernel signatures (CMS) that openssl verifies over the same bytes ----

fn kernel_key(f: &str) -> PathBuf {
    repo().join("keys/test-only/kernel").join(f)
}

/// What the kernel verifies (the loader's instructions, then its data: the contents of its
/// exclusive frozen map) and the kernel signature of a kernel-signed object, as `run` reads
/// them (trailer, then the fast-path section).
fn loader_and_kernel_sig(signed: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let parsed = bpf_preload::trailer::parse(signed).unwrap();
    let section = parsed.fast.expect("a fast path");
    let s = bpf_preload::fast::FastSection::parse(section).unwrap();
    ([s.insns, s.data].concat(), s.kernel_sig.to_vec())
}

fn openssl_cms_verify(content: &Path, sig: &Path, cert: &Path) -> Output {
    Command::new("openssl")
        .args([
            OsStr::new("cms"),
            OsStr::new("-verify"),
            OsStr::new("-binary"),
        ])
        .args([
            OsStr::new("-inform"),
            OsStr::new("DER"),
            OsStr::new("-in"),
            sig.as_os_str(),
        ])
        .args([OsStr::new("-content"), content.as_os_str()])
        .args([OsStr::new("-certfile"), cert.as_os_str()])
        .args([OsStr::new("-CAfile"), cert.as_os_str()])
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .expect("openssl is not installed: the README test command installs it")
}

#[test]
fn kernel_signature_verifies_with_openssl_over_the_loader() {
    let s = Scratch::new("ksig");
    for kind in ["rsa", "p256", "p384"] {
        let out = s.p(&format!("counter-{kind}.bpf.o"));
        let (key, cert) = (
            kernel_key(&format!("{kind}.key")),
            kernel_key(&format!("{kind}.crt")),
        );
        let o = bin(&sign_args(&[
            OsStr::new("--kernel-key"),
            key.as_os_str(),
            OsStr::new("--kernel-cert"),
            cert.as_os_str(),
            OsStr::new("--output"),
            out.as_os_str(),
            object("counter").as_os_str(),
        ]));
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("fast path, kernel-signed with"),
            "{}",
            text(&o)
        );
        let signed = std::fs::read(&out).unwrap();
        let (insns, sig) = loader_and_kernel_sig(&signed);
        let (content, sigf) = (s.p(&format!("insns-{kind}")), s.p(&format!("sig-{kind}")));
        std::fs::write(&content, &insns).unwrap();
        std::fs::write(&sigf, &sig).unwrap();
        let v = openssl_cms_verify(&content, &sigf, &cert);
        assert!(
            v.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        // Other bytes, or another certificate: openssl refuses.
        let mut flipped = insns.clone();
        flipped[8] ^= 1;
        std::fs::write(&content, &flipped).unwrap();
        let v = openssl_cms_verify(&content, &sigf, &cert);
        assert!(
            !v.status.success(),
            "{kind}: a flipped loader byte must not verify"
        );
        std::fs::write(&content, &insns).unwrap();
        let v = openssl_cms_verify(&content, &sigf, &kernel_key("other.crt"));
        assert!(
            !v.status.success(),
            "{kind}: another certificate must not verify"
        );
        // The Ed25519 signature still covers the whole object, kernel signature included.
        verify_ok(&out);
    }
}

#[test]
fn kernel_key_refusals_name_the_reason_and_write_nothing() {
    let s = Scratch::new("ksig-refused");
    let out = s.p("out.bpf.o");
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "ed25519.key",
            "ed25519.crt",
            "counter",
            "the kernel has no Ed25519",
        ),
        (
            "noskid.key",
            "noskid.crt",
            "counter",
            "no subject key identifier",
        ),
        (
            "other.key",
            "rsa.crt",
            "counter",
            "does not belong to the certificate",
        ),
        ("rsa.key", "rsa.key", "counter", "not an X.509 certificate"),
        (
            "rsa.key",
            "rsa.crt",
            "many_maps",
            "cannot be kernel-signed: no fast path: more than 64 maps (65)",
        ),
    ];
    for (key, cert, obj, want) in cases {
        let o = bin(&sign_args(&[
            OsStr::new("--kernel-key"),
            kernel_key(key).as_os_str(),
            OsStr::new("--kernel-cert"),
            kernel_key(cert).as_os_str(),
            OsStr::new("--output"),
            out.as_os_str(),
            object(obj).as_os_str(),
        ]));
        assert_eq!(o.status.code(), Some(1), "{key} {cert} {obj}: {}", text(&o));
        assert!(
            text(&o).contains(want),
            "{key} {cert} {obj}: want {want:?} in {}",
            text(&o)
        );
        assert!(!out.exists(), "{key} {cert} {obj}: nothing written");
        assert_clean(&o);
    }
    // --kernel-key without --kernel-cert is a usage error.
    let o = bin(&sign_args(&[
        OsStr::new("--kernel-key"),
        kernel_key("rsa.key").as_os_str(),
        object("counter").as_os_str(),
    ]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
