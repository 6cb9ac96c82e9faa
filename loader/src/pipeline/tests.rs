//! The pipeline against the recording fakes: order of operations, per-object failures, and the
//! status record built from each step's value.
use std::collections::BTreeMap;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::boot::Boot;
use super::config::{CmdlineFrom, RunConfig};
use super::error::RunError;
use super::guard::{self, GuardLoader};
use super::iterators::{IteratorLoader, IteratorsReport};
use super::keys::{KeyError, KeyRing};
use super::load::Kernel;
use super::plan::read_plan;
use super::signed::KernelKeys;
use crate::fakes::{FakeKernel, FakeLoad, FakeMeasure, FakeSys, Spec};
use crate::keys::tests::test_key;
use crate::sys::tpm::MeasureIo;
use crate::sys::{FsKind, Prio, Sys};
use bpf_preload_format::cmdline::{self, Plan};
use bpf_preload_format::escape::escape;
use bpf_preload_format::iterators::{IdKind, NameEntry, PINS};
use bpf_preload_format::name::ObjectName;
use bpf_preload_format::status::GuardState;
use bpf_preload_format::status::IteratorsState;
use bpf_preload_format::status::{MeasureState, ObjectStatus, Outcome, Status};
use bpf_preload_format::verify;

/// The boot's steps from a plan and a key ring on, with a TPM that works (measuring is off
/// unless the plan asks) and no kernel keyring.
fn run(
    plan: &Plan,
    ring: Result<KeyRing, KeyError>,
    cfg: &RunConfig,
    sys: &dyn Sys,
    kernel: &dyn Kernel,
    guard: &dyn GuardLoader,
) -> Status {
    run_measured(plan, ring, cfg, sys, kernel, guard, &FakeMeasure::default())
}

fn run_measured(
    plan: &Plan,
    ring: Result<KeyRing, KeyError>,
    cfg: &RunConfig,
    sys: &dyn Sys,
    kernel: &dyn Kernel,
    guard: &dyn GuardLoader,
    tpm: &dyn MeasureIo,
) -> Status {
    run_all(plan, ring, cfg, sys, kernel, guard, tpm, &NoIterators)
}

#[allow(clippy::too_many_arguments)]
fn run_all(
    plan: &Plan,
    ring: Result<KeyRing, KeyError>,
    cfg: &RunConfig,
    sys: &dyn Sys,
    kernel: &dyn Kernel,
    guard: &dyn GuardLoader,
    tpm: &dyn MeasureIo,
    iterators: &dyn IteratorLoader,
) -> Status {
    let boot = Boot::new(cfg, sys, tpm);
    boot.notes(plan);
    let keys = boot.keys_from(plan, ring);
    boot.run(plan, keys, KernelKeys::default(), kernel, guard, iterators)
}

/// Iterators that must never be asked for (the plan has them off).
struct NoIterators;

impl IteratorLoader for NoIterators {
    fn sha256(&self) -> String {
        panic!("the iterators are off in this plan")
    }
    fn activate(
        &self,
        _bpffs: &Path,
        _names: &[NameEntry],
        _dirs: &[(String, PathBuf)],
    ) -> Result<IteratorsReport, Arc<dyn std::error::Error + Send + Sync>> {
        panic!("the iterators are off in this plan")
    }
}

/// What the iterators were handed: the name table, the objects' directories.
type IteratorsAsked = (Vec<NameEntry>, Vec<(String, PathBuf)>);

/// Scripted iterators: record what the pipeline handed them, pin three fake files on success.
struct FakeIterators<'a> {
    sys: &'a FakeSys,
    fail: Option<String>,
    asked: std::cell::RefCell<Vec<IteratorsAsked>>,
}

impl<'a> FakeIterators<'a> {
    fn new(sys: &'a FakeSys) -> Self {
        Self {
            sys,
            fail: None,
            asked: Default::default(),
        }
    }
}

impl IteratorLoader for FakeIterators<'_> {
    fn sha256(&self) -> String {
        "ab".repeat(32)
    }
    fn activate(
        &self,
        bpffs: &Path,
        names: &[NameEntry],
        dirs: &[(String, PathBuf)],
    ) -> Result<IteratorsReport, Arc<dyn std::error::Error + Send + Sync>> {
        self.asked
            .borrow_mut()
            .push((names.to_vec(), dirs.to_vec()));
        if let Some(why) = &self.fail {
            return Err(Arc::new(io::Error::other(why.clone())));
        }
        let mut r = IteratorsReport {
            named: names.len(),
            load_path: "light".into(),
            ..IteratorsReport::default()
        };
        for (i, pin) in PINS.iter().enumerate() {
            let path = bpffs.join(pin);
            self.sys
                .pin(&path)
                .map_err(|e| -> Arc<dyn std::error::Error + Send + Sync> { Arc::new(e) })?;
            r.link_ids
                .insert(pin.to_string(), crate::fakes::fake_link_id(&path));
            r.prog_ids.insert(pin.to_string(), 900 + i as u32);
        }
        Ok(r)
    }
}

fn elf_stub() -> Vec<u8> {
    // A minimal valid eBPF ELF: header only, no sections.
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little endian
    h[6] = 1;
    h[16] = 1; // ET_REL
    h[18..20].copy_from_slice(&goblin::elf::header::EM_BPF.to_le_bytes());
    h[20] = 1;
    h[52] = 64; // e_ehsize
    h
}

fn sign_into(sys: &FakeSys, name: &str, payload: &[u8]) {
    let signed = verify::sign(payload, &ObjectName::parse(name).unwrap(), &test_key(1)).unwrap();
    sys.files
        .borrow_mut()
        .insert(format!("/bundle/{name}.bpf.o").into(), signed);
}

fn setup(objects: &[&str]) -> (FakeSys, RunConfig) {
    let sys = FakeSys::default();
    let cfg = RunConfig {
        bundle: "/bundle".into(),
        bpffs: "/bpf".into(),
        // The reference order, one object after another; `parallel_*` compare the parallel
        // objects step with it.
        jobs: 1,
        ..RunConfig::default()
    };
    for name in objects {
        sign_into(&sys, name, &elf_stub());
    }
    (sys, cfg)
}

/// A guard that must never be asked for (the plan has it off).
struct NoGuard;

impl GuardLoader for NoGuard {
    fn activate(
        &self,
        _bpffs: &Path,
        _protect: &[PathBuf],
        _lsm_list: io::Result<String>,
        _switches: &guard::SwitchPaths,
    ) -> Result<guard::GuardReport, guard::GuardFailure> {
        panic!("the guard is off in this plan")
    }
}

/// A scripted guard: records what the pipeline handed it (what to protect, the LSM list it read,
/// the switch paths) and answers what the test scripted, never deciding anything itself.
struct FakeGuard {
    answer: Result<guard::GuardReport, guard::GuardFailure>,
    asked: std::cell::RefCell<Vec<Vec<PathBuf>>>,
    /// The LSM list as the pipeline read it (or the error, as text).
    lsm_lists: std::cell::RefCell<Vec<Result<String, String>>>,
    /// The switch paths it was shown: (ftrace, kprobes or the debugfs error).
    switches: std::cell::RefCell<Vec<(PathBuf, Result<PathBuf, String>)>>,
}

impl FakeGuard {
    fn answering(answer: Result<guard::GuardReport, guard::GuardFailure>) -> Self {
        Self {
            answer,
            asked: Default::default(),
            lsm_lists: Default::default(),
            switches: Default::default(),
        }
    }

    /// Armed: what a kernel with the BPF LSM gives back.
    fn active() -> Self {
        Self::answering(Ok(guard::GuardReport {
            instance: "0:42".into(),
            protected: vec![],
            links: vec!["guard_unlink".into()],
            link_ids: [("guard_unlink".to_string(), 5)].into(),
            protected_links: 2,
            protected_progs: 3,
            hook_funcs: 500,
            lsm_positive_returns: false,
            switches: vec![guard::Switch {
                name: "kernel.ftrace_enabled",
                state: guard::SwitchState::Refused,
            }],
            signed_only: false,
            steps: bpf_preload_format::status::GuardSteps {
                btf_ms: 7.0,
                load_ms: 9.0,
                verifier_ms: [("guard_unlink".to_owned(), 1.5)].into(),
                verifier_work: [(
                    "guard_unlink".to_owned(),
                    bpf_preload_format::status::VerifierWork {
                        insns: 40,
                        total_states: 3,
                        peak_states: 3,
                    },
                )]
                .into(),
                map_updates: 505,
                ..Default::default()
            },
        }))
    }
}

impl GuardLoader for FakeGuard {
    fn activate(
        &self,
        _bpffs: &Path,
        protect: &[PathBuf],
        lsm_list: io::Result<String>,
        switches: &guard::SwitchPaths,
    ) -> Result<guard::GuardReport, guard::GuardFailure> {
        self.asked.borrow_mut().push(protect.to_vec());
        self.lsm_lists
            .borrow_mut()
            .push(lsm_list.map_err(|e| e.to_string()));
        self.switches.borrow_mut().push((
            switches.ftrace.clone(),
            switches
                .kprobes
                .as_ref()
                .map(Clone::clone)
                .map_err(|e| e.to_string()),
        ));
        self.answer.clone()
    }
}

/// A guard that notes when the pipeline let it begin (how many of the system's operations had
/// been made by then), and otherwise answers as `inner`.
struct BeginOrder<'a> {
    sys: &'a FakeSys,
    inner: FakeGuard,
    begun: std::cell::RefCell<Vec<(PathBuf, usize)>>,
}

impl GuardLoader for BeginOrder<'_> {
    fn begin(&self, bpffs: &Path) {
        let made = self.sys.ops.borrow().len();
        self.begun.borrow_mut().push((bpffs.to_owned(), made));
    }

    fn activate(
        &self,
        bpffs: &Path,
        protect: &[PathBuf],
        lsm_list: io::Result<String>,
        switches: &guard::SwitchPaths,
    ) -> Result<guard::GuardReport, guard::GuardFailure> {
        let made = self.sys.ops.borrow().len();
        self.begun
            .borrow_mut()
            .push((PathBuf::from("activate"), made));
        self.inner.activate(bpffs, protect, lsm_list, switches)
    }
}

/// The guard begins (loads and attaches, not armed) once the bpffs is ready and before any
/// object is read, and arms last; not at all with a guard already there or none asked for.
#[test]
fn the_guard_begins_before_the_objects_and_arms_after_them() {
    let (sys, cfg) = setup(&["a", "b"]);
    sys.files
        .borrow_mut()
        .insert("/sys/kernel/security/lsm".into(), b"bpf".to_vec());
    let kernel = FakeKernel::new(&sys);
    let guard = BeginOrder {
        sys: &sys,
        inner: FakeGuard::active(),
        begun: Default::default(),
    };
    let st = run_with_guard(
        "rd.bpf_preload=a,b rd.bpf_preload.guard=1",
        &cfg,
        &sys,
        &kernel,
        &guard,
    );
    assert_eq!(st.guard.unwrap().state, GuardState::Active);
    let begun = guard.begun.borrow().clone();
    let ops = sys.ops.borrow().clone();
    assert_eq!(
        begun.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        [PathBuf::from("/bpf"), PathBuf::from("activate")],
        "{ops:?}"
    );
    let at = |what: &str| ops.iter().position(|o| o.contains(what)).expect(what);
    let bpffs_mounted = at("mount bpf /bpf");
    let first_object = at("a.bpf.o");
    let last_pin = ops.iter().rposition(|o| o.starts_with("rename ")).unwrap();
    assert!(
        bpffs_mounted < begun[0].1 && begun[0].1 <= first_object,
        "{begun:?} {ops:?}"
    );
    assert!(last_pin < begun[1].1, "{begun:?} {ops:?}");
    // No second guard over a guarded instance; none when the guard is off.
    sys.dirs.borrow_mut().insert("/bpf/+guard".into());
    sys.dirs.borrow_mut().insert("/bpf/+guard/links".into());
    run_with_guard(
        "rd.bpf_preload=a,b rd.bpf_preload.guard=1",
        &cfg,
        &sys,
        &kernel,
        &guard,
    );
    sys.dirs.borrow_mut().remove(Path::new("/bpf/+guard"));
    run_with_guard("rd.bpf_preload=a,b", &cfg, &sys, &kernel, &guard);
    assert_eq!(guard.begun.borrow().len(), 2, "{:?}", guard.begun.borrow());
}

#[test]
fn guard_is_the_last_step_and_protects_what_loaded() {
    let (sys, cfg) = setup(&["a", "rej"]);
    sys.files.borrow_mut().insert(
        "/sys/kernel/security/lsm".into(),
        b"capability,bpf".to_vec(),
    );
    let kernel = FakeKernel::new(&sys).with(
        "rej",
        FakeLoad::Reject {
            errno: 13,
            verifier: "R0 invalid mem access",
        },
    );
    let guard = FakeGuard::active();
    let plan = cmdline::plan("rd.bpf_preload=a,rej rd.bpf_preload.guard=1", None);
    let st = run(&plan, ring(), &cfg, &sys, &kernel, &guard);
    let g = st.guard.as_ref().unwrap();
    assert_eq!((g.state, g.required), (GuardState::Active, false));
    assert_eq!(
        g.link_ids,
        BTreeMap::from([("guard_unlink".to_string(), 5)])
    );
    assert_eq!(
        *guard.asked.borrow(),
        vec![vec![PathBuf::from("/bpf/a"), PathBuf::from("/bpf/+shared")]]
    );
    assert_eq!(
        *guard.lsm_lists.borrow(),
        vec![Ok("capability,bpf".to_owned())]
    );
    // securityfs is mounted for the LSM list after every object was pinned.
    let ops = sys.ops.borrow();
    let sec = ops
        .iter()
        .position(|o| o == "mount securityfs /sys/kernel/security")
        .unwrap();
    let last_rename = ops.iter().rposition(|o| o.starts_with("rename ")).unwrap();
    assert!(last_rename < sec, "{ops:?}");
    // debugfs is mounted where it belongs, so that the guard can be shown kprobes/enabled.
    let dbg = ops
        .iter()
        .position(|o| o == "mount debugfs /sys/kernel/debug")
        .unwrap();
    assert!(last_rename < dbg, "{ops:?}");
    assert_eq!(
        *guard.switches.borrow(),
        vec![(
            PathBuf::from("/proc/sys/kernel/ftrace_enabled"),
            Ok(PathBuf::from("/sys/kernel/debug/kprobes/enabled"))
        )]
    );
    assert_eq!(g.switches, vec!["kernel.ftrace_enabled:refused".to_owned()]);
    // The guard's own steps, as it timed them, and the pipeline's before and after them.
    let steps = g.steps.as_ref().expect("an armed guard's steps");
    assert_eq!(
        (steps.btf_ms, steps.load_ms, steps.map_updates),
        (7.0, 9.0, 505)
    );
    assert_eq!(steps.verifier_ms, [("guard_unlink".to_owned(), 1.5)].into());
    assert_eq!(steps.verifier_work["guard_unlink"].insns, 40);
    // The pipeline times its own steps (rounded as duration_ms is) within the guard's.
    assert!(
        steps.prepare_ms + steps.describe_ms <= g.duration_ms + 0.1,
        "{steps:?}"
    );
    assert!(sys
        .logs
        .borrow()
        .iter()
        .any(|(p, l)| *p == Prio::Info
            && l.starts_with("guard: active instance=0:42")
            && l.contains(" links=1 protected_links=2 protected_progs=3 hook_funcs=500 switches=kernel.ftrace_enabled:refused steps=prepare:")
            && l.contains(",btf:7.0,lookups:0.0,probe:0.0,wait:0.0,early:0,choose:0.0,open:0.0,load:9.0,path:-,verifier:1.5,attach:0.0,pin:0.0,maps:0.0/505,record:0.0,describe:")
            && l.contains(" ms=")));
}

#[test]
fn guard_without_bpf_lsm_is_unavailable_and_fails_a_required_run() {
    let (sys, cfg) = setup(&["a"]);
    sys.files.borrow_mut().insert(
        "/sys/kernel/security/lsm".into(),
        b"capability,yama\n".to_vec(),
    );
    let kernel = FakeKernel::new(&sys);
    let why = "BPF LSM is not active (lsm=\"capability,yama\")";
    let guard = FakeGuard::answering(Err(guard::GuardFailure {
        unavailable: true,
        load_refused: false,
        error: std::sync::Arc::new(io::Error::other(why)),
    }));
    for (cmd, required, prio) in [
        (
            "rd.bpf_preload=a rd.bpf_preload.guard=1",
            false,
            Prio::Warning,
        ),
        (
            "rd.bpf_preload=a rd.bpf_preload.guard=required",
            true,
            Prio::Err,
        ),
    ] {
        let st = run(
            &cmdline::plan(cmd, None),
            ring(),
            &cfg,
            &sys,
            &kernel,
            &guard,
        );
        let g = st.guard.clone().unwrap();
        assert_eq!(g.state, GuardState::Unavailable, "{cmd}");
        assert_eq!(g.reason.as_deref(), Some(why));
        assert_eq!(
            guard.lsm_lists.borrow().last(),
            Some(&Ok("capability,yama\n".to_owned()))
        );
        assert_eq!(st.guard_required_failed(), required, "{cmd}");
        assert_eq!(guard::prio(&g), prio);
    }
}

#[test]
fn guard_alone_with_nothing_to_load_still_runs() {
    let (sys, cfg) = setup(&[]);
    sys.files
        .borrow_mut()
        .insert("/sys/kernel/security/lsm".into(), b"bpf".to_vec());
    let kernel = FakeKernel::new(&sys);
    let guard = FakeGuard::active();
    let st = run_with_guard("rd.bpf_preload.guard=1", &cfg, &sys, &kernel, &guard);
    assert!(st.objects.is_empty());
    assert_eq!(st.guard.unwrap().state, GuardState::Active);
    assert_eq!(
        *guard.asked.borrow(),
        vec![vec![PathBuf::from("/bpf/+shared")]]
    );
    // An earlier run's +guard: reported with its live links and their ids, not loaded twice.
    sys.dirs.borrow_mut().insert("/bpf/+guard".into());
    let link = PathBuf::from("/bpf/+guard/links/guard_unlink");
    sys.dirs.borrow_mut().insert("/bpf/+guard/links".into());
    sys.files.borrow_mut().insert(link.clone(), vec![]);
    let st = run_with_guard("rd.bpf_preload.guard=1", &cfg, &sys, &kernel, &guard);
    let g = st.guard.unwrap();
    assert_eq!(g.state, GuardState::AlreadyActive);
    assert_eq!(g.links, ["guard_unlink"]);
    let id = crate::fakes::fake_link_id(&link);
    assert_eq!(
        g.link_ids,
        BTreeMap::from([("guard_unlink".to_string(), id)])
    );
    assert_eq!(guard.asked.borrow().len(), 1);
}

fn run_with_guard(
    cmdline: &str,
    cfg: &RunConfig,
    sys: &FakeSys,
    kernel: &FakeKernel,
    guard: &dyn GuardLoader,
) -> Status {
    run(
        &cmdline::plan(cmdline, None),
        ring(),
        cfg,
        sys,
        kernel,
        guard,
    )
}

#[test]
fn policy_forced_objects_load_under_rd_bpf_preload_0() {
    let (sys, cfg) = setup(&["a", "b"]);
    let kernel = FakeKernel::new(&sys);
    let pol = bpf_preload_format::policy::Policy::parse("required = a\n").unwrap();
    let plan = cmdline::plan_with("rd.bpf_preload=0", Some("a\nb\n"), &pol);
    let st = run(&plan, ring(), &cfg, &sys, &kernel, &NoGuard);
    assert!(st.disabled);
    assert_eq!(results(&st), vec![("a", Outcome::Loaded)]);
    let note = "rd.bpf_preload=0 refused for a: required by the initramfs policy";
    assert_eq!(st.notes, vec![note]);
    assert!(sys
        .logs
        .borrow()
        .iter()
        .any(|(p, l)| *p == Prio::Warning && l == note));
}

fn ring() -> Result<KeyRing, KeyError> {
    let mut r = KeyRing::default();
    r.add("test", test_key(1).verifying_key());
    Ok(r)
}

fn run_cmdline(cmdline: &str, cfg: &RunConfig, sys: &FakeSys, kernel: &FakeKernel) -> Status {
    run(
        &cmdline::plan(cmdline, None),
        ring(),
        cfg,
        sys,
        kernel,
        &NoGuard,
    )
}

fn results(st: &Status) -> Vec<(&str, Outcome)> {
    st.objects
        .iter()
        .map(|o| (o.name.as_str(), o.result))
        .collect()
}

fn xdp() -> FakeLoad {
    FakeLoad::Object(Spec {
        progs: vec!["xdp_pass"],
        maps: vec!["pkt_count", "xdp_pass.bss"],
        ..Spec::default()
    })
}

#[test]
fn pipeline_order_mount_then_stage_then_rename() {
    let (sys, cfg) = setup(&["a", "xdp"]);
    let kernel = FakeKernel::new(&sys).with("xdp", xdp());
    let st = run_cmdline("rd.bpf_preload=a,xdp", &cfg, &sys, &kernel);
    assert_eq!(
        results(&st),
        vec![("a", Outcome::Loaded), ("xdp", Outcome::Loaded)]
    );
    assert!(st.mounted_bpffs);
    assert_eq!(
        *sys.ops.borrow(),
        vec![
            "lock /",
            "mount bpf /bpf",
            "mkdir /bpf/+shared",
            "read /bundle/a.bpf.o",
            "mkdir /bpf/+staging-r1-a",
            "mkdir /bpf/+staging-r1-a/links",
            "mkdir /bpf/+staging-r1-a/maps",
            "mkdir /bpf/+staging-r1-a/progs",
            "pin /bpf/+staging-r1-a/links/prog_a",
            "pin /bpf/+staging-r1-a/maps/map_a",
            &format!(
                "mkdir /bpf/+staging-r1-a/sha256-{}",
                st.objects[0].sha256.as_ref().unwrap()
            ),
            "rename /bpf/+staging-r1-a /bpf/a",
            "read /bundle/xdp.bpf.o",
            "mkdir /bpf/+staging-r1-xdp",
            "mkdir /bpf/+staging-r1-xdp/links",
            "mkdir /bpf/+staging-r1-xdp/maps",
            "mkdir /bpf/+staging-r1-xdp/progs",
            "pin /bpf/+staging-r1-xdp/maps/pkt_count",
            "pin /bpf/+staging-r1-xdp/progs/xdp_pass",
            &format!(
                "mkdir /bpf/+staging-r1-xdp/sha256-{}",
                st.objects[1].sha256.as_ref().unwrap()
            ),
            "rename /bpf/+staging-r1-xdp /bpf/xdp",
        ]
    );
    let x = &st.objects[1];
    assert_eq!(x.not_attached, vec!["xdp_pass"]);
    assert_eq!(x.programs, vec!["xdp_pass"]);
    assert_eq!(x.maps, vec!["pkt_count"]);
    assert_eq!(*kernel.loaded.borrow(), vec!["a", "xdp"]);
}

#[test]
fn existing_bpffs_is_reused() {
    let (sys, cfg) = setup(&["a"]);
    sys.mounted.borrow_mut().push((FsKind::Bpf, "/bpf".into()));
    sys.dirs.borrow_mut().insert("/bpf".into());
    let kernel = FakeKernel::new(&sys);
    let st = run_cmdline("rd.bpf_preload=a", &cfg, &sys, &kernel);
    assert_eq!(results(&st), vec![("a", Outcome::Loaded)]);
    assert!(!st.mounted_bpffs);
    assert!(!sys.ops.borrow().iter().any(|o| o.starts_with("mount")));
}

#[test]
fn failures_are_per_object_and_leave_nothing() {
    let (sys, cfg) = setup(&["good", "rej", "badpin", "tail"]);
    // A map an earlier object pinned by name, which badpin reuses: it must stay.
    sys.files
        .borrow_mut()
        .insert("/bpf/+shared/reused".into(), vec![]);
    sys.files
        .borrow_mut()
        .insert("/bundle/unsigned.bpf.o".into(), elf_stub());
    // badpin's map pin fails after its shared maps were pinned.
    sys.fail_on
        .borrow_mut()
        .insert("/bpf/+staging-r1-badpin/maps/map_a".into());
    let kernel = FakeKernel::new(&sys)
        .with(
            "rej",
            FakeLoad::Reject {
                errno: 13,
                verifier: "R0 invalid mem access",
            },
        )
        .with(
            "badpin",
            FakeLoad::Object(Spec {
                links: vec!["prog_a"],
                maps: vec!["map_a"],
                shared: vec!["shared_events", "reused"],
                ..Spec::default()
            }),
        );
    let plan = cmdline::plan(
        "rd.bpf_preload=good,rej,a.b,missing,unsigned,badpin,tail rd.bpf_preload.required=rej",
        None,
    );
    let st = run(&plan, ring(), &cfg, &sys, &kernel, &NoGuard);
    assert_eq!(
        results(&st),
        vec![
            ("good", Outcome::Loaded),
            ("rej", Outcome::Failed),
            ("a.b", Outcome::Failed),
            ("missing", Outcome::Failed),
            ("unsigned", Outcome::Failed),
            ("badpin", Outcome::Failed),
            ("tail", Outcome::Loaded),
        ]
    );
    let err = |i: usize| st.objects[i].error.clone().unwrap();
    assert_eq!(
        err(1),
        "load: Permission denied (os error 13) (verifier: R0 invalid mem access)"
    );
    assert_eq!(
        err(2),
        "invalid name: name \"a.b\" has '.' at byte 1: only A-Z a-z 0-9 _ - are allowed"
    );
    assert_eq!(
        err(3),
        "read /bundle/missing.bpf.o: No such file or directory (os error 2)"
    );
    assert_eq!(err(4), "verify: no signature trailer (unsigned object)");
    assert_eq!(
        err(5),
        "pin map map_a: No space left on device (os error 28)"
    );
    // The unsigned object never reached the kernel.
    assert_eq!(
        *kernel.loaded.borrow(),
        vec!["good", "rej", "badpin", "tail"]
    );
    // The load path is named for every object that reached the kernel, failed or not.
    let paths: Vec<_> = st.objects.iter().map(|o| o.load_path.as_deref()).collect();
    let lib = Some("libbpf");
    assert_eq!(paths, vec![lib, lib, None, None, None, lib, lib]);
    let t = sys.tree(Path::new("/bpf"));
    assert!(
        !t.iter()
            .any(|p| p.starts_with("badpin") || p.starts_with("rej") || p.starts_with("+staging")),
        "{t:?}"
    );
    assert!(
        !t.contains(&"+shared/shared_events".to_string()),
        "shared pin left behind: {t:?}"
    );
    assert!(
        t.contains(&"+shared/reused".to_string()),
        "reused shared pin removed: {t:?}"
    );
    assert_eq!(
        st.required_failed()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        vec!["rej"]
    );
    let logs = sys.logs.borrow();
    let lines: Vec<(Prio, &str)> = logs.iter().map(|(p, l)| (*p, l.as_str())).collect();
    assert_eq!(lines.len(), 7, "one line per object: {lines:?}");
    assert_eq!(lines[1].0, Prio::Err);
    assert!(
        lines[1].1.starts_with("object rej: failed: load:"),
        "{lines:?}"
    );
    assert_eq!(lines[4].0, Prio::Warning);
    assert!(
        lines[4].1.starts_with("object unsigned: failed"),
        "{lines:?}"
    );
}

#[test]
fn attach_failure_fails_the_object_and_removes_its_shared_maps() {
    let (sys, cfg) = setup(&["af"]);
    let kernel = FakeKernel::new(&sys).with(
        "af",
        FakeLoad::Object(Spec {
            links: vec!["never_attached"],
            shared: vec!["orphan"],
            attach_errno: Some(95),
            ..Spec::default()
        }),
    );
    let st = run_cmdline("rd.bpf_preload=af", &cfg, &sys, &kernel);
    assert_eq!(
        st.objects[0].error.as_deref(),
        Some("attach never_attached: Operation not supported (os error 95)")
    );
    assert_eq!(sys.tree(Path::new("/bpf")), vec!["+shared/"]);
}

#[test]
fn second_run_reports_already_loaded_or_conflict_with_verify_time() {
    let (sys, cfg) = setup(&["a"]);
    let kernel = FakeKernel::new(&sys);
    let plan = cmdline::plan("rd.bpf_preload=a", None);
    let first = run(&plan, ring(), &cfg, &sys, &kernel, &NoGuard);
    let before = sys.tree(Path::new("/bpf"));
    // Reading takes at least 3 ms from now on: the verify phase must show it.
    sys.read_delay.set(std::time::Duration::from_millis(3));
    let st = run(&plan, ring(), &cfg, &sys, &kernel, &NoGuard);
    assert_eq!(results(&st), vec![("a", Outcome::AlreadyLoaded)]);
    let o = &st.objects[0];
    // The verify phase ran and is reported, as are the facts it established.
    assert!(o.phases.verify_ms >= 3.0, "{:?}", o.phases);
    assert_eq!((o.phases.load_ms, o.phases.pin_ms), (0.0, 0.0));
    assert_eq!(o.sha256, first.objects[0].sha256);
    assert_eq!(o.key_id, first.objects[0].key_id);
    assert_eq!(sys.tree(Path::new("/bpf")), before);
    // Same name, other bytes: a conflict, and the loaded one stays.
    let mut other = elf_stub();
    other.push(0);
    sign_into(&sys, "a", &other);
    let st = run(&plan, ring(), &cfg, &sys, &kernel, &NoGuard);
    assert_eq!(results(&st), vec![("a", Outcome::Failed)]);
    assert_eq!(
        st.objects[0].error.as_deref(),
        Some(&*format!(
            "/bpf/a holds another object (sha256 {})",
            first.objects[0].sha256.as_ref().unwrap()
        ))
    );
    assert!(st.objects[0].phases.verify_ms >= 3.0);
    assert_eq!(sys.tree(Path::new("/bpf")), before);
    assert_eq!(kernel.loaded.borrow().len(), 1);
}

#[test]
fn stale_staging_is_removed_first() {
    let (sys, cfg) = setup(&["a"]);
    // Left by a run that crashed (another run id).
    for d in ["/bpf", "/bpf/+staging-0a1b-a", "/bpf/+staging-0a1b-a/links"] {
        sys.dirs.borrow_mut().insert(d.into());
    }
    sys.files
        .borrow_mut()
        .insert("/bpf/+staging-0a1b-a/links/old".into(), vec![]);
    sys.mounted.borrow_mut().push((FsKind::Bpf, "/bpf".into()));
    let kernel = FakeKernel::new(&sys);
    let st = run_cmdline("rd.bpf_preload=a", &cfg, &sys, &kernel);
    assert_eq!(results(&st), vec![("a", Outcome::Loaded)]);
    assert_eq!(
        sys.ops.borrow()[..2],
        ["lock /", "remove /bpf/+staging-0a1b-a"]
    );
    assert!(!sys
        .tree(Path::new("/bpf"))
        .iter()
        .any(|p| p.contains("old")));
    assert_eq!(
        sys.logs.borrow()[0],
        (
            Prio::Notice,
            "removed stale staging directory +staging-0a1b-a left by an earlier run".to_string()
        )
    );
}

#[test]
fn disabled_and_empty_plans_touch_nothing() {
    let (sys, cfg) = setup(&["a"]);
    let kernel = FakeKernel::new(&sys);
    let st = run_cmdline("rd.bpf_preload=a,0", &cfg, &sys, &kernel);
    assert_eq!(results(&st), vec![("a", Outcome::Skipped)]);
    assert_eq!(
        st.objects[0].error.as_deref(),
        Some("loading disabled by rd.bpf_preload=0")
    );
    let st = run_cmdline("", &cfg, &sys, &kernel);
    assert!(st.objects.is_empty());
    assert!(sys.ops.borrow().is_empty());
    assert!(kernel.loaded.borrow().is_empty());
}

#[test]
fn key_errors_fail_every_object_closed() {
    let (sys, cfg) = setup(&["a"]);
    let kernel = FakeKernel::new(&sys);
    let bad = Err(KeyError::RevokedLine {
        path: "/k/revoked".into(),
        line: 2,
        text: "zz".into(),
    });
    let st = run(
        &cmdline::plan("rd.bpf_preload=a", None),
        bad,
        &cfg,
        &sys,
        &kernel,
        &NoGuard,
    );
    assert_eq!(results(&st), vec![("a", Outcome::Failed)]);
    let want = "trusted keys: /k/revoked: line 2: \"zz\" is not a 16-hex-digit key id";
    assert_eq!(st.objects[0].error.as_deref(), Some(want));
    assert_eq!(st.error.as_deref(), Some(want));
    assert!(kernel.loaded.borrow().is_empty());
}

/// A bad file in the keys directory: a warning naming it (escaped) in the status and in kmsg,
/// and the other keys still count.
#[test]
fn a_skipped_key_file_is_a_warning_and_the_other_keys_count() {
    use crate::keys::{keypair_pem, MAX_KEY_FILE_SIZE};
    let (sys, cfg) = setup(&["a"]);
    let kernel = FakeKernel::new(&sys);
    // test_key(1), which signed "a", is trusted through the good file; the other is too big.
    let (_, public) = keypair_pem(test_key(1).to_bytes()).unwrap();
    sys.dirs.borrow_mut().insert("/keys".into());
    let big = vec![b'k'; MAX_KEY_FILE_SIZE as usize + 1];
    sys.files
        .borrow_mut()
        .insert("/keys/good.pub".into(), public.into_bytes());
    sys.files.borrow_mut().insert("/keys/f\x1b.pub".into(), big);
    let mut ring = KeyRing::default();
    crate::keys::load_dir_from(&sys, &mut ring, Path::new("/keys")).unwrap();
    let plan = cmdline::plan("rd.bpf_preload=a", None);
    let st = run(&plan, Ok(ring), &cfg, &sys, &kernel, &NoGuard);
    assert_eq!(results(&st), vec![("a", Outcome::Loaded)]);
    let want = format!(
        "trusted keys: skipped a key file: read /keys/f\x1b.pub: is {} bytes, more than the {MAX_KEY_FILE_SIZE} allowed",
        MAX_KEY_FILE_SIZE + 1
    );
    assert_eq!(st.warnings, std::slice::from_ref(&want));
    assert_eq!(st.error, None);
    let escaped = escape(&want).into_owned();
    assert!(escaped.contains("/f\\x1b.pub"), "{escaped}");
    assert!(
        sys.logs.borrow().contains(&(Prio::Warning, escaped)),
        "{:?}",
        sys.logs.borrow()
    );
}

/// counter.bpf.o from bpf/, as the fake kernel loads it: the pins its ELF implies.
fn counter_kernel(sys: &FakeSys) -> FakeKernel<'_> {
    let spec = Spec {
        links: vec!["count_exec"],
        maps: vec!["exec_count", "last_pid", "counter.rodata"],
        ..Spec::default()
    };
    FakeKernel::new(sys)
        .with("counter", FakeLoad::Object(spec.clone()))
        .with("forged", FakeLoad::Object(spec))
}

fn real_object(name: &str) -> Vec<u8> {
    let p = Path::new(env!("BPF_PRELOAD_OBJECTS")).join(format!("{name}.bpf.o"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The ids recorded are those of the links the run made, asked of its own handles: a pin that
/// holds another link by the time the run would read it back (someone replaced it after the
/// rename into place) is not taken for the object's, so `status` later finds the difference.
#[test]
fn link_ids_are_those_of_the_links_made_not_of_what_the_pins_hold() {
    let (sys, cfg) = setup(&[]);
    sign_into(&sys, "counter", &real_object("counter"));
    let kernel = counter_kernel(&sys);
    let link = PathBuf::from("/bpf/counter/links/count_exec");
    kernel.replaced.borrow_mut().insert(link.clone());
    let st = run_cmdline("rd.bpf_preload=counter", &cfg, &sys, &kernel);
    assert_eq!(results(&st), vec![("counter", Outcome::Loaded)]);
    let made = (
        crate::fakes::fake_link_id(&link),
        crate::fakes::fake_prog_id(&link),
    );
    assert_eq!(
        (
            st.objects[0].link_ids.clone(),
            st.objects[0].link_prog_ids.clone()
        ),
        (
            BTreeMap::from([("count_exec".to_string(), made.0)]),
            BTreeMap::from([("count_exec".to_string(), made.1)])
        )
    );
    // What the pin holds now is another link.
    match kernel.probe(&link) {
        Ok(crate::pipeline::object::Probe::Link { id, .. }) => {
            assert_eq!(id, made.0 + crate::fakes::REPLACED_ID)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn already_loaded_is_believed_only_with_every_pin_live() {
    let (sys, cfg) = setup(&[]);
    sign_into(&sys, "counter", &real_object("counter"));
    sign_into(&sys, "forged", &real_object("counter"));
    let kernel = counter_kernel(&sys);
    let st = run_cmdline("rd.bpf_preload=counter", &cfg, &sys, &kernel);
    assert_eq!(results(&st), vec![("counter", Outcome::Loaded)]);
    let sha = st.objects[0].sha256.clone().unwrap();
    // The kernel's id of each link is recorded (for the live status): the link the run made,
    // which the final pin holds.
    let link = PathBuf::from("/bpf/counter/links/count_exec");
    let id = crate::fakes::fake_link_id(&link);
    assert_eq!(
        st.objects[0].link_ids,
        BTreeMap::from([("count_exec".to_string(), id)])
    );
    // And the program behind it, and the instance pinned into (`status` compares both).
    let prog = crate::fakes::fake_prog_id(&link);
    assert_eq!(
        st.objects[0].link_prog_ids,
        BTreeMap::from([("count_exec".to_string(), prog)])
    );
    assert_eq!(
        st.bpffs_instance,
        Some(crate::live::Instance {
            ino: crate::fakes::FAKE_ROOT_INO,
            dev: 42
        })
    );
    // Again: already loaded, and the status says what is pinned, with the same link id.
    let st = run_cmdline("rd.bpf_preload=counter", &cfg, &sys, &kernel);
    assert_eq!(results(&st), vec![("counter", Outcome::AlreadyLoaded)]);
    let o = &st.objects[0];
    assert_eq!(o.link_ids, BTreeMap::from([("count_exec".to_string(), id)]));
    assert_eq!(
        o.link_prog_ids,
        BTreeMap::from([("count_exec".to_string(), prog)])
    );
    assert_eq!(
        (o.links.clone(), o.maps.clone(), o.programs.clone()),
        (
            vec!["count_exec".to_string()],
            vec!["exec_count".to_string(), "last_pid".to_string()],
            vec![]
        )
    );
    // The link was detached behind our back: not loaded, a conflict with the reason.
    kernel.dead.borrow_mut().insert(link.clone());
    let st = run_cmdline("rd.bpf_preload=counter", &cfg, &sys, &kernel);
    assert_eq!(
        st.objects[0].error.as_deref(),
        Some("/bpf/counter holds counter but is damaged: links/count_exec has no program")
    );
    // The link pin was removed.
    sys.files.borrow_mut().remove(&link);
    let st = run_cmdline("rd.bpf_preload=counter", &cfg, &sys, &kernel);
    assert_eq!(
        st.objects[0].error.as_deref(),
        Some("/bpf/counter holds counter but is damaged: links/count_exec is missing")
    );
    // A forged marker directory, with nothing in it.
    sys.dirs.borrow_mut().insert("/bpf/forged".into());
    sys.dirs
        .borrow_mut()
        .insert(format!("/bpf/forged/sha256-{sha}").into());
    let st = run_cmdline("rd.bpf_preload=forged", &cfg, &sys, &kernel);
    assert_eq!(
        st.objects[0].error.as_deref(),
        Some(
            "/bpf/forged holds forged but is damaged: links/count_exec is missing; \
             maps/exec_count is missing; maps/last_pid is missing"
        )
    );
    assert_eq!(st.required_failed().count(), 0);
    // Only the first run loaded anything.
    assert_eq!(*kernel.loaded.borrow(), vec!["counter"]);
}

/// Fault injection: every operation of a full multi-object run fails in turn. After each, no
/// object directory is partial, the failure is reported, and the other objects still load.
#[test]
fn every_failing_operation_fails_one_object_or_the_run_cleanly() {
    let objects = ["a", "xdp", "b"];
    let cmdline = "rd.bpf_preload=a,xdp,b";
    // The paths a clean run creates, in order: each is a place to fail.
    let (sys, cfg) = setup(&objects);
    let kernel = FakeKernel::new(&sys).with("xdp", xdp());
    run_cmdline(cmdline, &cfg, &sys, &kernel);
    let targets: Vec<PathBuf> = sys
        .ops
        .borrow()
        .iter()
        .filter_map(|op| op.split(' ').next_back())
        .map(PathBuf::from)
        .collect();
    // lock, mount, +shared, then per object its read, 4 mkdirs, its pins, the marker and the
    // rename.
    assert_eq!(targets.len(), 30, "{targets:?}");
    for target in targets {
        let (sys, cfg) = setup(&objects);
        sys.fail_on.borrow_mut().insert(target.clone());
        let kernel = FakeKernel::new(&sys).with("xdp", xdp());
        let st = run_cmdline(cmdline, &cfg, &sys, &kernel);
        assert_eq!(st.objects.len(), 3, "{target:?}");
        let failed: Vec<&ObjectStatus> = st
            .objects
            .iter()
            .filter(|o| o.result == Outcome::Failed)
            .collect();
        let whole_run = target == Path::new("/")
            || target == Path::new("/bpf")
            || target == Path::new("/bpf/+shared");
        if whole_run {
            // Lock, mount or +shared: every object fails, with the reason, and nothing loads.
            assert_eq!(failed.len(), 3, "{target:?}: {st:#?}");
            assert!(st.error.is_some(), "{target:?}");
            assert!(kernel.loaded.borrow().is_empty(), "{target:?}");
        } else {
            // One object's operation: that object fails, the two others load.
            assert_eq!(failed.len(), 1, "{target:?}: {st:#?}");
            let who = failed[0].name.as_str();
            let t = target.to_string_lossy();
            assert!(
                t.contains(&format!("-{who}/"))
                    || t.ends_with(&format!("-{who}"))
                    || t.ends_with(&format!("/{who}"))
                    || t == format!("/bundle/{who}.bpf.o"),
                "{target:?} failed {who}"
            );
            assert!(failed[0]
                .error
                .as_ref()
                .unwrap()
                .contains("No space left on device"));
        }
        // No partial object directory and no staging left, whatever failed.
        let tree = sys.tree(Path::new("/bpf"));
        assert!(
            !tree.iter().any(|p| p.starts_with("+staging")),
            "{target:?}: {tree:?}"
        );
        for o in &st.objects {
            let dir = format!("{}/", o.name);
            let present = tree.contains(&dir);
            assert_eq!(present, o.result == Outcome::Loaded, "{target:?}: {tree:?}");
            if present {
                let marker = format!("{}/sha256-{}/", o.name, o.sha256.as_ref().unwrap());
                assert!(tree.contains(&marker), "{target:?}: {tree:?}");
            }
        }
        // Every object still got its log line.
        assert_eq!(
            sys.logs
                .borrow()
                .iter()
                .filter(|(_, l)| l.starts_with("object "))
                .count(),
            3
        );
    }
}

#[test]
fn the_loader_sees_dracuts_builtin_command_line() {
    let sys = FakeSys::default();
    let file = |path: &str, text: &[u8]| {
        sys.files.borrow_mut().insert(path.into(), text.to_vec());
    };
    sys.dirs.borrow_mut().insert("/etc/cmdline.d".into());
    file("/etc/cmdline.d/20-b.conf", b"rd.bpf_preload=b\n");
    file("/etc/cmdline.d/10-a.conf", b"rd.bpf_preload.required=a\n");
    file("/etc/cmdline.d/x.notconf", b"rd.bpf_preload=ignored\n");
    file("/etc/cmdline", b"rd.bpf_preload=c\n");
    file("/proc/cmdline", b"root=LABEL=Syst\xe8me rd.bpf_preload=d\n");
    // The preload list is unreadable (a directory): not used, so not read.
    sys.dirs.borrow_mut().insert("/etc/preload.list".into());
    let cfg = RunConfig {
        cmdline: CmdlineFrom::Boot {
            etc: "/etc".into(),
            proc: "/proc/cmdline".into(),
        },
        preload_list: "/etc/preload.list".into(),
        policy: "/etc/policy".into(),
        ..RunConfig::default()
    };
    let plan = read_plan(&sys, &cfg).unwrap();
    let got: Vec<(&str, bool)> = plan
        .entries
        .iter()
        .map(|e| (e.raw.as_str(), e.required))
        .collect();
    assert_eq!(
        got,
        vec![("b", false), ("c", false), ("d", false), ("a", true)]
    );
    // dracut's files in name order, the kernel's last, then the policy; never the list.
    assert_eq!(
        *sys.ops.borrow(),
        [
            "read /etc/cmdline.d/10-a.conf",
            "read /etc/cmdline.d/20-b.conf",
            "read /etc/cmdline",
            "read /proc/cmdline",
            "read /etc/policy",
        ]
    );
    // `--cmdline FILE` is that file alone.
    let cfg = RunConfig {
        cmdline: CmdlineFrom::File("/proc/cmdline".into()),
        ..cfg
    };
    let got: Vec<String> = read_plan(&sys, &cfg)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.raw)
        .collect();
    assert_eq!(got, vec!["d"]);
    // When the list is used, a list that cannot be read is fatal, with the path.
    file("/proc/cmdline", b"root=/dev/vda");
    let e = read_plan(&sys, &cfg).unwrap_err().to_string();
    assert_eq!(
        e,
        "read preload list /etc/preload.list: is a directory (refused)"
    );
    // A missing kernel command line is fatal too.
    let cfg = RunConfig {
        cmdline: CmdlineFrom::Boot {
            etc: "/etc".into(),
            proc: "/proc/missing".into(),
        },
        ..cfg
    };
    assert!(matches!(
        read_plan(&sys, &cfg),
        Err(RunError::Cmdline { path, .. }) if path == Path::new("/proc/missing")
    ));
}

/// The preload list and its drop-ins: read in name order (only `*.list`), merged with the first
/// position winning, the files named in the plan; a `rd.bpf_preload=` list reads none of them.
#[test]
fn preload_list_drop_ins_merge_in_name_order() {
    let sys = FakeSys::default();
    let file = |path: &str, text: &[u8]| {
        sys.files.borrow_mut().insert(path.into(), text.to_vec());
    };
    file("/proc/cmdline", b"root=/dev/vda\n");
    file("/etc/preload.list", b"base\nshared\n");
    sys.dirs.borrow_mut().insert("/etc/preload.list.d".into());
    file("/etc/preload.list.d/20-b.list", b"b\nshared\n");
    file(
        "/etc/preload.list.d/10-a.list",
        b"a # first drop-in\nbase\n",
    );
    file("/etc/preload.list.d/30-c.list.dpkg-old", b"old\n");
    let cfg = RunConfig {
        cmdline: CmdlineFrom::File("/proc/cmdline".into()),
        preload_list: "/etc/preload.list".into(),
        policy: "/etc/policy".into(),
        ..RunConfig::default()
    };
    let plan = read_plan(&sys, &cfg).unwrap();
    let got: Vec<&str> = plan.entries.iter().map(|e| e.raw.as_str()).collect();
    assert_eq!(got, vec!["base", "shared", "a", "b"]);
    assert_eq!(
        plan.list_files,
        vec![
            "/etc/preload.list",
            "/etc/preload.list.d/10-a.list",
            "/etc/preload.list.d/20-b.list"
        ]
    );
    assert_eq!(
        *sys.ops.borrow(),
        [
            "read /proc/cmdline",
            "read /etc/policy",
            "read /etc/preload.list",
            "read /etc/preload.list.d/10-a.list",
            "read /etc/preload.list.d/20-b.list",
        ]
    );
    // The status record carries the files; the objects are in the merged order.
    let st = run(&plan, ring(), &cfg, &sys, &FakeKernel::new(&sys), &NoGuard);
    assert_eq!(st.list_files, plan.list_files);
    assert_eq!(
        st.objects
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        vec!["base", "shared", "a", "b"]
    );
    // rd.bpf_preload= replaces the merged list: neither the list nor a drop-in is read.
    sys.ops.borrow_mut().clear();
    file("/proc/cmdline", b"rd.bpf_preload=b");
    let plan = read_plan(&sys, &cfg).unwrap();
    assert_eq!((plan.entries.len(), plan.list_files.len()), (1, 0));
    assert_eq!(
        *sys.ops.borrow(),
        ["read /proc/cmdline", "read /etc/policy"]
    );
    // A drop-in that cannot be read is fatal like the list, with its path.
    file("/proc/cmdline", b"root=/dev/vda");
    sys.dirs
        .borrow_mut()
        .insert("/etc/preload.list.d/15-dir.list".into());
    let e = read_plan(&sys, &cfg).unwrap_err().to_string();
    assert_eq!(
        e,
        "read preload list /etc/preload.list.d/15-dir.list: is a directory (refused)"
    );
}

#[test]
fn shared_maps_say_created_or_reused_and_strict_mode_refuses_planted_ones() {
    let shares = |maps: Vec<&'static str>| {
        FakeLoad::Object(Spec {
            links: vec!["prog_a"],
            shared: maps,
            ..Spec::default()
        })
    };
    let run_with = |cmdline: &str| {
        let (sys, cfg) = setup(&["first", "second"]);
        // Planted before the run.
        sys.files
            .borrow_mut()
            .insert("/bpf/+shared/planted".into(), vec![]);
        sys.dirs.borrow_mut().insert("/bpf/+shared".into());
        sys.mounted.borrow_mut().push((FsKind::Bpf, "/bpf".into()));
        let kernel = FakeKernel::new(&sys)
            .with("first", shares(vec!["events"]))
            .with("second", shares(vec!["events", "planted"]));
        let st = run_cmdline(cmdline, &cfg, &sys, &kernel);
        let tree = sys.tree(Path::new("/bpf"));
        (st, tree)
    };
    let (st, _) = run_with("rd.bpf_preload=first,second");
    assert_eq!(
        results(&st),
        vec![("first", Outcome::Loaded), ("second", Outcome::Loaded)]
    );
    assert_eq!(st.objects[0].shared_maps, ["events"]);
    assert!(st.objects[0].shared_maps_reused.is_empty());
    assert_eq!(st.objects[1].shared_maps, ["events", "planted"]);
    assert_eq!(st.objects[1].shared_maps_reused, ["events", "planted"]);
    // Strict: a map another object of this run created is fine; one planted before is not.
    let (st, tree) = run_with("rd.bpf_preload=first,second rd.bpf_preload.strict_shared=1");
    assert_eq!(
        results(&st),
        vec![("first", Outcome::Loaded), ("second", Outcome::Failed)]
    );
    assert_eq!(
        st.objects[1].error.as_deref(),
        Some(
            "shared map planted was in /bpf/+shared before this run: refused (strict shared maps)"
        )
    );
    assert!(st.objects[1].shared_maps.is_empty());
    assert!(!tree.iter().any(|p| p.starts_with("second")), "{tree:?}");
    assert!(
        tree.contains(&"+shared/events".to_string()),
        "first's map stays: {tree:?}"
    );
}

#[test]
fn run_wide_log_lines_escape_names_from_the_bpffs() {
    let (sys, cfg) = setup(&["a"]);
    // A name someone else made in the bpffs: a newline could forge a second kmsg record.
    for d in ["/bpf", "/bpf/+staging-x\nbpf-preload: object evil: loaded"] {
        sys.dirs.borrow_mut().insert(d.into());
    }
    sys.mounted.borrow_mut().push((FsKind::Bpf, "/bpf".into()));
    let kernel = FakeKernel::new(&sys);
    run_cmdline("rd.bpf_preload=a", &cfg, &sys, &kernel);
    let logs = sys.logs.borrow();
    assert_eq!(
        logs[0].1,
        "removed stale staging directory +staging-x\\nbpf-preload: object evil: loaded left by an earlier run"
    );
    assert!(logs.iter().all(|(_, l)| !l.contains('\n')), "{logs:?}");
}

#[test]
fn measured_objects_then_the_closing_event_and_required_refuses_unmeasured() {
    use bpf_preload_format::measure::{
        closing_event, event_digest, object_event, pcr_extend_command,
    };
    let (sys, cfg) = setup(&["a", "b"]);
    let kernel = FakeKernel::new(&sys);
    let tpm = FakeMeasure::default();
    // "c" is not in the bundle: never verified, never measured; the closing event counts it.
    let plan = cmdline::plan("rd.bpf_preload=a,c,b rd.bpf_preload.measure=12", None);
    let st = run_measured(&plan, ring(), &cfg, &sys, &kernel, &NoGuard, &tpm);
    let measured: Vec<(&str, bool)> = st
        .objects
        .iter()
        .map(|o| (o.name.as_str(), o.measured))
        .collect();
    assert_eq!(measured, vec![("a", true), ("c", false), ("b", true)]);
    let ev = |o: &ObjectStatus| {
        object_event(
            &o.name,
            o.sha256.as_deref().unwrap(),
            o.key_id.as_deref().unwrap(),
            false,
        )
    };
    let want: Vec<Vec<u8>> = [ev(&st.objects[0]), ev(&st.objects[2]), closing_event(3, 2)]
        .iter()
        .map(|e| pcr_extend_command(12, &event_digest(e)))
        .collect();
    assert_eq!(*tpm.commands.borrow(), want);
    let m = st.measurement.as_ref().unwrap();
    assert_eq!((m.state, m.events, m.pcr), (MeasureState::Ok, 3, Some(12)));
    let logs = sys.logs.borrow();
    let line_a = logs
        .iter()
        .find(|(_, l)| l.starts_with("object a: loaded"))
        .unwrap();
    assert!(line_a.1.contains(" measured=yes ms="), "{}", line_a.1);
    let line_c = logs
        .iter()
        .find(|(_, l)| l.starts_with("object c: failed"))
        .unwrap();
    assert!(!line_c.1.contains("measured"), "{}", line_c.1);
    assert!(logs.iter().any(
        |(p, l)| *p == Prio::Info && l == "measurement: ok pcr=12 events=3 device=/dev/tpmrm0"
    ));
    drop(logs);

    // Required, and the TPM fails: no object reaches the kernel, the boot stops (exit 3).
    let (sys, cfg) = setup(&["a", "b"]);
    let kernel = FakeKernel::new(&sys);
    let tpm = FakeMeasure {
        codes: std::cell::RefCell::new(vec![0x101]),
        ..Default::default()
    };
    let plan = cmdline::plan(
        "rd.bpf_preload=a,b rd.bpf_preload.measure=12,required",
        None,
    );
    let st = run_measured(&plan, ring(), &cfg, &sys, &kernel, &NoGuard, &tpm);
    assert_eq!(
        results(&st),
        vec![("a", Outcome::Failed), ("b", Outcome::Failed)]
    );
    assert!(kernel.loaded.borrow().is_empty());
    assert_eq!(
        st.objects[0].error.as_deref(),
        Some("not loaded: measurement required and failed: /dev/tpmrm0: extend PCR 12: TPM_RC_FAILURE: the TPM is in failure mode (0x101)")
    );
    assert!(st.measurement_required_failed());
    // Not required: the same TPM failure is reported and the objects load.
    let (sys, cfg) = setup(&["a"]);
    let kernel = FakeKernel::new(&sys);
    let tpm = FakeMeasure {
        no_device: true,
        ..Default::default()
    };
    let plan = cmdline::plan("rd.bpf_preload=a rd.bpf_preload.measure=12", None);
    let st = run_measured(&plan, ring(), &cfg, &sys, &kernel, &NoGuard, &tpm);
    assert_eq!(results(&st), vec![("a", Outcome::Loaded)]);
    assert_eq!(
        st.measurement.as_ref().unwrap().state,
        MeasureState::Unavailable
    );
    assert!(!st.measurement_required_failed());
    assert!(sys.logs.borrow().iter().any(|(p, l)| *p == Prio::Warning
        && l == "measurement: unavailable pcr=12 events=0 reason: no TPM: open /dev/tpm0: No such file or directory (os error 2)"));
}

/// The whole boot through the fakes: each step's lines come out in the order of the work (plan,
/// keys, keyring, bpffs, objects, measurement, guard, signed-only mode), the system sees the
/// plan's and the keys' reads before the bpffs is touched, the kernel and the guard are made from
/// the keyring step's value, and the status written is the one returned.
#[test]
fn the_boot_logs_each_step_in_the_order_it_runs() {
    use super::boot::{boot, Boundaries, Signing};
    use crate::fakes::FakeKeyrings;
    use crate::keys::{keypair_pem, MAX_KEY_FILE_SIZE};
    const RSA: &[u8] = include_bytes!("../../../keys/test-only/kernel/rsa.crt");
    const ED: &[u8] = include_bytes!("../../../keys/test-only/kernel/ed25519.crt");
    let (sys, mut cfg) = setup(&["a"]);
    cfg.status = "/run/bpf-preload/status.json".into();
    cfg.cmdline = CmdlineFrom::File("/cmdline".into());
    cfg.policy = "/policy".into();
    cfg.keys = "/keys".into();
    let file = |path: &str, bytes: &[u8]| {
        sys.files.borrow_mut().insert(path.into(), bytes.to_vec());
    };
    let cmdline = "rd.bpf_preload=a,b rd.bpf_preload.measure=12 rd.bpf_preload.signed_only=1";
    file("/cmdline", cmdline.as_bytes());
    let (_, public) = keypair_pem(test_key(1).to_bytes()).unwrap();
    file("/keys/good.pub", public.as_bytes());
    file("/keys/big.pub", &vec![b'k'; MAX_KEY_FILE_SIZE as usize + 1]);
    file("/keys/a.crt", ED);
    file("/keys/b.crt", RSA);
    // Each read takes a millisecond: the boot's duration covers at least the nine it makes.
    sys.read_delay.set(std::time::Duration::from_millis(1));
    let (keyrings, tpm) = (FakeKeyrings::default(), FakeMeasure::default());
    let b = Boundaries {
        sys: &sys,
        keyrings: &keyrings,
        tpm: &tpm,
        iterators: &NoIterators,
    };
    let signing = std::cell::Cell::new(None);
    let st = boot(&cfg, &b, |s| {
        signing.set(Some(s));
        (FakeKernel::new(&sys), FakeGuard::active())
    })
    .unwrap();
    assert_eq!(
        signing.get(),
        Some(Signing {
            keyring: Some(42),
            signed_only: Some(42),
            guard: true
        })
    );
    let logs: Vec<String> = sys.logs.borrow().iter().map(|(_, l)| l.clone()).collect();
    let want = [
        "trusted keys: skipped a key file: read /keys/big.pub: is 65537 bytes",
        "kernel certificate skipped: /keys/a.crt: Ed25519 certificate",
        "kernel keyring 42: 1 certificate(s), closed",
        "object a: loaded",
        "object b: failed: read /bundle/b.bpf.o: No such file or directory",
        "measurement: ok pcr=12 events=2 device=/dev/tpmrm0",
        "guard: active",
        "signed_only: failed: the guard does not enforce it on this kernel",
    ];
    assert_eq!(logs.len(), want.len(), "{logs:#?}");
    for (line, want) in logs.iter().zip(want) {
        assert!(
            line.starts_with(want),
            "{line:?} is not {want:?}: {logs:#?}"
        );
    }
    let ops = sys.ops.borrow();
    assert_eq!(
        ops[..10],
        [
            "read /cmdline",
            "read /policy",
            "read /keys/big.pub",
            "read /keys/good.pub",
            "read /keys/revoked",
            "read /keys/a.crt",
            "read /keys/b.crt",
            "lock /",
            "mount bpf /bpf",
            "mkdir /bpf/+shared",
        ],
        "{ops:#?}"
    );
    let step = |op: &str| ops.iter().position(|o| o == op).unwrap();
    assert!(step("read /bundle/a.bpf.o") < step("rename /bpf/+staging-r1-a /bpf/a"));
    assert!(step("rename /bpf/+staging-r1-a /bpf/a") < step("read /bundle/b.bpf.o"));
    // One status, assembled once: the warnings of both steps, the duration set, and written.
    assert_eq!(st.warnings.len(), 2, "{:?}", st.warnings);
    assert!(st.duration_ms >= 9.0, "{}", st.duration_ms);
    let written = sys.files.borrow()[&cfg.status].clone();
    assert_eq!(String::from_utf8(written).unwrap(), st.to_json());
    assert_eq!(ops.last().unwrap(), "write /run/bpf-preload/status.json");
}

/// A plan that cannot be read stops the boot before any other step: one error line, nothing
/// else touched, and the status written says why.
#[test]
fn a_boot_that_cannot_plan_reports_why_and_does_nothing_else() {
    use super::boot::{boot, Boundaries};
    use crate::fakes::FakeKeyrings;
    let (sys, mut cfg) = setup(&["a"]);
    cfg.status = "/run/bpf-preload/status.json".into();
    cfg.cmdline = CmdlineFrom::File("/missing".into());
    sys.read_delay.set(std::time::Duration::from_millis(1));
    let (keyrings, tpm) = (FakeKeyrings::default(), FakeMeasure::default());
    let b = Boundaries {
        sys: &sys,
        keyrings: &keyrings,
        tpm: &tpm,
        iterators: &NoIterators,
    };
    let e = boot(&cfg, &b, |_| -> (FakeKernel, NoGuard) {
        panic!("no kernel without a plan")
    })
    .unwrap_err();
    let want = "read cmdline /missing: No such file or directory (os error 2)";
    assert_eq!(e.to_string(), want);
    assert_eq!(*sys.logs.borrow(), [(Prio::Err, want.to_string())]);
    assert_eq!(
        *sys.ops.borrow(),
        [
            "read /missing",
            "mkdir -p /run/bpf-preload",
            "write /run/bpf-preload/status.json"
        ]
    );
    assert!(keyrings.log.borrow().is_empty());
    let written = sys.files.borrow()[&cfg.status].clone();
    let st = Status::from_json(&String::from_utf8(written).unwrap()).unwrap();
    assert_eq!(st.error.as_deref(), Some(want));
    // The report step timed the boot: the read alone took a millisecond.
    assert!(st.objects.is_empty() && st.duration_ms >= 1.0, "{st:?}");
}

/// The iterators step: after the objects (whose link and program ids it is handed as names),
/// before the measurement's closing event and the guard, which protects the three files.
#[test]
fn iterators_get_the_objects_names_and_the_guard_protects_their_files() {
    use bpf_preload_format::measure::{
        builtin_event, closing_event, event_digest, pcr_extend_command,
    };
    let (sys, cfg) = setup(&["a"]);
    let kernel = FakeKernel::new(&sys);
    let guard = FakeGuard::active();
    let iters = FakeIterators::new(&sys);
    let tpm = FakeMeasure::default();
    let plan = cmdline::plan(
        "rd.bpf_preload=a rd.bpf_preload.guard=1 rd.bpf_preload.iterators=1 rd.bpf_preload.measure=12",
        None,
    );
    let st = run_all(&plan, ring(), &cfg, &sys, &kernel, &guard, &tpm, &iters);
    let a = &st.objects[0];
    assert_eq!(a.result, Outcome::Loaded);
    let (link, prog) = (a.link_ids["prog_a"], a.link_prog_ids["prog_a"]);
    let asked = iters.asked.borrow();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].0,
        vec![
            NameEntry {
                kind: IdKind::Prog,
                id: prog,
                object: "a".into()
            },
            NameEntry {
                kind: IdKind::Link,
                id: link,
                object: "a".into()
            },
        ]
    );
    assert_eq!(asked[0].1, vec![("a".to_string(), PathBuf::from("/bpf/a"))]);
    let it = st.iterators.as_ref().unwrap();
    assert_eq!(it.state, IteratorsState::Active);
    assert_eq!(it.pins, vec!["maps.debug", "progs.debug", "links.debug"]);
    assert_eq!(it.prog_ids["progs.debug"], 901);
    assert_eq!((it.named, it.measured), (2, true));
    // The guard is handed the files beside the directories.
    let protect = guard.asked.borrow()[0].clone();
    for f in ["/bpf/maps.debug", "/bpf/progs.debug", "/bpf/links.debug"] {
        assert!(
            protect.contains(&PathBuf::from(f)),
            "{f} not in {protect:?}"
        );
    }
    // Measured before the closing event.
    let m = tpm.commands.borrow();
    assert_eq!(
        m[1..],
        [
            pcr_extend_command(
                12,
                &event_digest(&builtin_event("iterators", &"ab".repeat(32)))
            ),
            pcr_extend_command(12, &event_digest(&closing_event(1, 1))),
        ]
    );
    // One line each, in the order of the work.
    let logs: Vec<String> = sys.logs.borrow().iter().map(|(_, l)| l.clone()).collect();
    let at = |p: &str| {
        logs.iter()
            .position(|l| l.starts_with(p))
            .unwrap_or_else(|| panic!("{p}: {logs:?}"))
    };
    assert!(
        at("object a: loaded")
            < at("iterators: active pins=maps.debug,progs.debug,links.debug named=2")
    );
    assert!(at("iterators: active") < at("measurement: ok"));
    assert!(at("measurement: ok") < at("guard: active"));
    assert!(st.render().contains(
        "\n  iterators: active pins=maps.debug,progs.debug,links.debug named=2 path=light measured=yes ms="
    ));
}

#[test]
fn iterators_alone_prepare_the_bpffs_and_a_failure_is_reported_not_fatal() {
    let (sys, cfg) = setup(&[]);
    let kernel = FakeKernel::new(&sys);
    let mut iters = FakeIterators::new(&sys);
    iters.fail = Some("load: Invalid argument (os error 22)".into());
    let plan = cmdline::plan("rd.bpf_preload.iterators=1", None);
    let st = run_all(
        &plan,
        ring(),
        &cfg,
        &sys,
        &kernel,
        &NoGuard,
        &FakeMeasure::default(),
        &iters,
    );
    assert!(
        sys.dirs.borrow().contains(Path::new("/bpf/+shared")),
        "bpffs not prepared"
    );
    let it = st.iterators.unwrap();
    assert_eq!(it.state, IteratorsState::Failed);
    assert_eq!(
        it.reason.as_deref(),
        Some("load: Invalid argument (os error 22)")
    );
    assert!(st.guard.is_none());
    assert!(sys.logs.borrow().iter().any(|(p, l)| *p == Prio::Warning
        && l.starts_with("iterators: failed: load: Invalid argument (os error 22) ms=")));
}

/// The kernel's own maps.debug/progs.debug: skipped with the reason, nothing loaded or measured;
/// some of the names without the others: nothing replaced; all three: an earlier run's.
#[test]
fn iterators_never_clash_with_files_already_there() {
    let run_with = |present: &[&str]| {
        let (sys, cfg) = setup(&[]);
        // A bpffs already mounted, with what the kernel (or an earlier run) put there.
        sys.dirs.borrow_mut().insert("/bpf".into());
        sys.mounted
            .borrow_mut()
            .push((crate::sys::FsKind::Bpf, "/bpf".into()));
        for p in present {
            sys.pin(&Path::new("/bpf").join(p)).unwrap();
        }
        let kernel = FakeKernel::new(&sys);
        let iters = FakeIterators::new(&sys);
        let guard = FakeGuard::active();
        let tpm = FakeMeasure::default();
        let plan = cmdline::plan(
            "rd.bpf_preload.iterators=1 rd.bpf_preload.guard=1 rd.bpf_preload.measure=12",
            None,
        );
        let st = run_all(&plan, ring(), &cfg, &sys, &kernel, &guard, &tpm, &iters);
        let asked = iters.asked.borrow().len();
        let extends = tpm.commands.borrow().len();
        let protect = guard.asked.borrow().first().cloned();
        let protect =
            protect.unwrap_or_else(|| panic!("guard not asked: {:?} {:?}", st.guard, st.error));
        (st.iterators.unwrap(), asked, extends, protect)
    };
    let (it, asked, extends, protect) = run_with(&["maps.debug", "progs.debug"]);
    assert_eq!(it.state, IteratorsState::Skipped);
    assert_eq!(
        it.reason.as_deref(),
        Some("the kernel's own maps.debug and progs.debug are in this bpffs (CONFIG_BPF_PRELOAD)")
    );
    // Only the closing event; the kernel's files are not ours to protect.
    assert_eq!((asked, extends, it.measured), (0, 1, false));
    assert!(
        !protect.iter().any(|p| p.ends_with("maps.debug")),
        "{protect:?}"
    );

    let (it, asked, _, protect) = run_with(&["links.debug"]);
    assert_eq!(it.state, IteratorsState::Failed);
    assert_eq!(
        it.reason.as_deref(),
        Some("links.debug already in /bpf without the others: not ours, nothing pinned")
    );
    assert_eq!(asked, 0);
    assert!(
        !protect.iter().any(|p| p.ends_with("links.debug")),
        "{protect:?}"
    );

    let (it, asked, extends, protect) = run_with(&PINS);
    assert_eq!(it.state, IteratorsState::AlreadyActive);
    assert_eq!((asked, extends), (0, 1));
    assert!(
        protect.contains(&PathBuf::from("/bpf/progs.debug")),
        "{protect:?}"
    );
}

/// Required measurement that fails: the iterators are not loaded.
#[test]
fn iterators_are_not_loaded_unmeasured_when_measurement_is_required() {
    let (sys, cfg) = setup(&[]);
    let kernel = FakeKernel::new(&sys);
    let iters = FakeIterators::new(&sys);
    let tpm = FakeMeasure {
        no_device: true,
        ..Default::default()
    };
    let plan = cmdline::plan(
        "rd.bpf_preload.iterators=1 rd.bpf_preload.measure=12,required",
        None,
    );
    let st = run_all(&plan, ring(), &cfg, &sys, &kernel, &NoGuard, &tpm, &iters);
    let it = st.iterators.unwrap();
    assert_eq!(it.state, IteratorsState::Failed);
    assert!(
        it.reason
            .as_deref()
            .unwrap()
            .starts_with("not loaded: measurement required and unavailable: no TPM"),
        "{:?}",
        it.reason
    );
    assert!(iters.asked.borrow().is_empty());
}

/// One varied list (every kind of failure, shared maps made and reused, an object already in
/// place) run with `jobs` threads; loads finish out of list order (`good` and `slow` take
/// longest). What the run left: status, pin tree, operations, log, the order loads finished in.
fn ordered_effects_run(
    jobs: usize,
) -> (Status, Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let names = [
        "pre",
        "good",
        "rej",
        "unsigned",
        "maker",
        "slow",
        "user",
        "attachfail",
        "badpin",
        "tail",
    ];
    let (sys, mut cfg) = setup(&names);
    sys.files
        .borrow_mut()
        .insert("/bundle/unsigned.bpf.o".into(), elf_stub());
    sys.fail_on
        .borrow_mut()
        .insert("/bpf/+staging-r1-badpin/maps/map_a".into());
    let shared = |maps: Vec<&'static str>| {
        FakeLoad::Object(Spec {
            links: vec!["prog_a"],
            maps: vec!["map_a"],
            shared: maps,
            ..Spec::default()
        })
    };
    let ms = std::time::Duration::from_millis;
    let kernel = FakeKernel::new(&sys)
        .with(
            "rej",
            FakeLoad::Reject {
                errno: 13,
                verifier: "R0 invalid mem access",
            },
        )
        .with("maker", shared(vec!["events"]))
        .with("user", shared(vec!["events", "own"]))
        .with(
            "attachfail",
            FakeLoad::Object(Spec {
                links: vec!["prog_a"],
                attach_errno: Some(95),
                ..Spec::default()
            }),
        )
        .slow("good", ms(60))
        .slow("slow", ms(30));
    // `pre` is in place from an earlier run.
    run_cmdline("rd.bpf_preload=pre", &cfg, &sys, &kernel);
    kernel.finished.borrow_mut().clear();
    sys.ops.borrow_mut().clear();
    sys.logs.borrow_mut().clear();
    cfg.jobs = jobs;
    let cmdline = format!(
        "rd.bpf_preload=a.b,missing,{} rd.bpf_preload.required=rej",
        names.join(",")
    );
    let mut st = run_cmdline(&cmdline, &cfg, &sys, &kernel);
    for o in &mut st.objects {
        o.duration_ms = 0.0;
        o.phases = Default::default();
    }
    // Reads come first when parallel (one pass over the list before verifying).
    let ops = sys
        .ops
        .borrow()
        .iter()
        .filter(|o| !o.starts_with("read "))
        .cloned()
        .collect();
    let logs = sys
        .logs
        .borrow()
        .iter()
        .map(|(p, l)| format!("{p:?} {}", l.split(" ms=").next().unwrap_or(l)))
        .collect();
    let finished = kernel.finished.borrow().clone();
    (st, sys.tree(Path::new("/bpf")), ops, logs, finished)
}

#[test]
fn parallel_objects_have_the_effects_of_a_sequential_run_in_list_order() {
    let (seq, seq_tree, seq_ops, seq_logs, seq_finished) = ordered_effects_run(1);
    let (par, par_tree, par_ops, par_logs, par_finished) = ordered_effects_run(4);
    // The sequential run loads in list order; the parallel one finished loads out of it.
    let independent = ["good", "rej", "slow", "attachfail", "badpin", "tail"];
    let pos = |f: &[String], n: &str| f.iter().position(|x| x == n).unwrap();
    assert!(pos(&seq_finished, "good") < pos(&seq_finished, "tail"));
    assert!(
        pos(&par_finished, "tail") < pos(&par_finished, "good"),
        "loads did not overlap: {par_finished:?}"
    );
    for n in independent {
        assert!(par_finished.iter().any(|f| f == n), "{n} not loaded");
    }
    // The same record, tree, operations (pins, renames, removals) and log, in list order.
    assert_eq!(
        serde_json::to_value(&par).unwrap(),
        serde_json::to_value(&seq).unwrap()
    );
    assert_eq!(par_tree, seq_tree);
    assert_eq!(par_ops, seq_ops);
    assert_eq!(par_logs, seq_logs);
    // What that order is: each object's directory renamed into place in list order.
    let renamed: Vec<&str> = par_ops
        .iter()
        .filter_map(|o| o.strip_prefix("rename /bpf/+staging-r1-"))
        .filter_map(|o| o.split(' ').next())
        .collect();
    assert_eq!(renamed, vec!["good", "maker", "slow", "user", "tail"]);
    assert_eq!(
        results(&par),
        vec![
            ("a.b", Outcome::Failed),
            ("missing", Outcome::Failed),
            ("pre", Outcome::AlreadyLoaded),
            ("good", Outcome::Loaded),
            ("rej", Outcome::Failed),
            ("unsigned", Outcome::Failed),
            ("maker", Outcome::Loaded),
            ("slow", Outcome::Loaded),
            ("user", Outcome::Loaded),
            ("attachfail", Outcome::Failed),
            ("badpin", Outcome::Failed),
            ("tail", Outcome::Loaded),
        ]
    );
    // `user` found the map `maker` made before it, in both runs.
    let user = par.objects.iter().find(|o| o.name == "user").unwrap();
    assert_eq!(user.shared_maps_reused, vec!["events"]);
}
