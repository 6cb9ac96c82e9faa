//! Preparing the bpffs for a run: lock, mount unless one is there (never over a directory that
//! holds something), sweep stale staging directories, make `+shared`.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use crate::sys::{FsKind, Lock, Sys};
use bpf_preload_format::name::{SHARED_DIR, STAGING_PREFIX};

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
