//! The pinning policy, install, the damage check and bpffs preparation, with the fakes.

use std::io;
use std::path::{Path, PathBuf};

use super::bpffs::*;
use super::damage::*;
use super::install::*;
use super::plan::*;
use crate::fakes::{FakeObject, FakeSys};
use crate::pipeline::object::Probe;
use bpf_preload_format::elf::ElfInfo;
use bpf_preload_format::name::{ObjectName, PinKind};

fn bpffs(sys: &FakeSys) -> PathBuf {
    let p = PathBuf::from("/bpf");
    sys.dirs.borrow_mut().insert(p.clone());
    p
}

fn name(s: &str) -> ObjectName {
    ObjectName::parse(s).unwrap()
}

#[test]
fn policy_drops_internal_maps_and_sanitises() {
    let sys = FakeSys::default();
    let obj = FakeObject::new(&sys)
        .links(&["count.exec"])
        .maps(&["exec_count", ".rodata", "counter.bss", ".kconfig"])
        .progs(&["xdp/pass"]);
    let planned = plan(&obj).unwrap();
    let got: Vec<(PinKind, &str, &str)> = planned
        .iter()
        .map(|p| (p.kind, p.raw.as_str(), p.pin.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (PinKind::Link, "count.exec", "count_exec"),
            (PinKind::Map, "exec_count", "exec_count"),
            (PinKind::Prog, "xdp/pass", "xdp_pass"),
        ]
    );
}

#[test]
fn builds_in_staging_then_renames() {
    let sys = FakeSys::default();
    let root = bpffs(&sys);
    let mut obj = FakeObject::new(&sys).links(&["count_exec"]).maps(&[
        "exec_count",
        "last-pid",
        "counter.rodata",
    ]);
    let pins = install(&sys, &root, "r1", &name("counter"), "ab", &mut obj).unwrap();
    assert_eq!(pins.maps, vec!["exec_count", "last-pid"]);
    assert_eq!(
        *sys.ops.borrow(),
        vec![
            "mkdir /bpf/+staging-r1-counter",
            "mkdir /bpf/+staging-r1-counter/links",
            "mkdir /bpf/+staging-r1-counter/maps",
            "mkdir /bpf/+staging-r1-counter/progs",
            "pin /bpf/+staging-r1-counter/links/count_exec",
            "pin /bpf/+staging-r1-counter/maps/exec_count",
            "pin /bpf/+staging-r1-counter/maps/last-pid",
            "mkdir /bpf/+staging-r1-counter/sha256-ab",
            "rename /bpf/+staging-r1-counter /bpf/counter",
        ]
    );
    assert_eq!(
        existing(&sys, &root, &name("counter"), "ab").unwrap(),
        Existing::Same
    );
    assert_eq!(
        existing(&sys, &root, &name("counter"), "cd").unwrap(),
        Existing::Conflict(Some("ab".into()))
    );
    assert_eq!(
        existing(&sys, &root, &name("x"), "ab").unwrap(),
        Existing::Nothing
    );
}

#[test]
fn failure_mid_pin_leaves_nothing() {
    let sys = FakeSys::default();
    let root = bpffs(&sys);
    sys.fail_on
        .borrow_mut()
        .insert("/bpf/+staging-r1-counter/maps/b".into());
    let mut obj = FakeObject::new(&sys).links(&["l"]).maps(&["a", "b", "c"]);
    let e = install(&sys, &root, "r1", &name("counter"), "ab", &mut obj).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pin map b: No space left on device (os error 28)"
    );
    assert_eq!(
        sys.ops.borrow().last().unwrap(),
        "remove /bpf/+staging-r1-counter"
    );
    assert!(sys.tree(&root).is_empty(), "{:?}", sys.tree(&root));
}

#[test]
fn collisions_fail_the_object_before_anything_is_made() {
    let sys = FakeSys::default();
    let root = bpffs(&sys);
    // Both names are real map names libbpf can report; they collide after sanitising.
    let mut obj = FakeObject::new(&sys)
        .maps(&["a-b", "a_b"])
        .links(&["x/y", "x_y"]);
    let e = install(&sys, &root, "r1", &name("o"), "ab", &mut obj).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pin link: \"x/y\" and \"x_y\" both map to pin name x_y"
    );
    let mut obj = FakeObject::new(&sys).maps(&["a-b", "a+b", "a_b"]);
    let e = install(&sys, &root, "r1", &name("o"), "ab", &mut obj).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pin map: \"a+b\" and \"a_b\" both map to pin name a_b"
    );
    assert!(sys.ops.borrow().is_empty(), "{:?}", sys.ops.borrow());
    // The same name in two kinds is no collision: they live in different directories.
    let obj = FakeObject::new(&sys).maps(&["same"]).links(&["same"]);
    assert_eq!(plan(&obj).unwrap().len(), 2);
}

#[test]
fn existing_target_is_never_replaced() {
    let sys = FakeSys::default();
    let root = bpffs(&sys);
    sys.dirs.borrow_mut().insert("/bpf/counter".into());
    let mut obj = FakeObject::new(&sys).links(&["l"]);
    let e = install(&sys, &root, "r1", &name("counter"), "ab", &mut obj).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rename into place as /bpf/counter: File exists (os error 17)"
    );
    assert_eq!(sys.tree(&root), vec!["counter/"]);
}

#[test]
fn prepare_mounts_sweeps_and_makes_shared() {
    let sys = FakeSys::default();
    let root = PathBuf::from("/bpf");
    let got = prepare_bpffs(&sys, &root).unwrap();
    assert_eq!((got.mounted, got.swept), (true, vec![]));
    for d in ["/bpf/+staging-old", "/bpf/+staging-old/links", "/bpf/keep"] {
        sys.dirs.borrow_mut().insert(d.into());
    }
    let got = prepare_bpffs(&sys, &root).unwrap();
    assert_eq!(
        (got.mounted, got.swept),
        (false, vec!["+staging-old".into()])
    );
    assert_eq!(sys.tree(&root), vec!["+shared/", "keep/"]);
    assert_eq!(
        *sys.ops.borrow(),
        vec![
            "lock /",
            "mount bpf /bpf",
            "mkdir /bpf/+shared",
            "lock /",
            "remove /bpf/+staging-old"
        ]
    );
}

#[test]
fn a_relative_mountpoint_locks_its_real_parent() {
    for (bpffs, locked) in [("fsx", "."), ("a/fsx", "a"), ("/", "/")] {
        let sys = FakeSys::default();
        let _ = prepare_bpffs(&sys, Path::new(bpffs));
        assert_eq!(sys.ops.borrow()[0], format!("lock {locked}"), "{bpffs}");
    }
}

#[test]
fn only_shared_pins_this_object_created_are_removed() {
    let sys = FakeSys::default();
    for f in ["/bpf/+shared/old", "/bpf/+shared/new"] {
        sys.files.borrow_mut().insert(f.into(), vec![]);
    }
    let pins = vec![
        PathBuf::from("/bpf/+shared/old"),
        PathBuf::from("/bpf/+shared/new"),
    ];
    remove_created_shared(&sys, &["old".into()], &pins).unwrap();
    assert_eq!(sys.tree(Path::new("/bpf")), vec!["+shared/old"]);
}

#[test]
fn never_mounts_over_a_directory_that_holds_something() {
    let sys = FakeSys::default();
    sys.files.borrow_mut().insert("/etc/passwd".into(), vec![]);
    let e = prepare_bpffs(&sys, Path::new("/etc")).err().unwrap();
    assert_eq!(
        e.to_string(),
        "/etc is not a bpf and not empty (1 entries): refusing to mount over it"
    );
    assert_eq!(*sys.ops.borrow(), vec!["lock /"]);
}

#[test]
fn a_loaded_copy_must_have_every_pin_its_elf_implies() {
    use bpf_preload_format::elf::ProgramInfo;
    let sys = FakeSys::default();
    let prog = |name: &str, section: &str, attach: bool| ProgramInfo {
        name: name.into(),
        section: section.into(),
        kind: String::new(),
        autoload: true,
        auto_attach: attach,
    };
    let info = ElfInfo {
        programs: vec![prog("count", "tp/x/y", true), prog("pass", "xdp", false)],
        maps: vec!["counts".into(), "events".into()],
        ..Default::default()
    };
    for f in [
        "/bpf/o/links/count",
        "/bpf/o/progs/pass",
        "/bpf/o/maps/counts",
        "/bpf/+shared/events",
    ] {
        sys.files.borrow_mut().insert(f.into(), vec![]);
    }
    let probe_ok = |p: &Path| -> io::Result<Probe> {
        let p = p.to_string_lossy();
        Ok(if p.contains("/links/") {
            Probe::Link {
                live: true,
                id: 7,
                prog: 70,
            }
        } else if p.contains("/progs/") {
            Probe::Prog
        } else if p.contains("/maps/") || p.contains("+shared") {
            Probe::Map
        } else {
            Probe::Other
        })
    };
    let pins = check_loaded(&sys, &probe_ok, Path::new("/bpf"), &name("o"), &info).unwrap();
    assert_eq!(
        pins,
        Pins {
            links: vec!["count".into()],
            maps: vec!["counts".into()],
            progs: vec!["pass".into()],
            link_ids: [("count".to_string(), 7)].into(),
            link_progs: [("count".to_string(), 70)].into(),
        }
    );
    // A detached link, a map where a program should be, a removed pin.
    sys.files
        .borrow_mut()
        .remove(Path::new("/bpf/o/maps/counts"));
    let probe_bad = |p: &Path| -> io::Result<Probe> {
        let p = p.to_string_lossy();
        Ok(if p.contains("/links/") {
            Probe::Link {
                live: false,
                id: 7,
                prog: 0,
            }
        } else {
            Probe::Map
        })
    };
    let e = check_loaded(&sys, &probe_bad, Path::new("/bpf"), &name("o"), &info).unwrap_err();
    assert_eq!(
        e.to_string(),
        "links/count has no program; maps/counts is missing; progs/pass is not a prog (Map)"
    );
    // A forged directory with only the marker: every pin is missing.
    let e = check_loaded(&sys, &probe_ok, Path::new("/bpf"), &name("forged"), &info).unwrap_err();
    assert_eq!(
        e.to_string(),
        "links/count is missing; maps/counts is missing; progs/pass is missing"
    );
}

/// "damaged:" is never followed by nothing: an empty list of damages cannot be made, and an ELF
/// whose names cannot all be pinned (no install could have made the directory) says so.
#[test]
fn damages_are_never_empty() {
    assert_eq!(Damages::new(Vec::new()), None);
    let sys = FakeSys::default();
    let info = ElfInfo {
        maps: vec!["a+b".into(), "a_b".into()],
        ..Default::default()
    };
    let probe = |_: &Path| -> io::Result<Probe> { Ok(Probe::Map) };
    let e = check_loaded(&sys, &probe, Path::new("/bpf"), &name("o"), &info).unwrap_err();
    assert_eq!(
        e.to_string(),
        "its pins cannot be planned (pin map: \"a+b\" and \"a_b\" both map to pin name a_b)"
    );
}
