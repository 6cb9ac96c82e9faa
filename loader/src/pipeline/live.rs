//! The live status: what `bpf-preload status` finds at read time, beside the boot-time record
//! (which it never rewrites). For every object the record calls loaded or already-loaded: is
//! `<bpffs>/<name>/` still there, is every recorded link, map, program and shared map still
//! pinned and of its kind, does every recorded link id still exist in the kernel? The same for
//! an active guard under `+guard/links/`. And the kernel switches that silently disarm
//! preloaded programs: `kernel.ftrace_enabled` and debugfs's `kprobes/enabled`.
//!
//! The decision (what is missing → `removed` / `gone`) is pure: it asks the system only through
//! the small [`LiveProbe`] trait, implemented by `kernel` (BPF_OBJ_GET, BPF_LINK_GET_FD_BY_ID)
//! and by a fake in the tests. The record is hostile input: object names are validated
//! ([`ObjectName`]) and pin names must already be pin names ([`PinName::parse`]) before either
//! is joined to a path, so a record naming `../etc` makes nothing outside the bpffs probed.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use bpf_preload_format::live::{Check, Live, LiveState, Missing};

use super::object::Probe;
use crate::name::{ObjectName, PinKind, PinName, SHARED_DIR};
use crate::status::{GuardStatus, ObjectStatus, Outcome, Status};

/// Where the kernel says whether ftrace (and with it every BPF trampoline) is on.
pub const FTRACE_ENABLED: &str = "/proc/sys/kernel/ftrace_enabled";
/// Mount table of this process: where debugfs is, if anywhere.
pub const MOUNTS: &str = "/proc/self/mounts";
/// The guard's links, relative to the bpffs.
const GUARD_LINKS: &str = "+guard/links";
/// The kprobes switch, relative to a debugfs mount.
pub const KPROBES_ENABLED: &str = "kprobes/enabled";

/// What the live checks ask of the system.
pub trait LiveProbe {
    /// What the BPF object pinned at `path` is (BPF_OBJ_GET); `NotFound` when nothing is there.
    fn pin(&self, path: &Path) -> io::Result<Probe>;
    /// Does a link with this id exist in the kernel (BPF_LINK_GET_FD_BY_ID)?
    fn link_exists(&self, id: u32) -> io::Result<bool>;
    /// Is there a directory at `path` (not following a final symlink)? `Ok(false)`: nothing, or
    /// not a directory.
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    /// Names in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// A small kernel text file (a sysctl, a debugfs switch, the mount table), bounded.
    fn read_text(&self, path: &Path) -> io::Result<String>;
}

/// Collects what one object (or the guard) lost and what could not be looked at.
struct Checker<'a> {
    probe: &'a dyn LiveProbe,
    missing: Vec<Missing>,
    unchecked: Vec<String>,
}

impl<'a> Checker<'a> {
    fn new(probe: &'a dyn LiveProbe) -> Self {
        Self {
            probe,
            missing: Vec::new(),
            unchecked: Vec::new(),
        }
    }

    fn cannot(&mut self, what: impl fmt::Display, e: &io::Error) {
        self.unchecked.push(format!("{what}: {e}"));
    }

    /// Is the directory there? `shown`: how it is named in `missing`.
    fn dir(&mut self, path: &Path, shown: &str) -> bool {
        match self.probe.is_dir(path) {
            Ok(true) => true,
            Ok(false) => {
                self.missing.push(Missing::Dir(shown.to_owned()));
                false
            }
            Err(e) => {
                self.cannot(format_args!("{shown}/"), &e);
                false
            }
        }
    }

    /// Every pin of `names` under `<base>/<dir>/` must hold a `kind`; a link, the recorded id
    /// (when there is one) and its program.
    fn pins(
        &mut self,
        base: &Path,
        dir: &'static str,
        kind: PinKind,
        names: &[String],
        ids: &BTreeMap<String, u32>,
    ) {
        for raw in names {
            let Ok(pin) = PinName::parse(raw) else {
                self.unchecked.push(format!("{dir}/{raw}: not a pin name"));
                continue;
            };
            let pin = pin.as_str().to_owned();
            let probed = self.probe.pin(&base.join(dir).join(&pin));
            match (kind, probed) {
                (PinKind::Link, Ok(Probe::Link { live, id })) => {
                    let recorded = ids.get(&pin).copied().unwrap_or(0);
                    if !live {
                        self.missing.push(Missing::Detached { dir, pin });
                    } else if recorded != 0 && id != 0 && id != recorded {
                        self.missing.push(Missing::Replaced {
                            dir,
                            pin,
                            found: id,
                            recorded,
                        });
                    }
                }
                (PinKind::Map, Ok(Probe::Map)) | (PinKind::Prog, Ok(Probe::Prog)) => {}
                (_, Ok(_)) => self.missing.push(Missing::WrongKind { dir, pin, kind }),
                (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => {
                    self.missing.push(Missing::Pin { dir, pin })
                }
                (_, Err(e)) => self.cannot(format_args!("{dir}/{pin}"), &e),
            }
        }
    }

    /// Every recorded link id must still exist in the kernel.
    fn link_ids(&mut self, ids: &BTreeMap<String, u32>) {
        let mut ids: Vec<u32> = ids.values().copied().filter(|&i| i != 0).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            match self.probe.link_exists(id) {
                Ok(true) => {}
                Ok(false) => self.missing.push(Missing::LinkId(id)),
                Err(e) => self.cannot(format_args!("link-id {id}"), &e),
            }
        }
    }

    fn finish(self, present: LiveState, lost: LiveState) -> Check {
        let state = if !self.missing.is_empty() {
            lost
        } else if !self.unchecked.is_empty() {
            LiveState::Unknown
        } else {
            present
        };
        Check {
            state,
            missing: self.missing,
            unchecked: self.unchecked,
        }
    }
}

/// One object the record calls loaded (its pins shown relative to its directory).
pub fn check_object(probe: &dyn LiveProbe, bpffs: &Path, o: &ObjectStatus) -> Check {
    let mut c = Checker::new(probe);
    let name = match ObjectName::parse(&o.name) {
        Ok(n) => n,
        Err(e) => {
            c.unchecked.push(format!("not an object name: {e}"));
            return c.finish(LiveState::Loaded, LiveState::Removed);
        }
    };
    let dir = bpffs.join(name.as_str());
    if c.dir(&dir, name.as_str()) {
        c.pins(&dir, "links", PinKind::Link, &o.links, &o.link_ids);
        c.pins(&dir, "maps", PinKind::Map, &o.maps, &BTreeMap::new());
        c.pins(&dir, "progs", PinKind::Prog, &o.programs, &BTreeMap::new());
    }
    c.pins(
        bpffs,
        SHARED_DIR,
        PinKind::Map,
        &o.shared_maps,
        &BTreeMap::new(),
    );
    c.link_ids(&o.link_ids);
    c.finish(LiveState::Loaded, LiveState::Removed)
}

/// The guard the record calls active: its links under `+guard/links/` (those the record names;
/// when it names none, whatever is there, and there must be one) and their ids.
pub fn check_guard(probe: &dyn LiveProbe, bpffs: &Path, g: &GuardStatus) -> Check {
    let mut c = Checker::new(probe);
    let links = bpffs.join(GUARD_LINKS);
    if c.dir(&links, GUARD_LINKS) {
        let names = if g.links.is_empty() {
            match probe.list(&links) {
                Ok(n) if n.is_empty() => {
                    c.missing.push(Missing::Pin {
                        dir: GUARD_LINKS,
                        pin: "*".into(),
                    });
                    n
                }
                Ok(n) => n,
                Err(e) => {
                    c.cannot(format_args!("{GUARD_LINKS}/"), &e);
                    Vec::new()
                }
            }
        } else {
            g.links.clone()
        };
        c.pins(bpffs, GUARD_LINKS, PinKind::Link, &names, &g.link_ids);
    }
    c.link_ids(&g.link_ids);
    c.finish(LiveState::Active, LiveState::Gone)
}

/// A switch file's value: `0` off, any other number on.
fn switch(text: &str) -> Option<bool> {
    text.trim().parse::<u64>().ok().map(|v| v != 0)
}

/// A field of /proc/self/mounts, with the kernel's octal escapes (`\040` for a space) undone.
fn unescape_mount_field(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// The first debugfs mount point in a mount table.
pub fn debugfs_mount(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|l| {
        let mut f = l.split(' ');
        let (_, at, fstype) = (f.next()?, f.next()?, f.next()?);
        (fstype == "debugfs").then(|| unescape_mount_field(at))
    })
}

/// `(value, why unknown)` of `kernel.ftrace_enabled`.
fn ftrace(probe: &dyn LiveProbe) -> (Option<bool>, Option<String>) {
    match probe.read_text(Path::new(FTRACE_ENABLED)) {
        Ok(t) => match switch(&t) {
            Some(v) => (Some(v), None),
            None => (None, Some(format!("{FTRACE_ENABLED}: {:?}", t.trim()))),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => (
            None,
            Some(format!("no {FTRACE_ENABLED} (kernel without ftrace)")),
        ),
        Err(e) => (None, Some(format!("{FTRACE_ENABLED}: {e}"))),
    }
}

/// `(value, why unknown, the debugfs mount)` of `<debugfs>/kprobes/enabled`. debugfs is never
/// mounted for this: not mounted, the value is unknown.
fn kprobes(probe: &dyn LiveProbe) -> (Option<bool>, Option<String>, Option<String>) {
    let mounts = match probe.read_text(Path::new(MOUNTS)) {
        Ok(m) => m,
        Err(e) => return (None, Some(format!("{MOUNTS}: {e}")), None),
    };
    let Some(debugfs) = debugfs_mount(&mounts) else {
        return (None, Some("debugfs not mounted".into()), None);
    };
    let path = debugfs.join(KPROBES_ENABLED);
    let shown = Some(debugfs.display().to_string());
    match probe.read_text(&path) {
        Ok(t) => match switch(&t) {
            Some(v) => (Some(v), None, shown),
            None => (
                None,
                Some(format!("{}: {:?}", path.display(), t.trim())),
                shown,
            ),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => (
            None,
            Some(format!("no {} (kernel without kprobes)", path.display())),
            shown,
        ),
        Err(e) => (None, Some(format!("{}: {e}", path.display())), shown),
    }
}

/// Everything the live status looks at, for a record. Never fails: what cannot be checked is
/// said so.
pub fn check(st: &Status, probe: &dyn LiveProbe) -> Live {
    let bpffs = Path::new(&st.bpffs);
    let mut objects: BTreeMap<String, Check> = BTreeMap::new();
    for o in &st.objects {
        if !matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded) {
            continue;
        }
        let c = check_object(probe, bpffs, o);
        // A name twice in a (forged) record: what either lost counts.
        match objects.get_mut(&o.name) {
            Some(prev) => {
                prev.missing.extend(c.missing);
                prev.unchecked.extend(c.unchecked);
                if !prev.missing.is_empty() {
                    prev.state = LiveState::Removed;
                } else if !prev.unchecked.is_empty() {
                    prev.state = LiveState::Unknown;
                }
            }
            None => {
                objects.insert(o.name.clone(), c);
            }
        }
    }
    let guard = st
        .guard
        .as_ref()
        .filter(|g| g.is_active())
        .map(|g| check_guard(probe, bpffs, g));
    let (ftrace_enabled, ftrace_unknown) = ftrace(probe);
    let (kprobes_enabled, kprobes_unknown, debugfs) = kprobes(probe);
    let checked = objects
        .values()
        .chain(&guard)
        .all(|c| c.unchecked.is_empty());
    Live {
        checked,
        objects,
        guard,
        ftrace_enabled,
        ftrace_unknown,
        kprobes_enabled,
        kprobes_unknown,
        debugfs,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use super::*;
    use crate::status::GuardState;

    /// The system as the live checks see it: pins, directories, link ids, text files; every
    /// path asked about is recorded. `denied`: every BPF call fails with EPERM (not root).
    #[derive(Default)]
    struct FakeLive {
        pins: BTreeMap<PathBuf, Probe>,
        dirs: BTreeSet<PathBuf>,
        links: BTreeSet<u32>,
        texts: BTreeMap<PathBuf, String>,
        denied: bool,
        asked: RefCell<Vec<PathBuf>>,
    }

    fn eperm() -> io::Error {
        io::Error::from_raw_os_error(1)
    }

    impl LiveProbe for FakeLive {
        fn pin(&self, path: &Path) -> io::Result<Probe> {
            self.asked.borrow_mut().push(path.to_owned());
            if self.denied {
                return Err(eperm());
            }
            self.pins
                .get(path)
                .copied()
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        }
        fn link_exists(&self, id: u32) -> io::Result<bool> {
            if self.denied {
                return Err(eperm());
            }
            Ok(self.links.contains(&id))
        }
        fn is_dir(&self, path: &Path) -> io::Result<bool> {
            self.asked.borrow_mut().push(path.to_owned());
            Ok(self.dirs.contains(path))
        }
        fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
            self.asked.borrow_mut().push(dir.to_owned());
            Ok(self
                .pins
                .keys()
                .filter(|p| p.parent() == Some(dir))
                .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
                .collect())
        }
        fn read_text(&self, path: &Path) -> io::Result<String> {
            self.texts
                .get(path)
                .cloned()
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        }
    }

    /// `counter` as `run` leaves it: a link (id 17), two maps, a shared map; the switches on.
    fn loaded() -> (FakeLive, Status) {
        let mut f = FakeLive::default();
        let link = |id| Probe::Link { live: true, id };
        f.dirs.insert("/bpf/counter".into());
        f.pins
            .insert("/bpf/counter/links/count_exec".into(), link(17));
        f.pins
            .insert("/bpf/counter/maps/exec_count".into(), Probe::Map);
        f.pins
            .insert("/bpf/counter/maps/last_pid".into(), Probe::Map);
        f.pins.insert("/bpf/+shared/events".into(), Probe::Map);
        f.links.insert(17);
        f.texts.insert(FTRACE_ENABLED.into(), "1\n".into());
        f.texts.insert(
            MOUNTS.into(),
            "proc /proc proc rw 0 0\ndebugfs /sys/kernel/de\\040bug debugfs rw 0 0\n".into(),
        );
        f.texts
            .insert("/sys/kernel/de bug/kprobes/enabled".into(), "1\n".into());
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::Loaded;
        o.links = vec!["count_exec".into()];
        o.link_ids = [("count_exec".to_string(), 17)].into();
        o.maps = vec!["exec_count".into(), "last_pid".into()];
        o.shared_maps = vec!["events".into()];
        let mut failed = ObjectStatus::new("rej", false);
        failed.links = vec!["never".into()];
        let mut st = Status::from_json("{\"version\":1,\"source\":\"cmdline\",\"disabled\":false,\"bpffs\":\"/bpf\",\"mounted_bpffs\":true,\"error\":null,\"objects\":[],\"duration_ms\":1.0}").unwrap();
        st.objects = vec![o, failed];
        (f, st)
    }

    fn missing(live: &Live, name: &str) -> Vec<String> {
        live.objects[name]
            .missing
            .iter()
            .map(|m| m.to_string())
            .collect()
    }

    #[test]
    fn everything_in_place_is_loaded_and_failed_objects_are_not_checked() {
        let (f, st) = loaded();
        let live = check(&st, &f);
        assert_eq!(
            live,
            Live {
                checked: true,
                objects: [(
                    "counter".to_string(),
                    Check {
                        state: LiveState::Loaded,
                        missing: vec![],
                        unchecked: vec![],
                    }
                )]
                .into(),
                guard: None,
                ftrace_enabled: Some(true),
                ftrace_unknown: None,
                kprobes_enabled: Some(true),
                kprobes_unknown: None,
                debugfs: Some("/sys/kernel/de bug".into()),
            }
        );
    }

    #[test]
    fn what_is_gone_makes_the_object_removed() {
        type Break = fn(&mut FakeLive);
        let cases: &[(&str, Break, &[&str])] = &[
            (
                "map pin removed",
                |f| {
                    f.pins.remove(Path::new("/bpf/counter/maps/exec_count"));
                },
                &["maps/exec_count"],
            ),
            (
                "link unpinned and freed",
                |f| {
                    f.pins.remove(Path::new("/bpf/counter/links/count_exec"));
                    f.links.remove(&17);
                },
                &["links/count_exec", "link-id 17"],
            ),
            (
                "directory removed",
                |f| {
                    f.dirs.remove(Path::new("/bpf/counter"));
                    f.links.remove(&17);
                },
                &["counter/", "link-id 17"],
            ),
            (
                "shared map removed",
                |f| {
                    f.pins.remove(Path::new("/bpf/+shared/events"));
                },
                &["+shared/events"],
            ),
            (
                "a map pinned where the link was",
                |f| {
                    f.pins
                        .insert("/bpf/counter/links/count_exec".into(), Probe::Map);
                },
                &["links/count_exec (not a link)"],
            ),
            (
                "a link where a map was",
                |f| {
                    let l = Probe::Link { live: true, id: 3 };
                    f.pins.insert("/bpf/counter/maps/last_pid".into(), l);
                },
                &["maps/last_pid (not a map)"],
            ),
            (
                "detached link",
                |f| {
                    let l = Probe::Link {
                        live: false,
                        id: 17,
                    };
                    f.pins.insert("/bpf/counter/links/count_exec".into(), l);
                },
                &["links/count_exec (detached)"],
            ),
            (
                "another link pinned in its place",
                |f| {
                    let l = Probe::Link { live: true, id: 23 };
                    f.pins.insert("/bpf/counter/links/count_exec".into(), l);
                    f.links.insert(23);
                },
                &["links/count_exec (link id 23, not 17)"],
            ),
            (
                "the recorded link id alone gone",
                |f| {
                    f.links.remove(&17);
                },
                &["link-id 17"],
            ),
        ];
        for (what, breaks, want) in cases {
            let (mut f, st) = loaded();
            breaks(&mut f);
            let live = check(&st, &f);
            assert_eq!(live.objects["counter"].state, LiveState::Removed, "{what}");
            assert_eq!(missing(&live, "counter"), *want, "{what}");
            assert!(live.checked, "{what}");
        }
    }

    #[test]
    fn not_root_is_unknown_not_removed() {
        let (mut f, st) = loaded();
        f.denied = true;
        let live = check(&st, &f);
        let c = &live.objects["counter"];
        assert_eq!(c.state, LiveState::Unknown);
        assert!(c.missing.is_empty());
        assert_eq!(
            c.unchecked[0],
            "links/count_exec: Operation not permitted (os error 1)"
        );
        assert_eq!(
            c.unchecked.last().unwrap(),
            "link-id 17: Operation not permitted (os error 1)"
        );
        assert!(!live.checked);
    }

    /// A record is hostile input: no name or pin name from it takes a probe outside the bpffs.
    #[test]
    fn a_forged_record_probes_nothing_outside_the_bpffs() {
        let (f, mut st) = loaded();
        for (name, links) in [
            ("../etc", vec!["passwd".to_string()]),
            ("..", vec![]),
            (
                "counter",
                vec!["../../etc/shadow".into(), "a/b".into(), "".into()],
            ),
        ] {
            let mut o = ObjectStatus::new(name, false);
            o.result = Outcome::AlreadyLoaded;
            o.links = links;
            o.maps = vec!["..".into()];
            o.shared_maps = vec!["../../x".into()];
            st.objects.push(o);
        }
        let live = check(&st, &f);
        for p in f.asked.borrow().iter() {
            assert!(
                p.starts_with("/bpf/counter/")
                    || p.starts_with("/bpf/+shared/")
                    || p == Path::new("/bpf/counter"),
                "{}",
                p.display()
            );
            assert!(
                !p.components().any(|c| c == std::path::Component::ParentDir),
                "{}",
                p.display()
            );
        }
        let etc = &live.objects["../etc"];
        assert_eq!(etc.state, LiveState::Unknown);
        assert_eq!(
            etc.unchecked,
            ["not an object name: name \"../etc\" has '.' at byte 0: only A-Z a-z 0-9 _ - are allowed"]
        );
        // `counter` twice: the forged copy's bad pin names are not checked, the real pins are.
        let c = &live.objects["counter"];
        assert_eq!(c.state, LiveState::Unknown);
        assert_eq!(
            c.unchecked,
            [
                "links/../../etc/shadow: not a pin name",
                "links/a/b: not a pin name",
                "links/: not a pin name",
                "maps/..: not a pin name",
                "+shared/../../x: not a pin name",
            ]
        );
        assert!(!live.checked);
    }

    #[test]
    fn the_guard_is_gone_when_its_links_or_ids_are() {
        let (mut f, mut st) = loaded();
        let link = |id| Probe::Link { live: true, id };
        f.dirs.insert("/bpf/+guard/links".into());
        f.pins
            .insert("/bpf/+guard/links/guard_unlink".into(), link(5));
        f.pins.insert("/bpf/+guard/links/guard_bpf".into(), link(6));
        f.links.extend([5, 6]);
        let mut g = GuardStatus::new(GuardState::Active, true);
        g.links = vec!["guard_unlink".into(), "guard_bpf".into()];
        g.link_ids = [
            ("guard_unlink".to_string(), 5),
            ("guard_bpf".to_string(), 6),
        ]
        .into();
        st.guard = Some(g.clone());
        let state = |f: &FakeLive, st: &Status| {
            let c = check(st, f).guard.unwrap();
            let m: Vec<String> = c.missing.iter().map(|m| m.to_string()).collect();
            (c.state, m)
        };
        assert_eq!(state(&f, &st), (LiveState::Active, vec![]));
        // A guard the record does not call active is not checked.
        st.guard.as_mut().unwrap().state = GuardState::Unavailable;
        assert_eq!(check(&st, &f).guard, None);
        st.guard = Some(g.clone());
        f.links.remove(&6);
        f.pins.remove(Path::new("/bpf/+guard/links/guard_bpf"));
        assert_eq!(
            state(&f, &st),
            (
                LiveState::Gone,
                vec!["+guard/links/guard_bpf".into(), "link-id 6".into()]
            )
        );
        f.dirs.remove(Path::new("/bpf/+guard/links"));
        f.links.remove(&5);
        assert_eq!(
            state(&f, &st),
            (
                LiveState::Gone,
                vec![
                    "+guard/links/".into(),
                    "link-id 5".into(),
                    "link-id 6".into()
                ]
            )
        );
        // An already-active record that names no link: whatever is there must be a live link.
        let mut bare = GuardStatus::new(GuardState::AlreadyActive, false);
        bare.links.clear();
        st.guard = Some(bare);
        f.dirs.insert("/bpf/+guard/links".into());
        f.pins.remove(Path::new("/bpf/+guard/links/guard_unlink"));
        assert_eq!(
            state(&f, &st),
            (LiveState::Gone, vec!["+guard/links/*".into()])
        );
        f.pins
            .insert("/bpf/+guard/links/guard_unlink".into(), link(5));
        assert_eq!(state(&f, &st), (LiveState::Active, vec![]));
    }

    #[test]
    fn switches_off_unknown_and_unmounted() {
        let (mut f, st) = loaded();
        f.texts.insert(FTRACE_ENABLED.into(), "0\n".into());
        f.texts
            .insert("/sys/kernel/de bug/kprobes/enabled".into(), "0\n".into());
        let l = check(&st, &f);
        assert_eq!(
            (l.ftrace_enabled, l.kprobes_enabled),
            (Some(false), Some(false))
        );
        // No debugfs mounted: unknown, and nothing is mounted to find out.
        f.texts
            .insert(MOUNTS.into(), "proc /proc proc rw 0 0\n".into());
        f.texts.remove(Path::new(FTRACE_ENABLED));
        let l = check(&st, &f);
        assert_eq!(l.kprobes_enabled, None);
        assert_eq!(l.kprobes_unknown.as_deref(), Some("debugfs not mounted"));
        assert_eq!(l.ftrace_enabled, None);
        assert_eq!(
            l.ftrace_unknown.as_deref(),
            Some("no /proc/sys/kernel/ftrace_enabled (kernel without ftrace)")
        );
        f.texts.insert(FTRACE_ENABLED.into(), "garbage\x1b".into());
        assert_eq!(
            check(&st, &f).ftrace_unknown.as_deref(),
            Some("/proc/sys/kernel/ftrace_enabled: \"garbage\\u{1b}\"")
        );
    }

    #[test]
    fn mount_table_fields_are_unescaped() {
        assert_eq!(
            debugfs_mount("none /a\\134b\\011c debugfs rw 0 0\n"),
            Some(PathBuf::from("/a\\b\tc"))
        );
        assert_eq!(debugfs_mount("tracefs /t tracefs rw 0 0\n"), None);
        assert_eq!(debugfs_mount("x"), None);
        assert_eq!(
            debugfs_mount("d /x\\777 debugfs rw\n"),
            Some(PathBuf::from("/x?"))
        );
    }
}
