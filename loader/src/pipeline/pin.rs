//! Pinning, policy and execution apart.
//!
//! Policy (pure): which of an object's links, maps and programs get pinned, under which name and
//! in which directory ([`plan`]). Execution: build `<bpffs>/+staging-<NAME>/`, pin through the
//! small [`Pinnable`] trait the kernel boundary implements, mark it with the payload's sha256,
//! and rename it to `<bpffs>/<NAME>` only when every pin succeeded ([`install`]). On any failure
//! the staging tree is removed and nothing named `<NAME>` appears. Preparing the bpffs itself
//! (mount, `+shared`, stale staging directories) lives here too.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use super::format::name::{ObjectName, PinName, SHA256_MARKER_PREFIX, SHARED_DIR, STAGING_PREFIX};
use crate::sys::{FsKind, Sys};

/// The three kinds of pins, each in its own subdirectory of the object's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    /// Attached programs: the link keeps them running.
    Link,
    /// The object's own maps (not the internal `.rodata`/`.data`/`.bss`/`.kconfig`, not the
    /// pin-by-name maps, which live in the shared directory).
    Map,
    /// Programs that loaded but are not attached.
    Prog,
}

impl PinKind {
    pub const ALL: [PinKind; 3] = [PinKind::Link, PinKind::Map, PinKind::Prog];

    pub fn dir(self) -> &'static str {
        match self {
            PinKind::Link => "links",
            PinKind::Map => "maps",
            PinKind::Prog => "progs",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PinKind::Link => "link",
            PinKind::Map => "map",
            PinKind::Prog => "prog",
        }
    }
}

/// What the kernel boundary offers for pinning: names, and pinning one of them.
pub trait Pinnable {
    /// Raw (libbpf) names of this kind: attached programs for links, loaded but unattached
    /// programs for progs, maps not pinned by name for maps.
    fn names(&self, kind: PinKind) -> Vec<String>;
    /// Pin the one named `raw` at `path`.
    fn pin(&mut self, kind: PinKind, raw: &str, path: &Path) -> io::Result<()>;
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
        source: super::format::name::NameError,
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
    #[error("mount bpffs at {}: {source}", path.display())]
    Mount {
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
pub fn plan(obj: &dyn Pinnable) -> Result<Vec<PlannedPin>, PinError> {
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

/// The bpffs is ready: mounted (by us or before us), `+shared` exists, no stale staging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpffs {
    pub mounted: bool,
    /// Staging directories an earlier, crashed run left, now removed.
    pub swept: Vec<String>,
}

/// Make sure a filesystem of `kind` is at `path`; returns whether we mounted it.
pub fn ensure_mounted(sys: &dyn Sys, kind: FsKind, path: &Path) -> io::Result<bool> {
    if sys.is_mounted(kind, path)? {
        return Ok(false);
    }
    sys.mount(kind, path)?;
    Ok(true)
}

/// Mount bpffs unless one is there, remove stale staging directories, create `+shared`.
pub fn prepare_bpffs(sys: &dyn Sys, bpffs: &Path) -> Result<Bpffs, BpffsError> {
    let mounted = ensure_mounted(sys, FsKind::Bpf, bpffs).map_err(|source| BpffsError::Mount {
        path: bpffs.to_owned(),
        source,
    })?;
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
    Ok(Bpffs { mounted, swept })
}

/// Pin `obj` as `<bpffs>/<NAME>`, all or nothing.
pub fn install(
    sys: &dyn Sys,
    bpffs: &Path,
    name: &ObjectName,
    sha256_hex: &str,
    obj: &mut dyn Pinnable,
) -> Result<Pins, PinError> {
    let planned = plan(obj)?;
    let staging = bpffs.join(name.staging_dir());
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
        let pins = install(&sys, &root, &name("counter"), "ab", &mut obj).unwrap();
        assert_eq!(pins.maps, vec!["exec_count", "last-pid"]);
        assert_eq!(
            *sys.ops.borrow(),
            vec![
                "mkdir /bpf/+staging-counter",
                "mkdir /bpf/+staging-counter/links",
                "mkdir /bpf/+staging-counter/maps",
                "mkdir /bpf/+staging-counter/progs",
                "pin /bpf/+staging-counter/links/count_exec",
                "pin /bpf/+staging-counter/maps/exec_count",
                "pin /bpf/+staging-counter/maps/last-pid",
                "mkdir /bpf/+staging-counter/sha256-ab",
                "rename /bpf/+staging-counter /bpf/counter",
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
            .insert("/bpf/+staging-counter/maps/b".into());
        let mut obj = FakeObject::new(&sys).links(&["l"]).maps(&["a", "b", "c"]);
        let e = install(&sys, &root, &name("counter"), "ab", &mut obj).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pin map b: No space left on device (os error 28)"
        );
        assert_eq!(
            sys.ops.borrow().last().unwrap(),
            "remove /bpf/+staging-counter"
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
        let e = install(&sys, &root, &name("o"), "ab", &mut obj).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pin link: \"x/y\" and \"x_y\" both map to pin name x_y"
        );
        let mut obj = FakeObject::new(&sys).maps(&["a-b", "a+b", "a_b"]);
        let e = install(&sys, &root, &name("o"), "ab", &mut obj).unwrap_err();
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
        let e = install(&sys, &root, &name("counter"), "ab", &mut obj).unwrap_err();
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
        assert_eq!(
            got,
            Bpffs {
                mounted: true,
                swept: vec![]
            }
        );
        for d in ["/bpf/+staging-old", "/bpf/+staging-old/links", "/bpf/keep"] {
            sys.dirs.borrow_mut().insert(d.into());
        }
        let got = prepare_bpffs(&sys, &root).unwrap();
        assert_eq!(
            got,
            Bpffs {
                mounted: false,
                swept: vec!["+staging-old".into()]
            }
        );
        assert_eq!(sys.tree(&root), vec!["+shared/", "keep/"]);
        assert_eq!(
            *sys.ops.borrow(),
            vec![
                "mount bpf /bpf",
                "mkdir /bpf/+shared",
                "remove /bpf/+staging-old"
            ]
        );
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
}
