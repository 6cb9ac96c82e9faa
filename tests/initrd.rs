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
