//! The test doubles of the boundaries, in one place: [`FakeSys`] (the syscall boundary: an
//! in-memory tree of directories, files and pins, and the list of operations made), [`FakeKernel`]
//! (the kernel boundary, driven by a table of what loading each object does) and [`FakeObject`],
//! [`FakeKeyrings`] (the kernel keyrings) and [`FakeMeasure`] (the TPM and the measurement log).
#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::pipeline::load::{Kernel, LinkIds, LoadError, LoadFailed, LoadReport, Loaded};
use crate::pipeline::object::Probe;
use crate::pipeline::object::{PinNames, Pinnable};
use crate::sys::keyring::Keyrings;
use crate::sys::tpm::{DeviceError, LogError, MeasureIo, OpenTpmError};
use crate::sys::{FsKind, Prio, Sys};
use bpf_preload_format::name::PinKind;
use bpf_preload_format::verify::VerifiedObject;

/// The link id the fake kernel gives the link pinned at `path`: a number from the path alone.
pub fn fake_link_id(path: &Path) -> u32 {
    use std::os::unix::ffi::OsStrExt;
    100 + path
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|&b| u32::from(b))
        .sum::<u32>()
        % 900
}

/// What the fake's `stat_ids` says of every directory: inode number, `st_dev` (0:42).
pub const FAKE_ROOT_INO: u64 = 1;
pub const FAKE_DEV: u64 = 42;

/// The program id the fake kernel gives the link pinned at `path`.
pub fn fake_prog_id(path: &Path) -> u32 {
    fake_link_id(path) + 1000
}

/// What a replaced link pin's ids are off by (`FakeKernel::replaced`).
pub const REPLACED_ID: u32 = 5000;

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// A `RefCell` that threads may share: the kernel fake is used from the parallel load step
/// (`Kernel: Sync`), and it records into the system fake. Same `borrow`/`borrow_mut` as a
/// `RefCell`, so tests read alike; a poisoned lock (a test thread panicked) is still read.
#[derive(Debug, Default)]
pub struct Shared<T>(RwLock<T>);

impl<T> Shared<T> {
    pub fn borrow(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn borrow_mut(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Copy> Shared<T> {
    pub fn get(&self) -> T {
        *self.borrow()
    }
    pub fn set(&self, value: T) {
        *self.borrow_mut() = value;
    }
}

#[derive(Default)]
pub struct FakeSys {
    pub ops: Shared<Vec<String>>,
    pub dirs: Shared<BTreeSet<PathBuf>>,
    pub files: Shared<BTreeMap<PathBuf, Vec<u8>>>,
    pub mounted: Shared<Vec<(FsKind, PathBuf)>>,
    /// Paths whose creation fails (to inject errors).
    pub fail_on: Shared<BTreeSet<PathBuf>>,
    pub logs: Shared<Vec<(Prio, String)>>,
    /// How long reading an object takes (to see a step's time in the status).
    pub read_delay: Shared<std::time::Duration>,
}

impl FakeSys {
    fn record(&self, op: String) {
        self.ops.borrow_mut().push(op);
    }
    fn check(&self, path: &Path) -> io::Result<()> {
        if self.fail_on.borrow().contains(path) {
            return Err(io::Error::from_raw_os_error(
                rustix::io::Errno::NOSPC.raw_os_error(),
            ));
        }
        Ok(())
    }
    /// Create a pin (a file) as a loaded object would.
    pub fn pin(&self, path: &Path) -> io::Result<()> {
        self.check(path)?;
        if !self.dirs.borrow().contains(path.parent().unwrap()) {
            return Err(io::Error::from_raw_os_error(
                rustix::io::Errno::NOENT.raw_os_error(),
            ));
        }
        self.record(format!("pin {}", path.display()));
        self.files.borrow_mut().insert(path.to_owned(), Vec::new());
        Ok(())
    }
    /// What `read_bounded` (a `read` in `ops`) and `read_text` (kernel text, not in `ops`) do:
    /// the real one's contract on the in-memory tree: a directory is refused, a file over `max`
    /// is refused with the real message, a missing one is ENOENT; `fail_on` fails it (ENOSPC).
    fn read_file(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        std::thread::sleep(self.read_delay.get());
        self.check(path)?;
        if self.dirs.borrow().contains(path) {
            let why = "is a directory (refused)";
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        }
        let files = self.files.borrow();
        let bytes = files
            .get(path)
            .ok_or_else(|| errno(rustix::io::Errno::NOENT))?;
        if bytes.len() as u64 > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("is {} bytes, more than the {max} allowed", bytes.len()),
            ));
        }
        Ok(bytes.clone())
    }
    /// Everything below `root`, relative, sorted.
    pub fn tree(&self, root: &Path) -> Vec<String> {
        let dirs = self.dirs.borrow();
        let files = self.files.borrow();
        let mut out: Vec<String> = dirs
            .iter()
            .map(|d| format!("{}/", d.display()))
            .chain(files.keys().map(|f| f.display().to_string()))
            .filter_map(|p| {
                p.strip_prefix(&format!("{}/", root.display()))
                    .map(str::to_owned)
            })
            .filter(|p| !p.is_empty())
            .collect();
        out.sort();
        out
    }
}

impl Sys for FakeSys {
    fn lock(&self, dir: &Path) -> io::Result<crate::sys::Lock> {
        self.check(dir)?;
        self.record(format!("lock {}", dir.display()));
        Ok(crate::sys::Lock::none())
    }
    fn nonce(&self) -> String {
        "r1".into()
    }
    fn is_mounted(&self, kind: FsKind, path: &Path) -> io::Result<bool> {
        Ok(self
            .mounted
            .borrow()
            .iter()
            .any(|(k, p)| *k == kind && path.starts_with(p)))
    }
    fn mount(&self, kind: FsKind, path: &Path) -> io::Result<()> {
        self.check(path)?;
        self.record(format!(
            "mount {} {}",
            match kind {
                FsKind::Bpf => "bpf",
                FsKind::Trace => "tracefs",
                FsKind::Security => "securityfs",
                FsKind::Debug => "debugfs",
            },
            path.display()
        ));
        self.mounted.borrow_mut().push((kind, path.to_owned()));
        self.dirs.borrow_mut().insert(path.to_owned());
        Ok(())
    }
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        self.check(path)?;
        if self.exists(path) {
            return Err(io::Error::from_raw_os_error(
                rustix::io::Errno::EXIST.raw_os_error(),
            ));
        }
        self.record(format!("mkdir {}", path.display()));
        self.dirs.borrow_mut().insert(path.to_owned());
        Ok(())
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check(path)?;
        if self.files.borrow().contains_key(path) {
            return Err(errno(rustix::io::Errno::EXIST));
        }
        self.record(format!("mkdir -p {}", path.display()));
        let mut dirs = self.dirs.borrow_mut();
        for a in path.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            dirs.insert(a.to_owned());
        }
        Ok(())
    }
    fn write_replace(
        &self,
        path: &Path,
        bytes: &[u8],
        _mode: u32,
        _durability: crate::sys::Durability,
    ) -> io::Result<()> {
        self.check(path)?;
        let parent_exists = path
            .parent()
            .is_none_or(|d| d.as_os_str().is_empty() || self.dirs.borrow().contains(d));
        if !parent_exists {
            return Err(errno(rustix::io::Errno::NOENT));
        }
        self.record(format!("write {}", path.display()));
        self.files
            .borrow_mut()
            .insert(path.to_owned(), bytes.to_vec());
        Ok(())
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(to)?;
        if self.exists(to) {
            return Err(io::Error::from_raw_os_error(
                rustix::io::Errno::EXIST.raw_os_error(),
            ));
        }
        self.record(format!("rename {} {}", from.display(), to.display()));
        let moved = |p: &PathBuf| match p.strip_prefix(from) {
            Ok(rest) if rest.as_os_str().is_empty() => to.to_owned(),
            Ok(rest) => to.join(rest),
            Err(_) => p.clone(),
        };
        let dirs: Vec<PathBuf> = self
            .dirs
            .borrow()
            .iter()
            .filter(|d| d.starts_with(from))
            .cloned()
            .collect();
        for d in dirs {
            self.dirs.borrow_mut().remove(&d);
            self.dirs.borrow_mut().insert(moved(&d));
        }
        let files: Vec<PathBuf> = self
            .files
            .borrow()
            .keys()
            .filter(|f| f.starts_with(from))
            .cloned()
            .collect();
        for f in files {
            let v = self.files.borrow_mut().remove(&f).unwrap();
            self.files.borrow_mut().insert(moved(&f), v);
        }
        Ok(())
    }
    fn remove_tree(&self, path: &Path) -> io::Result<()> {
        self.record(format!("remove {}", path.display()));
        self.dirs.borrow_mut().retain(|d| !d.starts_with(path));
        self.files.borrow_mut().retain(|f, _| !f.starts_with(path));
        Ok(())
    }
    fn exists(&self, path: &Path) -> bool {
        self.dirs.borrow().contains(path) || self.files.borrow().contains_key(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = self
            .dirs
            .borrow()
            .iter()
            .cloned()
            .chain(self.files.borrow().keys().cloned())
            .filter(|p| p.parent() == Some(dir))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
    fn read_bounded(&self, path: &Path, max: u64) -> io::Result<Vec<u8>> {
        self.record(format!("read {}", path.display()));
        self.read_file(path, max)
    }
    fn read_text(&self, path: &Path) -> io::Result<String> {
        self.read_file(path, 1 << 16)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    fn stat_ids(&self, path: &Path) -> io::Result<(u64, u64)> {
        match self.dirs.borrow().contains(path) {
            true => Ok((FAKE_ROOT_INO, FAKE_DEV)),
            false => Err(errno(rustix::io::Errno::NOENT)),
        }
    }
    fn log(&self, prio: Prio, message: &str) {
        self.logs.borrow_mut().push((prio, message.to_owned()));
    }
}

/// What loading one object does in the fake kernel.
#[derive(Debug, Clone)]
pub enum FakeLoad {
    /// The verifier refuses it.
    Reject { errno: i32, verifier: &'static str },
    /// It loads with these programs and maps.
    Object(Spec),
}

/// The programs and maps of a fake object, by libbpf name.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Programs that attach.
    pub links: Vec<&'static str>,
    /// Maps (internal ones included, as libbpf lists them).
    pub maps: Vec<&'static str>,
    /// Programs that load but have no attach function.
    pub progs: Vec<&'static str>,
    /// Pin-by-name maps: pinned in the shared directory at load, unless already there.
    pub shared: Vec<&'static str>,
    /// Attaching fails with this errno.
    pub attach_errno: Option<i32>,
}

/// The kernel boundary's fake: a table from object name to what loading it does; names not in
/// the table load as `Spec { links: ["prog_a"], maps: ["map_a"] }`.
pub struct FakeKernel<'a> {
    sys: &'a FakeSys,
    table: BTreeMap<String, FakeLoad>,
    /// Names handed to `load`, in the order the loads began.
    pub loaded: Shared<Vec<String>>,
    /// Link pins whose program is gone.
    pub dead: Shared<BTreeSet<PathBuf>>,
    /// Link pins that hold another link than the one pinned there (someone replaced it).
    pub replaced: Shared<BTreeSet<PathBuf>>,
    /// Names whose load finished, in the order they finished (`load_delays` reorders them).
    pub finished: Shared<Vec<String>>,
    /// How long loading an object takes, by name (to make loads finish out of list order).
    pub load_delays: BTreeMap<String, std::time::Duration>,
}

impl<'a> FakeKernel<'a> {
    pub fn new(sys: &'a FakeSys) -> Self {
        Self {
            sys,
            table: BTreeMap::new(),
            loaded: Shared::default(),
            dead: Shared::default(),
            replaced: Shared::default(),
            finished: Shared::default(),
            load_delays: BTreeMap::new(),
        }
    }

    /// Loading `name` takes `delay`.
    pub fn slow(mut self, name: &str, delay: std::time::Duration) -> Self {
        self.load_delays.insert(name.to_owned(), delay);
        self
    }

    pub fn with(mut self, name: &str, load: FakeLoad) -> Self {
        self.table.insert(name.to_owned(), load);
        self
    }
}

impl Kernel for FakeKernel<'_> {
    /// A pin made through the fake system holds what its directory says; one listed in `dead`
    /// is a link without its program.
    fn probe(&self, path: &Path) -> io::Result<Probe> {
        if !self.sys.files.borrow().contains_key(path) {
            return Err(errno(rustix::io::Errno::NOENT));
        }
        if self.dead.borrow().contains(path) {
            return Ok(Probe::Link {
                live: false,
                id: fake_link_id(path),
                prog: 0,
            });
        }
        let dir = path
            .parent()
            .and_then(|d| d.file_name())
            .unwrap_or_default();
        let other = if self.replaced.borrow().contains(path) {
            REPLACED_ID
        } else {
            0
        };
        Ok(match dir.to_string_lossy().as_ref() {
            "links" => Probe::Link {
                live: true,
                id: fake_link_id(path) + other,
                prog: fake_prog_id(path) + other,
            },
            "maps" | "+shared" => Probe::Map,
            "progs" => Probe::Prog,
            _ => Probe::Other,
        })
    }

    /// Independent unless it pins maps by name in the shared directory.
    fn independent(&self, obj: &VerifiedObject) -> bool {
        !matches!(self.table.get(obj.name.as_str()),
            Some(FakeLoad::Object(spec)) if !spec.shared.is_empty())
    }

    fn load<'s>(
        &'s self,
        obj: &VerifiedObject,
        shared_dir: &Path,
    ) -> Result<Box<dyn Loaded + 's>, LoadFailed> {
        let name = obj.name.to_string();
        self.loaded.borrow_mut().push(name.clone());
        if let Some(delay) = self.load_delays.get(&name) {
            std::thread::sleep(*delay);
        }
        let loaded = self.load_now(obj, shared_dir);
        self.finished.borrow_mut().push(name);
        loaded
    }
}

impl FakeKernel<'_> {
    fn load_now<'s>(
        &'s self,
        obj: &VerifiedObject,
        shared_dir: &Path,
    ) -> Result<Box<dyn Loaded + 's>, LoadFailed> {
        let spec = match self.table.get(obj.name.as_str()) {
            Some(FakeLoad::Reject { errno, verifier }) => {
                return Err(LoadFailed {
                    error: LoadError::Load {
                        source: io::Error::from_raw_os_error(*errno),
                        verifier: Some((*verifier).to_owned()),
                    },
                    path: LoadReport::default().path,
                    path_reason: None,
                    kernel_signature: None,
                })
            }
            Some(FakeLoad::Object(spec)) => spec.clone(),
            None => Spec {
                links: vec!["prog_a"],
                maps: vec!["map_a"],
                ..Spec::default()
            },
        };
        let mut o = FakeObject::new(self.sys)
            .links(&spec.links)
            .maps(&spec.maps)
            .progs(&spec.progs);
        o.attach_errno = spec.attach_errno;
        o.dir = shared_dir.parent().map(|b| b.join(obj.name.as_str()));
        for m in &spec.shared {
            let path = shared_dir.join(m);
            self.sys.files.borrow_mut().entry(path.clone()).or_default();
            o.shared.push(path);
        }
        Ok(Box::new(o))
    }
}

/// A loaded object that pins through the fake system.
pub struct FakeObject<'a> {
    sys: &'a FakeSys,
    names: BTreeMap<&'static str, Vec<String>>,
    pub shared: Vec<PathBuf>,
    pub attach_errno: Option<i32>,
    pub kept: Arc<AtomicBool>,
    /// Where it is pinned in the end (`<bpffs>/<name>`): its links' fake ids are those of
    /// their pins there, as the kernel's are the same whether asked of a pin or a handle.
    pub dir: Option<PathBuf>,
}

impl<'a> FakeObject<'a> {
    pub fn new(sys: &'a FakeSys) -> Self {
        Self {
            sys,
            names: BTreeMap::new(),
            shared: vec![],
            attach_errno: None,
            kept: Arc::default(),
            dir: None,
        }
    }

    fn set(mut self, kind: PinKind, names: &[&str]) -> Self {
        self.names
            .insert(kind.dir(), names.iter().map(|s| s.to_string()).collect());
        self
    }

    pub fn links(self, names: &[&str]) -> Self {
        self.set(PinKind::Link, names)
    }

    pub fn maps(self, names: &[&str]) -> Self {
        self.set(PinKind::Map, names)
    }

    pub fn progs(self, names: &[&str]) -> Self {
        self.set(PinKind::Prog, names)
    }
}

impl PinNames for FakeObject<'_> {
    fn names(&self, kind: PinKind) -> Vec<String> {
        self.names.get(kind.dir()).cloned().unwrap_or_default()
    }
}

impl Pinnable for FakeObject<'_> {
    fn pin(&mut self, kind: PinKind, raw: &str, path: &Path) -> io::Result<()> {
        if !self.names(kind).iter().any(|n| n == raw) {
            return Err(errno(rustix::io::Errno::NOENT));
        }
        self.sys.pin(path)
    }
}

impl Loaded for FakeObject<'_> {
    fn attach(&mut self) -> Result<(), LoadError> {
        match (self.attach_errno, self.names(PinKind::Link).first()) {
            (Some(e), Some(prog)) => Err(LoadError::Attach {
                prog: prog.clone(),
                source: io::Error::from_raw_os_error(e),
            }),
            _ => Ok(()),
        }
    }

    fn report(&self) -> LoadReport {
        LoadReport {
            not_attached: self.names(PinKind::Prog),
            skipped: vec![],
            ..LoadReport::default()
        }
    }

    fn shared_pins(&self) -> Vec<PathBuf> {
        self.shared.clone()
    }

    fn link_ids(&self) -> LinkIds {
        let (mut ids, mut progs) = LinkIds::default();
        if let Some(dir) = &self.dir {
            for l in self.names(PinKind::Link) {
                let pin = dir.join(PinKind::Link.dir()).join(&l);
                ids.insert(l.clone(), fake_link_id(&pin));
                progs.insert(l, fake_prog_id(&pin));
            }
        }
        (ids, progs)
    }

    fn keep(&mut self) {
        self.kept.store(true, Ordering::Relaxed);
    }

    fn as_pinnable(&mut self) -> &mut dyn Pinnable {
        self
    }
}

/// A TPM that answers from a script (then success), and a log in memory.
#[derive(Default)]
pub struct FakeMeasure {
    pub no_device: bool,
    /// Response codes to answer, in order; success when empty.
    pub codes: RefCell<Vec<u32>>,
    pub io_error: bool,
    pub log_fault: Option<LogError>,
    pub commands: RefCell<Vec<Vec<u8>>>,
    pub log: RefCell<Vec<u8>>,
    pub ops: RefCell<Vec<&'static str>>,
    pub pauses: Cell<u32>,
}

impl MeasureIo for FakeMeasure {
    fn open_tpm(&self) -> Result<PathBuf, OpenTpmError> {
        if self.no_device {
            Err(OpenTpmError(vec![DeviceError {
                path: "/dev/tpm0".into(),
                source: std::sync::Arc::new(errno(rustix::io::Errno::NOENT)),
            }]))
        } else {
            Ok("/dev/tpmrm0".into())
        }
    }
    fn transact(&self, cmd: &[u8]) -> io::Result<Vec<u8>> {
        self.ops.borrow_mut().push("transact");
        if self.io_error {
            return Err(io::Error::from_raw_os_error(5));
        }
        self.commands.borrow_mut().push(cmd.to_vec());
        let mut codes = self.codes.borrow_mut();
        let rc = if codes.is_empty() { 0 } else { codes.remove(0) };
        let mut r = vec![0x80, 0x02, 0, 0, 0, 10];
        r.extend(rc.to_be_bytes());
        Ok(r)
    }
    fn pause(&self, _attempt: u32) {
        self.pauses.set(self.pauses.get() + 1);
    }
    fn log_begin(&self) -> Result<(), LogError> {
        self.ops.borrow_mut().push("log_begin");
        self.log_fault.clone().map_or(Ok(()), Err)
    }
    fn log_append(&self, record: &[u8]) -> Result<(), LogError> {
        self.ops.borrow_mut().push("log_append");
        self.log.borrow_mut().extend(record);
        Ok(())
    }
    fn log_cancel(&self) {
        self.ops.borrow_mut().push("log_cancel");
    }
    fn log_path(&self) -> PathBuf {
        "/run/log/systemd/tpm2-measure.log".into()
    }
    fn boot_id(&self) -> String {
        "0123456789abcdef0123456789abcdef".into()
    }
    fn timestamp_us(&self) -> u64 {
        42
    }
}

/// Kernel keyrings that record each call; the keyring made is serial 42.
#[derive(Default)]
pub struct FakeKeyrings {
    /// The kernel has no BPF signatures.
    pub unsupported: bool,
    pub log: RefCell<Vec<String>>,
}

impl Keyrings for FakeKeyrings {
    fn supported(&self) -> io::Result<()> {
        if self.unsupported {
            Err(io::Error::from_raw_os_error(
                rustix::io::Errno::TOOBIG.raw_os_error(),
            ))
        } else {
            Ok(())
        }
    }
    fn create(&self) -> io::Result<i32> {
        self.log.borrow_mut().push("create".into());
        Ok(42)
    }
    fn add(&self, keyring: i32, der: &[u8]) -> io::Result<i32> {
        self.log
            .borrow_mut()
            .push(format!("add {keyring} {}", der.len()));
        Ok(7)
    }
    fn restrict(&self, keyring: i32) -> io::Result<()> {
        self.log.borrow_mut().push(format!("restrict {keyring}"));
        Ok(())
    }
    fn keep(&self, keyring: i32) -> io::Result<()> {
        self.log.borrow_mut().push(format!("keep {keyring}"));
        Ok(())
    }
}
