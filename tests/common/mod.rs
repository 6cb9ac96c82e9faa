//! What the test crates share: the binary, the objects built from bpf/, the test keys, running
//! the binary (a panic or a hang fails the test), scratch directories.
#![allow(dead_code)] // each test crate uses its own part

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_bpf-preload");

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// An object built from bpf/ by the build script.
pub fn object(name: &str) -> PathBuf {
    let p = Path::new(env!("BPF_PRELOAD_OBJECTS")).join(format!("{name}.bpf.o"));
    assert!(p.exists(), "{} was not built", p.display());
    p
}

pub fn test_private_key() -> PathBuf {
    repo().join("keys/test-only/signing-key.pem")
}

pub fn test_public_key() -> PathBuf {
    repo().join("keys/test-only/signing-key.pub")
}

/// Run the binary; a panic (abort) or a hang is a test failure of its own.
pub fn bin<S: AsRef<OsStr>>(args: &[S]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bpf-preload");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!(
                "bpf-preload {:?} hung",
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.code().is_some(),
        "bpf-preload {:?} died: {:?}\n{}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Say that this test did not run here, and why: one line `SKIP <test>: <reason>` on stderr,
/// which tests/run-all.sh counts (the harness still reports the test as passed; run-all does
/// not count it as one). Call it only as the test's last act, when the kernel lacks what the test
/// needs, never when it has it and fails (cilium/ebpf `testutils.SkipIfNotSupported`).
///
/// Written to stderr directly: the harness captures `eprintln!` of a passing test, not writes
/// to `io::stderr()`, so the line is seen without `--nocapture`.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    // One write: stderr is unbuffered, and the harness's threads write their lines meanwhile.
    let line = format!("SKIP {test}: {}\n", reason.replace('\n', " "));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("bpf-preload-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    pub fn p(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
