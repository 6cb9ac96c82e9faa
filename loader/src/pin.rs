//! All-or-nothing pinning of one object: build `<bpffs>/+staging-<NAME>/`, pin everything into
//! it, mark it with the payload's sha256, and rename it to `<bpffs>/<NAME>` only when every pin
//! succeeded. On any failure the staging tree is removed and nothing named `<NAME>` appears.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use crate::load::LoadedObject;
use crate::name::{ObjectName, PinName, SHA256_MARKER_PREFIX};
use crate::sys::Sys;

pub const LINKS_DIR: &str = "links";
pub const MAPS_DIR: &str = "maps";
pub const PROGS_DIR: &str = "progs";

#[derive(Debug, thiserror::Error)]
pub enum PinError {
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
    #[error("pin {kind} {name}: {source}")]
    Pin {
        kind: &'static str,
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("pin {kind}: {first:?} and {second:?} both map to pin name {pin}")]
    Collision {
        kind: &'static str,
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

/// What was pinned, by pin name, relative to the object's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    pub links: Vec<String>,
    pub maps: Vec<String>,
    pub progs: Vec<String>,
}

/// Give each raw name its pin name, refusing two names that collide after sanitising.
pub fn pin_names<'a>(
    kind: &'static str,
    raws: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<(String, PinName)>, PinError> {
    let mut out: Vec<(String, PinName)> = Vec::new();
    for raw in raws {
        let pin = PinName::sanitize(raw).map_err(|source| PinError::Name {
            raw: raw.to_owned(),
            source,
        })?;
        if let Some((first, _)) = out.iter().find(|(_, p)| *p == pin) {
            return Err(PinError::Collision {
                kind,
                first: first.clone(),
                second: raw.to_owned(),
                pin,
            });
        }
        out.push((raw.to_owned(), pin));
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

/// Remove staging directories left by an earlier run that crashed; returns their names.
pub fn sweep_stale(sys: &dyn Sys, bpffs: &Path) -> Result<Vec<String>, PinError> {
    let mut removed = Vec::new();
    let names = sys.list(bpffs).map_err(|source| PinError::RemoveStale {
        path: bpffs.to_owned(),
        source,
    })?;
    for n in names
        .into_iter()
        .filter(|n| n.starts_with(crate::name::STAGING_PREFIX))
    {
        let path = bpffs.join(&n);
        sys.remove_tree(&path)
            .map_err(|source| PinError::RemoveStale { path, source })?;
        removed.push(n);
    }
    Ok(removed)
}

/// Pin `obj` as `<bpffs>/<NAME>`, all or nothing.
pub fn install(
    sys: &dyn Sys,
    bpffs: &Path,
    name: &ObjectName,
    sha256_hex: &str,
    obj: &mut dyn LoadedObject,
) -> Result<Pins, PinError> {
    let staging = bpffs.join(name.staging_dir());
    if sys.exists(&staging) {
        sys.remove_tree(&staging)
            .map_err(|source| PinError::RemoveStale {
                path: staging.clone(),
                source,
            })?;
    }
    let result = build(sys, &staging, sha256_hex, obj).and_then(|pins| {
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
    obj: &mut dyn LoadedObject,
) -> Result<Pins, PinError> {
    let mkdir = |path: PathBuf| {
        sys.mkdir(&path)
            .map_err(|source| PinError::Mkdir { path, source })
    };
    mkdir(staging.to_owned())?;
    for d in [LINKS_DIR, MAPS_DIR, PROGS_DIR] {
        mkdir(staging.join(d))?;
    }
    let pins = obj.pin_into(staging)?;
    mkdir(staging.join(marker_name(sha256_hex)))?;
    Ok(pins)
}

/// Remove the shared (pin-by-name) map pins a failed object created: those it pinned that were
/// not in the shared directory before it loaded (`before`). Returns the first error, if any.
pub fn remove_created_shared(
    sys: &dyn Sys,
    before: &[String],
    obj: &dyn LoadedObject,
) -> io::Result<()> {
    let mut first = Ok(());
    for p in obj.shared_pins() {
        let existed = p
            .file_name()
            .is_some_and(|n| before.iter().any(|b| *b == *n.to_string_lossy()));
        if !existed {
            if let Err(e) = sys.remove_tree(&p) {
                first = first.and(Err(e));
            }
        }
    }
    first
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::load::{LoadError, LoadReport};
    use crate::sys::fake::FakeSys;

    /// A loaded object that pins through the fake system.
    pub struct FakeObject<'a> {
        pub sys: &'a FakeSys,
        pub links: Vec<&'static str>,
        pub maps: Vec<&'static str>,
        pub progs: Vec<&'static str>,
        pub shared: Vec<PathBuf>,
        pub kept: std::rc::Rc<std::cell::Cell<bool>>,
    }

    impl<'a> FakeObject<'a> {
        pub fn new(sys: &'a FakeSys, links: Vec<&'static str>, maps: Vec<&'static str>) -> Self {
            Self {
                sys,
                links,
                maps,
                progs: vec![],
                shared: vec![],
                kept: Default::default(),
            }
        }
    }

    impl LoadedObject for FakeObject<'_> {
        fn attach(&mut self) -> Result<(), LoadError> {
            Ok(())
        }
        fn pin_into(&mut self, dir: &Path) -> Result<Pins, PinError> {
            let mut pins = Pins::default();
            for (kind, sub, raws, out) in [
                ("link", LINKS_DIR, &self.links, &mut pins.links),
                ("map", MAPS_DIR, &self.maps, &mut pins.maps),
                ("prog", PROGS_DIR, &self.progs, &mut pins.progs),
            ] {
                for (raw, pin) in pin_names(kind, raws.iter().copied())? {
                    self.sys
                        .pin(&dir.join(sub).join(pin.as_str()))
                        .map_err(|e| PinError::Pin {
                            kind,
                            name: raw.clone(),
                            source: e.into(),
                        })?;
                    out.push(pin.to_string());
                }
            }
            Ok(pins)
        }
        fn shared_pins(&self) -> Vec<PathBuf> {
            self.shared.clone()
        }
        fn report(&self) -> LoadReport {
            LoadReport {
                not_attached: self.progs.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }
        }
        fn keep(&mut self) {
            self.kept.set(true);
        }
    }

    fn bpffs(sys: &FakeSys) -> PathBuf {
        let p = PathBuf::from("/bpf");
        sys.dirs.borrow_mut().insert(p.clone());
        p
    }

    #[test]
    fn builds_in_staging_then_renames() {
        let sys = FakeSys::default();
        let root = bpffs(&sys);
        let name = ObjectName::parse("counter").unwrap();
        let mut obj = FakeObject::new(&sys, vec!["count_exec"], vec!["exec_count", "my.map"]);
        let pins = install(&sys, &root, &name, "ab", &mut obj).unwrap();
        assert_eq!(pins.maps, vec!["exec_count", "my_map"]);
        assert_eq!(
            *sys.ops.borrow(),
            vec![
                "mkdir /bpf/+staging-counter",
                "mkdir /bpf/+staging-counter/links",
                "mkdir /bpf/+staging-counter/maps",
                "mkdir /bpf/+staging-counter/progs",
                "pin /bpf/+staging-counter/links/count_exec",
                "pin /bpf/+staging-counter/maps/exec_count",
                "pin /bpf/+staging-counter/maps/my_map",
                "mkdir /bpf/+staging-counter/sha256-ab",
                "rename /bpf/+staging-counter /bpf/counter",
            ]
        );
        assert_eq!(existing(&sys, &root, &name, "ab").unwrap(), Existing::Same);
        assert_eq!(
            existing(&sys, &root, &name, "cd").unwrap(),
            Existing::Conflict(Some("ab".into()))
        );
        assert_eq!(
            existing(&sys, &root, &ObjectName::parse("x").unwrap(), "ab").unwrap(),
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
        let name = ObjectName::parse("counter").unwrap();
        let mut obj = FakeObject::new(&sys, vec!["l"], vec!["a", "b", "c"]);
        let e = install(&sys, &root, &name, "ab", &mut obj).unwrap_err();
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
    fn collisions_fail_the_object() {
        let sys = FakeSys::default();
        let root = bpffs(&sys);
        let mut obj = FakeObject::new(&sys, vec![], vec!["a.b", "a_b"]);
        let e = install(
            &sys,
            &root,
            &ObjectName::parse("o").unwrap(),
            "ab",
            &mut obj,
        )
        .unwrap_err();
        assert!(e.to_string().contains("both map to pin name a_b"), "{e}");
        assert!(sys.tree(&root).is_empty());
    }

    #[test]
    fn existing_target_is_never_replaced() {
        let sys = FakeSys::default();
        let root = bpffs(&sys);
        sys.dirs.borrow_mut().insert("/bpf/counter".into());
        sys.fail_on.borrow_mut().clear();
        let mut obj = FakeObject::new(&sys, vec!["l"], vec![]);
        let e = install(
            &sys,
            &root,
            &ObjectName::parse("counter").unwrap(),
            "ab",
            &mut obj,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("rename into place as /bpf/counter: File exists"),
            "{e}"
        );
        assert_eq!(sys.tree(&root), vec!["counter/"]);
    }

    #[test]
    fn stale_staging_is_swept() {
        let sys = FakeSys::default();
        let root = bpffs(&sys);
        sys.dirs.borrow_mut().insert("/bpf/+staging-old".into());
        sys.dirs
            .borrow_mut()
            .insert("/bpf/+staging-old/links".into());
        sys.dirs.borrow_mut().insert("/bpf/keep".into());
        assert_eq!(sweep_stale(&sys, &root).unwrap(), vec!["+staging-old"]);
        assert_eq!(sys.tree(&root), vec!["keep/"]);
    }
}
