//! `initrd/initrd-run`, the fail-closed boot policy the dracut hook, the initramfs-tools script
//! and bpf-preload.service share, run by `sh` against a stub loader for every way the loader can
//! end: exit 0, exit 3, exit 1 (fatal), exit 2 (usage) and a crash (SIGSEGV, status 139), under
//! every source of "required". Each row asserts initrd-run's exit status and everything it
//! printed, the "boot refused: …" or "boot continues" line word for word.
//!
//! No root, no kernel: the paths initrd-run reads are moved into a scratch directory with
//! BPF_PRELOAD_BIN, BPF_PRELOAD_CMDLINE and BPF_PRELOAD_ETC, in an otherwise empty environment.
// Tests make and read files directly.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::Command;

mod common;
use common::*;

/// What the stub loader's `run` does.
#[derive(Clone, Copy, Debug)]
enum Loader {
    Exit(u8),
    /// Killed by SIGSEGV: the shell sees status 139.
    Crash,
}

impl Loader {
    fn status(self) -> u8 {
        match self {
            Loader::Exit(c) => c,
            Loader::Crash => 139,
        }
    }
    fn script(self) -> String {
        match self {
            Loader::Exit(c) => format!("exit {c}"),
            Loader::Crash => "ulimit -c 0; kill -SEGV $$".into(),
        }
    }
}

/// What the stub's `status` prints, and how initrd-run passes it on (stderr, every line
/// prefixed "bpf-preload: " unless it already is).
const STATUS: &[&str] = &[
    "bpf-preload: 2 objects: 1 loaded, 1 failed",
    "  counter: failed: load: Operation not permitted (os error 1)",
];
const STATUS_SHOWN: &str = "bpf-preload: 2 objects: 1 loaded, 1 failed\n\
    bpf-preload:   counter: failed: load: Operation not permitted (os error 1)\n";

/// One boot set-up: where (if anywhere) something is required, and what initrd-run says.
struct Setup {
    what: &'static str,
    /// /proc/cmdline.
    cmdline: &'static str,
    /// /etc/cmdline.d/50-bpf-preload.conf (dracut's built-in command line).
    cmdline_d: Option<&'static str>,
    /// /etc/cmdline.
    etc_cmdline: Option<&'static str>,
    /// /etc/bpf-preload/policy.
    policy: Option<&'static str>,
    /// After "bpf-preload: boot refused: " when the loader exits 3.
    on_3: &'static str,
    /// After exit 1, 2 or a crash: `None`, the boot continues; else the refusal, `{rc}` standing
    /// for the loader's status. `{policy}` stands for the policy's path in both.
    on_failure: Option<&'static str>,
}

const BY_POLICY_3: &str =
    "a required eBPF object, the required guard or required measurement failed (required by the initramfs policy ({policy}))";
const BY_POLICY: &str =
    "the loader failed with exit status {rc} while the initramfs policy ({policy}) require(s) it";
const NOTHING_3: &str = "a required eBPF object failed to load";

const SETUPS: &[Setup] = &[
    Setup {
        what: "nothing required",
        cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/vda ro rd.bpf_preload=counter quiet",
        cmdline_d: None,
        etc_cmdline: None,
        policy: None,
        on_3: NOTHING_3,
        on_failure: None,
    },
    Setup {
        what: "rd.bpf_preload.required= on the kernel command line",
        cmdline: "root=/dev/vda rd.bpf_preload.required=counter,netpol quiet",
        cmdline_d: None,
        etc_cmdline: None,
        policy: None,
        on_3: "a required eBPF object (rd.bpf_preload.required=counter,netpol) failed to load",
        on_failure: Some(
            "the loader failed with exit status {rc} while rd.bpf_preload.required=counter,netpol is set",
        ),
    },
    Setup {
        what: "rd.bpf_preload.required= only in /etc/cmdline.d",
        cmdline: "root=/dev/vda quiet",
        cmdline_d: Some("rd.bpf_preload.required=\"counter\"\n"),
        etc_cmdline: None,
        policy: None,
        on_3: "a required eBPF object (rd.bpf_preload.required=counter) failed to load",
        on_failure: Some(
            "the loader failed with exit status {rc} while rd.bpf_preload.required=counter is set",
        ),
    },
    Setup {
        what: "rd.bpf_preload.required= in all three, quoted and with empty items",
        cmdline: "root=/dev/vda rd.bpf_preload.required='a' rd.bpf_preload.required=b,",
        cmdline_d: Some("rd.bpf_preload.required=c"),
        etc_cmdline: Some("rd.bpf_preload.required=d\n"),
        policy: None,
        on_3: "a required eBPF object (rd.bpf_preload.required=a,b,c,d) failed to load",
        on_failure: Some(
            "the loader failed with exit status {rc} while rd.bpf_preload.required=a,b,c,d is set",
        ),
    },
    Setup {
        what: "a policy requiring objects",
        cmdline: "root=/dev/vda",
        cmdline_d: None,
        etc_cmdline: None,
        policy: Some("# bpf-preload build-time policy, written by initrd-install\nrequired = counter netpol\n"),
        on_3: BY_POLICY_3,
        on_failure: Some(BY_POLICY),
    },
    Setup {
        what: "a policy requiring the guard",
        cmdline: "root=/dev/vda",
        cmdline_d: None,
        etc_cmdline: None,
        policy: Some("guard = required\n"),
        on_3: BY_POLICY_3,
        on_failure: Some(BY_POLICY),
    },
    Setup {
        // The loader's policy parser takes the quotes off: so does initrd-run.
        what: "a policy requiring the guard, quoted",
        cmdline: "root=/dev/vda",
        cmdline_d: None,
        etc_cmdline: None,
        policy: Some("  guard=\"required\"   # quoted\n"),
        on_3: BY_POLICY_3,
        on_failure: Some(BY_POLICY),
    },
    Setup {
        what: "rd.bpf_preload.guard=required",
        cmdline: "root=/dev/vda rd.bpf_preload=counter rd.bpf_preload.guard=required",
        cmdline_d: None,
        etc_cmdline: None,
        policy: None,
        on_3: "a required eBPF object, the required guard or required measurement failed (required by rd.bpf_preload.guard=required)",
        on_failure: Some(
            "the loader failed with exit status {rc} while rd.bpf_preload.guard=required require(s) it",
        ),
    },
    Setup {
        what: "a policy requiring objects and rd.bpf_preload.required=",
        cmdline: "rd.bpf_preload.required=counter",
        cmdline_d: None,
        etc_cmdline: None,
        policy: Some("required = netpol\n"),
        on_3: "a required eBPF object, the required guard or required measurement failed (required by the initramfs policy ({policy}), rd.bpf_preload.required=counter)",
        on_failure: Some(
            "the loader failed with exit status {rc} while the initramfs policy ({policy}), rd.bpf_preload.required=counter require(s) it",
        ),
    },
    Setup {
        what: "rd.bpf_preload.measure=12,required",
        cmdline: "root=/dev/vda rd.bpf_preload=counter rd.bpf_preload.measure=12,required",
        cmdline_d: None,
        etc_cmdline: None,
        policy: None,
        on_3: "a required eBPF object, the required guard or required measurement failed (required by rd.bpf_preload.measure=12,required)",
        on_failure: Some(
            "the loader failed with exit status {rc} while rd.bpf_preload.measure=12,required require(s) it",
        ),
    },
    Setup {
        what: "a policy requiring measurement",
        cmdline: "root=/dev/vda rd.bpf_preload=counter",
        cmdline_d: None,
        etc_cmdline: None,
        policy: Some("measure_pcr = 12\nmeasure = required\n"),
        on_3: BY_POLICY_3,
        on_failure: Some(BY_POLICY),
    },
    Setup {
        what: "a policy of comments only",
        cmdline: "root=/dev/vda rd.bpf_preload=counter",
        cmdline_d: None,
        etc_cmdline: None,
        policy: Some("# required = counter\n   # guard = required\n\n"),
        on_3: NOTHING_3,
        on_failure: None,
    },
    Setup {
        what: "a policy that requires nothing (guard on, strict shared maps, an empty required)",
        cmdline: "root=/dev/vda rd.bpf_preload.guard=1",
        cmdline_d: None,
        etc_cmdline: None,
        policy: Some("guard = on\nstrict_shared = yes\nrequired =\nrequired = # none\n"),
        on_3: NOTHING_3,
        on_failure: None,
    },
];

const LOADERS: &[Loader] = &[
    Loader::Exit(0),
    Loader::Exit(3),
    Loader::Exit(1),
    Loader::Exit(2),
    Loader::Crash,
];

/// What initrd-run should do: its exit status, its stderr, and the loader commands it ran.
fn expected(setup: &Setup, loader: Loader, policy: &str) -> (i32, String, &'static str) {
    let fill = |s: &str| {
        s.replace("{rc}", &loader.status().to_string())
            .replace("{policy}", policy)
    };
    let refused = |why: &str| {
        (
            1,
            format!("{STATUS_SHOWN}bpf-preload: boot refused: {}\n", fill(why)),
            "run\nstatus\n",
        )
    };
    match (loader.status(), setup.on_failure) {
        (0, _) => (0, String::new(), "run\n"),
        (3, _) => refused(setup.on_3),
        (_, Some(why)) => refused(why),
        (rc, None) => (
            0,
            format!("bpf-preload: loader exited with status {rc}; no required objects, boot continues\n"),
            "run\n",
        ),
    }
}

#[test]
fn initrd_run_fails_closed_for_every_loader_exit() {
    let script = repo().join("initrd/initrd-run");
    let mut wrong = Vec::new();
    let mut rows = 0;
    for (i, setup) in SETUPS.iter().enumerate() {
        for &loader in LOADERS {
            let s = Scratch::new(&format!("initrd-run-{i}-{}", loader.status()));
            let etc = s.p("etc");
            std::fs::create_dir_all(etc.join("cmdline.d")).unwrap();
            std::fs::create_dir_all(etc.join("bpf-preload")).unwrap();
            std::fs::write(s.p("cmdline"), format!("{}\n", setup.cmdline)).unwrap();
            if let Some(c) = setup.cmdline_d {
                std::fs::write(etc.join("cmdline.d/50-bpf-preload.conf"), c).unwrap();
            }
            if let Some(c) = setup.etc_cmdline {
                std::fs::write(etc.join("cmdline"), c).unwrap();
            }
            let policy = etc.join("bpf-preload/policy");
            if let Some(p) = setup.policy {
                std::fs::write(&policy, p).unwrap();
            }
            let calls = s.p("calls");
            let status: String = STATUS.iter().map(|l| format!(" '{l}'")).collect();
            let stub = s.p("bpf-preload");
            std::fs::write(
                &stub,
                format!(
                    "#!/bin/sh\n\
                     echo \"$1\" >> '{calls}'\n\
                     case $1 in\n\
                     run) {run} ;;\n\
                     status) printf '%s\\n'{status}; exit 0 ;;\n\
                     esac\n\
                     exit 64\n",
                    calls = calls.display(),
                    run = loader.script(),
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();

            let out = Command::new("sh")
                .arg(&script)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .env("BPF_PRELOAD_BIN", &stub)
                .env("BPF_PRELOAD_CMDLINE", s.p("cmdline"))
                .env("BPF_PRELOAD_ETC", &etc)
                .output()
                .expect("run sh initrd/initrd-run");
            let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if let Loader::Crash = loader {
                // The shell's own word on the crash (dash: "Segmentation fault"), then ours.
                if let Some((first, rest)) = stderr.split_once('\n') {
                    if first.ends_with("Segmentation fault") {
                        stderr = rest.to_owned();
                    }
                }
            }
            let got = (
                out.status.code(),
                stderr,
                std::fs::read_to_string(&calls).unwrap_or_default(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            );
            let (code, stderr, ran) = expected(setup, loader, &policy.display().to_string());
            let want = (Some(code), stderr, ran.to_owned(), String::new());
            if got != want {
                wrong.push(format!(
                    "{} / loader status {}:\n  want {want:?}\n  got  {got:?}",
                    setup.what,
                    loader.status()
                ));
            }
            rows += 1;
        }
    }
    assert_eq!(rows, SETUPS.len() * LOADERS.len());
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// `make install-files` puts the initramfs build beside initrd-install, and every generator
/// takes that one, not the host's `bpf-preload` (which has `sign`): initrd-install (the
/// initramfs-tools hook and the dracut module run it) copies it to /usr/bin/bpf-preload of the
/// initramfs, dracut's module defaults to it, mkosi-initrd's drop-in copies it. Stub binaries
/// tell the two builds apart.
#[test]
fn generators_install_the_initramfs_build() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("initrd-build-installed");
    let (host, initrd) = (s.p("host-bin"), s.p("initrd-bin"));
    for (p, what) in [(&host, "host"), (&initrd, "initramfs")] {
        std::fs::write(p, format!("#!/bin/sh\necho {what} build\n")).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let root = s.p("root");
    let make = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(repo())
        .arg("install-files")
        .arg(format!("DESTDIR={}", root.display()))
        .arg(format!("BIN={}", host.display()))
        .arg(format!("INITRD_BIN={}", initrd.display()))
        .output()
        .expect("run make install-files");
    assert!(make.status.success(), "make install-files: {}", text(&make));
    let installed = |p: &str| std::fs::read(root.join(p)).unwrap();
    assert_eq!(
        installed("usr/bin/bpf-preload"),
        std::fs::read(&host).unwrap()
    );
    assert_eq!(
        installed("usr/libexec/bpf-preload/bpf-preload-initrd"),
        std::fs::read(&initrd).unwrap()
    );

    // initrd-install with its defaults, reading from a scratch sysroot (no /etc of this host).
    let sysroot = s.p("sysroot");
    std::fs::create_dir_all(sysroot.join("usr/lib/bpf-preload")).unwrap();
    std::fs::create_dir_all(sysroot.join("etc/bpf-preload/keys")).unwrap();
    std::fs::copy(
        object("counter"),
        sysroot.join("usr/lib/bpf-preload/counter.bpf.o"),
    )
    .unwrap();
    std::fs::copy(
        test_public_key(),
        sysroot.join("etc/bpf-preload/keys/test.pub"),
    )
    .unwrap();
    let dest = s.p("initramfs");
    let out = Command::new(root.join("usr/libexec/bpf-preload/initrd-install"))
        .arg("--sysroot")
        .arg(&sysroot)
        .arg(&dest)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("run initrd-install");
    assert!(out.status.success(), "initrd-install: {}", text(&out));
    assert_eq!(
        std::fs::read(dest.join("usr/bin/bpf-preload")).unwrap(),
        std::fs::read(&initrd).unwrap(),
        "initrd-install copies the initramfs build"
    );

    // dracut's module: its default binary (what check() and install() hand initrd-install).
    let module = root.join("usr/lib/dracut/modules.d/50bpf-preload/module-setup.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"source "$1"; _bpf_preload_defaults; echo "$bpf_preload_binary""#)
        .arg("bash")
        .arg(&module)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("run bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "/usr/libexec/bpf-preload/bpf-preload-initrd\n",
        "{}",
        text(&out)
    );

    // mkosi-initrd's drop-in copies the initramfs build to /usr/bin/bpf-preload.
    let mkosi =
        std::fs::read_to_string(root.join("usr/lib/mkosi-initrd/mkosi.conf.d/50-bpf-preload.conf"))
            .unwrap();
    let copied: Vec<&str> = mkosi
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with(":/usr/bin/bpf-preload"))
        .collect();
    assert_eq!(
        copied,
        ["/usr/libexec/bpf-preload/bpf-preload-initrd:/usr/bin/bpf-preload"]
    );
}

/// The initramfs build (cargo --no-default-features) has no sign-time code: `sign`, `keygen`
/// and `predict` are usage errors that say where they are; `verify` and `inspect` still work.
#[test]
#[ignore = "needs the initramfs build (tests/run-all.sh builds target/bpf-preload-initrd and sets BPF_PRELOAD_INITRD_BIN)"]
fn initramfs_build_refuses_sign_time_commands() {
    let initrd = std::env::var("BPF_PRELOAD_INITRD_BIN")
        .expect("BPF_PRELOAD_INITRD_BIN: the path of the --no-default-features build");
    let s = Scratch::new("initrd-build-refuses");
    let signed = s.p("counter.bpf.o");
    let o = bin(&[
        "sign".as_ref(),
        "--key".as_ref(),
        test_private_key().as_os_str(),
        "--output".as_ref(),
        signed.as_os_str(),
        object("counter").as_os_str(),
    ]);
    assert!(o.status.success(), "host build signs: {}", text(&o));
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(&initrd)
            .args(args)
            .output()
            .expect("run the initramfs build")
    };
    for sub in ["sign", "keygen", "predict", "inspect-initramfs"] {
        let o = run(&[sub.as_ref(), "--help".as_ref()]);
        assert_eq!(o.status.code(), Some(2), "{sub}: {}", text(&o));
        let first = String::from_utf8_lossy(&o.stderr)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            first,
            format!(
                "bpf-preload: {sub}: not in this build: this is the initramfs build of \
                 bpf-preload (run, status, verify, inspect); use the host's bpf-preload for \
                 sign, keygen, predict and inspect-initramfs"
            )
        );
    }
    let help = run(&["--help".as_ref()]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(!help.contains("bpf-preload sign"), "{help}");
    assert!(help.contains("bpf-preload verify"), "{help}");
    let o = run(&[
        "verify".as_ref(),
        "--key".as_ref(),
        test_public_key().as_os_str(),
        signed.as_os_str(),
    ]);
    assert!(o.status.success(), "verify: {}", text(&o));
    let o = run(&["inspect".as_ref(), signed.as_os_str()]);
    assert!(o.status.success(), "inspect: {}", text(&o));
}

// ------------------------------------------------------------------ initrd-install --
// The generators' shared build step, run by bash on a scratch sysroot (--sysroot): a stub
// loader, one object, one key; the settings in the environment, in initrd.conf, or in dracut's
// configuration (the dracut module's install(), sourced with dracut's functions stubbed).

/// A sysroot with a loader, one object `a` and one key; returns (scratch, sysroot, dest).
fn install_root(tag: &str) -> (Scratch, std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new(tag);
    let root = s.p("root");
    for d in ["usr/bin", "usr/lib/bpf-preload", "etc/bpf-preload/keys"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let loader = root.join("usr/bin/bpf-preload");
    std::fs::write(&loader, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&loader, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("usr/lib/bpf-preload/a.bpf.o"), "object").unwrap();
    std::fs::copy(
        test_public_key(),
        root.join("etc/bpf-preload/keys/test.pub"),
    )
    .unwrap();
    let dest = s.p("dest");
    (s, root, dest)
}

/// Run initrd-install with these environment settings: (exit code, stdout, stderr, policy file).
fn install(
    root: &std::path::Path,
    dest: &std::path::Path,
    env: &[(&str, &str)],
) -> (Option<i32>, String, String, Option<String>) {
    let _ = std::fs::remove_dir_all(dest);
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("initrd/initrd-install"))
        .arg("--sysroot")
        .arg(root)
        .arg(dest)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("bpf_preload_binary", "/usr/bin/bpf-preload");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run bash initrd/initrd-install");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(dest.join("etc/bpf-preload/policy")).ok(),
    )
}

const POLICY_HEAD: &str = "# bpf-preload build-time policy, written by initrd-install\n";

/// Every switch word of the loader (format/src/switch.rs) is taken by every switch setting of
/// initrd-install, and the policy it writes means to the loader what the word meant: the same
/// vocabulary on both sides (`bpf_preload_guard=on` used to stop update-initramfs).
#[test]
fn initrd_install_takes_the_loaders_switch_words() {
    use bpf_preload::policy::{GuardPolicy, Policy};
    use bpf_preload::switch::{Switch, WORDS};
    let (_s, root, dest) = install_root("install-words");
    let mut wrong = Vec::new();
    for (word, sw) in WORDS {
        let guard = match sw {
            Switch::Off => GuardPolicy::Off,
            Switch::On => GuardPolicy::On,
            Switch::Required => GuardPolicy::Required,
        };
        // guard and signed_only take all three.
        for setting in ["guard", "signed_only"] {
            let (code, out, err, policy) =
                install(&root, &dest, &[(&format!("bpf_preload_{setting}"), word)]);
            let want = format!("{POLICY_HEAD}{setting} = {}\n", sw.policy_word());
            let parsed = policy.as_deref().map(Policy::parse);
            let meant = parsed.and_then(Result::ok).map(|p| {
                if setting == "guard" {
                    p.guard
                } else {
                    p.signed_only
                }
            });
            if (code, policy.as_deref(), meant, err.as_str())
                != (Some(0), Some(want.as_str()), Some(guard), "")
                || !out.starts_with("objects: a; keys: 1")
            {
                wrong.push(format!(
                    "{setting}={word}: {code:?} {policy:?} {out:?} {err:?}"
                ));
            }
        }
        // strict_shared and measure: `required` only where it applies.
        let (code, _, err, policy) = install(&root, &dest, &[("bpf_preload_strict_shared", word)]);
        let want = match sw {
            Switch::On => (Some(0), Some(format!("{POLICY_HEAD}strict_shared = yes\n")), String::new()),
            Switch::Off => (Some(0), Some(POLICY_HEAD.to_owned()), String::new()),
            Switch::Required => (
                Some(1),
                None,
                "bpf-preload: error: bpf_preload_strict_shared=required: bpf_preload_strict_shared is 1/yes/on or 0/no/off\n".to_owned(),
            ),
        };
        if (code, policy.clone(), err.clone()) != want {
            wrong.push(format!("strict_shared={word}: {code:?} {policy:?} {err:?}"));
        }
        if let Some(p) = &policy {
            assert_eq!(Policy::parse(p).unwrap().strict_shared, *sw == Switch::On);
        }
        let (code, _, err, policy) = install(
            &root,
            &dest,
            &[
                ("bpf_preload_measure_pcr", "9"),
                ("bpf_preload_measure", word),
            ],
        );
        let want = match sw {
            Switch::On => (Some(0), Some(format!("{POLICY_HEAD}measure_pcr = 9\n")), String::new()),
            Switch::Required => (
                Some(0),
                Some(format!("{POLICY_HEAD}measure_pcr = 9\nmeasure = required\n")),
                String::new(),
            ),
            Switch::Off => (
                Some(1),
                None,
                format!("bpf-preload: error: bpf_preload_measure={word}: bpf_preload_measure_pcr=N switches measurement on; leave both unset for none\n"),
            ),
        };
        if (code, policy, err.clone()) != want {
            wrong.push(format!("measure={word}: {code:?} {err:?}"));
        }
    }
    // Words the loader does not take are refused here too, naming the words it takes.
    for (setting, word, words) in [
        ("guard", "true", "1/yes/on or 0/no/off or required"),
        ("guard", "Yes", "1/yes/on or 0/no/off or required"),
        ("signed_only", "2", "1/yes/on or 0/no/off or required"),
        ("strict_shared", "y", "1/yes/on or 0/no/off"),
    ] {
        let (code, _, err, policy) =
            install(&root, &dest, &[(&format!("bpf_preload_{setting}"), word)]);
        let want = format!("bpf-preload: error: bpf_preload_{setting}={word}: use {words}\n");
        if (code, policy, err.as_str()) != (Some(1), None, want.as_str()) {
            wrong.push(format!("{setting}={word}: {code:?} {err:?}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// A misspelt setting (`bpf_preload_gaurd=yes`) is a warning, from the environment and from
/// initrd.conf; with a build-time policy in the same configuration it is an error, since the
/// policy it belongs to would be built without it.
#[test]
fn initrd_install_warns_about_a_misspelt_setting() {
    let (_s, root, dest) = install_root("install-typo");
    let (code, out, err, policy) = install(&root, &dest, &[("bpf_preload_gaurd", "yes")]);
    assert_eq!(
        (code, out.as_str(), err.as_str(), policy),
        (
            Some(0),
            "objects: a; keys: 1; certificates: 0\n",
            "bpf-preload: warning: bpf_preload_gaurd is not a bpf-preload setting (a typo?): ignored\n",
            None
        )
    );
    // The same from initrd.conf, which dracut reads too.
    std::fs::write(
        root.join("etc/bpf-preload/initrd.conf"),
        "bpf_preload_gaurd=yes\nbpf_preload_guard=on\n",
    )
    .unwrap();
    let (code, out, err, policy) = install(&root, &dest, &[]);
    assert_eq!(
        (code, out.as_str(), err.as_str(), policy),
        (
            Some(1),
            "",
            "bpf-preload: error: bpf_preload_gaurd is not a bpf-preload setting (a typo?), and this image has a build-time policy it may belong to: fix or remove it (settings: bpf_preload_{objects,bundle_dir,keys_dir,list,binary,unit,required,guard,strict_shared,signed_only,measure_pcr,measure,iterators,libexec_dir})\n",
            None
        )
    );
    // initrd.conf's guard word, with the environment winning: off from dracut.conf.
    std::fs::write(
        root.join("etc/bpf-preload/initrd.conf"),
        "bpf_preload_guard=on\n",
    )
    .unwrap();
    let (code, _, err, policy) = install(&root, &dest, &[("bpf_preload_guard", "off")]);
    assert_eq!(
        (code, err.as_str(), policy),
        (Some(0), "", Some(format!("{POLICY_HEAD}guard = off\n")))
    );
}

/// dracut: the module's install() hands every bpf_preload_* of dracut's configuration to
/// initrd-install, so a misspelt one is one of dracut's warnings, and initrd.conf is read.
/// dracut's functions are stubs that print what they were called with.
#[test]
fn dracut_module_warns_about_a_misspelt_setting_and_reads_initrd_conf() {
    let (s, root, _) = install_root("dracut-typo");
    let libexec = root.join("usr/libexec/bpf-preload");
    std::fs::create_dir_all(&libexec).unwrap();
    std::fs::copy(
        repo().join("initrd/initrd-install"),
        libexec.join("initrd-install"),
    )
    .unwrap();
    std::fs::copy(repo().join("initrd/initrd-run"), libexec.join("initrd-run")).unwrap();
    std::fs::write(
        root.join("etc/bpf-preload/initrd.conf"),
        "bpf_preload_guard=1\n",
    )
    .unwrap();
    let initdir = s.p("initdir");
    let script = format!(
        "dinfo() {{ echo \"I: $*\"; }}; dwarning() {{ echo \"W: $*\"; }}; dfatal() {{ echo \"F: $*\"; }}\n\
         dracut_module_included() {{ return 1; }}; inst_hook() {{ echo \"hook: $*\"; }}\n\
         . '{module}'\n\
         bpf_preload_binary=/usr/bin/bpf-preload bpf_preload_libexec_dir=/usr/libexec/bpf-preload\n\
         bpf_preload_strict_shared=on\n\
         bpf_preload_objects_dir=/srv/objects\n\
         install\n",
        module = repo().join("dracut/50bpf-preload/module-setup.sh").display(),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("dracutsysrootdir", &root)
        .env("initdir", &initdir)
        .env("moddir", "/modules.d/50bpf-preload")
        .output()
        .unwrap();
    // A policy is being built (strict_shared, and initrd.conf's guard): the typo is fatal.
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()),
        (
            Some(1),
            "F: bpf-preload: error: bpf_preload_objects_dir is not a bpf-preload setting (a typo?), and this image has a build-time policy it may belong to: fix or remove it (settings: bpf_preload_{objects,bundle_dir,keys_dir,list,binary,unit,required,guard,strict_shared,signed_only,measure_pcr,measure,iterators,libexec_dir})\n\
             F: bpf-preload: cannot add bpf-preload to the initramfs\n"
                .to_owned()
        )
    );
    // Without the policy settings it is a warning, and the image is built.
    std::fs::remove_file(root.join("etc/bpf-preload/initrd.conf")).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(script.replace("bpf_preload_strict_shared=on\n", ""))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("dracutsysrootdir", &root)
        .env("initdir", &initdir)
        .env("moddir", "/modules.d/50bpf-preload")
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()),
        (
            Some(0),
            "W: bpf-preload: warning: bpf_preload_objects_dir is not a bpf-preload setting (a typo?): ignored\n\
             I: bpf-preload: objects: a; keys: 1; certificates: 0\n\
             hook: pre-pivot 50 /modules.d/50bpf-preload/bpf-preload-hook.sh\n"
                .to_owned()
        )
    );
    assert!(initdir.join("usr/lib/bpf-preload/a.bpf.o").exists());
}

/// preload.list.d: the drop-ins go into the image beside the list; without a list, the generated
/// one names only the objects no drop-in names (so the drop-ins' order holds for theirs); a name
/// that is not in the image is a warning; a file not ending in .list is not copied.
#[test]
fn initrd_install_copies_list_drop_ins() {
    let (_s, root, dest) = install_root("install-dropins");
    for n in ["b", "c"] {
        std::fs::write(
            root.join(format!("usr/lib/bpf-preload/{n}.bpf.o")),
            "object",
        )
        .unwrap();
    }
    let d = root.join("etc/bpf-preload/preload.list.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("50-pkg.list"), "# from a package\nc\nmissing\n").unwrap();
    std::fs::write(d.join("50-pkg.list.dpkg-old"), "a\n").unwrap();
    let (code, out, err, _) = install(&root, &dest, &[]);
    assert_eq!(
        (code, out.as_str(), err),
        (
            Some(0),
            "objects: a b c; keys: 1; certificates: 0\n",
            format!(
                "bpf-preload: warning: {}/50-pkg.list names 'missing', which is not in the initramfs\n",
                d.display()
            )
        )
    );
    let img = dest.join("etc/bpf-preload");
    assert_eq!(
        std::fs::read_to_string(img.join("preload.list")).unwrap(),
        "a\nb\n"
    );
    assert_eq!(
        std::fs::read_to_string(img.join("preload.list.d/50-pkg.list")).unwrap(),
        "# from a package\nc\nmissing\n"
    );
    assert!(!img.join("preload.list.d/50-pkg.list.dpkg-old").exists());
    // With the administrator's list, it is copied as it is, the drop-ins beside it.
    std::fs::write(root.join("etc/bpf-preload/preload.list"), "c\nb\n").unwrap();
    let (code, _, _, _) = install(&root, &dest, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        std::fs::read_to_string(img.join("preload.list")).unwrap(),
        "c\nb\n"
    );
    assert!(img.join("preload.list.d/50-pkg.list").exists());
}

/// `make uninstall` leaves no file behind, and none that asks a generator for the module
/// (dracut would fail with "Module 'bpf-preload' cannot be found"): the dracut configuration
/// `make install` wrote goes, and so does the line older READMEs had you write into
/// /etc/dracut.conf.d/bpf-preload.conf; that file is kept, with a warning, when it holds more.
#[test]
fn make_uninstall_leaves_nothing_that_asks_for_the_module() {
    let s = Scratch::new("uninstall");
    let dest = s.p("dest");
    let make = |target: &str| {
        Command::new("make")
            .args(["-s", "-C"])
            .arg(repo())
            .arg(target)
            .arg(format!("DESTDIR={}", dest.display()))
            .arg(format!(
                "BIN={}",
                repo().join("initrd/initrd-run").display()
            ))
            .output()
            .expect("run make")
    };
    let files = || {
        let mut v = Vec::new();
        let mut stack = vec![dest.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    v.push(p.strip_prefix(&dest).unwrap().display().to_string());
                }
            }
        }
        v.sort();
        v
    };
    let o = make("install-files");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(files().contains(&"usr/lib/dracut/dracut.conf.d/50-bpf-preload.conf".to_owned()));
    let old = dest.join("etc/dracut.conf.d/bpf-preload.conf");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(
        &old,
        "# bpf-preload\nadd_dracutmodules+=\" bpf-preload \"\n\n",
    )
    .unwrap();
    let o = make("uninstall");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(files(), Vec::<String>::new());
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    // An administrator's file with more in it stays, and uninstall says so.
    std::fs::write(&old, "add_dracutmodules+=\" bpf-preload \"\nhostonly=yes\n").unwrap();
    let o = make("uninstall");
    assert!(o.status.success());
    assert_eq!(
        files(),
        vec!["etc/dracut.conf.d/bpf-preload.conf".to_owned()]
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "warning: {}/etc/dracut.conf.d/bpf-preload.conf has more than the bpf-preload line: remove that line yourself\n",
            dest.display()
        )
    );
}
