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
    // The options each section describes: the `.TP` item headers (`.BI \-\-pcr " N"`).
    let mut described: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut current: Option<String> = None;
    let mut after_tp = false;
    for line in man.lines() {
        if let (true, Some(c)) = (after_tp, &current) {
            let opts = line
                .replace("\\-", "-")
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.starts_with("--") && w.len() > 2)
                .map(str::to_owned)
                .collect::<Vec<_>>();
            described.entry(c.clone()).or_default().extend(opts);
        }
        after_tp = line == ".TP";
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
            // A subcommand may have several usage lines (sign: three forms).
            from_help.entry(name.clone()).or_default();
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
    // And the other way: every option the man page describes is one the parser takes and the
    // help shows (a man entry for an option that is gone, or one the help forgets, fails).
    assert_eq!(
        described.keys().map(String::as_str).collect::<Vec<_>>(),
        expected,
        "the .SS sections that describe options"
    );
    for (sub, opts) in &described {
        for o in opts {
            assert!(
                from_source[sub].contains(o),
                "docs/bpf-preload.8, section {sub}: {o} is not an option of `{sub}`"
            );
            assert!(
                from_help[sub].contains(o),
                "bpf-preload --help: `{sub}` does not show {o} (the man page describes it)"
            );
        }
    }
}

/// `--version` is one line; `SUB --help` prints that subcommand's usage (and its exit codes),
/// not the whole usage; `--help` shows predict's `--cmdline` and `--policy`.
#[test]
fn version_and_per_subcommand_help() {
    for v in ["--version", "-V"] {
        let o = bin(&[v]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(
            stdout(&o),
            format!("bpf-preload {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
    let o = bin(&["sign", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.starts_with("usage:\n  bpf-preload sign --key PRIVATE.pem"),
        "{out}"
    );
    for other in [
        "bpf-preload run",
        "bpf-preload verify",
        "bpf-preload predict",
    ] {
        assert!(!out.contains(other), "{out}");
    }
    let out = stdout(&bin(&["status", "--check", "--help"]));
    assert!(out.starts_with("usage:\n  bpf-preload status "), "{out}");
    assert!(
        out.contains("exit codes of status --check: 0 all in place"),
        "{out}"
    );
    let out = stdout(&bin(&["predict", "-h"]));
    assert!(out.contains("exit codes of predict:"), "{out}");
    let help = stdout(&bin(&["--help"]));
    let predict: String = help
        .lines()
        .skip_while(|l| !l.starts_with("  bpf-preload predict"))
        .take_while(|l| l.starts_with("  bpf-preload predict") || l.starts_with("    "))
        .collect();
    for o in [
        "--cmdline FILE",
        "--policy FILE",
        "--pcr N",
        "--json",
        "--allow-unmeasured",
    ] {
        assert!(predict.contains(o), "{predict}");
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

// ---- issue 27: predict never lies ----

/// A bundle of two signed objects (`counter`, `iter`), a keys directory that trusts them and a
/// preload list naming both.
fn predict_bundle(s: &Scratch) {
    std::fs::create_dir_all(s.p("bundle")).unwrap();
    std::fs::create_dir_all(s.p("keys")).unwrap();
    std::fs::create_dir_all(s.p("nokeys")).unwrap();
    std::fs::copy(test_public_key(), s.p("keys/test.pub")).unwrap();
    for name in ["counter", "iter"] {
        let out = s.p(&format!("bundle/{name}.bpf.o"));
        let o = bin(&sign_args(&[
            OsStr::new("--name"),
            OsStr::new(name),
            OsStr::new("--output"),
            out.as_os_str(),
            object(name).as_os_str(),
        ]));
        assert!(o.status.success(), "{}", text(&o));
    }
    std::fs::write(s.p("list"), "counter\niter\n").unwrap();
}

/// `predict` over the bundle of [`predict_bundle`] with these extra arguments.
fn predict(s: &Scratch, extra: &[&str]) -> Output {
    let mut args: Vec<String> = ["predict", "--bundle"].map(String::from).to_vec();
    args.push(s.p("bundle").display().to_string());
    args.push("--preload-list".into());
    args.push(s.p("list").display().to_string());
    args.extend(extra.iter().map(|a| a.to_string()));
    if !extra.contains(&"--keys") {
        args.push("--keys".into());
        args.push(s.p("keys").display().to_string());
    }
    let o = bin(&args);
    assert_clean(&o);
    o
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The PCR is the boot's: the policy's `measure_pcr`, else the command line's
/// `rd.bpf_preload.measure=`; a `--pcr` that says otherwise is refused with exit 1 and no value
/// (issue 27: it printed a value "for PCR 12" while the boot measured into 9 or 7).
#[test]
fn predict_takes_the_pcr_the_boot_takes_and_refuses_a_contradicting_one() {
    let s = Scratch::new("predict-pcr");
    predict_bundle(&s);
    std::fs::write(s.p("policy9"), "measure_pcr = 9\n").unwrap();
    std::fs::write(s.p("cmdline7"), "quiet rd.bpf_preload.measure=7\n").unwrap();
    std::fs::write(s.p("cmdline12"), "rd.bpf_preload.measure=12\n").unwrap();
    std::fs::write(s.p("cmdline-off"), "rd.bpf_preload.measure=off\n").unwrap();
    std::fs::write(s.p("cmdline-plain"), "quiet\n").unwrap();
    let (policy9, cmdline7) = (s.p("policy9"), s.p("cmdline7"));
    let (policy9, cmdline7) = (policy9.to_str().unwrap(), cmdline7.to_str().unwrap());
    let off = s.p("cmdline-off").display().to_string();
    let cmdline12 = s.p("cmdline12").display().to_string();
    let plain = s.p("cmdline-plain").display().to_string();

    let refused = [
        (
            vec!["--policy", policy9, "--pcr", "12"],
            "predict: --pcr 12 refused: the policy's measure_pcr = 9",
        ),
        (
            vec!["--cmdline", cmdline7, "--pcr", "12"],
            "predict: --pcr 12 refused: the command line's rd.bpf_preload.measure= (PCR 7)",
        ),
        (
            vec!["--cmdline", &off, "--pcr", "12"],
            "predict: --pcr 12 refused: the boot would not measure",
        ),
        (
            vec!["--cmdline", &cmdline12, "--policy", policy9, "--pcr", "12"],
            "predict: --pcr 12 refused: the policy's measure_pcr = 9",
        ),
    ];
    for (extra, why) in refused {
        let o = predict(&s, &extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", text(&o));
        assert_eq!(stdout(&o), "", "{extra:?}: no value is printed");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.starts_with(&format!("bpf-preload: {why}")),
            "{extra:?}: {err}"
        );
    }

    // Without --pcr the PCR is the boot's; with an agreeing --pcr the same.
    let agreed = [
        (vec!["--policy", policy9], 9),
        (vec!["--policy", policy9, "--pcr", "9"], 9),
        (vec!["--cmdline", cmdline7], 7),
        (vec!["--cmdline", cmdline7, "--pcr", "7"], 7),
        // --pcr stands for the command line's option when the given one has none.
        (vec!["--cmdline", &plain, "--pcr", "5"], 5),
        (vec!["--pcr", "12"], 12),
    ];
    let mut values = Vec::new();
    for (extra, pcr) in agreed {
        let o = predict(&s, &extra);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", text(&o));
        let out = stdout(&o);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0].len(), 64, "{extra:?}: {out}");
        let events: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("# pcr {pcr} event ")))
            .collect();
        assert_eq!(events.len(), 3, "{extra:?}: {out}");
        assert_eq!(events[2], "bpf-preload end listed=2 measured=2");
        values.push(lines[0].to_owned());
    }
    // The events do not name the PCR: the same objects give the same value in any PCR.
    assert!(values.windows(2).all(|w| w[0] == w[1]), "{values:?}");

    // The policy wins over the command line, as at boot, and the note says so.
    let o = predict(&s, &["--policy", policy9, "--cmdline", &cmdline12]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("# pcr 9 event bpf-preload end listed=2"),
        "{out}"
    );
    assert!(
        out.contains(
            "# note: rd.bpf_preload.measure=12 refused: the initramfs policy measures into PCR 9"
        ),
        "{out}"
    );
}

/// A boot that measures nothing gets `measurement off` and no PCR value (exit 0), in text and
/// JSON; `--pcrlock` then has nothing to write and says so (exit 1, no file).
#[test]
fn predict_says_measurement_off_when_the_boot_measures_nothing() {
    let s = Scratch::new("predict-off");
    predict_bundle(&s);
    std::fs::write(s.p("cmdline"), "quiet rd.bpf_preload.measure=required\n").unwrap();
    let cmdline = s.p("cmdline").display().to_string();
    for extra in [vec![], vec!["--cmdline", cmdline.as_str()]] {
        let o = predict(&s, &extra);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", text(&o));
        let out = stdout(&o);
        assert_eq!(out.lines().next(), Some("measurement off"), "{out}");
        assert!(
            !out.lines()
                .any(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit())),
            "no PCR value: {out}"
        );
        assert!(!out.contains("# pcr "), "{out}");
    }
    // `required` without a PCR is ignored by the boot, and the note says why.
    let out = stdout(&predict(&s, &["--cmdline", &cmdline]));
    assert!(
        out.contains("# note: rd.bpf_preload.measure=required without a PCR (none in the initramfs policy): ignored"),
        "{out}"
    );
    let o = predict(&s, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["measurement"], "off");
    assert_eq!(j["pcr"], serde_json::Value::Null);
    assert_eq!(j["value"], serde_json::Value::Null);
    assert_eq!(j["events"], serde_json::json!([]));
    let pcrlock = s.p("c.pcrlock").display().to_string();
    let o = predict(&s, &["--pcrlock", &pcrlock]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("--pcrlock: the boot would not measure"),
        "{}",
        text(&o)
    );
    assert!(!s.p("c.pcrlock").exists());
}

/// An object the boot would not measure (here: no trusted key, or a tampered object) makes
/// predict exit 4 and name it, with the value and the reason still printed; `--allow-unmeasured`
/// accepts it (exit 0). Issue 27: without `--keys` it printed a value with nothing measured.
#[test]
fn predict_fails_when_a_listed_object_would_not_be_measured() {
    let s = Scratch::new("predict-unmeasured");
    predict_bundle(&s);
    let nokeys = s.p("nokeys").display().to_string();
    let o = predict(&s, &["--pcr", "12", "--keys", &nokeys]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("# pcr 12 event bpf-preload end listed=2 measured=0"),
        "{out}"
    );
    assert!(out.contains("# not measured: counter: "), "{out}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "bpf-preload: predict: listed but not measured: counter, iter (the value does not cover them; --allow-unmeasured accepts this)\n"
    );
    let o = predict(
        &s,
        &["--pcr", "12", "--keys", &nokeys, "--allow-unmeasured"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stdout(&o), out, "the same prediction");

    // One tampered object of two: exit 4 naming it alone.
    let f = s.p("bundle/iter.bpf.o");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(&f, bytes).unwrap();
    let o = predict(&s, &["--pcr", "12"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not measured: iter ("));
    assert!(stdout(&o).contains("bpf-preload end listed=2 measured=1"));
}

/// `--json`: the value is the replay of the events it lists, with the PCR, whether measurement
/// is required, the objects not measured and the plan's notes.
#[test]
fn predict_json_is_the_text_in_fields() {
    use bpf_preload::measure;
    let s = Scratch::new("predict-json");
    predict_bundle(&s);
    std::fs::write(s.p("policy"), "measure_pcr = 9\nmeasure = required\n").unwrap();
    let policy = s.p("policy").display().to_string();
    let o = predict(&s, &["--policy", &policy, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["measurement"], "on");
    assert_eq!(j["pcr"], 9);
    assert_eq!(j["required"], true);
    let events: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert!(events[0].starts_with("bpf-preload object=counter sha256="));
    assert!(events[1].starts_with("bpf-preload object=iter sha256="));
    let digests: Vec<[u8; 32]> = events.iter().map(|e| measure::event_digest(e)).collect();
    assert_eq!(
        j["value"],
        bpf_preload::verify::hex(&measure::replay(&digests))
    );
    assert_eq!(j["not_measured"], serde_json::json!([]));
    // The text's first line is the same value.
    let t = stdout(&predict(&s, &["--policy", &policy]));
    assert_eq!(Some(t.lines().next().unwrap()), j["value"].as_str());
}

// ---- issue 27: the boot's evidence is the boot's ----

/// This host is a booted system (its root is not `rootfs`, it has no /etc/initrd-release);
/// the tests below say so rather than pass vacuously inside an initramfs.
fn outside_initramfs() -> bool {
    bpf_preload::where_running() == bpf_preload::place::Place::System
}

fn run_args(s: &Scratch, cmdline: &str, extra: &[&str]) -> Vec<String> {
    std::fs::write(s.p("cmdline"), cmdline).unwrap();
    let mut a: Vec<String> = vec!["run".into(), "--cmdline".into()];
    a.push(s.p("cmdline").display().to_string());
    for (opt, rel) in [
        ("--preload-list", "list"),
        ("--bundle", "bundle"),
        ("--keys", "keys"),
        ("--bpffs", "bpffs"),
        ("--policy", "no-policy"),
    ] {
        a.push(opt.into());
        a.push(s.p(rel).display().to_string());
    }
    a.extend(extra.iter().map(|x| x.to_string()));
    a
}

/// Outside an initramfs `run` refuses the boot's default record (exit 1, nothing made); with
/// `--status FILE` it runs, logs to stderr instead of the kernel log, leaves the TPM alone,
/// and its record says which boot, when and where; `--tpm-device` without `--measure-log` is
/// refused; `--boot` acts as the boot (kmsg).
#[test]
fn run_outside_an_initramfs_leaves_the_boots_evidence_alone() {
    if !outside_initramfs() {
        return skip(
            "run_outside_an_initramfs",
            "this test runs inside an initramfs",
        );
    }
    let s = Scratch::new("run-outside");
    predict_bundle(&s);
    let default_status = Path::new("/run/bpf-preload/status.json");
    let before = std::fs::read(default_status).ok();
    let o = bin(&run_args(&s, "rd.bpf_preload.measure=12", &[]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "bpf-preload: not in an initramfs (no /etc/initrd-release, the root is not the kernel's rootfs): \
         a run by hand would overwrite the boot's record /run/bpf-preload/status.json; give --status FILE \
         (kmsg and the TPM are then left alone), --dry-run, or --boot to act as the boot\n"
    );
    assert_eq!(
        std::fs::read(default_status).ok(),
        before,
        "the boot's record is untouched"
    );
    assert!(!s.p("bpffs").exists());

    // --status FILE: it runs; the log lines go to stderr (not kmsg: no --verbose here).
    let status = s.p("status.json").display().to_string();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = bin(&run_args(
        &s,
        "rd.bpf_preload=0 rd.bpf_preload.measure=12",
        &["--status", &status],
    ));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    // The TPM is not tried: no device, and the reason says why.
    assert!(
        err.contains("bpf-preload: measurement: unavailable pcr=12 events=0 reason: no TPM: no TPM device to try (a run outside the initramfs uses one only with --tpm-device)"),
        "{err}"
    );
    let st =
        bpf_preload::status::Status::from_json(&std::fs::read_to_string(&status).unwrap()).unwrap();
    let run = st.run.expect("the record says which run");
    assert_eq!(run.place, bpf_preload::place::Place::System);
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(run.boot_id, boot_id.trim().replace('-', ""));
    assert!(
        run.started >= t0 && run.started <= t0 + 60,
        "{}",
        run.started
    );
    assert_eq!(
        st.measurement.unwrap().state,
        bpf_preload::status::MeasureState::Unavailable
    );
    // `status` shows them.
    let o = bin(&["status", "--status", &status]);
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "\n  run: boot {}, started {}, on the booted system (a manual run, not the boot)\n",
            run.boot_id,
            bpf_preload::status::utc(run.started)
        )),
        "{out}"
    );

    // --tpm-device alone would append to the boot's measurement log: refused.
    let o = bin(&run_args(
        &s,
        "rd.bpf_preload=0",
        &["--status", &status, "--tpm-device", "/dev/null"],
    ));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("--tpm-device without --measure-log"),
        "{}",
        text(&o)
    );

    // --boot: acts as the boot; the log lines go to the kernel log, not stderr (a TPM of
    // the scratch directory, which does not exist, keeps this host's PCRs out of it).
    let (tpm, log) = (
        s.p("tpm0").display().to_string(),
        s.p("log").display().to_string(),
    );
    let boot = [
        "--status",
        &status,
        "--boot",
        "--tpm-device",
        &tpm,
        "--measure-log",
        &log,
    ];
    let o = bin(&run_args(
        &s,
        "rd.bpf_preload=0 rd.bpf_preload.measure=12",
        &boot,
    ));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("measurement: unavailable"),
        "{}",
        text(&o)
    );
    let st =
        bpf_preload::status::Status::from_json(&std::fs::read_to_string(&status).unwrap()).unwrap();
    assert!(st
        .measurement
        .unwrap()
        .reason
        .unwrap()
        .contains("tpm0: No such file"));
}

/// `--dry-run` plans, verifies and predicts with no kernel call (strace: no bpf(), no mount(),
/// no file opened for writing, no /dev/kmsg or TPM) and writes nothing; a required object that
/// would be refused makes it exit 3.
#[test]
fn run_dry_run_makes_no_kernel_calls() {
    if Command::new("strace").arg("-V").output().is_err() {
        return skip(
            "run_dry_run_makes_no_kernel_calls",
            "strace is not installed",
        );
    }
    let s = Scratch::new("run-dry");
    predict_bundle(&s);
    let trace = s.p("trace").display().to_string();
    let mut args = vec!["-f".to_string(), "-o".into(), trace.clone(), BIN.into()];
    args.extend(run_args(&s, "rd.bpf_preload.measure=12", &["--dry-run"]));
    let o = Command::new("strace").args(&args).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("object counter: verified\nobject iter: verified\n"),
        "{out}"
    );
    let predicted = stdout(&predict(&s, &["--pcr", "12"]));
    let value = predicted.lines().next().unwrap();
    assert!(
        out.contains(&format!(
            "measurement: PCR 12 would be {value} (from a reset PCR)"
        )),
        "{out}"
    );
    let trace = std::fs::read_to_string(s.p("trace")).unwrap();
    for line in trace.lines() {
        let call = line.split_once(' ').map_or(line, |(_, c)| c).trim_start();
        assert!(!call.starts_with("bpf("), "{line}");
        assert!(!call.starts_with("mount("), "{line}");
        assert!(
            !line.contains("/dev/kmsg") && !line.contains("/dev/tpm"),
            "{line}"
        );
        if call.starts_with("open") {
            assert!(
                !line.contains("O_WRONLY") && !line.contains("O_RDWR") && !line.contains("O_CREAT"),
                "{line}"
            );
        }
    }
    assert!(
        trace.contains("bundle/counter.bpf.o"),
        "the trace is of the run"
    );
    assert!(!s.p("bpffs").exists());

    // A required object that would be refused: exit 3, named.
    std::fs::remove_file(s.p("bundle/iter.bpf.o")).unwrap();
    let o = bin(&run_args(
        &s,
        "rd.bpf_preload=counter,iter rd.bpf_preload.required=iter",
        &["--dry-run"],
    ));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        stdout(&o).contains("object iter (required): refused: read "),
        "{}",
        text(&o)
    );
}

// ---- issue 27: status --check ----

/// `status --check` exits non-zero when something is wrong, with a code per kind (the most
/// serious wins) and one line per problem on stderr; without `--check` the same records exit 0.
#[test]
fn status_check_exit_codes_say_what_is_wrong() {
    let s = Scratch::new("status-check");
    std::fs::create_dir_all(s.p("bpffs")).unwrap();
    let bpffs = s.p("bpffs").display().to_string();
    let object = |name: &str, result: &str, required: bool| {
        serde_json::json!({"name": name, "result": result, "required": required, "sha256": null,
            "key_id": null, "error": if result == "failed" { Some("boom") } else { None },
            "links": [], "maps": [], "programs": [], "not_attached": [],
            "skipped_programs": [], "shared_maps": [], "duration_ms": 0.0,
            "phases": {"verify_ms": 0.0, "load_ms": 0.0, "pin_ms": 0.0}})
    };
    let cases = [
        (vec![], 0, ""),
        (
            vec![object("opt", "failed", false)],
            4,
            "bpf-preload: status --check: object opt failed\n",
        ),
        (
            vec![object("opt", "failed", false), object("req", "failed", true)],
            3,
            "bpf-preload: status --check: required object req failed\nbpf-preload: status --check: object opt failed\n",
        ),
        // Loaded at boot, its directory gone now.
        (
            vec![object("gone", "loaded", false), object("opt", "failed", false)],
            5,
            "bpf-preload: status --check: object gone: removed now\nbpf-preload: status --check: object opt failed\n",
        ),
    ];
    for (objects, code, stderr) in cases {
        let record = serde_json::json!({
            "version": 1, "source": "cmdline", "disabled": false, "bpffs": bpffs,
            "mounted_bpffs": true, "error": null, "duration_ms": 1.0, "objects": objects,
        });
        let f = s.p("status.json");
        std::fs::write(&f, record.to_string()).unwrap();
        let f = f.display().to_string();
        let o = bin(&["status", "--check", "--status", &f]);
        assert_eq!(o.status.code(), Some(code), "{record}: {}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stderr), stderr, "{record}");
        assert_clean(&o);
        let o = bin(&["status", "--status", &f]);
        assert_eq!(o.status.code(), Some(0), "{record}: {}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    }
    // No record: 1, as before.
    let missing = s.p("none.json").display().to_string();
    assert_eq!(
        bin(&["status", "--check", "--status", &missing])
            .status
            .code(),
        Some(1)
    );
}

// ---- issue 27: bash completion ----

/// completion/bpf-preload.bash offers, for each subcommand, exactly the options its parser
/// takes (and --help); it completes in bash; `make install-files` installs it where
/// bash-completion looks (the Debian package is built from install-files).
#[test]
fn bash_completion_matches_the_parsers_and_is_installed() {
    let script = repo().join("completion/bpf-preload.bash");
    let body = std::fs::read_to_string(&script).unwrap();
    for sub in [
        "inspect",
        "inspect-initramfs",
        "keygen",
        "predict",
        "run",
        "sign",
        "status",
        "verify",
    ] {
        let file = sub.replace('-', "_");
        let src =
            std::fs::read_to_string(repo().join(format!("loader/src/commands/{file}.rs"))).unwrap();
        let mut want: Vec<String> = src
            .split("Long(\"")
            .skip(1)
            .map(|r| format!("--{}", &r[..r.find('"').unwrap()]))
            .collect();
        want.push("--help".into());
        want.sort();
        let line = body
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{sub}) opts=\"")))
            .unwrap_or_else(|| panic!("no options line for {sub}"));
        let quoted = line.split('"').nth(1).unwrap();
        let mut got: Vec<String> = quoted.split_whitespace().map(str::to_owned).collect();
        got.sort();
        assert_eq!(got, want, "completion options of {sub}");
    }
    let complete = |words: &str| {
        let cmd = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _bpf_preload; echo \"${{COMPREPLY[*]}}\"",
            script.display()
        );
        let o = Command::new("bash")
            .args(["--norc", "-c", &cmd])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(complete("bpf-preload pr"), "predict");
    assert_eq!(complete("bpf-preload inspect-"), "inspect-initramfs");
    assert_eq!(complete("bpf-preload inspect-initramfs --j"), "--json");
    assert_eq!(complete("bpf-preload predict --al"), "--allow-unmeasured");
    assert_eq!(complete("bpf-preload status --c"), "--check");
    let s = Scratch::new("completion-install");
    let o = Command::new("make")
        .args(["-s", "-C"])
        .arg(repo())
        .arg("install-files")
        .arg(format!("DESTDIR={}", s.0.display()))
        .arg(format!("BIN={BIN}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let installed = s.p("usr/share/bash-completion/completions/bpf-preload");
    assert_eq!(std::fs::read_to_string(installed).unwrap(), body);
}

// ---- issue 27: an external signer (detached signature) ----

/// `sign --public-key --message-out`, a signature made by openssl (as an HSM, a PKCS#11 token
/// or a provider key would make it), then `sign --public-key --signature`: the same bytes as
/// `sign --key` with that key, and `verify` accepts them. Signatures over other bytes (another
/// object's or another name's message), by another key, or cut short are refused with the
/// reason and leave the prepared object as it was.
#[test]
fn a_detached_signature_made_by_openssl_gives_the_same_object_as_sign() {
    let s = Scratch::new("detached");
    for k in ["k1", "k2"] {
        openssl(&[
            OsStr::new("genpkey"),
            OsStr::new("-algorithm"),
            OsStr::new("ed25519"),
            OsStr::new("-out"),
            s.p(&format!("{k}.pem")).as_os_str(),
        ]);
        openssl(&[
            OsStr::new("pkey"),
            OsStr::new("-in"),
            s.p(&format!("{k}.pem")).as_os_str(),
            OsStr::new("-pubout"),
            OsStr::new("-out"),
            s.p(&format!("{k}.pub")).as_os_str(),
        ]);
    }
    let arg = |p: &Path| p.display().to_string();
    let key_id = |k: &str| {
        let pem = std::fs::read_to_string(s.p(&format!("{k}.pub"))).unwrap();
        let vk = bpf_preload::keys::parse_public_pem(k, &pem).unwrap();
        bpf_preload::keys::KeyId::of(&vk).to_string()
    };
    let pkeyutl = |key: &str, msg: &Path, sig: &Path| {
        openssl(&[
            OsStr::new("pkeyutl"),
            OsStr::new("-sign"),
            OsStr::new("-rawin"),
            OsStr::new("-inkey"),
            s.p(&format!("{key}.pem")).as_os_str(),
            OsStr::new("-in"),
            msg.as_os_str(),
            OsStr::new("-out"),
            sig.as_os_str(),
        ]);
    };
    // Prepare `obj` as `name` for k1 into `out`, return the message file.
    let prepare = |obj: &str, name: &str, out: &Path, extra: &[&str]| {
        let msg = PathBuf::from(format!("{}.msg", out.display()));
        let mut args = vec![
            "sign".to_owned(),
            "--public-key".into(),
            arg(&s.p("k1.pub")),
            "--message-out".into(),
            arg(&msg),
            "--name".into(),
            name.into(),
            "-o".into(),
            arg(out),
        ];
        args.extend(extra.iter().map(|e| e.to_string()));
        args.push(arg(&object(obj)));
        let o = bin(&args);
        assert!(o.status.success(), "{}", text(&o));
        assert_clean(&o);
        msg
    };
    let attach = |public: &str, sig: &Path, prepared: &Path| {
        bin(&[
            "sign".to_owned(),
            "--public-key".into(),
            arg(&s.p(&format!("{public}.pub"))),
            "--signature".into(),
            arg(sig),
            arg(prepared),
        ])
    };
    let verify_with = |public: &str, path: &Path| {
        bin(&[
            OsStr::new("verify"),
            OsStr::new("--key"),
            s.p(&format!("{public}.pub")).as_os_str(),
            path.as_os_str(),
        ])
    };
    for (tag, extra) in [("fast", &[][..]), ("plain", &["--no-fast-path"][..])] {
        // `verify` takes the name from the file name: counter.bpf.o, one directory each.
        for d in ["here", "detached"] {
            std::fs::create_dir_all(s.p(&format!("{d}-{tag}"))).unwrap();
        }
        let here = s.p(&format!("here-{tag}/counter.bpf.o"));
        let mut args = vec!["sign", "--key"];
        let k1 = arg(&s.p("k1.pem"));
        args.push(&k1);
        args.extend_from_slice(extra);
        let (here_s, obj) = (arg(&here), arg(&object("counter")));
        args.extend(["--name", "counter", "-o", &here_s, &obj]);
        let o = bin(&args);
        assert!(o.status.success(), "{}", text(&o));

        let prepared = s.p(&format!("detached-{tag}/counter.bpf.o"));
        let msg = prepare("counter", "counter", &prepared, extra);
        // The prepared object is not signed: verify says so, naming the key.
        let o = verify_with("k1", &prepared);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains(&format!(
                "refused: verify: not signed yet: prepared for key {} by `sign --message-out`",
                key_id("k1")
            )),
            "{}",
            text(&o)
        );
        let i = text(&bin(&[OsStr::new("inspect"), prepared.as_os_str()]));
        assert!(
            i.contains(&format!(
                "key id   {} (not signed yet: prepared by sign --message-out)\n",
                key_id("k1")
            )),
            "{i}"
        );
        let before = std::fs::read(&prepared).unwrap();

        // Refused, each with its reason, and nothing written.
        let refuse = |public: &str, sig: &Path, why: &str| {
            let o = attach(public, sig, &prepared);
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            assert!(text(&o).contains(why), "want {why:?}: {}", text(&o));
            assert_clean(&o);
            assert_eq!(std::fs::read(&prepared).unwrap(), before, "{why}");
        };
        let bad = format!(
            "signature does not verify over this object's message with key {}",
            key_id("k1")
        );
        // A signature over another name's message, and over another object's message: the
        // message file is useless for anything but its own object.
        for (other_obj, other_name) in [("counter", "other"), ("shared_a", "counter")] {
            let other = s.p(&format!("other-{tag}-{other_obj}-{other_name}.bpf.o"));
            let other_msg = prepare(other_obj, other_name, &other, extra);
            assert_ne!(
                std::fs::read(&other_msg).unwrap(),
                std::fs::read(&msg).unwrap()
            );
            let sig = s.p(&format!("other-{tag}-{other_obj}-{other_name}.sig"));
            pkeyutl("k1", &other_msg, &sig);
            refuse("k1", &sig, &bad);
        }
        // Another private key: with k1's public key a bad signature; with its own, the wrong key.
        let sig2 = s.p(&format!("k2-{tag}.sig"));
        pkeyutl("k2", &msg, &sig2);
        refuse("k1", &sig2, &bad);
        refuse(
            "k2",
            &sig2,
            &format!(
                "the object was prepared for key {}, the public key given is {}",
                key_id("k1"),
                key_id("k2")
            ),
        );
        // The right signature, cut short, and with a byte added.
        let sig = s.p(&format!("k1-{tag}.sig"));
        pkeyutl("k1", &msg, &sig);
        let good = std::fs::read(&sig).unwrap();
        assert_eq!(good.len(), 64);
        let cut = s.p(&format!("cut-{tag}.sig"));
        std::fs::write(&cut, &good[..63]).unwrap();
        refuse(
            "k1",
            &cut,
            "signature is 63 bytes, an ed25519 signature is 64",
        );
        std::fs::write(&cut, [&good[..], b"\n"].concat()).unwrap();
        refuse(
            "k1",
            &cut,
            "signature is 65 bytes, an ed25519 signature is 64",
        );

        // The real one: attached, byte-identical to `sign --key`, verified.
        let o = attach("k1", &sig, &prepared);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("signed as counter with key {}", key_id("k1"))),
            "{}",
            text(&o)
        );
        assert_eq!(
            std::fs::read(&prepared).unwrap(),
            std::fs::read(&here).unwrap(),
            "{tag}: detached and in-process signatures differ"
        );
        let o = verify_with("k1", &prepared);
        assert!(o.status.success(), "{}", text(&o));
    }
    // Options of the first step are refused in the second.
    let o = bin(&[
        "sign",
        "--public-key",
        &arg(&s.p("k1.pub")),
        "--signature",
        &arg(&s.p("k1-fast.sig")),
        "--name",
        "x",
        &arg(&s.p("detached-fast/counter.bpf.o")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--name, --no-fast-path and --kernel-key belong to the step"),
        "{}",
        text(&o)
    );
}

/// `inspect-initramfs --json`: the text's facts in fields (the schema of the man page), the
/// image's strings escaped (a key file named with an escape sequence and a bidi override comes
/// out as `\u` escapes and parses back to the same name), and the exit status of the text.
#[test]
fn inspect_initramfs_json_is_the_text_in_fields() {
    use bpf_preload::{cpio, measure};
    let s = Scratch::new("inspect-initramfs-json");
    for (name, obj) in [
        ("counter", "counter"),
        ("iter", "iter"),
        ("spare", "maponly"),
    ] {
        let o = bin(&[
            "sign".to_owned(),
            "--key".into(),
            test_private_key().display().to_string(),
            "-o".into(),
            s.p(&format!("{name}.bpf.o")).display().to_string(),
            object(obj).display().to_string(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let read = |n: &str| std::fs::read(s.p(n)).unwrap();
    let (counter, iter, spare) = (
        read("counter.bpf.o"),
        read("iter.bpf.o"),
        read("spare.bpf.o"),
    );
    let public = std::fs::read(test_public_key()).unwrap();
    let hostile = "etc/bpf-preload/keys/x\u{1b}[31m\u{202e}.pub";
    let image = |list: &[u8]| {
        cpio::newc(&[
            ("usr/bin/bpf-preload", 0o100755, b"loader".as_slice()),
            ("etc/bpf-preload/keys/test.pub", 0o100644, &public),
            (hostile, 0o100644, b"not a key"),
            (
                "etc/bpf-preload/keys/revoked",
                0o100644,
                b"0011223344556677\n",
            ),
            ("etc/bpf-preload/policy", 0o100644, b"measure_pcr = 9\n"),
            ("etc/bpf-preload/preload.list", 0o100644, b"iter\n"),
            ("etc/bpf-preload/preload.list.d/50-pkg.list", 0o100644, list),
            ("usr/lib/bpf-preload/counter.bpf.o", 0o100644, &counter),
            ("usr/lib/bpf-preload/iter.bpf.o", 0o100644, &iter),
            ("usr/lib/bpf-preload/spare.bpf.o", 0o100644, &spare),
        ])
    };
    std::fs::write(s.p("good.img"), image(b"counter\n")).unwrap();
    let img = s.p("good.img").display().to_string();
    let o = bin(&["inspect-initramfs", "--json", &img]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_clean(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let key = bpf_preload::keys::KeyId::of(
        &bpf_preload::keys::parse_public_pem("t", std::str::from_utf8(&public).unwrap()).unwrap(),
    )
    .to_string();
    assert_eq!(j["image"], img);
    assert_eq!(j["layers"], serde_json::json!(["1 cpio archive(s)"]));
    assert_eq!(j["entries"], 10);
    assert_eq!(j["loader_bytes"], 6);
    // In name order: test.pub, then the hostile one.
    assert_eq!(j["keys"][1]["key_id"], serde_json::Value::Null);
    assert_eq!(j["keys"][1]["path"], format!("/{hostile}"));
    assert!(
        j["keys"][1]["error"]
            .as_str()
            .unwrap()
            .contains("x\u{1b}[31m"),
        "{}",
        j["keys"][1]
    );
    assert_eq!(
        j["keys"][0],
        serde_json::json!({"path": "/etc/bpf-preload/keys/test.pub", "key_id": key, "error": null})
    );
    assert_eq!(j["certificates"], 0);
    assert_eq!(
        j["revoked"],
        serde_json::json!({"lines": ["0011223344556677"], "error": null})
    );
    assert_eq!(
        j["policy"],
        serde_json::json!({"lines": ["measure_pcr = 9"], "error": null})
    );
    assert_eq!(
        j["list_files"],
        serde_json::json!([
            "/etc/bpf-preload/preload.list",
            "/etc/bpf-preload/preload.list.d/50-pkg.list"
        ])
    );
    assert_eq!(j["list_unused"], serde_json::Value::Null);
    let objects = j["objects"].as_array().unwrap();
    let names: Vec<&str> = objects
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["iter", "counter"]);
    for o in objects {
        assert_eq!(o["result"], "verified", "{o}");
        assert_eq!(o["key_id"], key.as_str());
        assert_eq!(o["load_path"], "fast");
        assert_eq!(o["required"], false);
        assert_eq!(o["reason"], serde_json::Value::Null);
    }
    assert_eq!(
        objects[1]["sha256"],
        bpf_preload::verify::hex(&sha2_of(&object("counter")))
    );
    assert_eq!(j["objects_in_image"], 3);
    assert_eq!(j["not_in_plan"], serde_json::json!(["spare"]));
    assert_eq!(j["measurement"], "on");
    assert_eq!(j["pcr"], 9);
    assert_eq!(j["required"], false);
    let events: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    let digests: Vec<[u8; 32]> = events.iter().map(|e| measure::event_digest(e)).collect();
    assert_eq!(
        j["value"],
        bpf_preload::verify::hex(&measure::replay(&digests))
    );
    assert_eq!(j["ok"], true);
    // The text says the same, and escapes the same name.
    let t = stdout(&bin(&["inspect-initramfs", &img]));
    assert!(
        t.contains(&format!("pcr 9: {} (", j["value"].as_str().unwrap())),
        "{t}"
    );
    assert!(t.contains("keys: 2; certificates: 0\n"), "{t}");
    // An object the plan loads that is not in the image: refused with the reason, exit 1.
    std::fs::write(s.p("bad.img"), image(b"counter\nmissing\n")).unwrap();
    let img = s.p("bad.img").display().to_string();
    let o = bin(&["inspect-initramfs", "--json", &img]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(
        j["objects"][2],
        serde_json::json!({
            "name": "missing", "required": false, "result": "refused", "key_id": null,
            "sha256": null, "load_path": null,
            "reason": "/usr/lib/bpf-preload/missing.bpf.o is not in the image"
        })
    );
}

/// SHA-256 of an object's payload (the whole unsigned file).
fn sha2_of(path: &Path) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// The man page formats at 80 columns without a groff warning: lintian reports each one
/// (`groff-message`), as it did for a settings table wider than the page. The same command
/// as lintian's.
#[test]
fn man_page_formats_without_warnings() {
    let page = repo().join("docs/bpf-preload.8");
    let o = match Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
        .arg(&page)
        .env("LC_ALL", "C.UTF-8")
        .env("MANROFFSEQ", "")
        .env("MANWIDTH", "80")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            skip(
                "man_page_formats_without_warnings",
                &format!("man: {e} (apt install man-db)"),
            );
            return;
        }
    };
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "", "groff warnings");
}
