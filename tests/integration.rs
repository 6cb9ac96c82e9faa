//! Root integration tests: real objects built from bpf/ (by loader/build.rs, through
//! bpf/Makefile), the real binary, a private bpffs in a private mount namespace per test.
//!
//! They need root (CAP_SYS_ADMIN, CAP_BPF) and a kernel with BTF, so they are `#[ignore]`d with
//! that reason and run by the README test command with `--include-ignored` as root. Tests that
//! need no root (CLI, static binary) are not ignored.
// Tests make and read files directly.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bpf_preload::name::ObjectName;
use bpf_preload::status::{GuardState, ObjectStatus, Outcome, Status};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

mod common;
use common::*;

/// A boot-like environment: bundle, keys, cmdline, and a bpffs path, in a private mount
/// namespace of this test's thread (children inherit it; the host sees nothing).
struct Env {
    s: Scratch,
}

/// This thread into a mount namespace of its own, `/` made private: nothing it mounts is seen
/// outside. Failing to is the test's failure (it needs root), never a skip.
fn private_mount_namespace() {
    use nix::mount::{mount, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .expect("unshare(CLONE_NEWNS): are we root?");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make / private");
}

/// `bpf-preload sign` of the built object `obj` with the test key into `bundle/NAME.bpf.o`,
/// with `extra` options; the signing must succeed.
fn sign_into(bundle: &Path, obj: &str, name: &str, extra: &[&str]) {
    let out = bundle.join(format!("{name}.bpf.o"));
    let (key, src) = (test_private_key(), object(obj));
    let mut args = vec!["sign"];
    args.extend_from_slice(extra);
    args.extend([
        "--key",
        key.to_str().unwrap(),
        "--name",
        name,
        "--output",
        out.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let o = bin(&args);
    assert!(o.status.success(), "sign {obj}: {}", text(&o));
}

impl Env {
    fn new(tag: &str) -> Self {
        private_mount_namespace();
        let s = Scratch::new(tag);
        for d in ["bundle", "keys", "bpffs"] {
            std::fs::create_dir_all(s.0.join(d)).unwrap();
        }
        std::fs::copy(test_public_key(), s.0.join("keys/test.pub")).unwrap();
        Env { s }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.s.0.join(rel)
    }
    fn bpffs(&self) -> PathBuf {
        self.path("bpffs")
    }
    /// Sign a built object into the bundle as `name` (default: its own name).
    fn add(&self, obj: &str, name: &str) {
        sign_into(&self.path("bundle"), obj, name, &[]);
    }
    /// [`Env::add`] with `--no-fast-path`: a version-1 object, for the libbpf path.
    fn add_plain(&self, obj: &str, name: &str) {
        sign_into(&self.path("bundle"), obj, name, &["--no-fast-path"]);
    }
    fn add_bytes(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(&format!("bundle/{name}.bpf.o")), bytes).unwrap();
    }
    fn run(&self, cmdline: &str) -> (Output, Status) {
        self.run_with(BIN, cmdline, &[])
    }
    fn run_with(&self, bin: &str, cmdline: &str, extra: &[&str]) -> (Output, Status) {
        self.run_with_env(bin, cmdline, extra, &[])
    }

    /// [`Env::run_with`] with these environment variables set for the loader.
    fn run_with_env(
        &self,
        bin: &str,
        cmdline: &str,
        extra: &[&str],
        vars: &[(&str, &str)],
    ) -> (Output, Status) {
        std::fs::write(self.path("cmdline"), cmdline).unwrap();
        let status = self.path("status.json");
        let _ = std::fs::remove_file(&status);
        let o = Command::new(bin)
            .args(["run", "--cmdline"])
            .arg(self.path("cmdline"))
            .arg("--preload-list")
            .arg(self.path("preload.list"))
            .arg("--bundle")
            .arg(self.path("bundle"))
            .arg("--keys")
            .arg(self.path("keys"))
            .arg("--bpffs")
            .arg(self.bpffs())
            .arg("--status")
            .arg(&status)
            .args(extra)
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        let st = Status::from_json(
            &std::fs::read_to_string(&status)
                .unwrap_or_else(|e| panic!("no status ({e}): {}", text(&o))),
        )
        .unwrap();
        (o, st)
    }
    /// Everything under the bpffs, relative, sorted; the kernel's own *.debug files left out.
    fn tree(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                if rel.ends_with(".debug") {
                    continue;
                }
                if p.is_dir() {
                    out.push(format!("{rel}/"));
                    walk(root, &p, out);
                } else {
                    out.push(rel);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.bpffs(), &self.bpffs(), &mut out);
        out.sort();
        out
    }
    fn object_tree(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}/");
        self.tree()
            .into_iter()
            .filter(|p| p.starts_with(&prefix) && *p != prefix && !p.contains("/sha256-"))
            .collect()
    }
}

fn obj<'a>(st: &'a Status, name: &str) -> &'a ObjectStatus {
    st.objects
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("{name} not in status: {st:?}"))
}

fn read_u64(map: &Path, key: u32) -> u64 {
    let m =
        MapHandle::from_pinned_path(map).unwrap_or_else(|e| panic!("open {}: {e}", map.display()));
    let v = m
        .lookup(&key.to_ne_bytes(), MapFlags::ANY)
        .unwrap()
        .expect("value");
    u64::from_ne_bytes(v[..8].try_into().unwrap())
}

fn exec_a_few() {
    for _ in 0..5 {
        Command::new("/bin/true").status().unwrap();
    }
}

/// Can this kernel run a BPF LSM program? Asked without the code under test (cilium/ebpf
/// `testutils.SkipIfNotSupported`): is `bpf` in the active LSM list, and do a two-instruction LSM
/// program load and a link attach through bpf(2) (libbpf's thin wrappers, no object, no
/// skeleton)? On this project's development host the list has `bpf` but the load fails with
/// EPERM: absent, for that reason.
#[derive(Debug)]
enum BpfLsm {
    Present,
    /// `bpf` is not in /sys/kernel/security/lsm (or the list cannot be read).
    NotListed(String),
    /// Listed, but the kernel refuses the load or the attach (`errno`: what it said), or
    /// has no BTF for the hook.
    Refused {
        why: String,
        errno: Option<i32>,
    },
}

impl BpfLsm {
    /// In a thread of its own with a mount namespace of its own (securityfs mounted there when
    /// the host has not), so the test's namespace stays as the code under test would find it.
    fn probe() -> Self {
        std::thread::spawn(|| {
            use nix::mount::{mount, MsFlags};
            let lsm = Path::new("/sys/kernel/security/lsm");
            // Not being able to make the namespace is the test's failure, not the kernel's lack.
            private_mount_namespace();
            // No securityfs, or no LSM list in it: a kernel without LSMs.
            let mounted = if lsm.exists() {
                Ok(())
            } else {
                mount(
                    Some("securityfs"),
                    "/sys/kernel/security",
                    Some("securityfs"),
                    MsFlags::empty(),
                    None::<&str>,
                )
                .map_err(|e| format!("mount securityfs: {e}"))
            };
            let listed = mounted.and_then(|()| {
                std::fs::read_to_string(lsm).map_err(|e| format!("{}: {e}", lsm.display()))
            });
            match listed {
                Err(e) => BpfLsm::NotListed(e),
                Ok(list) if !list.trim_end().split(',').any(|m| m == "bpf") => {
                    BpfLsm::NotListed(format!(
                        "the active LSM list {:?} has no \"bpf\" (needs CONFIG_BPF_LSM=y and lsm=...,bpf)",
                        list.trim_end()
                    ))
                }
                Ok(_) => match lsm_program_loads_and_attaches() {
                    Ok(()) => BpfLsm::Present,
                    Err((why, errno)) => BpfLsm::Refused { why, errno },
                },
            }
        })
        .join()
        .expect("BPF LSM probe thread")
    }
}

/// Linux's kernel-internal ENOTSUPP (include/linux/errno.h), which bpf(2) returns where the
/// architecture has no BPF trampoline; neither rustix nor libbpf-sys defines it.
const ENOTSUPP: i32 = 524;

/// Does an errno from loading or attaching the probe mean "this kernel will not" (rather than
/// "the probe is wrong")? EINVAL only where `einval_too`: a kernel without BPF_PROG_TYPE_LSM
/// refuses the load with it before its verifier says a word.
fn kernel_will_not(errno: i32, einval_too: bool) -> bool {
    use rustix::io::Errno;
    errno == Errno::PERM.raw_os_error()
        || errno == Errno::OPNOTSUPP.raw_os_error()
        || errno == ENOTSUPP
        || (einval_too && errno == Errno::INVAL.raw_os_error())
}

/// `r0 = 0; exit` as a BPF LSM program on `bpf_lsm_inode_unlink`, loaded and attached (and
/// detached again when the fds close). `Err`: why this kernel will not, and the errno of a
/// refused load or attach. Any other failure is a broken probe and fails the test, so a probe
/// bug can never turn into a skip.
fn lsm_program_loads_and_attaches() -> Result<(), (String, Option<i32>)> {
    use libbpf_sys as sys;
    use std::io::Error;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: no arguments; the result is NULL (errno set) or a btf that we free below.
    let btf = unsafe { sys::btf__load_vmlinux_btf() };
    if btf.is_null() {
        return Err((format!("no vmlinux BTF: {}", Error::last_os_error()), None));
    }
    // SAFETY: btf is valid until the btf__free below; the name is a NUL-terminated literal.
    let id = unsafe {
        sys::btf__find_by_name_kind(btf, c"bpf_lsm_inode_unlink".as_ptr(), sys::BTF_KIND_FUNC)
    };
    // SAFETY: btf came from btf__load_vmlinux_btf and is not used after this.
    unsafe { sys::btf__free(btf) };
    if id < 0 {
        let why = format!(
            "vmlinux BTF has no bpf_lsm_inode_unlink: {}",
            Error::from_raw_os_error(-id)
        );
        return Err((why, None));
    }
    let insns = [
        sys::bpf_insn {
            code: (sys::BPF_ALU64 | sys::BPF_MOV | sys::BPF_K) as u8,
            ..Default::default()
        },
        sys::bpf_insn {
            code: (sys::BPF_JMP | sys::BPF_EXIT) as u8,
            ..Default::default()
        },
    ];
    let mut log = vec![0u8; 64 * 1024];
    let mut opts = sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
        expected_attach_type: sys::BPF_LSM_MAC,
        attach_btf_id: id as u32,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr().cast(),
        ..Default::default()
    };
    // SAFETY: name and license are NUL-terminated literals, insns holds insns.len()
    // instructions, opts is initialised with its own size, and its log_buf points to log_size
    // writable bytes; all outlive the call.
    let prog = unsafe {
        sys::bpf_prog_load(
            sys::BPF_PROG_TYPE_LSM,
            c"lsm_probe".as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        )
    };
    if prog < 0 {
        let log = String::from_utf8_lossy(&log);
        let log = log.trim_end_matches('\0').trim();
        let err = Error::from_raw_os_error(-prog);
        assert!(
            kernel_will_not(-prog, log.is_empty()),
            "BPF LSM probe: load: {err}, which no kernel should answer to it: the probe is \
             wrong\n{log}"
        );
        let why = format!("the kernel refuses to load a BPF LSM program: {err}");
        return Err((why, Some(-prog)));
    }
    // SAFETY: a new program fd that nothing else owns.
    let prog = unsafe { OwnedFd::from_raw_fd(prog) };
    // SAFETY: prog is an open program fd; NULL opts is allowed for BPF_LSM_MAC.
    let link =
        unsafe { sys::bpf_link_create(prog.as_raw_fd(), 0, sys::BPF_LSM_MAC, std::ptr::null()) };
    if link < 0 {
        // Not EINVAL: a kernel that loads an LSM program attaches it (libbpf falls back to
        // BPF_RAW_TRACEPOINT_OPEN where BPF_LINK_CREATE cannot).
        let err = Error::from_raw_os_error(-link);
        assert!(
            kernel_will_not(-link, false),
            "BPF LSM probe: attach: {err}, which no kernel should answer to it: the probe is wrong"
        );
        let why = format!("the kernel loads a BPF LSM program but refuses to attach it: {err}");
        return Err((why, Some(-link)));
    }
    // SAFETY: a new link fd that nothing else owns; closing it detaches the program.
    drop(unsafe { OwnedFd::from_raw_fd(link) });
    Ok(())
}

/// Where the kernel runs BPF LSM programs ([`BpfLsm::probe`]), the guard is active and refuses
/// `rm` of a pin in its (private) instance, required or not. Skipped, with the probe's reason,
/// where it cannot; the VM tests (tests/vm, `guard-*`) boot a kernel that can and cover the
/// attacks.
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn guard_is_active_where_the_kernel_runs_bpf_lsm() {
    match BpfLsm::probe() {
        BpfLsm::Present => {}
        BpfLsm::NotListed(why) | BpfLsm::Refused { why, .. } => {
            return skip(
                "guard_is_active_where_the_kernel_runs_bpf_lsm",
                &format!(
                    "no BPF LSM on this kernel: {why}; needs one that loads and attaches BPF LSM \
                     programs (CONFIG_BPF_LSM=y, \"bpf\" in lsm=)"
                ),
            )
        }
    }
    for guard in ["1", "required"] {
        let env = Env::new(&format!("guard-active-{guard}"));
        env.add("counter", "counter");
        let (out, st) = env.run(&format!(
            "rd.bpf_preload=counter rd.bpf_preload.guard={guard}"
        ));
        assert!(out.status.success(), "guard={guard}: {}", text(&out));
        assert_eq!(obj(&st, "counter").result, Outcome::Loaded);
        let g = st.guard.clone().expect("guard in the status");
        assert_eq!(g.state, GuardState::Active, "guard={guard}: {}", g.line());
        let pin = env.bpffs().join("counter/maps/exec_count");
        let err = std::fs::remove_file(&pin).expect_err("rm of a protected pin");
        assert_eq!(err.raw_os_error(), Some(1), "{err}");
        assert!(pin.exists());
    }
}

/// Where the kernel cannot run BPF LSM programs, the guard says why — `unavailable` without
/// `bpf` in the LSM list, `failed` when listed but refused (this project's development host:
/// EPERM) — the objects stay loaded, no `+guard` is left, and a required guard makes `run` exit
/// 3. Skipped where the kernel runs BPF LSM programs (the test above runs there).
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn guard_without_bpf_lsm_says_why_and_fails_closed_when_required() {
    let (want, kernel_said) = match BpfLsm::probe() {
        BpfLsm::Present => {
            return skip(
                "guard_without_bpf_lsm_says_why_and_fails_closed_when_required",
                "this kernel loads and attaches BPF LSM programs; needs one that cannot",
            )
        }
        BpfLsm::NotListed(_) => (GuardState::Unavailable, None),
        BpfLsm::Refused { errno, .. } => (GuardState::Failed, errno),
    };
    let env = Env::new("guard-absent");
    env.add("counter", "counter");
    let (out, st) = env.run("rd.bpf_preload=counter rd.bpf_preload.guard=1");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(obj(&st, "counter").result, Outcome::Loaded);
    let g = st.guard.clone().expect("guard in the status");
    let line = g.line();
    assert_eq!(g.state, want, "{line}");
    let reason = g.reason.clone().unwrap_or_default();
    assert!(!reason.is_empty(), "{line}");
    // Refused by the kernel: the guard's reason names the first program refused, what the
    // kernel said (the probe's errno) and what to check instead of libbpf's `ulimit -l` hint
    // (issue 27: it was `load: Operation not permitted (os error 1)` alone).
    if let Some(errno) = kernel_said {
        let said = std::io::Error::from_raw_os_error(errno).to_string();
        assert!(
            reason.starts_with("load: program guard_")
                && reason.contains(&format!(" refused: {said}")),
            "{line}: want the first program and the probe's {said:?}"
        );
        for what in [
            "; check: lsm= ",
            "; lockdown: ",
            "; capabilities: ",
            "; user namespace: ",
        ] {
            assert!(reason.contains(what), "{line}: want {what:?}");
        }
        let (out, _) = env.run_with(
            BIN,
            "rd.bpf_preload=counter rd.bpf_preload.guard=1",
            &["--verbose"],
        );
        assert!(!text(&out).contains("ulimit -l"), "{}", text(&out));
        assert!(
            text(&out).contains("BPF program load failed"),
            "the verbose log is there: {}",
            text(&out)
        );
    }
    assert!(
        !env.bpffs().join("+guard").exists(),
        "a failed guard left +guard"
    );
    // Required: the run fails closed, the object is still loaded.
    let env2 = Env::new("guard-absent-required");
    env2.add("counter", "counter");
    let (out, st) = env2.run("rd.bpf_preload=counter rd.bpf_preload.guard=required");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("the required guard is not active: guard: "),
        "{}",
        text(&out)
    );
    assert_eq!(obj(&st, "counter").result, Outcome::Loaded);
}

/// The CPUs this thread may run on: the set, and their numbers.
fn this_threads_cpus() -> (nix::sched::CpuSet, Vec<usize>) {
    let all = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let cpus = (0..nix::sched::CpuSet::count())
        .filter(|&c| all.is_set(c).unwrap_or(false))
        .collect();
    (all, cpus)
}

/// Key 0 of `map` before and after a few execs on `cpu` (this thread back on `all` after).
fn execs_on(cpu: usize, all: &nix::sched::CpuSet, map: &Path) -> (u64, u64) {
    let before = read_u64(map, 0);
    run_on(Some(cpu), all);
    exec_a_few();
    run_on(None, all);
    (before, read_u64(map, 0))
}

/// This thread's CPUs: only `cpu` (`Some`), or `all` again (`None`). A process it starts
/// inherits them.
fn run_on(cpu: Option<usize>, all: &nix::sched::CpuSet) {
    let set = match cpu {
        Some(c) => {
            let mut one = nix::sched::CpuSet::new();
            one.set(c).unwrap();
            one
        }
        None => *all,
    };
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).unwrap();
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn a_tracepoint_program_counts_on_every_cpu_whichever_cpu_attached_it() {
    // The loader opens a tracepoint's perf event on the CPU it runs on (not CPU 0 as libbpf
    // does): the program must still run for the tracepoint on every CPU. The loader runs on the
    // last CPU here; execs on each CPU in turn must all be counted.
    // The lock first: the CPUs a thread may run on leave out one that is offline meanwhile.
    let _cpus = CPUS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (all, cpus) = this_threads_cpus();
    let [first, .., last] = cpus[..] else {
        return skip(
            "a_tracepoint_program_counts_on_every_cpu_whichever_cpu_attached_it",
            "one CPU: nothing to compare",
        );
    };
    let env = Env::new("counter-cpus");
    env.add("counter", "counter");
    run_on(Some(last), &all);
    let (out, st) = env.run("rd.bpf_preload=counter");
    run_on(None, &all);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(obj(&st, "counter").result, Outcome::Loaded);
    let map = env.bpffs().join("counter/maps/exec_count");
    for cpu in [first, last] {
        let (before, after) = execs_on(cpu, &all, &map);
        assert!(
            after >= before + 5,
            "CPU {cpu}: exec_count {before} -> {after}"
        );
    }
}

/// Held by the tests that pin threads to CPUs or take a CPU offline: one of them at a time.
static CPUS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Puts a CPU back online when dropped (the test that took it offline may fail first).
struct BackOnline(PathBuf);

impl Drop for BackOnline {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(&self.0, "1") {
            eprintln!("could not put {} back to 1: {e}", self.0.display());
        }
    }
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn a_tracepoint_program_keeps_counting_when_the_cpu_of_its_event_goes_offline() {
    // Root can take any CPU but the boot CPU offline: the CPU the loader opened a tracepoint's
    // perf event on (its own) going away must not stop the program. The loader runs on the
    // last CPU, which then goes offline; execs on the first CPU must still be counted.
    let test = "a_tracepoint_program_keeps_counting_when_the_cpu_of_its_event_goes_offline";
    let _cpus = CPUS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (all, cpus) = this_threads_cpus();
    let [first, .., last] = cpus[..] else {
        return skip(test, "one CPU: none to take offline");
    };
    let online = PathBuf::from(format!("/sys/devices/system/cpu/cpu{last}/online"));
    if !online.exists() {
        return skip(
            test,
            &format!("CPU {last} cannot go offline (no {})", online.display()),
        );
    }
    let env = Env::new("counter-offline");
    env.add("counter", "counter");
    run_on(Some(last), &all);
    let (out, st) = env.run("rd.bpf_preload=counter");
    run_on(Some(first), &all);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(obj(&st, "counter").result, Outcome::Loaded);
    let map = env.bpffs().join("counter/maps/exec_count");
    if let Err(e) = std::fs::write(&online, "0") {
        run_on(None, &all);
        return skip(test, &format!("CPU {last} cannot go offline here: {e}"));
    }
    let back = BackOnline(online.clone());
    assert_eq!(std::fs::read_to_string(&online).unwrap().trim(), "0");
    let before = read_u64(&map, 0);
    exec_a_few();
    let offline = read_u64(&map, 0);
    drop(back);
    assert_eq!(std::fs::read_to_string(&online).unwrap().trim(), "1");
    run_on(None, &all);
    assert!(
        offline >= before + 5,
        "CPU {last} offline: exec_count {before} -> {offline}"
    );
    // And once it is back, on it.
    let (offline, after) = execs_on(last, &all, &map);
    assert!(
        after >= offline + 5,
        "CPU {last} back online: exec_count {offline} -> {after}"
    );
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn loads_examples_pins_per_object_and_keeps_running() {
    let env = Env::new("examples");
    for o in ["counter", "iter", "maponly", "xdp_pass", "optional_prog"] {
        env.add(o, o);
    }
    let (out, st) =
        env.run("quiet rd.bpf_preload=counter,iter rd.bpf_preload=maponly,xdp_pass,optional_prog");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        st.objects.iter().all(|o| o.result == Outcome::Loaded),
        "{st:#?}"
    );
    assert!(st.mounted_bpffs);
    assert_eq!(
        st.objects
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["counter", "iter", "maponly", "xdp_pass", "optional_prog"]
    );
    assert_eq!(
        env.object_tree("counter"),
        [
            "counter/links/",
            "counter/links/count_exec",
            "counter/maps/",
            "counter/maps/exec_count",
            "counter/maps/last_pid",
            "counter/progs/"
        ]
    );
    // Internal maps (.rodata/.bss) are not pinned.
    assert_eq!(
        env.object_tree("maponly"),
        [
            "maponly/links/",
            "maponly/maps/",
            "maponly/maps/config",
            "maponly/maps/stats",
            "maponly/progs/"
        ]
    );
    assert_eq!(
        env.object_tree("iter"),
        [
            "iter/links/",
            "iter/links/dump_task",
            "iter/maps/",
            "iter/progs/"
        ]
    );
    // xdp cannot be auto-attached: pinned as a program and reported.
    assert_eq!(
        env.object_tree("xdp_pass"),
        [
            "xdp_pass/links/",
            "xdp_pass/maps/",
            "xdp_pass/maps/pkt_count",
            "xdp_pass/progs/",
            "xdp_pass/progs/xdp_pass"
        ]
    );
    assert_eq!(obj(&st, "xdp_pass").not_attached, ["xdp_pass"]);
    assert_eq!(obj(&st, "optional_prog").skipped_programs, ["never_loaded"]);
    assert_eq!(obj(&st, "optional_prog").links, ["count_fork"]);
    let c = obj(&st, "counter");
    assert_eq!(
        (c.links.clone(), c.maps.clone()),
        (
            vec!["count_exec".to_string()],
            vec!["exec_count".to_string(), "last_pid".to_string()]
        )
    );
    assert_eq!(c.sha256.as_ref().unwrap().len(), 64);
    assert!(env
        .tree()
        .contains(&format!("counter/sha256-{}/", c.sha256.as_ref().unwrap())));
    assert!(!env.tree().iter().any(|p| p.starts_with("+staging")));
    // The loader has exited: the tracepoint program keeps counting through its pinned link.
    let map = env.bpffs().join("counter/maps/exec_count");
    let before = read_u64(&map, 0);
    exec_a_few();
    let after = read_u64(&map, 0);
    assert!(after >= before + 5, "exec_count {before} -> {after}");
    // The pinned iterator link can be read.
    let tasks = std::fs::read_to_string(env.bpffs().join("iter/links/dump_task")).unwrap();
    let me = format!("{} ", std::process::id());
    assert!(
        tasks.lines().any(|l| l.starts_with(&me)),
        "{me:?} not in {tasks}"
    );
}

/// Every example object that runs on the host loads through both paths — the light skeleton
/// run in the kernel, and libbpf — with the same pins, the same status and the same behaviour;
/// a verifier refusal reads the same. tp_btf_exec attaches by BTF id as fentry and lsm programs
/// do (those are refused with EPERM on the development host: the VM tests load them through
/// both paths).
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn fast_and_libbpf_paths_are_equivalent() {
    let objects = [
        "counter",
        "iter",
        "maponly",
        "xdp_pass",
        "optional_prog",
        "tp_btf_exec",
        "rejected",
        "attach_missing",
        "shared_a",
        // Signed as version 1 by default too (sign says why): the same outcome either way.
        "many_maps",
        "many_progs",
        "long_prog_name",
        "long_map_name",
        "raw_tp_colon",
        "optional_kfunc",
        "optional_weak_kfunc",
    ];
    let cmdline = format!("rd.bpf_preload={}", objects.join(","));
    let run = |fast: bool| {
        let env = Env::new(if fast { "eq-fast" } else { "eq-libbpf" });
        for o in objects {
            if fast {
                env.add(o, o);
            } else {
                env.add_plain(o, o);
            }
        }
        let (out, st) = env.run(&cmdline);
        // Behaviour: the counter counts, the iterator reads, after the loader has exited.
        let map = env.bpffs().join("counter/maps/exec_count");
        let before = read_u64(&map, 0);
        exec_a_few();
        assert!(read_u64(&map, 0) >= before + 5, "fast={fast}: not counting");
        let seen = env.bpffs().join("tp_btf_exec/maps/exec_seen");
        let before = read_u64(&seen, 0);
        exec_a_few();
        assert!(read_u64(&seen, 0) >= before + 5, "fast={fast}: tp_btf");
        let tasks = std::fs::read_to_string(env.bpffs().join("iter/links/dump_task")).unwrap();
        let me = format!("{} ", std::process::id());
        assert!(
            tasks.lines().any(|l| l.starts_with(&me)),
            "fast={fast}: {tasks}"
        );
        (out, st, env.tree(), env)
    };
    let (fast_out, fast, fast_tree, _fast_env) = run(true);
    let (slow_out, slow, slow_tree, _slow_env) = run(false);
    assert_eq!(fast_out.status.code(), slow_out.status.code());
    assert_eq!(fast_tree, slow_tree, "pin trees differ");
    for name in objects {
        let (f, l) = (obj(&fast, name), obj(&slow, name));
        let same = |o: &ObjectStatus| {
            (
                o.result,
                o.error.clone(),
                o.sha256.clone(),
                o.links.clone(),
                o.maps.clone(),
                o.programs.clone(),
                o.not_attached.clone(),
                o.skipped_programs.clone(),
                o.shared_maps.clone(),
            )
        };
        assert_eq!(same(f), same(l), "{name}");
    }
    let path = |st: &Status, name: &str| {
        let o = obj(st, name);
        (o.load_path.clone(), o.load_path_reason.clone())
    };
    for name in [
        "counter",
        "iter",
        "maponly",
        "xdp_pass",
        "optional_prog",
        "tp_btf_exec",
        "optional_weak_kfunc",
    ] {
        assert_eq!(path(&fast, name), (Some("fast".into()), None), "{name}");
        assert_eq!(
            path(&slow, name),
            (
                Some("libbpf".into()),
                Some("signed without a fast path".into())
            ),
            "{name}"
        );
    }
    // Pin-by-name maps keep the libbpf path, and so do the objects a fast path would load
    // differently (sign says why); a verifier refusal is libbpf's, word for word.
    for name in [
        "shared_a",
        "many_maps",
        "many_progs",
        "long_prog_name",
        "long_map_name",
        "raw_tp_colon",
        "optional_kfunc",
    ] {
        assert_eq!(
            path(&fast, name),
            (
                Some("libbpf".into()),
                Some("signed without a fast path".into())
            ),
            "{name}"
        );
    }
    let result = |name: &str| (obj(&fast, name).result, obj(&fast, name).error.clone());
    for name in ["many_maps", "many_progs", "long_prog_name", "long_map_name"] {
        assert_eq!(result(name), (Outcome::Loaded, None), "{name}");
    }
    assert_eq!(obj(&fast, "many_maps").maps.len(), 65);
    assert_eq!(obj(&fast, "many_progs").not_attached.len(), 33);
    // libbpf attaches `raw_tracepoint/sys_enter:skip_loop` to the raw tracepoint
    // "sys_enter:skip_loop", which no kernel has; a strong kfunc extern the kernel lacks fails
    // the object even though only a `?` program calls it. Nothing of either stays.
    assert_eq!(
        result("raw_tp_colon"),
        (
            Outcome::Failed,
            Some("attach skip_loop: No such file or directory (os error 2)".into())
        )
    );
    assert_eq!(
        result("optional_kfunc"),
        (
            Outcome::Failed,
            Some("load: Invalid argument (os error 22)".into())
        )
    );
    assert_eq!(obj(&fast, "optional_weak_kfunc").result, Outcome::Loaded);
    assert!(
        !fast_tree
            .iter()
            .any(|p| p.contains("raw_tp_colon") || p.starts_with("optional_kfunc")),
        "{fast_tree:?}"
    );
    let rejected = obj(&fast, "rejected").error.clone().unwrap_or_default();
    assert!(
        rejected.contains("(verifier: R0 invalid mem access"),
        "{rejected}"
    );
    // An attach that fails after a good load fails the object on either path, and nothing of
    // it stays; its status names the path it failed on.
    let missing = obj(&fast, "attach_missing")
        .error
        .clone()
        .unwrap_or_default();
    assert!(
        missing.starts_with("attach on_missing_event: "),
        "{missing}"
    );
    assert_eq!(path(&fast, "attach_missing"), (Some("fast".into()), None));
    assert!(
        !fast_tree.iter().any(|p| p.contains("attach_missing")),
        "{fast_tree:?}"
    );
    // A failed object names the path it failed on: its loader was refused first, then libbpf.
    let (p, why) = path(&fast, "rejected");
    assert_eq!(p.as_deref(), Some("libbpf"));
    let why = why.unwrap_or_default();
    assert!(why.starts_with("fast path: "), "{why}");
    assert_eq!(
        path(&slow, "rejected"),
        (
            Some("libbpf".into()),
            Some("signed without a fast path".into())
        )
    );
}

/// When the kernel cannot run an object's loader (here: a loader the verifier refuses, as a
/// kernel without BPF_PROG_TYPE_SYSCALL or kernel CO-RE would), the object loads through libbpf
/// from the same verified ELF, and the status says why.
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn a_loader_the_kernel_refuses_falls_back_to_libbpf() {
    use bpf_preload::fast::FastPath;
    let env = Env::new("fallback");
    env.add("counter", "counter");
    let path = env.path("bundle/counter.bpf.o");
    let bytes = std::fs::read(&path).unwrap();
    let parsed = bpf_preload::trailer::parse(&bytes).unwrap();
    let info = bpf_preload::elf::describe(parsed.payload).unwrap();
    let mut fast = FastPath::parse(parsed.fast.unwrap(), &info).unwrap();
    // `exit` with r0 never written: refused by the verifier.
    fast.insns = vec![0x95, 0, 0, 0, 0, 0, 0, 0];
    let key_text = std::fs::read_to_string(test_private_key()).unwrap();
    let key = bpf_preload::keys::parse_private_pem("test", &key_text).unwrap();
    let section = fast.encode().unwrap();
    let signed =
        bpf_preload::verify::sign_with(parsed.payload, &parsed.name, &key, Some(&section)).unwrap();
    env.add_bytes("counter", &signed);
    let (out, st) = env.run("rd.bpf_preload=counter");
    assert!(out.status.success(), "{}", text(&out));
    let c = obj(&st, "counter");
    assert_eq!(c.result, Outcome::Loaded, "{c:?}");
    assert_eq!(c.load_path.as_deref(), Some("libbpf"));
    let reason = c.load_path_reason.clone().unwrap_or_default();
    assert!(reason.starts_with("fast path: load loader: "), "{reason}");
    let map = env.bpffs().join("counter/maps/exec_count");
    let before = read_u64(&map, 0);
    exec_a_few();
    assert!(read_u64(&map, 0) >= before + 5);
}

/// A version-2 object signed before `sign` knew libbpf's extern rule (its only program is
/// `SEC("?…")` and calls a kfunc no kernel has): `run` does not take its fast path, which would
/// load the map, but libbpf's, which fails it as a version-1 signature of it fails; the status
/// says why. The loader here is a stand-in the verifier refuses: had `run` tried it, the reason
/// would be "fast path: load loader: …".
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn an_old_fast_path_with_unloaded_externs_fails_like_libbpf() {
    use bpf_preload::fast::{Descriptor, FastPath, MapDesc};
    let env = Env::new("old-kfunc");
    let payload = std::fs::read(object("optional_kfunc")).unwrap();
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
    let key_text = std::fs::read_to_string(test_private_key()).unwrap();
    let key = bpf_preload::keys::parse_private_pem("test", &key_text).unwrap();
    let name = ObjectName::parse("optional_kfunc").unwrap();
    let section = fast.encode().unwrap();
    let signed = bpf_preload::verify::sign_with(&payload, &name, &key, Some(&section)).unwrap();
    env.add_bytes("optional_kfunc", &signed);
    let (out, st) = env.run("rd.bpf_preload=optional_kfunc");
    assert!(out.status.success(), "{}", text(&out));
    let o = obj(&st, "optional_kfunc");
    assert_eq!(
        (o.result, o.error.as_deref(), o.load_path.as_deref()),
        (
            Outcome::Failed,
            Some("load: Invalid argument (os error 22)"),
            Some("libbpf")
        ),
        "{o:?}"
    );
    assert_eq!(
        o.load_path_reason.as_deref(),
        Some(
            "fast path not taken: extern \"bpf_no_such_kfunc\" is used only by programs not \
             loaded (SEC(\"?...\")); libbpf resolves it all the same (declare it __weak to make \
             it optional)"
        )
    );
    assert_eq!(env.tree(), vec!["+shared/".to_string()]);
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn verifier_rejected_object_mid_list_fails_alone() {
    let env = Env::new("rejected");
    for o in ["counter", "rejected", "rejected_latin1", "maponly"] {
        env.add(o, o);
    }
    // --verbose: libbpf's debug output, the verifier's log with its Latin-1 source line included,
    // goes through the same formatting.
    let (out, st) = env.run_with(
        BIN,
        "rd.bpf_preload=counter,rejected,rejected_latin1,maponly",
        &["--verbose"],
    );
    assert!(
        out.status.success(),
        "optional failure must not fail the run: {}",
        text(&out)
    );
    assert_eq!(
        st.objects.iter().map(|o| o.result).collect::<Vec<_>>(),
        [
            Outcome::Loaded,
            Outcome::Failed,
            Outcome::Failed,
            Outcome::Loaded
        ]
    );
    let e = obj(&st, "rejected").error.clone().unwrap();
    assert!(
        e.starts_with("load: ") && e.contains("verifier: R0 invalid mem access"),
        "{e}"
    );
    // The verifier quoted a source line that is not UTF-8: reported, lossily, never a crash.
    let e = obj(&st, "rejected_latin1").error.clone().unwrap();
    assert!(
        e.starts_with("load: ") && e.contains("verifier: R0 invalid mem access"),
        "{e}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("caf\u{fffd}: no NULL check"),
        "the Latin-1 line is not in the verbose log: {}",
        text(&out)
    );
    assert!(
        !env.tree()
            .iter()
            .any(|p| p.starts_with("rejected") || p.starts_with("+staging")),
        "{:?}",
        env.tree()
    );
    // The same, required: run fails closed with the documented code.
    let env2 = Env::new("rejected-req");
    env2.add("rejected", "rejected");
    env2.add("counter", "counter");
    let (out, st) = env2.run("rd.bpf_preload=rejected,counter rd.bpf_preload.required=rejected");
    assert_eq!(
        out.status.code(),
        Some(bpf_preload::EXIT_REQUIRED_FAILED),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("required object(s) failed: rejected"),
        "{}",
        text(&out)
    );
    assert_eq!(obj(&st, "counter").result, Outcome::Loaded);
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn pin_by_name_maps_are_shared_and_failures_leave_none() {
    let env = Env::new("shared");
    for o in ["shared_a", "shared_rejected", "attach_fails", "shared_b"] {
        env.add(o, o);
    }
    let (out, st) = env.run("rd.bpf_preload=shared_a,shared_rejected,attach_fails,shared_b");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(obj(&st, "shared_a").result, Outcome::Loaded);
    assert_eq!(obj(&st, "shared_b").result, Outcome::Loaded);
    assert_eq!(obj(&st, "shared_a").shared_maps, ["shared_events"]);
    assert_eq!(obj(&st, "shared_b").shared_maps, ["shared_events"]);
    assert_eq!(obj(&st, "shared_rejected").result, Outcome::Failed);
    let e = obj(&st, "attach_fails").error.clone().unwrap();
    assert!(e.starts_with("attach never_attached: "), "{e}");
    let tree = env.tree();
    assert!(
        tree.contains(&"+shared/shared_events".to_string()),
        "{tree:?}"
    );
    assert!(
        !tree.iter().any(|p| p.contains("orphan")
            || p.starts_with("attach_fails")
            || p.starts_with("shared_rejected")),
        "{tree:?}"
    );
    // Both objects use the one map: shared_b counts in key 2 only when it sees shared_a's key 0.
    exec_a_few();
    let map = env.bpffs().join("+shared/shared_events");
    assert!(
        read_u64(&map, 0) > 0 && read_u64(&map, 2) > 0,
        "map not shared"
    );
    assert!(obj(&st, "shared_a").shared_maps_reused.is_empty());
    assert_eq!(obj(&st, "shared_b").shared_maps_reused, ["shared_events"]);
    // A later run (the map is now "planted" from its point of view): reused and said so; in
    // strict mode refused, and the object's directory never appears.
    env.add("shared_b", "shared_c");
    let (_, st) = env.run("rd.bpf_preload=shared_c");
    assert_eq!(obj(&st, "shared_c").shared_maps_reused, ["shared_events"]);
    std::fs::remove_dir_all(env.bpffs().join("shared_c")).unwrap();
    let (out, st) = env.run("rd.bpf_preload=shared_c rd.bpf_preload.strict_shared=1");
    assert!(out.status.success(), "{}", text(&out));
    let e = obj(&st, "shared_c").error.clone().unwrap();
    assert!(
        e.starts_with("shared map shared_events was in ") && e.ends_with("(strict shared maps)"),
        "{e}"
    );
    assert!(!env.tree().iter().any(|p| p.starts_with("shared_c")));
    assert!(env.tree().contains(&"+shared/shared_events".to_string()));
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn bad_input_fails_alone_with_a_clear_reason() {
    let env = Env::new("bad");
    env.add("maponly", "good");
    env.add("counter", "audit");
    // Signed as audit, renamed to netpol.
    std::fs::copy(
        env.path("bundle/audit.bpf.o"),
        env.path("bundle/netpol.bpf.o"),
    )
    .unwrap();
    let signed = std::fs::read(env.path("bundle/good.bpf.o")).unwrap();
    env.add("maponly", "flipped");
    let mut flipped = std::fs::read(env.path("bundle/flipped.bpf.o")).unwrap();
    flipped[100] ^= 0x40;
    env.add_bytes("flipped", &flipped);
    let mut renamed = signed.clone();
    renamed.push(0);
    env.add_bytes("trailing", &renamed);
    env.add_bytes("unsigned", &std::fs::read(object("maponly")).unwrap());
    env.add_bytes("empty", b"");
    env.add_bytes("truncated", &signed[..signed.len() - 10]);
    // Signed with a key nobody trusts.
    let other = Scratch::new("otherkey");
    let (sk, pk) = (other.0.join("k.pem"), other.0.join("k.pub"));
    assert!(bin(&[
        "keygen",
        "--private",
        sk.to_str().unwrap(),
        "--public",
        pk.to_str().unwrap()
    ])
    .status
    .success());
    let o = bin(&[
        "sign",
        "--key",
        sk.to_str().unwrap(),
        "--name",
        "wrongkey",
        "--output",
        env.path("bundle/wrongkey.bpf.o").to_str().unwrap(),
        object("maponly").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Validly signed, but not eBPF (host ELF) and not ELF at all: signed through the library.
    let key = bpf_preload::keys::parse_private_pem(
        "test",
        &std::fs::read_to_string(test_private_key()).unwrap(),
    )
    .unwrap();
    let sign = |name: &str, bytes: &[u8]| {
        bpf_preload::verify::sign(bytes, &ObjectName::parse(name).unwrap(), &key).unwrap()
    };
    env.add_bytes(
        "hostelf",
        &sign("hostelf", &std::fs::read("/bin/true").unwrap()),
    );
    env.add_bytes("notelf", &sign("notelf", b"#!/bin/sh\necho hi\n"));
    std::os::unix::fs::symlink(
        env.path("bundle/good.bpf.o"),
        env.path("bundle/symlink.bpf.o"),
    )
    .unwrap();
    // A stale staging directory from an earlier crash.
    let (out, _) = env.run("rd.bpf_preload=0");
    assert!(out.status.success());
    let _ = nix::mount::mount(
        Some("bpf"),
        &env.bpffs(),
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    std::fs::create_dir_all(env.bpffs().join("+staging-good/links")).unwrap();

    let long = "x".repeat(64);
    let cmdline = format!(
        "rd.bpf_preload=flipped,trailing,netpol,good,unsigned,empty,truncated,wrongkey rd.bpf_preload=hostelf,notelf,symlink,missing,..,a/b,a.b,{long},é,good,audit"
    );
    // --verbose echoes every log record to stderr (besides /dev/kmsg).
    let (out, st) = env.run_with(BIN, &cmdline, &["--verbose"]);
    assert!(out.status.success(), "{}", text(&out));
    let want: &[(&str, &str)] = &[
        ("flipped", "verify: signature does not verify with key"),
        ("trailing", "verify: 1 bytes follow the signature trailer"),
        ("netpol", "verify: signed as \"audit\", not \"netpol\""),
        ("unsigned", "verify: no signature trailer (unsigned object)"),
        ("empty", "verify: no signature trailer (unsigned object)"),
        ("truncated", "verify: no signature trailer"),
        ("wrongkey", "verify: key "),
        (
            "hostelf",
            "check: not an eBPF object: ELF machine is X86_64",
        ),
        ("notelf", "check: not an ELF file"),
        ("symlink", "is a symbolic link (refused)"),
        ("missing", "No such file or directory"),
        ("..", "invalid name: "),
        ("a/b", "invalid name: "),
        ("a.b", "invalid name: "),
        (&long, "invalid name: "),
        ("é", "invalid name: "),
    ];
    for (name, reason) in want {
        let o = obj(&st, name);
        assert_eq!(o.result, Outcome::Failed, "{name}");
        let e = o.error.clone().unwrap();
        assert!(e.contains(reason), "{name}: {e:?} lacks {reason:?}");
    }
    assert!(obj(&st, "wrongkey")
        .error
        .as_ref()
        .unwrap()
        .ends_with("is not trusted"));
    // The good ones loaded, once each, and nothing else is in the bpffs.
    assert_eq!(obj(&st, "good").result, Outcome::Loaded);
    assert_eq!(obj(&st, "audit").result, Outcome::Loaded);
    assert_eq!(st.objects.iter().filter(|o| o.name == "good").count(), 1);
    let tops: Vec<String> = env
        .tree()
        .into_iter()
        .filter(|p| p.matches('/').count() == 1 && p.ends_with('/'))
        .collect();
    assert_eq!(tops, ["+shared/", "audit/", "good/"]);
    // One log line per object, in order, saying its result.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("bpf-preload: object "))
        .collect();
    assert_eq!(lines.len(), st.objects.len(), "{lines:#?}");
    for (line, o) in lines.iter().zip(&st.objects) {
        let head = format!("bpf-preload: object {}: {}", o.name, o.result.as_str());
        assert!(
            line.starts_with(&head),
            "{line:?} does not start with {head:?}"
        );
    }
    // Running again neither duplicates nor destroys.
    let before = env.tree();
    let (out, st) = env.run("rd.bpf_preload=good,audit");
    assert!(out.status.success());
    let errors: Vec<_> = st.objects.iter().map(|o| o.error.clone()).collect();
    assert_eq!(errors, [None, None]);
    assert_eq!(
        st.objects.iter().map(|o| o.result).collect::<Vec<_>>(),
        [Outcome::AlreadyLoaded, Outcome::AlreadyLoaded]
    );
    assert!(!st.mounted_bpffs, "the existing bpffs is reused");
    // Same name, other bytes: a conflict; the loaded one stays.
    env.add("counter", "good");
    let (_, st) = env.run("rd.bpf_preload=good");
    assert!(
        obj(&st, "good")
            .error
            .as_ref()
            .unwrap()
            .contains("holds another object (sha256 "),
        "{st:?}"
    );
    assert_eq!(env.tree(), before);
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn revoked_keys_and_preload_list_and_disable() {
    let env = Env::new("revoked");
    env.add("maponly", "a");
    std::fs::write(env.path("preload.list"), "# default list\na\n").unwrap();
    let id = text(&bin(&[
        "verify",
        "--key",
        test_public_key().to_str().unwrap(),
        env.path("bundle/a.bpf.o").to_str().unwrap(),
    ]));
    let id = id
        .split("key=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // Disabled: nothing mounted, nothing loaded.
    let (out, st) = env.run("rd.bpf_preload=0");
    assert!(out.status.success());
    assert!(
        st.disabled && !st.mounted_bpffs && st.objects.iter().all(|o| o.result == Outcome::Skipped)
    );
    std::fs::write(env.path("keys/revoked"), format!("# compromised\n{id}\n")).unwrap();
    let (_, st) = env.run("root=/dev/vda");
    assert_eq!(st.source, bpf_preload::cmdline::Source::PreloadList);
    assert_eq!(
        obj(&st, "a").error.as_deref(),
        Some(&*format!("verify: key {id} is revoked"))
    );
    std::fs::remove_file(env.path("keys/revoked")).unwrap();
    let (_, st) = env.run("root=/dev/vda");
    assert_eq!(obj(&st, "a").result, Outcome::Loaded);
    // A bpffs that was already mounted (as the systemd initrd does) is reused.
    assert!(!st.mounted_bpffs);
}

#[test]
#[ignore = "needs root and a binary built with BPF_PRELOAD_BUILTIN_KEYS=keys/test-only (tests/run-all.sh builds it and sets BPF_PRELOAD_BUILTIN_BIN)"]
fn built_in_keys_are_trusted_and_revocable() {
    let builtin = std::env::var("BPF_PRELOAD_BUILTIN_BIN").expect("BPF_PRELOAD_BUILTIN_BIN: the path of a binary built with BPF_PRELOAD_BUILTIN_KEYS=keys/test-only");
    let env = Env::new("builtin");
    env.add("maponly", "m");
    std::fs::remove_file(env.path("keys/test.pub")).unwrap();
    let signed = env.path("bundle/m.bpf.o");
    let o = Command::new(&builtin)
        .arg("verify")
        .arg(&signed)
        .output()
        .unwrap();
    assert!(
        o.status.success() && text(&o).contains("trusted-by=built-in:signing-key.pub"),
        "{}",
        text(&o)
    );
    let o = bin(&["verify", signed.to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("no built-in keys"),
        "{}",
        text(&o)
    );
    // The plain binary with an empty keys dir refuses; the built-in one loads.
    let (_, st) = env.run("rd.bpf_preload=m");
    assert!(
        obj(&st, "m")
            .error
            .as_ref()
            .unwrap()
            .ends_with("is not trusted"),
        "{st:?}"
    );
    std::fs::write(env.path("keys/revoked"), "bfec6534c3009d50\n").unwrap();
    let (_, st) = env.run_with(&builtin, "rd.bpf_preload=m", &[]);
    assert_eq!(
        obj(&st, "m").error.as_deref(),
        Some("verify: key bfec6534c3009d50 is revoked")
    );
    std::fs::remove_file(env.path("keys/revoked")).unwrap();
    let (_, st) = env.run_with(&builtin, "rd.bpf_preload=m", &[]);
    assert_eq!(obj(&st, "m").result, Outcome::Loaded, "{st:?}");
}

#[test]
fn cli_keys_sign_verify_inspect() {
    let s = Scratch::new("cli");
    let p = |n: &str| s.0.join(n).to_str().unwrap().to_owned();
    let o = bin(&["keygen", "--private", &p("k.pem"), "--public", &p("k.pub")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !bin(&["keygen", "--private", &p("k.pem"), "--public", &p("k2.pub")])
            .status
            .success(),
        "keygen must not overwrite"
    );
    std::fs::copy(object("counter"), p("counter.bpf.o")).unwrap();
    let o = bin(&["sign", "--key", &p("k.pem"), &p("counter.bpf.o")]);
    assert!(o.status.success(), "{}", text(&o));
    let once = std::fs::metadata(p("counter.bpf.o")).unwrap().len();
    // Signing again replaces the trailer, never stacks.
    assert!(bin(&["sign", "--key", &p("k.pem"), &p("counter.bpf.o")])
        .status
        .success());
    assert_eq!(std::fs::metadata(p("counter.bpf.o")).unwrap().len(), once);
    let o = bin(&["verify", "--key", &p("k.pub"), &p("counter.bpf.o")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ok name=counter key="), "{}", text(&o));
    let o = bin(&[
        "verify",
        "--key",
        test_public_key().to_str().unwrap(),
        &p("counter.bpf.o"),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("is not trusted"),
        "{}",
        text(&o)
    );
    let o = bin(&["inspect", "--json", &p("counter.bpf.o")]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["name"], "counter");
    assert_eq!(
        j["programs"][0]["section"],
        "tracepoint/sched/sched_process_exec"
    );
    assert_eq!(j["programs"][0]["auto_attach"], true);
    let o = bin(&["inspect", object("xdp_pass").to_str().unwrap()]);
    assert!(
        text(&o).contains("(unsigned)") && text(&o).contains("no auto-attach"),
        "{}",
        text(&o)
    );
    assert!(!bin(&[
        "sign",
        "--key",
        &p("k.pem"),
        "--name",
        "a.b",
        &p("counter.bpf.o")
    ])
    .status
    .success());
    assert_eq!(bin(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(bin(&["run", "--bogus"]).status.code(), Some(2));
}

#[test]
fn openssl_keys_work_unchanged() {
    if Command::new("openssl").arg("version").output().is_err() {
        panic!("openssl is not installed: the README test command installs it");
    }
    let s = Scratch::new("openssl");
    let p = |n: &str| s.0.join(n).to_str().unwrap().to_owned();
    assert!(Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out", &p("k.pem")])
        .status()
        .unwrap()
        .success());
    assert!(Command::new("openssl")
        .args(["pkey", "-in", &p("k.pem"), "-pubout", "-out", &p("k.pub")])
        .status()
        .unwrap()
        .success());
    let o = bin(&[
        "sign",
        "--key",
        &p("k.pem"),
        "--output",
        &p("m.bpf.o"),
        object("maponly").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = bin(&["verify", "--key", &p("k.pub"), &p("m.bpf.o")]);
    // Signed under the name of the file it was written to, which `run` looks it up by.
    assert!(
        o.status.success() && text(&o).contains("ok name=m key="),
        "{}",
        text(&o)
    );
}

#[test]
fn binary_is_fully_static() {
    let bytes = std::fs::read(BIN).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    assert_eq!(elf.interpreter, None, "has a dynamic loader");
    assert!(
        elf.libraries.is_empty(),
        "needs shared libraries: {:?}",
        elf.libraries
    );
}

#[test]
#[ignore = "needs root (chroot): run as root with --include-ignored (see README)"]
fn runs_from_an_empty_chroot() {
    let s = Scratch::new("chroot");
    std::fs::copy(BIN, s.0.join("bpf-preload")).unwrap();
    std::fs::copy(object("counter"), s.0.join("counter.bpf.o")).unwrap();
    let o = Command::new("chroot")
        .arg(&s.0)
        .args(["/bpf-preload", "inspect", "/counter.bpf.o"])
        .output()
        .unwrap();
    assert!(
        o.status.success() && text(&o).contains("count_exec"),
        "{}",
        text(&o)
    );
}

/// Every single-byte flip of a real signed object (payload, name, signature, footer) and every
/// truncation is refused, through the same verify path `run` uses. No root needed.
#[test]
fn every_flip_and_truncation_of_a_real_signed_object_is_refused() {
    use bpf_preload::trailer::TrailerError;
    use bpf_preload::verify::{sign, verify, VerifyError};
    let key = bpf_preload::keys::parse_private_pem(
        "test",
        &std::fs::read_to_string(test_private_key()).unwrap(),
    )
    .unwrap();
    let mut ring = bpf_preload::keys::KeyRing::default();
    ring.add("test", key.verifying_key());
    let name = ObjectName::parse("counter").unwrap();
    let payload = std::fs::read(object("counter")).unwrap();
    let signed = sign(&payload, &name, &key).unwrap();
    assert!(verify(signed.clone(), Some(&name), &ring).is_ok());
    for i in 0..signed.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = signed.clone();
            bad[i] ^= bit;
            assert!(
                verify(bad, Some(&name), &ring).is_err(),
                "flip {bit:#x} at byte {i} of {} accepted",
                signed.len()
            );
        }
    }
    // The signature trailer ends with its magic: every truncation cuts into it, and the object
    // reads as unsigned.
    for len in 0..signed.len() {
        assert_eq!(
            verify(signed[..len].to_vec(), Some(&name), &ring).unwrap_err(),
            VerifyError::Trailer(TrailerError::Unsigned),
            "truncated to {len}"
        );
    }
}

#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn concurrent_runs_and_damaged_objects_are_never_reported_loaded() {
    let env = Env::new("race");
    let names = ["counter", "iter", "maponly", "optional_prog", "xdp_pass"];
    for o in names {
        env.add(o, o);
    }
    // Mount the instance once, so both runs share it.
    let (out, _) = env.run("rd.bpf_preload=0");
    assert!(out.status.success());
    nix::mount::mount(
        Some("bpf"),
        &env.bpffs(),
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    // Two runs at once on one bpffs: the lock serialises them; every object is loaded by one
    // and already-loaded for the other, never a partial directory.
    let cmdline = format!("rd.bpf_preload={}", names.join(","));
    std::fs::write(env.path("cmdline"), &cmdline).unwrap();
    let spawn = |status: &str| {
        Command::new(BIN)
            .args(["run", "--cmdline"])
            .arg(env.path("cmdline"))
            .arg("--bundle")
            .arg(env.path("bundle"))
            .arg("--keys")
            .arg(env.path("keys"))
            .arg("--bpffs")
            .arg(env.bpffs())
            .arg("--status")
            .arg(env.path(status))
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn("a.json"), spawn("b.json"));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let read = |f: &str| Status::from_json(&std::fs::read_to_string(env.path(f)).unwrap()).unwrap();
    let (sa, sb) = (read("a.json"), read("b.json"));
    for n in names {
        let mut got = [obj(&sa, n).result, obj(&sb, n).result];
        got.sort_by_key(|o| o.as_str());
        assert_eq!(
            got,
            [Outcome::AlreadyLoaded, Outcome::Loaded],
            "{n}: {sa:#?} {sb:#?}"
        );
    }
    // The pins the loader reports for an already-loaded object are the real ones.
    let again = env.run(&cmdline).1;
    assert_eq!(obj(&again, "counter").links, ["count_exec"]);
    assert_eq!(obj(&again, "counter").maps, ["exec_count", "last_pid"]);
    assert_eq!(obj(&again, "xdp_pass").programs, ["xdp_pass"]);
    // A link pin removed behind our back: not "already loaded", a failure with the reason.
    std::fs::remove_file(env.bpffs().join("counter/links/count_exec")).unwrap();
    // A forged marker: an empty directory named like a loaded iter.
    let sha = obj(&again, "iter").sha256.clone().unwrap();
    std::fs::remove_dir_all(env.bpffs().join("iter/links")).unwrap();
    let (out, st) = env.run("rd.bpf_preload=counter,iter rd.bpf_preload.required=counter");
    assert_eq!(out.status.code(), Some(bpf_preload::EXIT_REQUIRED_FAILED));
    assert!(obj(&st, "counter")
        .error
        .as_deref()
        .unwrap()
        .ends_with("holds counter but is damaged: links/count_exec is missing"));
    assert!(obj(&st, "iter")
        .error
        .as_deref()
        .unwrap()
        .ends_with("holds iter but is damaged: links/dump_task is missing"));
    assert!(env.tree().contains(&format!("iter/sha256-{sha}/")));
}

/// A run that cannot even plan still writes a status record, replacing a stale one. No root:
/// nothing is mounted or loaded.
#[test]
fn a_fatal_error_still_writes_a_status_record() {
    let s = Scratch::new("fatal");
    let status = s.0.join("status.json");
    std::fs::write(&status, "stale").unwrap();
    let o = Command::new(BIN)
        .args(["run", "--cmdline"])
        .arg(s.0.join("no-cmdline"))
        .arg("--status")
        .arg(&status)
        .arg("--bpffs")
        .arg(s.0.join("bpffs"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let st = Status::from_json(&std::fs::read_to_string(&status).unwrap()).unwrap();
    let want = format!(
        "read cmdline {}: No such file or directory (os error 2)",
        s.0.join("no-cmdline").display()
    );
    assert_eq!(st.error.as_deref(), Some(want.as_str()));
    assert!(st.objects.is_empty());
    assert!(
        !s.0.join("bpffs").exists(),
        "nothing may be mounted or made"
    );
}

impl Env {
    /// `bpf-preload status` of the last run (text, or the parsed `--json`).
    fn status_text(&self) -> String {
        let o = bin(&[
            "status",
            "--status",
            self.path("status.json").to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    }
    fn status_json(&self) -> serde_json::Value {
        let o = bin(&[
            "status",
            "--json",
            "--status",
            self.path("status.json").to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

/// The object's line of `status` text and the line after it.
fn status_lines<'a>(text: &'a str, name: &str) -> (&'a str, &'a str) {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with(&format!("  {name} ")))
        .unwrap_or_else(|| panic!("no line for {name} in {text}"));
    (lines[i], lines.get(i + 1).copied().unwrap_or(""))
}

/// The live status against a real kernel and a private bpffs: untouched objects are `loaded`;
/// a removed map pin, a link unpinned (and with it its id gone from the kernel), a removed
/// directory each make that object `removed`, naming what is missing. The record in the status
/// file is never rewritten.
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn live_status_tells_a_removed_object_from_a_loaded_one() {
    let env = Env::new("live");
    let names = ["counter", "iter", "maponly", "optional_prog"];
    for o in names {
        env.add(o, o);
    }
    let (out, st) = env.run(&format!("rd.bpf_preload={}", names.join(",")));
    assert!(out.status.success(), "{}", text(&out));
    for n in names {
        assert_eq!(obj(&st, n).result, Outcome::Loaded, "{n}: {}", text(&out));
    }
    // Every link's kernel id is recorded.
    let iter_id = obj(&st, "iter").link_ids["dump_task"];
    assert!(iter_id > 0);
    assert_eq!(obj(&st, "counter").link_ids.len(), 1);
    assert_eq!(obj(&st, "optional_prog").link_ids.len(), 1);
    // Control: nothing touched, nothing removed.
    let t = env.status_text();
    for n in names {
        let (line, next) = status_lines(&t, n);
        assert!(line.contains(" loaded "), "{t}");
        assert!(!next.starts_with("      missing: "), "{t}");
    }
    let j = env.status_json();
    assert_eq!(j["live"]["checked"], true, "{j}");
    for n in names {
        assert_eq!(j["live"]["objects"][n]["state"], "loaded", "{j}");
    }
    let record = std::fs::read(env.path("status.json")).unwrap();

    std::fs::remove_file(env.bpffs().join("counter/maps/exec_count")).unwrap();
    std::fs::remove_file(env.bpffs().join("iter/links/dump_task")).unwrap();
    std::fs::remove_dir_all(env.bpffs().join("maponly")).unwrap();
    // The kernel frees an unpinned link's id after an RCU grace period: wait for it.
    let start = std::time::Instant::now();
    let t = loop {
        let t = env.status_text();
        if t.contains(&format!("link-id {iter_id}")) || start.elapsed().as_secs() > 10 {
            break t;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let (line, next) = status_lines(&t, "counter");
    assert!(line.contains(" removed "), "{t}");
    assert_eq!(next, "      missing: maps/exec_count", "{t}");
    let (line, next) = status_lines(&t, "iter");
    assert!(line.contains(" removed "), "{t}");
    assert_eq!(
        next,
        format!("      missing: links/dump_task link-id {iter_id}"),
        "{t}"
    );
    let (line, next) = status_lines(&t, "maponly");
    assert!(line.contains(" removed "), "{t}");
    assert_eq!(next, "      missing: maponly/", "{t}");
    // The untouched one, in the same bpffs, is still loaded.
    let (line, next) = status_lines(&t, "optional_prog");
    assert!(line.contains(" loaded "), "{t}");
    assert!(!next.starts_with("      missing: "), "{t}");
    let j = env.status_json();
    assert_eq!(j["live"]["objects"]["counter"]["state"], "removed", "{j}");
    assert_eq!(
        j["live"]["objects"]["iter"]["missing"],
        serde_json::json!(["links/dump_task", format!("link-id {iter_id}")]),
        "{j}"
    );
    assert_eq!(j["live"]["objects"]["optional_prog"]["state"], "loaded");
    // The boot-time record is what it was.
    assert_eq!(std::fs::read(env.path("status.json")).unwrap(), record);
    assert_eq!(j["objects"][0]["result"], "loaded");
}

/// One unreadable file in the keys directory (a FIFO, a directory named x.pub) is a warning in
/// the status and `status` text; the good key still loads an object it signed.
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn a_bad_key_file_is_skipped_with_a_warning() {
    let env = Env::new("badkey");
    env.add("maponly", "maponly");
    let fifo = env.path("keys/fifo.pub");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    std::fs::create_dir(env.path("keys/dir.pub")).unwrap();
    let (out, st) = env.run("rd.bpf_preload=maponly rd.bpf_preload.required=maponly");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(obj(&st, "maponly").result, Outcome::Loaded);
    let keys = env.path("keys").display().to_string();
    assert_eq!(
        st.warnings,
        [
            format!("trusted keys: skipped a key file: read {keys}/dir.pub: is a directory (refused)"),
            format!("trusted keys: skipped a key file: read {keys}/fifo.pub: is a special file (refused)"),
        ]
    );
    assert_eq!(st.error, None);
    let t = env.status_text();
    assert!(
        t.contains(&format!(
            "\n  warning: trusted keys: skipped a key file: read {keys}/fifo.pub: is a special file (refused)\n"
        )),
        "{t}"
    );
}

/// `run` with measurement on and nothing to load: the closing event alone, through a "TPM" that
/// is a regular file (it answers nothing: unavailable), and the measurement log in each fault
/// `docs/measure.md` lists. Needs no root: no bpffs is touched when nothing is listed.
#[test]
fn measurement_log_faults_are_reported_and_never_hang() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("measure-log");
    std::fs::write(s.p("cmdline"), "rd.bpf_preload.measure=12").unwrap();
    std::fs::write(s.p("tpm"), "").unwrap();
    let run = |log: &Path| {
        let o = bin(&[
            "run",
            "--cmdline",
            s.p("cmdline").to_str().unwrap(),
            "--policy",
            s.p("no-policy").to_str().unwrap(),
            "--status",
            s.p("status.json").to_str().unwrap(),
            "--bpffs",
            s.p("bpffs").to_str().unwrap(),
            "--tpm-device",
            s.p("tpm").to_str().unwrap(),
            "--measure-log",
            log.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let st = Status::from_json(&std::fs::read_to_string(s.p("status.json")).unwrap()).unwrap();
        st.measurement.unwrap()
    };
    // A working log, a TPM that does not answer: unavailable in words; the log is untouched
    // and its sticky bit (set while the extend was tried) is cleared again.
    let log = s.p("log/tpm2-measure.log");
    let m = run(&log);
    assert_eq!(m.state.as_str(), "unavailable");
    assert_eq!(
        m.reason.as_deref(),
        Some(
            format!(
                "{}: extend PCR 12: malformed TPM response: shorter than a header",
                s.p("tpm").display()
            )
            .as_str()
        )
    );
    assert_eq!(m.log_error, None);
    let meta = std::fs::metadata(&log).unwrap();
    assert_eq!((meta.len(), meta.permissions().mode() & 0o7777), (0, 0o600));
    assert_eq!(
        std::fs::metadata(s.p("log")).unwrap().permissions().mode() & 0o777,
        0o755
    );

    // Locked by another writer: a bounded wait, then the reason.
    let held = nix::fcntl::Flock::lock(
        std::fs::File::open(&log).unwrap(),
        nix::fcntl::FlockArg::LockExclusive,
    )
    .unwrap();
    let m = run(&log);
    let e = m.log_error.unwrap();
    assert!(
        e.starts_with(&format!(
            "{} is locked by another writer (waited ",
            log.display()
        )),
        "{e}"
    );
    drop(held);

    // Marked aborted by a writer that died mid-record: left alone.
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o1600)).unwrap();
    let m = run(&log);
    assert_eq!(
        m.log_error,
        Some(format!(
            "{} is marked aborted (a writer died mid-record): corrupt, not appended to",
            log.display()
        ))
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o7777,
        0o1600
    );

    // Not a regular file: a symlink (never followed), a FIFO (never blocks), a directory.
    let target = s.p("elsewhere");
    std::fs::write(&target, "").unwrap();
    let link = s.p("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = s.p("fifo.log");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let dir = s.p("dir.log");
    std::fs::create_dir(&dir).unwrap();
    for p in [&link, &fifo, &dir] {
        let m = run(p);
        assert_eq!(
            m.log_error,
            Some(format!("{} is not a regular file (refused)", p.display()))
        );
    }
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"",
        "the symlink's target is untouched"
    );
}

/// `predict` plans and verifies as `run` does: a refused object is not measured (and says
/// why), the value is the replay of the events it lists, and `--pcrlock` writes those records.
#[test]
fn predict_counts_what_run_would_measure_and_writes_a_pcrlock_component() {
    use bpf_preload::measure;
    let s = Scratch::new("predict");
    let p = |n: &str| s.0.join(n).to_str().unwrap().to_owned();
    std::fs::create_dir_all(s.p("bundle")).unwrap();
    std::fs::create_dir_all(s.p("keys")).unwrap();
    std::fs::copy(test_public_key(), s.p("keys/test.pub")).unwrap();
    for (name, obj) in [("counter", "counter"), ("iter", "iter"), ("bad", "maponly")] {
        sign_into(&s.0.join("bundle"), obj, name, &[]);
    }
    // "bad" is tampered with: boot refuses it, so it is not measured.
    let mut bytes = std::fs::read(p("bundle/bad.bpf.o")).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(p("bundle/bad.bpf.o"), bytes).unwrap();
    std::fs::write(p("list"), "iter\nbad\ncounter\n").unwrap();
    let predict = |list: &str| {
        let o = bin(&[
            "predict",
            "--pcr",
            "12",
            "--bundle",
            &p("bundle"),
            "--keys",
            &p("keys"),
            "--preload-list",
            &p(list),
            "--pcrlock",
            &p("c.pcrlock"),
            // "bad" is not measured: predict says so with exit 4 unless this.
            "--allow-unmeasured",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let out = predict("list");
    let lines: Vec<&str> = out.lines().collect();
    let events: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("# pcr 12 event "))
        .collect();
    assert_eq!(events.len(), 3, "{out}");
    assert!(
        events[0].starts_with("bpf-preload object=iter sha256="),
        "{out}"
    );
    assert!(
        events[1].starts_with("bpf-preload object=counter sha256="),
        "{out}"
    );
    assert!(events[0].ends_with(" path=fast"), "{out}");
    assert_eq!(events[2], "bpf-preload end listed=3 measured=2");
    assert!(
        lines.iter().any(|l| l.starts_with("# not measured: bad: ")),
        "{out}"
    );
    let digests: Vec<[u8; 32]> = events.iter().map(|e| measure::event_digest(e)).collect();
    assert_eq!(
        lines[0],
        bpf_preload::verify::hex(&measure::replay(&digests))
    );
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("c.pcrlock")).unwrap()).unwrap();
    let recs = c["records"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    for (r, d) in recs.iter().zip(&digests) {
        assert_eq!(r["pcr"], 12);
        assert_eq!(r["digests"][0]["hashAlg"], "sha256");
        assert_eq!(r["digests"][0]["digest"], bpf_preload::verify::hex(d));
    }
    // Another order, another value.
    std::fs::write(p("list2"), "counter\niter\n").unwrap();
    let other = predict("list2");
    assert_ne!(other.lines().next(), Some(lines[0]));
    assert!(
        other.contains(&format!(
            "\n# list: {} (merged in this order)\n",
            p("list2")
        )),
        "{other}"
    );
    // Drop-ins (LIST.d/*.list, no LIST): merged in name order, the first position winning,
    // other files ignored; the same order gives the same value, and the files are named.
    std::fs::create_dir_all(p("list3.d")).unwrap();
    std::fs::write(p("list3.d/20-b.list"), "iter\ncounter\n").unwrap();
    std::fs::write(p("list3.d/10-a.list"), "counter\n").unwrap();
    std::fs::write(p("list3.d/05-z.list.dpkg-old"), "bad\n").unwrap();
    let merged = predict("list3");
    assert_eq!(merged.lines().next(), other.lines().next(), "{merged}");
    assert!(
        merged.lines().any(|l| l
            == format!(
                "# list: {}, {} (merged in this order)",
                p("list3.d/10-a.list"),
                p("list3.d/20-b.list")
            )),
        "{merged}"
    );
    // Neither a list nor a drop-in: an error naming the list.
    let o = bin(&[
        "predict",
        "--pcr",
        "12",
        "--bundle",
        &p("bundle"),
        "--keys",
        &p("keys"),
        "--preload-list",
        &p("list4"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!("read {}: ", p("list4"))),
        "{}",
        text(&o)
    );
    // The built-in iterators asked for: their event, from the object in this binary, between the
    // objects' and the closing one.
    std::fs::write(p("cmdline"), "rd.bpf_preload.iterators=1\n").unwrap();
    let o = bin(&[
        "predict",
        "--pcr",
        "12",
        "--bundle",
        &p("bundle"),
        "--keys",
        &p("keys"),
        "--preload-list",
        &p("list"),
        "--cmdline",
        &p("cmdline"),
        "--allow-unmeasured",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let with: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("# pcr 12 event "))
        .collect();
    let builtin = measure::builtin_event("iterators", &bpf_preload::iterators_sha256());
    assert_eq!(with, [events[0], events[1], &builtin, events[2]], "{out}");
    let digests: Vec<[u8; 32]> = with.iter().map(|e| measure::event_digest(e)).collect();
    assert_eq!(
        out.lines().next(),
        Some(bpf_preload::verify::hex(&measure::replay(&digests)).as_str())
    );
}

/// Required measurement with a TPM that cannot extend: no object reaches the kernel (nothing is
/// pinned), every object says why, `run` exits 3. The control: not required, the same TPM
/// failure is reported and the objects load.
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn required_measurement_that_fails_loads_nothing() {
    let env = Env::new("measure-required");
    env.add("counter", "counter");
    env.add("iter", "iter");
    // A "TPM" that answers nothing: the extend fails.
    std::fs::write(env.path("tpm"), "").unwrap();
    let tpm = env.path("tpm");
    let log = env.path("log/tpm2-measure.log");
    let extra = [
        "--policy",
        "/nonexistent",
        "--tpm-device",
        tpm.to_str().unwrap(),
        "--measure-log",
        log.to_str().unwrap(),
    ];
    let (o, st) = env.run_with(
        BIN,
        "rd.bpf_preload=counter,iter rd.bpf_preload.measure=12,required",
        &extra,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let why = format!(
        "not loaded: measurement required and failed: {}: extend PCR 12: malformed TPM response: shorter than a header",
        tpm.display()
    );
    assert_eq!(obj(&st, "counter").result, Outcome::Failed);
    assert_eq!(obj(&st, "counter").error.as_deref(), Some(why.as_str()));
    assert_eq!(obj(&st, "iter").result, Outcome::Failed);
    assert!(env.object_tree("counter").is_empty() && env.object_tree("iter").is_empty());
    assert!(!env.bpffs().join("counter").exists());
    let m = st.measurement.as_ref().unwrap();
    assert_eq!(
        (m.state.as_str(), m.required, m.events),
        ("unavailable", true, 0)
    );

    let (o, st) = env.run_with(
        BIN,
        "rd.bpf_preload=counter,iter rd.bpf_preload.measure=12",
        &extra,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(obj(&st, "counter").result, Outcome::Loaded);
    assert!(!obj(&st, "counter").measured);
    assert_eq!(
        st.measurement.as_ref().unwrap().state.as_str(),
        "unavailable"
    );
}

/// A kernel-signed object (issue 16) on this kernel: verified against the loader's keyring where
/// the kernel has BPF signatures (7.x); elsewhere (6.18 answers EOPNOTSUPP, older E2BIG)
/// `unsupported` and loaded all the same, unsigned. The mode itself (and its
/// refusals) needs the guard and a 7.x kernel: tests/vm (`signed-only-*`).
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn a_kernel_signed_object_loads_verified_or_says_why_not() {
    let env = Env::new("ksig");
    let kernel = repo().join("keys/test-only/kernel");
    let (kkey, kcert) = (kernel.join("rsa.key"), kernel.join("rsa.crt"));
    let kernel_args = [
        "--kernel-key",
        kkey.to_str().unwrap(),
        "--kernel-cert",
        kcert.to_str().unwrap(),
    ];
    sign_into(&env.path("bundle"), "counter", "counter", &kernel_args);
    std::fs::copy(kernel.join("rsa.crt"), env.path("keys/rsa.crt")).unwrap();
    let (_, st) = env.run("rd.bpf_preload=counter");
    let c = obj(&st, "counter");
    assert_eq!(c.result, Outcome::Loaded, "{:?}", c.error);
    let verdict = c.kernel_signature.as_deref().unwrap_or("(none)");
    assert!(
        verdict == "verified" || verdict.starts_with("unsupported: "),
        "kernel_signature: {verdict}"
    );
}

/// Every id the kernel has now, by `BPF_*_GET_NEXT_ID` (libbpf's query iterators).
fn kernel_ids(kind: &str) -> std::collections::BTreeSet<u32> {
    use libbpf_rs::query::{LinkInfoIter, MapInfoIter, ProgInfoIter};
    match kind {
        "maps" => MapInfoIter::default().map(|m| m.id).collect(),
        "progs" => ProgInfoIter::default().map(|p| p.id).collect(),
        _ => LinkInfoIter::default().map(|l| l.id).collect(),
    }
}

/// `rd.bpf_preload.iterators=1`: maps.debug, progs.debug, links.debug at the root of the bpffs,
/// in the kernel's format (header lines, columns), listing every map, program and link the
/// kernel has (BPF_*_GET_NEXT_ID before and after the read: other tests load and unload things
/// meanwhile, so every id there both times must be listed), with the object name on the rows of
/// the preloaded objects' programs and links; a second run finds them; the kernel's own files
/// (or anyone's) are never replaced. Loaded as a light skeleton made at boot (no kernel BTF read
/// in user space), which this kernel runs.
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn iterators_list_every_map_program_and_link_in_the_kernels_format() {
    iterators_in_the_kernels_format(false);
}

/// The same files from libbpf's load, the light skeleton's fallback (asked for by
/// `BPF_PRELOAD_ITERATORS_LOADER=libbpf`, which the status names as the reason).
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn iterators_loaded_by_libbpf_list_the_same() {
    iterators_in_the_kernels_format(true);
}

fn iterators_in_the_kernels_format(libbpf: bool) {
    use bpf_preload::iterators::{
        listed_ids, row_object, LINKS_HEADER, MAPS_HEADER, MAPS_HEADER_COUNTED, PROGS_HEADER,
    };
    use bpf_preload::status::IteratorsState;
    let env = Env::new(if libbpf {
        "iterators-libbpf"
    } else {
        "iterators"
    });
    for o in ["counter", "xdp_pass"] {
        env.add(o, o);
    }
    // A kernel built with CONFIG_BPF_PRELOAD (the development host's) puts its own maps.debug and
    // progs.debug, which nobody can remove, in every new bpffs: the run's root is a directory of
    // the bpffs instead (the loader takes any directory of a bpffs as its root).
    let mount_bpf = |at: &Path| {
        nix::mount::mount(
            Some("bpf"),
            at,
            Some("bpf"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap()
    };
    mount_bpf(&env.bpffs());
    let kernels_own = env.bpffs().join("maps.debug").exists();
    let root = env.bpffs().join("root");
    std::fs::create_dir(&root).unwrap();
    let vars: &[(&str, &str)] = match libbpf {
        true => &[("BPF_PRELOAD_ITERATORS_LOADER", "libbpf")],
        false => &[],
    };
    let run =
        |cmdline: &str| env.run_with_env(BIN, cmdline, &["--bpffs", root.to_str().unwrap()], vars);
    let (out, st) = run("rd.bpf_preload=counter,xdp_pass rd.bpf_preload.iterators=1");
    assert!(out.status.success(), "{}", text(&out));
    let it = st.iterators.as_ref().expect("iterators in the status");
    assert_eq!(it.state, IteratorsState::Active, "{it:?}: {}", text(&out));
    match libbpf {
        false => assert_eq!(
            (it.load_path.as_deref(), it.load_path_reason.as_deref()),
            (Some("light"), None),
            "{it:?}"
        ),
        true => assert_eq!(
            (it.load_path.as_deref(), it.load_path_reason.as_deref()),
            (Some("libbpf"), Some("BPF_PRELOAD_ITERATORS_LOADER=libbpf")),
            "{it:?}"
        ),
    }
    assert_eq!(it.pins, ["maps.debug", "progs.debug", "links.debug"]);
    // counter's link and its program, xdp_pass's program (pinned without a link).
    assert_eq!(it.named, 3, "{it:?}");
    let counter = obj(&st, "counter");
    let (link_id, prog_id) = (
        counter.link_ids["count_exec"],
        counter.link_prog_ids["count_exec"],
    );
    let xdp = libbpf_rs::ProgramHandle::from_pinned_path(root.join("xdp_pass/progs/xdp_pass"))
        .unwrap()
        .id();

    let read = |kind: &str| {
        let before = kernel_ids(kind);
        let text = std::fs::read_to_string(root.join(format!("{kind}.debug")))
            .unwrap_or_else(|e| panic!("read {kind}.debug: {e}"));
        let after = kernel_ids(kind);
        let stable: Vec<u32> = before.intersection(&after).copied().collect();
        (text, stable)
    };
    let counted = it.cur_entries;
    for (kind, headers) in [
        (
            "maps",
            vec![if counted {
                MAPS_HEADER_COUNTED
            } else {
                MAPS_HEADER
            }],
        ),
        ("progs", vec![PROGS_HEADER]),
        ("links", vec![LINKS_HEADER]),
    ] {
        let (text, stable) = read(kind);
        let listed = listed_ids(&text, &headers)
            .unwrap_or_else(|| panic!("{kind}.debug header is not {headers:?}: {text}"));
        let missing: Vec<&u32> = stable.iter().filter(|i| !listed.contains(i)).collect();
        assert!(
            missing.is_empty(),
            "{kind}.debug lacks {missing:?}:\n{text}"
        );
        assert!(!stable.is_empty(), "the kernel listed no {kind}");
    }

    // Rows in the kernel's columns; object names on ours.
    let (maps, _) = read("maps");
    let exec_count = MapHandle::from_pinned_path(root.join("counter/maps/exec_count"))
        .unwrap()
        .info()
        .unwrap();
    let row = if counted {
        format!(
            "{:>4} {:<16}  {:>10}   ",
            exec_count.info.id, "exec_count", exec_count.info.max_entries
        )
    } else {
        format!(
            "{:>4} {:<16}{:>6}",
            exec_count.info.id, "exec_count", exec_count.info.max_entries
        )
    };
    assert!(
        maps.lines().any(|l| l.starts_with(&row)),
        "{row:?} not in:\n{maps}"
    );
    let (progs, _) = read("progs");
    let row_of = |text: &str, id: u32| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(&id.to_string()))
            .unwrap_or_else(|| panic!("{id} not in:\n{text}"))
            .to_owned()
    };
    let r = row_of(&progs, prog_id);
    assert!(
        r.starts_with(&format!("{prog_id:>4} {:<16} ", "count_exec")),
        "{r:?}"
    );
    assert_eq!(row_object(&r), Some("counter"), "{r:?}");
    assert_eq!(row_object(&row_of(&progs, xdp)), Some("xdp_pass"));
    let dump = it.prog_ids["progs.debug"];
    let r = row_of(&progs, dump);
    assert!(
        r.starts_with(&format!(
            "{dump:>4} {:<16} bpf_iter_bpf_prog",
            "dump_bpf_prog"
        )),
        "{r:?}"
    );
    assert_eq!(row_object(&r), None, "{r:?}");
    let (links, _) = read("links");
    let r = row_of(&links, link_id);
    assert!(r.contains(&format!(" {prog_id:>4} ")), "{r:?}");
    assert_eq!(row_object(&r), Some("counter"), "{r:?}");
    let own = it.link_ids["maps.debug"];
    let r = row_of(&links, own);
    assert!(
        r.starts_with(&format!(
            "{own:>4} {:<16} {:>4} bpf_iter_bpf_map",
            "iter", it.prog_ids["maps.debug"]
        )),
        "{r:?}"
    );

    // A second run: the files are an earlier run's.
    let (_, st) = run("rd.bpf_preload=counter,xdp_pass rd.bpf_preload.iterators=1");
    let again = st.iterators.unwrap();
    assert_eq!(again.state, IteratorsState::AlreadyActive, "{again:?}");
    assert_eq!(again.link_ids, it.link_ids);
    // Not asked: absent from the status, the files an earlier run's to keep.
    let (_, st) = run("rd.bpf_preload=counter");
    assert!(st.iterators.is_none());
    if libbpf {
        return; // what follows loads nothing
    }

    // A fresh bpffs where maps.debug and progs.debug are the kernel's own (CONFIG_BPF_PRELOAD),
    // or, on a kernel without, someone else's: skipped, with the reason, nothing replaced.
    let fresh = env.path("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    mount_bpf(&fresh);
    assert_eq!(fresh.join("maps.debug").exists(), kernels_own);
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    let mut planted =
        MapHandle::create(libbpf_rs::MapType::Array, Some("planted"), 4, 4, 1, &opts).unwrap();
    if !kernels_own {
        for f in ["maps.debug", "progs.debug"] {
            planted.pin(fresh.join(f)).unwrap();
        }
    }
    let ino = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(p).unwrap().ino()
    };
    let before = [
        ino(&fresh.join("maps.debug")),
        ino(&fresh.join("progs.debug")),
    ];
    let (_, st) = env.run_with(
        BIN,
        "rd.bpf_preload.iterators=1",
        &["--bpffs", fresh.to_str().unwrap()],
    );
    let it = st.iterators.unwrap();
    assert_eq!(it.state, IteratorsState::Skipped, "{it:?}");
    assert_eq!(
        it.reason.as_deref(),
        Some("the kernel's own maps.debug and progs.debug are in this bpffs (CONFIG_BPF_PRELOAD)")
    );
    assert!(!fresh.join("links.debug").exists());
    // The same files as before.
    assert_eq!(
        [
            ino(&fresh.join("maps.debug")),
            ino(&fresh.join("progs.debug"))
        ],
        before
    );
    if !kernels_own {
        let still = MapHandle::from_pinned_path(fresh.join("maps.debug")).unwrap();
        assert_eq!(
            still.info().unwrap().info.id,
            planted.info().unwrap().info.id
        );
    }
}

/// `inspect-initramfs` reads an image the way the boot would use it: an image made by
/// initrd-install (the objects, a key, a revocation, a drop-in, a policy measuring into PCR 9)
/// packed as an uncompressed early archive followed by the main archive compressed with zstd,
/// gzip or xz in turn. It lists the keys and the merged list, verifies each object against the
/// image's key (a tampered one is REFUSED and the exit status is 1), and its PCR value is
/// predict's for the same bundle, list and policy.
#[test]
fn inspect_initramfs_reads_what_the_boot_would_use() {
    use bpf_preload::cpio;
    let s = Scratch::new("inspect-initramfs");
    let p = |n: &str| s.0.join(n).to_str().unwrap().to_owned();
    let root = s.p("root");
    for d in [
        "usr/bin",
        "usr/lib/bpf-preload",
        "etc/bpf-preload/keys",
        "etc/bpf-preload/preload.list.d",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(BIN, root.join("usr/bin/bpf-preload")).unwrap();
    for (name, obj) in [
        ("counter", "counter"),
        ("iter", "iter"),
        ("spare", "maponly"),
    ] {
        sign_into(&root.join("usr/lib/bpf-preload"), obj, name, &[]);
    }
    std::fs::copy(
        test_public_key(),
        root.join("etc/bpf-preload/keys/test.pub"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/bpf-preload/keys/revoked"),
        "# none of ours\n0011223344556677\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/bpf-preload/preload.list"), "iter\n").unwrap();
    std::fs::write(
        root.join("etc/bpf-preload/preload.list.d/50-pkg.list"),
        "counter\niter\n",
    )
    .unwrap();
    let dest = s.p("image-root");
    let out = Command::new("bash")
        .arg(repo().join("initrd/initrd-install"))
        .args(["--sysroot", &p("root"), &p("image-root")])
        .env("bpf_preload_binary", "/usr/bin/bpf-preload")
        .env("bpf_preload_objects", "counter iter spare")
        .env("bpf_preload_measure_pcr", "9")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The image's files, as a generator packs them.
    let mut files: Vec<(String, u32, Vec<u8>)> = Vec::new();
    let mut stack = vec![dest.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let rel = path
                .strip_prefix(&dest)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            if path.is_dir() {
                files.push((rel, 0o40755, Vec::new()));
                stack.push(path);
            } else {
                files.push((rel, 0o100644, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    let refs: Vec<(&str, u32, &[u8])> = files
        .iter()
        .map(|(n, m, d)| (n.as_str(), *m, d.as_slice()))
        .collect();
    let main = cpio::newc(&refs);
    let early = cpio::newc(&[("kernel/x86/microcode/AuthenticAMD.bin", 0o100644, b"ucode")]);
    // predict's value for the same inputs.
    let o = bin(&[
        "predict",
        "--pcr",
        "9",
        "--bundle",
        &format!("{}/usr/lib/bpf-preload", p("image-root")),
        "--keys",
        &format!("{}/etc/bpf-preload/keys", p("image-root")),
        "--preload-list",
        &format!("{}/etc/bpf-preload/preload.list", p("image-root")),
        "--policy",
        &format!("{}/etc/bpf-preload/policy", p("image-root")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let predicted = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let mut ran = 0;
    for (tool, args) in [
        ("zstd", ["-q", "-c"]),
        ("gzip", ["-n", "-c"]),
        ("xz", ["-c", "-T1"]),
    ] {
        let mut child = match Command::new(tool)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                skip(
                    "inspect_initramfs_reads_what_the_boot_would_use",
                    &format!("{tool}: {e} (apt install zstd xz-utils)"),
                );
                continue;
            }
        };
        use std::io::Write;
        // Written from a thread: the compressor's output must be read meanwhile.
        let mut stdin = child.stdin.take().unwrap();
        let input = main.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
        let compressed = child.wait_with_output().unwrap().stdout;
        writer.join().unwrap();
        let mut image = early.clone();
        image.extend_from_slice(&compressed);
        std::fs::write(p("initrd.img"), &image).unwrap();
        let o = bin(&["inspect-initramfs", &p("initrd.img")]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(0), "{tool}: {}", text(&o));
        let key = bpf_preload::keys::KeyId::of(
            &bpf_preload::keys::parse_public_pem(
                "t",
                &std::fs::read_to_string(test_public_key()).unwrap(),
            )
            .unwrap(),
        );
        let want_start = format!(
            "image: {}: 1 cpio archive(s), then {tool} stream, then 1 cpio archive(s) (",
            p("initrd.img")
        );
        assert!(out.starts_with(&want_start), "{tool}:\n{out}");
        for line in [
            format!("keys: 1; certificates: 0\n  {key} /etc/bpf-preload/keys/test.pub\n"),
            "revoked: 0011223344556677\n".to_owned(),
            "policy: measure_pcr = 9\n".to_owned(),
            "list: /etc/bpf-preload/preload.list, /etc/bpf-preload/preload.list.d/50-pkg.list (merged in this order)\n".to_owned(),
            "objects: 2 listed, 3 in the image\n".to_owned(),
            format!("  iter: verified key={key} sha256="),
            format!("  counter: verified key={key} sha256="),
            "  spare: in the image, not in the plan (loaded only when rd.bpf_preload= names it)\n".to_owned(),
            format!("pcr 9: {predicted} (3 events)\n"),
        ] {
            assert!(out.contains(&line), "{tool}: no {line:?} in\n{out}");
        }
        assert!(
            out.find("  iter: ").unwrap() < out.find("  counter: ").unwrap(),
            "{out}"
        );
        ran += 1;
    }
    // A tampered object is refused, against the image's own key, and the exit status says so.
    let obj = dest.join("usr/lib/bpf-preload/counter.bpf.o");
    let mut bytes = std::fs::read(&obj).unwrap();
    bytes[100] ^= 0x20;
    let files: Vec<(&str, u32, &[u8])> = refs
        .iter()
        .map(|(n, m, d)| {
            if *n == "usr/lib/bpf-preload/counter.bpf.o" {
                (*n, *m, bytes.as_slice())
            } else {
                (*n, *m, *d)
            }
        })
        .collect();
    std::fs::write(p("tampered.img"), cpio::newc(&files)).unwrap();
    let o = bin(&["inspect-initramfs", &p("tampered.img")]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(out.contains("\n  counter: REFUSED: "), "{out}");
    assert!(out.contains("\n  iter: verified "), "{out}");
    // Not an initramfs at all: an error, exit 1.
    let o = bin(&["inspect-initramfs", &p("root/etc/bpf-preload/preload.list")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("neither a cpio archive (newc) nor a known compression"),
        "{}",
        text(&o)
    );
    assert!(ran > 0, "no compressor was there to test with");
}

/// The parallel objects step against `run --sequential` on the same list: fast-path objects
/// (loaded beside each other), libbpf-only ones and objects sharing maps by name (loaded at
/// their turn), a verifier refusal and an attach failure between them. The same pin tree and
/// the same status, but for times, kernel ids and the scratch directory's path.
#[test]
#[ignore = "needs root and BPF: run as root with --include-ignored (see README)"]
fn parallel_and_sequential_runs_leave_the_same_pins_and_status() {
    let fast = [
        "counter",
        "iter",
        "maponly",
        "xdp_pass",
        "optional_prog",
        "tp_btf_exec",
        "rejected",
        "attach_missing",
        "long_prog_name",
        "raw_tp_colon",
    ];
    let plain = ["counter_plain", "maponly_plain"];
    let shared = ["shared_a", "shared_b"];
    let names: Vec<&str> = ["counter", "shared_a", "iter", "counter_plain", "maponly"]
        .into_iter()
        .chain([
            "xdp_pass",
            "rejected",
            "shared_b",
            "optional_prog",
            "tp_btf_exec",
        ])
        .chain([
            "attach_missing",
            "maponly_plain",
            "long_prog_name",
            "raw_tp_colon",
        ])
        .collect();
    let cmdline = format!("rd.bpf_preload={}", names.join(","));
    let run = |sequential: bool| {
        let env = Env::new(if sequential { "par-seq" } else { "par-par" });
        for o in fast.iter().chain(&shared) {
            env.add(o, o);
        }
        for o in plain {
            env.add_plain(o.trim_end_matches("_plain"), o);
        }
        let extra: &[&str] = if sequential { &["--sequential"] } else { &[] };
        let (out, st) = env.run_with(BIN, &cmdline, extra);
        // The record as text, but for what differs between any two runs.
        let mut v = serde_json::to_value(&st).unwrap();
        let root = env.path("").display().to_string();
        for k in ["duration_ms", "run", "bpffs_instance"] {
            v[k] = serde_json::Value::Null;
        }
        for o in v["objects"].as_array_mut().unwrap() {
            for k in [
                "duration_ms",
                "phases",
                "link_ids",
                "link_prog_ids",
                "dir_ino",
            ] {
                o[k] = serde_json::Value::Null;
            }
        }
        let record = v.to_string().replace(&root, "ROOT");
        (out.status.code(), st, record, env.tree(), env)
    };
    let (seq_code, seq, seq_record, seq_tree, _seq_env) = run(true);
    let (par_code, par, par_record, par_tree, _par_env) = run(false);
    // Both runs did the work: the list's mix of outcomes, every path taken.
    let outcome = |st: &Status, n: &str| obj(st, n).result;
    for st in [&seq, &par] {
        assert_eq!(outcome(st, "rejected"), Outcome::Failed);
        assert_eq!(outcome(st, "counter"), Outcome::Loaded);
        assert_eq!(outcome(st, "shared_b"), Outcome::Loaded);
        assert_eq!(obj(st, "counter").load_path.as_deref(), Some("fast"));
        assert_eq!(
            obj(st, "counter_plain").load_path.as_deref(),
            Some("libbpf")
        );
    }
    assert_eq!(par_code, seq_code);
    assert_eq!(par_tree, seq_tree, "pin trees differ");
    assert_eq!(par_record, seq_record, "status records differ");
}
