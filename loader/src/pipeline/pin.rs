//! Pinning, policy and execution apart.
//!
//! Policy (pure): which of an object's links, maps and programs get pinned, under which name and
//! in which directory ([`plan`]). Execution: build `<bpffs>/+staging-<NAME>/`, pin through the
//! small [`Pinnable`] trait the kernel boundary implements, mark it with the payload's sha256,
//! and rename it to `<bpffs>/<NAME>` only when every pin succeeded ([`install`]). On any failure
//! the staging tree is removed and nothing named `<NAME>` appears. Preparing the bpffs itself
//! (mount, `+shared`, stale staging directories) lives here too.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::load::Probe;
use crate::elf::ElfInfo;
pub use crate::name::PinKind;
use crate::name::{ObjectName, PinName, SHA256_MARKER_PREFIX, SHARED_DIR, STAGING_PREFIX};
use crate::sys::{FsKind, Lock, Sys};

/// The names the pinning policy decides on.
pub trait PinNames {
    /// Raw (libbpf) names of this kind: attached programs for links, loaded but unattached
    /// programs for progs, the object's maps for maps (internal ones included: the policy drops
    /// them; maps pinned by name excluded where known).
    fn names(&self, kind: PinKind) -> Vec<String>;
}

/// What the kernel boundary offers for pinning: names, and pinning one of them.
pub trait Pinnable: PinNames {
    /// Pin the one named `raw` at `path`.
    fn pin(&mut self, kind: PinKind, raw: &str, path: &Path) -> io::Result<()>;
}

/// The names a loaded copy of an object has, from its ELF description alone.
struct Described<'a>(&'a ElfInfo);

impl PinNames for Described<'_> {
    fn names(&self, kind: PinKind) -> Vec<String> {
        let progs = |attached: bool| {
            self.0
                .programs
                .iter()
                .filter(|p| p.autoload && p.auto_attach == attached)
                .map(|p| p.name.clone())
                .collect()
        };
        match kind {
            PinKind::Link => progs(true),
            PinKind::Prog => progs(false),
            PinKind::Map => self.0.maps.clone(),
        }
    }
}

/// One way an object directory is not what its marker claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    Missing {
        kind: PinKind,
        pin: PinName,
    },
    WrongType {
        kind: PinKind,
        pin: PinName,
        found: Probe,
    },
    DeadLink {
        pin: PinName,
    },
    Unreadable {
        kind: PinKind,
        pin: PinName,
        errno: Option<i32>,
    },
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Missing { kind, pin } => write!(f, "{}/{pin} is missing", kind.dir()),
            Damage::WrongType { kind, pin, found } => {
                write!(
                    f,
                    "{}/{pin} is not a {} ({found:?})",
                    kind.dir(),
                    kind.label()
                )
            }
            Damage::DeadLink { pin } => write!(f, "links/{pin} has no program"),
            Damage::Unreadable { kind, pin, errno } => write!(
                f,
                "{}/{pin} cannot be opened ({})",
                kind.dir(),
                errno.map_or("?".into(), |e| io::Error::from_raw_os_error(e).to_string())
            ),
        }
    }
}

/// The damages of an object directory, as one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damages(pub Vec<Damage>);

impl std::fmt::Display for Damages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Is `<bpffs>/<NAME>`, whose marker matched, really that object, loaded? Every pin its ELF
/// description implies must be there and hold the right kind of BPF object (links with their
/// program); a map may instead be pinned by name in the shared directory. Returns the pins, or
/// every damage found.
pub fn check_loaded(
    sys: &dyn Sys,
    probe: &dyn Fn(&Path) -> io::Result<Probe>,
    bpffs: &Path,
    name: &ObjectName,
    info: &ElfInfo,
) -> Result<Pins, Damages> {
    let planned = plan(&Described(info)).map_err(|_| Damages(vec![]))?;
    let dir = bpffs.join(name.as_str());
    let mut pins = Pins::default();
    let mut damages = Vec::new();
    for p in planned {
        let path = dir.join(p.kind.dir()).join(p.pin.as_str());
        if !sys.exists(&path) {
            let shared = bpffs.join(SHARED_DIR).join(p.pin.as_str());
            let in_shared = || sys.exists(&shared) && matches!(probe(&shared), Ok(Probe::Map));
            if p.kind == PinKind::Map && in_shared() {
                continue;
            }
            damages.push(Damage::Missing {
                kind: p.kind,
                pin: p.pin,
            });
            continue;
        }
        let (kind, pin) = (p.kind, p.pin);
        match (kind, probe(&path)) {
            (PinKind::Link, Ok(Probe::Link { live: true, id })) => {
                pins.push(kind, &pin);
                if id != 0 {
                    pins.link_ids.insert(pin.to_string(), id);
                }
            }
            (PinKind::Map, Ok(Probe::Map)) | (PinKind::Prog, Ok(Probe::Prog)) => {
                pins.push(kind, &pin)
            }
            (PinKind::Link, Ok(Probe::Link { live: false, .. })) => {
                damages.push(Damage::DeadLink { pin })
            }
            (_, Ok(found)) => damages.push(Damage::WrongType { kind, pin, found }),
            (_, Err(e)) => damages.push(Damage::Unreadable {
                kind,
                pin,
                errno: e.raw_os_error(),
            }),
        }
    }
    if damages.is_empty() {
        Ok(pins)
    } else {
        Err(Damages(damages))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("pin {}: {first:?} and {second:?} both map to pin name {pin}", kind.label())]
    Collision {
        kind: PinKind,
        first: String,
        second: String,
        pin: PinName,
    },
    #[error("pin name {raw:?}: {source}")]
    Name {
        raw: String,
        #[source]
        source: crate::name::NameError,
    },
    #[error("remove stale {}: {source}", path.display())]
    RemoveStale {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("mkdir {}: {source}", path.display())]
    Mkdir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("pin {} {name}: {source}", kind.label())]
    Pin {
        kind: PinKind,
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("rename into place as {}: {source}", path.display())]
    Rename {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{error}; cleanup also failed: remove {}: {cleanup}", path.display())]
    Cleanup {
        error: Box<PinError>,
        path: PathBuf,
        cleanup: io::Error,
    },
}

/// Why the bpffs could not be prepared: every object fails with it.
#[derive(Debug, thiserror::Error)]
pub enum BpffsError {
    #[error("lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a {fstype} and not empty ({count} entries): refusing to mount over it", path.display())]
    NotEmpty {
        fstype: &'static str,
        path: PathBuf,
        count: usize,
    },
    #[error("mount {fstype} at {}: {source}", path.display())]
    Mount {
        fstype: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("list {}: {source}", path.display())]
    List {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("remove stale {}: {source}", path.display())]
    RemoveStale {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("mkdir {}: {source}", path.display())]
    Mkdir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// One pin the policy decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPin {
    pub kind: PinKind,
    /// The libbpf name.
    pub raw: String,
    pub pin: PinName,
}

/// What was pinned, by pin name, relative to the object's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    pub links: Vec<String>,
    pub maps: Vec<String>,
    pub progs: Vec<String>,
    /// The kernel's id of each link, by pin name, as far as the kernel said.
    pub link_ids: BTreeMap<String, u32>,
}

impl Pins {
    fn push(&mut self, kind: PinKind, pin: &PinName) {
        let list = match kind {
            PinKind::Link => &mut self.links,
            PinKind::Map => &mut self.maps,
            PinKind::Prog => &mut self.progs,
        };
        list.push(pin.to_string());
    }
}

/// Is this a map libbpf made for the object's sections (`.rodata`, `.data`, `.bss`, `.kconfig`,
/// `obj.rodata`, ...)? Those carry a '.' in their libbpf name and are never pinned: bpffs refuses
/// '.', and they are the object's internals.
fn is_internal_map(raw: &str) -> bool {
    raw.contains('.')
}

/// The pinning policy: every pin of `obj`, by kind, with its pin name. Two names of one kind that
/// map to the same pin name are an error of the object, never a silent overwrite.
pub fn plan(obj: &dyn PinNames) -> Result<Vec<PlannedPin>, PinError> {
    let mut out: Vec<PlannedPin> = Vec::new();
    for kind in PinKind::ALL {
        let start = out.len();
        for raw in obj.names(kind) {
            if kind == PinKind::Map && is_internal_map(&raw) {
                continue;
            }
            let pin = PinName::sanitize(&raw).map_err(|source| PinError::Name {
                raw: raw.clone(),
                source,
            })?;
            if let Some(first) = out[start..].iter().find(|p| p.pin == pin) {
                return Err(PinError::Collision {
                    kind,
                    first: first.raw.clone(),
                    second: raw,
                    pin,
                });
            }
            out.push(PlannedPin { kind, raw, pin });
        }
    }
    Ok(out)
}

/// What is already at `<bpffs>/<NAME>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    /// The same payload (sha256 marker matches).
    Same,
    /// Something else: another version, or a directory we did not make.
    Conflict(Option<String>),
}

pub fn marker_name(sha256_hex: &str) -> String {
    format!("{SHA256_MARKER_PREFIX}{sha256_hex}")
}

pub fn existing(
    sys: &dyn Sys,
    bpffs: &Path,
    name: &ObjectName,
    sha256_hex: &str,
) -> io::Result<Existing> {
    let dir = bpffs.join(name.as_str());
    if !sys.exists(&dir) {
        return Ok(Existing::Nothing);
    }
    let marker = sys
        .list(&dir)?
        .into_iter()
        .find(|n| n.starts_with(SHA256_MARKER_PREFIX));
    Ok(match marker {
        Some(m) if m == marker_name(sha256_hex) => Existing::Same,
        other => Existing::Conflict(other.map(|m| m[SHA256_MARKER_PREFIX.len()..].to_owned())),
    })
}

/// The bpffs is ready: mounted (by us or before us), locked for this run, `+shared` exists, no
/// stale staging.
pub struct Bpffs {
    pub mounted: bool,
    /// Staging directories an earlier, crashed run left, now removed.
    pub swept: Vec<String>,
    /// Held for the whole run: one run per bpffs at a time.
    _lock: Lock,
}

/// Make sure a filesystem of `kind` is at `path`; returns whether we mounted it. A directory
/// that is not that filesystem and holds anything is never mounted over (a typo like `/etc`
/// must not hide it).
pub fn ensure_mounted(sys: &dyn Sys, kind: FsKind, path: &Path) -> Result<bool, BpffsError> {
    let fstype = kind.fstype();
    let mount_err = |source| BpffsError::Mount {
        fstype,
        path: path.to_owned(),
        source,
    };
    if sys.is_mounted(kind, path).map_err(mount_err)? {
        return Ok(false);
    }
    let entries = sys.list(path).map_err(mount_err)?;
    if !entries.is_empty() {
        return Err(BpffsError::NotEmpty {
            fstype,
            path: path.to_owned(),
            count: entries.len(),
        });
    }
    sys.mount(kind, path).map_err(mount_err)?;
    Ok(true)
}

/// Lock (the mount point's parent, so that two runs cannot both mount), mount bpffs unless one is
/// there, remove stale staging directories, create `+shared`.
pub fn prepare_bpffs(sys: &dyn Sys, bpffs: &Path) -> Result<Bpffs, BpffsError> {
    // A one-part relative path (`--bpffs fsx`) has the empty path as its parent: that is ".".
    let parent = match bpffs.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => bpffs,
    };
    let lock = sys.lock(parent).map_err(|source| BpffsError::Lock {
        path: parent.to_owned(),
        source,
    })?;
    let mounted = ensure_mounted(sys, FsKind::Bpf, bpffs)?;
    let names = sys.list(bpffs).map_err(|source| BpffsError::List {
        path: bpffs.to_owned(),
        source,
    })?;
    let mut swept = Vec::new();
    for n in names.into_iter().filter(|n| n.starts_with(STAGING_PREFIX)) {
        let path = bpffs.join(&n);
        sys.remove_tree(&path)
            .map_err(|source| BpffsError::RemoveStale { path, source })?;
        swept.push(n);
    }
    let shared = bpffs.join(SHARED_DIR);
    if !sys.exists(&shared) {
        sys.mkdir(&shared).map_err(|source| BpffsError::Mkdir {
            path: shared,
            source,
        })?;
    }
    Ok(Bpffs {
        mounted,
        swept,
        _lock: lock,
    })
}

/// Pin `obj` as `<bpffs>/<NAME>`, all or nothing.
pub fn install(
    sys: &dyn Sys,
    bpffs: &Path,
    run_id: &str,
    name: &ObjectName,
    sha256_hex: &str,
    obj: &mut dyn Pinnable,
) -> Result<Pins, PinError> {
    let planned = plan(&*obj)?;
    let staging = bpffs.join(name.staging_dir(run_id));
    if sys.exists(&staging) {
        sys.remove_tree(&staging)
            .map_err(|source| PinError::RemoveStale {
                path: staging.clone(),
                source,
            })?;
    }
    let result = build(sys, &staging, sha256_hex, &planned, obj).and_then(|pins| {
        let target = bpffs.join(name.as_str());
        sys.rename_noreplace(&staging, &target)
            .map_err(|source| PinError::Rename {
                path: target,
                source,
            })?;
        Ok(pins)
    });
    result.map_err(|error| match sys.remove_tree(&staging) {
        Ok(()) => error,
        Err(cleanup) => PinError::Cleanup {
            error: Box::new(error),
            path: staging.clone(),
            cleanup,
        },
    })
}

fn build(
    sys: &dyn Sys,
    staging: &Path,
    sha256_hex: &str,
    planned: &[PlannedPin],
    obj: &mut dyn Pinnable,
) -> Result<Pins, PinError> {
    let mkdir = |path: PathBuf| {
        sys.mkdir(&path)
            .map_err(|source| PinError::Mkdir { path, source })
    };
    mkdir(staging.to_owned())?;
    for kind in PinKind::ALL {
        mkdir(staging.join(kind.dir()))?;
    }
    let mut pins = Pins::default();
    for p in planned {
        let path = staging.join(p.kind.dir()).join(p.pin.as_str());
        obj.pin(p.kind, &p.raw, &path)
            .map_err(|source| PinError::Pin {
                kind: p.kind,
                name: p.raw.clone(),
                source,
            })?;
        pins.push(p.kind, &p.pin);
    }
    mkdir(staging.join(marker_name(sha256_hex)))?;
    Ok(pins)
}

/// The kernel's ids of the links pinned under `<dir>/links/`, by pin name (for the status
/// record: `bpf-preload status` checks later that they still exist). A link the kernel does not
/// describe is left out: its pin is still checked, its id cannot be.
pub fn link_ids(
    probe: &dyn Fn(&Path) -> io::Result<Probe>,
    dir: &Path,
    links: &[String],
) -> BTreeMap<String, u32> {
    links
        .iter()
        .filter_map(|l| match probe(&dir.join(PinKind::Link.dir()).join(l)) {
            Ok(Probe::Link { id, .. }) if id != 0 => Some((l.clone(), id)),
            _ => None,
        })
        .collect()
}

/// Remove the shared (pin-by-name) map pins a failed object created: those it pinned that were
/// not in the shared directory before it loaded (`before`). Returns the first error, if any.
pub fn remove_created_shared(sys: &dyn Sys, before: &[String], pins: &[PathBuf]) -> io::Result<()> {
    let mut first = Ok(());
    for p in pins {
        let existed = p
            .file_name()
            .is_some_and(|n| before.iter().any(|b| *b == *n.to_string_lossy()));
        if !existed {
            if let Err(e) = sys.remove_tree(p) {
                first = first.and(Err(e));
            }
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeObject, FakeSys};

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
        use crate::elf::ProgramInfo;
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
                Probe::Link { live: true, id: 7 }
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
            }
        );
        // A detached link, a map where a program should be, a removed pin.
        sys.files
            .borrow_mut()
            .remove(Path::new("/bpf/o/maps/counts"));
        let probe_bad = |p: &Path| -> io::Result<Probe> {
            let p = p.to_string_lossy();
            Ok(if p.contains("/links/") {
                Probe::Link { live: false, id: 7 }
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
        let e =
            check_loaded(&sys, &probe_ok, Path::new("/bpf"), &name("forged"), &info).unwrap_err();
        assert_eq!(
            e.to_string(),
            "links/count is missing; maps/counts is missing; progs/pass is missing"
        );
    }
}
