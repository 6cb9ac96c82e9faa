//! The live status: what `bpf-preload status` finds at read time, beside the boot-time record
//! (which it never rewrites). The record is hostile input (root can edit it): where the kernel
//! or the guard holds the evidence, that evidence is used, and the result says which was.
//!
//! * The bpffs instance at the record's path: the inode of its `+shared` directory and its
//!   device now, against the instance the guard protects (`+guard/info`), else the one the
//!   record names (every bpffs root is inode 1 and anonymous devices are recycled; a
//!   directory's number no fresh bpffs can have). Each object's own directory inode too
//!   (`dir_ino`), so an object is told apart even after `+shared` was removed.
//! * For every object the record calls loaded or already-loaded: is `<bpffs>/<name>/` still
//!   there, is every recorded link, map, program and shared map still pinned and of its kind,
//!   does every recorded link id still exist, and does each link still run the program it ran
//!   at boot (the guard's frozen `prot_links`: link id → program id; else the record's
//!   `link_prog_ids`; else `not checked`).
//! * An active guard: its links, its info, and whether it is alive, asked directly: a
//!   `mkdir +guard/probe-<pid>` that only a live guard refuses, and counts as our refusal.
//! * Signed-only mode, derived live: the guard alive, enforcing the recorded keyring, which is
//!   still a keyring.
//! * The kernel switches that silently disarm preloaded programs: `kernel.ftrace_enabled` and
//!   debugfs's `kprobes/enabled`. Under lockdown (`integrity` and above: Secure Boot) the
//!   kernel refuses every open of that debugfs file and logs the attempt, so it is not opened:
//!   the lockdown mode is read first (securityfs), and the switch is reported unknown, with why.
//!
//! The decisions are pure: they ask the system only through the small [`LiveProbe`] trait,
//! implemented by `kernel::live` and by a fake in the tests. Object names are validated
//! ([`ObjectName`]) and pin names must already be pin names ([`PinName::parse`]) before either
//! is joined to a path, so a record naming `../etc` makes nothing outside the bpffs probed.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use bpf_preload_format::live::{
    dev_string, kernel_dev, Check, Evidence, Instance, InstanceCheck, InstanceState, Live,
    LiveState, Missing, Replacement, SignedOnlyCheck, SignedOnlyLive,
};

use super::guard::GUARD_DIR;
use super::object::Probe;
use bpf_preload_format::guard::{GuardInfo, REFUSALS};
use bpf_preload_format::lockdown::{Lockdown, LOCKDOWN_FILE};
use bpf_preload_format::name::{ObjectName, PinKind, PinName, SHARED_DIR};
use bpf_preload_format::status::{GuardStatus, ObjectStatus, Outcome, SignedOnlyState, Status};

/// Where the kernel says whether ftrace (and with it every BPF trampoline) is on.
pub const FTRACE_ENABLED: &str = "/proc/sys/kernel/ftrace_enabled";
/// Mount table of this process: where debugfs is, if anywhere.
pub const MOUNTS: &str = "/proc/self/mounts";
/// The guard's links, relative to the bpffs.
const GUARD_LINKS: &str = "+guard/links";
/// The guard's frozen map of protected links (link id → program id), relative to the bpffs.
pub const PROT_LINKS: &str = "+guard/prot_links";
/// The kprobes switch, relative to a debugfs mount.
pub const KPROBES_ENABLED: &str = "kprobes/enabled";
/// securityfs, where the kernel shows its lockdown mode (`lockdown`). Not mounted by `status`.
pub const SECURITYFS: &str = "/sys/kernel/security";
/// How often the guard is asked again when another refusal came between ours and its count.
const PROBE_TRIES: usize = 3;
/// EPERM: what the guard answers.
const EPERM: i32 = 1;

/// What the live checks ask of the system.
pub trait LiveProbe {
    /// What the BPF object pinned at `path` is (BPF_OBJ_GET); `NotFound` when nothing is there.
    fn pin(&self, path: &Path) -> io::Result<Probe>;
    /// The program id behind the link with this id (BPF_LINK_GET_FD_BY_ID): `None` when the
    /// kernel has no such link, `Some(0)` when it lost its program.
    fn link_prog(&self, id: u32) -> io::Result<Option<u32>>;
    /// Is there a directory at `path` (not following a final symlink)? `Ok(false)`: nothing, or
    /// not a directory.
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    /// Names in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// A small kernel text file (a sysctl, a debugfs switch, the mount table), bounded.
    fn read_text(&self, path: &Path) -> io::Result<String>;
    /// The filesystem instance at `path`: its root's inode number and the kernel's dev_t.
    fn instance(&self, path: &Path) -> io::Result<Instance>;
    /// `<bpffs>/+guard/info`, read through a read-only descriptor; `NotFound` when not pinned.
    fn guard_info(&self, bpffs: &Path) -> io::Result<GuardInfo>;
    /// `<bpffs>/+guard/prot_links` (link id → program id), read through a read-only
    /// descriptor; `NotFound` when not pinned.
    fn prot_links(&self, bpffs: &Path) -> io::Result<BTreeMap<u32, u32>>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// This process's id (the tgid the guard records as the refused process).
    fn pid(&self) -> u32;
    /// The type of the key with this serial (KEYCTL_DESCRIBE): `keyring`, `asymmetric`, ….
    fn key_type(&self, serial: i32) -> io::Result<String>;
}

/// Collects what one object (or the guard) lost and what could not be looked at.
struct Checker<'a> {
    probe: &'a dyn LiveProbe,
    /// The guard's `prot_links`, when it could be read: the program id of each protected link.
    prot: Option<&'a BTreeMap<u32, u32>>,
    missing: Vec<Missing>,
    replaced: Vec<Replacement>,
    unchecked: Vec<String>,
    /// The weakest evidence a link's program was compared with.
    programs: Option<Evidence>,
    /// Link ids whose program was compared.
    seen: BTreeSet<u32>,
    /// The object's directory is not the one the boot made (another inode number).
    moved_dir: bool,
    /// The object's directory was compared with the boot's: its own identity is known.
    dir_known: bool,
}

impl<'a> Checker<'a> {
    fn new(probe: &'a dyn LiveProbe, prot: Option<&'a BTreeMap<u32, u32>>) -> Self {
        Self {
            probe,
            prot,
            missing: Vec::new(),
            replaced: Vec::new(),
            unchecked: Vec::new(),
            programs: None,
            seen: BTreeSet::new(),
            moved_dir: false,
            dir_known: false,
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

    /// The link `link_id` (shown as `what`) runs program `found`: the same as the guard
    /// recorded for it, else as the record says (`recorded`)?
    fn program(&mut self, what: String, link_id: u32, recorded: Option<u32>, found: u32) {
        if link_id != 0 {
            self.seen.insert(link_id);
        }
        let guard = self.prot.and_then(|p| p.get(&link_id)).copied();
        let expected = match (guard, recorded.filter(|&p| p != 0)) {
            (Some(p), _) => Some((p, Evidence::Guard)),
            (None, Some(p)) => Some((p, Evidence::Record)),
            (None, None) => None,
        };
        let evidence = expected.map_or(Evidence::None, |(_, e)| e);
        self.programs = Some(self.programs.map_or(evidence, |e| e.min(evidence)));
        match expected {
            Some((p, _)) if p != found => self.replaced.push(Replacement {
                what,
                recorded: p,
                found,
            }),
            Some(_) => {}
            None => self.unchecked.push(format!(
                "{what}: program not checked (no program id recorded)"
            )),
        }
    }

    /// Every pin of `names` under `<base>/<dir>/` must hold a `kind`; a link, the recorded id
    /// (when there is one) and its program.
    #[allow(clippy::too_many_arguments)]
    fn pins(
        &mut self,
        base: &Path,
        dir: &'static str,
        kind: PinKind,
        names: &[String],
        ids: &BTreeMap<String, u32>,
        progs: &BTreeMap<String, u32>,
    ) {
        for raw in names {
            let Ok(pin) = PinName::parse(raw) else {
                self.unchecked.push(format!("{dir}/{raw}: not a pin name"));
                continue;
            };
            let pin = pin.as_str().to_owned();
            let probed = self.probe.pin(&base.join(dir).join(&pin));
            match (kind, probed) {
                (PinKind::Link, Ok(Probe::Link { live, id, prog })) => {
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
                    } else {
                        let what = format!("{dir}/{pin}");
                        self.program(what, id, progs.get(&pin).copied(), prog);
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

    /// One link id the record or the guard names: it must exist, with its program.
    fn link_id(&mut self, id: u32, recorded_prog: Option<u32>) {
        // Its program was compared already (through its pin).
        let compared = !self.seen.insert(id);
        match self.probe.link_prog(id) {
            Ok(None) => self.missing.push(Missing::LinkId(id)),
            Ok(Some(0)) => self.missing.push(Missing::LinkDetached(id)),
            Ok(Some(prog)) if !compared => {
                self.program(format!("link-id {id}"), id, recorded_prog, prog)
            }
            Ok(Some(_)) => {}
            Err(e) => self.cannot(format_args!("link-id {id}"), &e),
        }
    }

    /// Every recorded link id must still exist in the kernel, and run its program.
    fn link_ids(&mut self, ids: &BTreeMap<String, u32>, progs: &BTreeMap<String, u32>) {
        let mut by_id: BTreeMap<u32, Option<u32>> = BTreeMap::new();
        for (pin, &id) in ids.iter().filter(|(_, &i)| i != 0) {
            by_id.entry(id).or_insert_with(|| progs.get(pin).copied());
        }
        for (id, prog) in by_id {
            self.link_id(id, prog);
        }
    }

    /// The object's check; `moved`: its pins are in another bpffs instance than the boot's.
    fn finish(self, moved: bool) -> Check {
        let state = if !self.replaced.is_empty() {
            LiveState::Replaced
        } else if !self.missing.is_empty() {
            LiveState::Removed
        } else if moved || self.moved_dir {
            LiveState::Moved
        } else if !self.unchecked.is_empty() {
            LiveState::Unknown
        } else {
            LiveState::Loaded
        };
        Check {
            state,
            reason: None,
            missing: self.missing,
            replaced: self.replaced,
            unchecked: self.unchecked,
            programs: self.programs,
            evidence: Vec::new(),
        }
    }
}

/// One object the record calls loaded (its pins shown relative to its directory).
fn check_object<'a>(
    probe: &'a dyn LiveProbe,
    prot: Option<&'a BTreeMap<u32, u32>>,
    bpffs: &Path,
    o: &ObjectStatus,
) -> Checker<'a> {
    let mut c = Checker::new(probe, prot);
    let name = match ObjectName::parse(&o.name) {
        Ok(n) => n,
        Err(e) => {
            c.unchecked.push(format!("not an object name: {e}"));
            return c;
        }
    };
    let none = BTreeMap::new();
    let dir = bpffs.join(name.as_str());
    if c.dir(&dir, name.as_str()) {
        // The directory the boot made, or one of the same name in another bpffs?
        if let Some(want) = o.dir_ino {
            match probe.instance(&dir) {
                Ok(found) => {
                    c.dir_known = true;
                    c.moved_dir = found.ino != want;
                }
                Err(e) => c.cannot(format!("stat {}/", name.as_str()), &e),
            }
        }
        c.pins(
            &dir,
            "links",
            PinKind::Link,
            &o.links,
            &o.link_ids,
            &o.link_prog_ids,
        );
        c.pins(&dir, "maps", PinKind::Map, &o.maps, &none, &none);
        c.pins(&dir, "progs", PinKind::Prog, &o.programs, &none, &none);
    }
    c.pins(
        bpffs,
        SHARED_DIR,
        PinKind::Map,
        &o.shared_maps,
        &none,
        &none,
    );
    c.link_ids(&o.link_ids, &o.link_prog_ids);
    c
}

/// The instance at `bpffs` now, against the guard's (`info`) or else the record's.
fn check_instance(
    probe: &dyn LiveProbe,
    bpffs: &Path,
    st: &Status,
    info: Option<&GuardInfo>,
) -> InstanceCheck {
    let expected = match (info.and_then(|i| i.instance), st.bpffs_instance) {
        (Some(i), _) => Some((i, Evidence::Guard)),
        (None, Some(i)) => Some((i, Evidence::Record)),
        (None, None) => None,
    };
    let evidence = expected.map_or(Evidence::None, |(_, e)| e);
    let expected_i = expected.map(|(i, _)| i);
    let Some(want) = expected_i else {
        return InstanceCheck {
            state: InstanceState::Unknown,
            found: None,
            expected: None,
            evidence,
            unchecked: Some("no instance recorded (an older record, and no guard info)".into()),
        };
    };
    // The instance is told by its `+shared` directory (every bpffs root is inode 1).
    let shared = bpffs.join(SHARED_DIR);
    match probe.instance(&shared) {
        // Removed (only possible without the guard), or another bpffs: cannot be told here;
        // each object's own directory still can.
        Err(e) if e.kind() == io::ErrorKind::NotFound => InstanceCheck {
            state: InstanceState::Unknown,
            found: None,
            expected: Some(want),
            evidence,
            unchecked: Some(format!(
                "no {}: the instance cannot be told by it",
                shared.display()
            )),
        },
        Err(e) => InstanceCheck {
            state: InstanceState::Unknown,
            found: None,
            expected: Some(want),
            evidence,
            unchecked: Some(format!("stat {}: {e}", shared.display())),
        },
        Ok(found) => InstanceCheck {
            state: if found == want {
                InstanceState::Same
            } else {
                InstanceState::Moved
            },
            found: Some(found),
            expected: Some(want),
            evidence,
            unchecked: None,
        },
    }
}

/// What asking the guard found.
enum Answer {
    /// It refused the probe and counted the refusal as ours.
    Alive(String),
    /// Nothing refused the probe.
    LetThrough(String),
    /// Refused, but the guard's info does not show it.
    Unconfirmed(String),
    /// The probe could not be made (not root: the permission check comes before the guard).
    Unasked(String),
}

/// What a live guard counts the probe as: a write in a protected directory (the guard's
/// inode_permission program), or a mkdir (guards of earlier releases, with a hook per directory
/// operation, still running until the next boot).
const PROBE_REFUSALS: [&str; 2] = ["dir-write", "mkdir"];

/// Ask the guard: `mkdir <bpffs>/+guard/probe-<pid>` is refused (EPERM) by a live guard, and
/// its info then counts one more refusal of a [`PROBE_REFUSALS`] kind, by this process.
fn ask_guard(probe: &dyn LiveProbe, bpffs: &Path) -> Answer {
    let pid = probe.pid();
    let shown = format!("{GUARD_DIR}/probe-{pid}");
    let path = bpffs.join(GUARD_DIR).join(format!("probe-{pid}"));
    let mut last = String::new();
    for _ in 0..PROBE_TRIES {
        let before = match probe.guard_info(bpffs) {
            Ok(i) => i,
            Err(e) => return Answer::Unasked(format!("{GUARD_DIR}/info: {e}")),
        };
        match probe.mkdir(&path) {
            Ok(()) => {
                let mut why = format!("mkdir {shown} was not refused");
                if let Err(e) = probe.rmdir(&path) {
                    why.push_str(&format!("; remove it again: {e}"));
                }
                return Answer::LetThrough(why);
            }
            Err(e) if e.raw_os_error() == Some(EPERM) => {}
            Err(e) => return Answer::Unasked(format!("probe mkdir {shown}: {e}")),
        }
        let after = match probe.guard_info(bpffs) {
            Ok(i) => i,
            Err(e) => return Answer::Unasked(format!("{GUARD_DIR}/info: {e}")),
        };
        let what = REFUSALS
            .get(after.last_what as usize)
            .copied()
            .unwrap_or("?");
        if after.refused > before.refused
            && after.last_pid == pid
            && PROBE_REFUSALS.iter().any(|r| after.last_was(r))
        {
            return Answer::Alive(format!(
                "mkdir {shown} refused, counted by the guard (refused {} -> {}, last {what} by pid {pid})",
                before.refused, after.refused
            ));
        }
        last = format!(
            "mkdir {shown} refused, but the guard did not count it: refused {} -> {}, last {what} by pid {}",
            before.refused, after.refused, after.last_pid
        );
    }
    Answer::Unconfirmed(last)
}

/// The guard's verdict beside its check: is it alive (answered the probe)?
struct GuardFound {
    check: Check,
    alive: bool,
}

/// The guard the record calls active: its links under `+guard/links/` (those the record names;
/// when it names none, whatever is there, and there must be one) and their ids and programs;
/// its info; the instance it protects; and whether it answers.
fn check_guard<'a>(
    probe: &'a dyn LiveProbe,
    prot: Option<&'a BTreeMap<u32, u32>>,
    bpffs: &Path,
    g: &GuardStatus,
) -> Checker<'a> {
    let mut c = Checker::new(probe, prot);
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
        c.pins(
            bpffs,
            GUARD_LINKS,
            PinKind::Link,
            &names,
            &g.link_ids,
            &g.link_prog_ids,
        );
    }
    c.link_ids(&g.link_ids, &g.link_prog_ids);
    c
}

/// The guard's state from what was found: lost links first, then another instance, then its
/// answer to the probe.
fn guard_verdict(
    mut c: Checker<'_>,
    bpffs: &Path,
    info: &io::Result<GuardInfo>,
    instance: &InstanceCheck,
) -> GuardFound {
    let probe = c.probe;
    match info {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => c.missing.push(Missing::Pin {
            dir: GUARD_DIR,
            pin: "info".into(),
        }),
        Err(e) => c.cannot(format_args!("{GUARD_DIR}/info"), e),
    }
    let mut reason = None;
    let mut evidence = Vec::new();
    let mut alive = false;
    let state = if !c.missing.is_empty() {
        LiveState::Gone
    } else if let (InstanceState::Moved, Some(found), Some(expected)) =
        (instance.state, instance.found, instance.expected)
    {
        reason = Some(match instance.evidence {
            Evidence::Guard => format!("instance {found}, guard protects {expected}"),
            _ => format!("instance {found}, the record's {expected}"),
        });
        LiveState::NotProtecting
    } else if info.is_err() {
        LiveState::Unknown
    } else {
        match ask_guard(probe, bpffs) {
            Answer::LetThrough(why) => {
                reason = Some(why);
                LiveState::Gone
            }
            Answer::Unasked(why) => {
                c.unchecked.push(why);
                LiveState::Unknown
            }
            Answer::Unconfirmed(why) => {
                reason = Some(why);
                if c.replaced.is_empty() {
                    LiveState::NotVerified
                } else {
                    LiveState::Replaced
                }
            }
            Answer::Alive(how) => {
                alive = true;
                evidence.push(how);
                if let (InstanceState::Same, Evidence::Guard, Some(i)) =
                    (instance.state, instance.evidence, instance.found)
                {
                    evidence.push(format!("protects this bpffs ({i})"));
                }
                if !c.replaced.is_empty() {
                    LiveState::Replaced
                } else if !c.unchecked.is_empty() {
                    LiveState::Unknown
                } else {
                    LiveState::Active
                }
            }
        }
    };
    GuardFound {
        check: Check {
            state,
            reason,
            missing: c.missing,
            replaced: c.replaced,
            unchecked: c.unchecked,
            programs: c.programs,
            evidence,
        },
        alive,
    }
}

/// Signed-only mode as it holds now: the guard alive, enforcing the recorded keyring, which is
/// still a keyring.
fn check_signed_only(
    probe: &dyn LiveProbe,
    st: &Status,
    guard: Option<&GuardFound>,
    info: Option<&GuardInfo>,
) -> Option<SignedOnlyCheck> {
    let so = st
        .signed_only
        .as_ref()
        .filter(|s| s.state == SignedOnlyState::Active)?;
    let (state, reason) = match guard {
        None => (
            SignedOnlyLive::NotVerified,
            Some("the record names no active guard to enforce it".to_string()),
        ),
        Some(g) if g.check.state == LiveState::Gone => (
            SignedOnlyLive::Gone,
            Some("the guard that enforced it is gone".into()),
        ),
        Some(g) if !g.alive => (
            SignedOnlyLive::NotVerified,
            Some(format!(
                "the guard did not answer: {}",
                g.check.state.as_str()
            )),
        ),
        // The guard's word on which keyring it trusts (it keeps that keyring from being freed,
        // so its serial cannot name another one), never the record's alone.
        Some(_) => match (info.and_then(|i| i.keyring), so.keyring) {
            (None, _) => (
                SignedOnlyLive::NotVerified,
                Some("the guard's info names no keyring (an older guard)".into()),
            ),
            (Some(0), _) => (
                SignedOnlyLive::Broken,
                Some("the guard enforces no keyring: signed-only mode is not armed".into()),
            ),
            (Some(g), Some(r)) if g != r => (
                SignedOnlyLive::Broken,
                Some(format!(
                    "the guard trusts keyring {g}, the record names {r}"
                )),
            ),
            (Some(serial), _) => match probe.key_type(serial) {
                Ok(t) if t == "keyring" => (SignedOnlyLive::Active, None),
                Ok(t) => (
                    SignedOnlyLive::Broken,
                    Some(format!("key {serial} is a {t:?} key, not a keyring")),
                ),
                Err(e) => (
                    SignedOnlyLive::Broken,
                    Some(format!("keyring {serial}: {e}")),
                ),
            },
        },
    };
    Some(SignedOnlyCheck { state, reason })
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

/// The kernel's lockdown mode, or `None` when it cannot be told (securityfs not mounted here, a
/// kernel without the lockdown LSM, an unknown word).
fn lockdown(probe: &dyn LiveProbe) -> Option<Lockdown> {
    let text = probe
        .read_text(&Path::new(SECURITYFS).join(LOCKDOWN_FILE))
        .ok()?;
    Lockdown::parse(&text)
}

/// `(value, why unknown, the debugfs mount)` of `<debugfs>/kprobes/enabled`. debugfs is never
/// mounted for this: not mounted, the value is unknown. Under lockdown it is not opened either
/// (the kernel refuses, and logs "Lockdown: …: debugfs access is restricted"); `guarded`: the
/// boot's guard recorded it refused and is alive now, which the reason then says.
fn kprobes(
    probe: &dyn LiveProbe,
    lockdown: Option<Lockdown>,
    guarded: bool,
) -> (Option<bool>, Option<String>, Option<String>) {
    let mounts = match probe.read_text(Path::new(MOUNTS)) {
        Ok(m) => m,
        Err(e) => return (None, Some(format!("{MOUNTS}: {e}")), None),
    };
    let Some(debugfs) = debugfs_mount(&mounts) else {
        return (None, Some("debugfs not mounted".into()), None);
    };
    let path = debugfs.join(KPROBES_ENABLED);
    let shown = Some(debugfs.display().to_string());
    if let Some(mode) = lockdown.filter(|l| l.closes_debugfs()) {
        let also = if guarded {
            "; the guard refuses opening it for writing too"
        } else {
            ""
        };
        return (
            None,
            Some(format!(
                "not readable under lockdown ({mode}): the kernel refuses every open of {}, a write included{also}",
                path.display()
            )),
            shown,
        );
    }
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
    let guard_rec = st.guard.as_ref().filter(|g| g.is_active());
    // The guard's evidence, read once (read-only descriptors).
    let info = guard_rec.map(|_| probe.guard_info(bpffs));
    let prot = guard_rec.map(|_| probe.prot_links(bpffs));
    let info_ok = info.as_ref().and_then(|i| i.as_ref().ok());
    let prot_ok = prot.as_ref().and_then(|p| p.as_ref().ok());
    let instance = check_instance(probe, bpffs, st, info_ok);
    let moved = instance.state == InstanceState::Moved;

    let mut checkers: Vec<(String, Checker<'_>)> = Vec::new();
    for o in &st.objects {
        if !matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded) {
            continue;
        }
        let mut c = check_object(probe, prot_ok, bpffs, o);
        // Why: on the instance's own line. (An object whose own directory was compared is
        // told apart whatever became of `+shared`.)
        if instance.state == InstanceState::Unknown && !c.dir_known {
            c.unchecked.push("bpffs instance not checked".into());
        }
        checkers.push((o.name.clone(), c));
    }
    let mut guard_checker = guard_rec.map(|g| check_guard(probe, prot_ok, bpffs, g));

    // Every link the guard protects must exist and run the program it recorded; a link not
    // checked above is counted to the object (or guard) whose record names its id.
    if let Some(prot) = prot_ok {
        for (&link, &prog) in prot {
            let owner = st
                .objects
                .iter()
                .filter(|o| matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded))
                .find(|o| o.link_ids.values().any(|&i| i == link))
                .map(|o| o.name.as_str());
            let c = match owner {
                Some(name) => checkers.iter_mut().find(|(n, _)| n == name).map(|(_, c)| c),
                None => guard_checker.as_mut(),
            };
            if let Some(c) = c.filter(|c| !c.seen.contains(&link)) {
                c.link_id(link, Some(prog));
            }
        }
    }

    let mut objects: BTreeMap<String, Check> = BTreeMap::new();
    for (name, c) in checkers {
        let c = c.finish(moved);
        // A name twice in a (forged) record: what either lost counts.
        match objects.get_mut(&name) {
            Some(prev) => {
                prev.missing.extend(c.missing);
                prev.replaced.extend(c.replaced);
                prev.unchecked.extend(c.unchecked);
                prev.programs = match (prev.programs, c.programs) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                prev.state = if !prev.replaced.is_empty() {
                    LiveState::Replaced
                } else if !prev.missing.is_empty() {
                    LiveState::Removed
                } else if moved {
                    LiveState::Moved
                } else if !prev.unchecked.is_empty() {
                    LiveState::Unknown
                } else {
                    prev.state
                };
            }
            None => {
                objects.insert(name, c);
            }
        }
    }
    let no_info = Err(io::ErrorKind::NotFound.into());
    let guard = guard_checker
        .map(|c| guard_verdict(c, bpffs, info.as_ref().unwrap_or(&no_info), &instance));
    let signed_only = check_signed_only(probe, st, guard.as_ref(), info_ok);
    let guard = guard.map(|g| g.check);
    let (ftrace_enabled, ftrace_unknown) = ftrace(probe);
    // The guard alive now, and its boot record says it refuses the kprobes switch.
    let kprobes_guarded = guard.as_ref().is_some_and(|c| c.state == LiveState::Active)
        && guard_rec.is_some_and(|g| {
            g.switches
                .iter()
                .any(|s| s == &format!("{KPROBES_ENABLED}:refused"))
        });
    let lockdown = lockdown(probe);
    let (kprobes_enabled, kprobes_unknown, debugfs) = kprobes(probe, lockdown, kprobes_guarded);
    let checked = instance.state != InstanceState::Unknown
        && objects
            .values()
            .chain(&guard)
            .all(|c| c.unchecked.is_empty() && c.state != LiveState::NotVerified)
        && signed_only
            .as_ref()
            .is_none_or(|s| s.state != SignedOnlyLive::NotVerified);
    Live {
        checked,
        instance,
        objects,
        guard,
        signed_only,
        ftrace_enabled,
        ftrace_unknown,
        kprobes_enabled,
        kprobes_unknown,
        debugfs,
        lockdown,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeSet;

    use super::*;
    use bpf_preload_format::status::{GuardState, SignedOnlyStatus};

    /// What answers a mkdir in `+guard/`.
    #[derive(Default, Clone, Copy, PartialEq)]
    enum Guarding {
        /// Nothing: the mkdir is made.
        #[default]
        Nobody,
        /// The guard: EPERM, and its info counts the refusal as this kind (`REFUSALS`).
        Alive(u32),
        /// Something else: EPERM, and the guard's info does not change.
        Silent,
    }

    /// The system as the live checks see it: pins, directories, link ids (→ program ids), text
    /// files, the instance, the guard's maps and its answer, keys; every path asked about is
    /// recorded, every mkdir/rmdir in `dirops`. `denied`: every BPF call fails with EPERM and
    /// mkdir with EACCES (not root).
    #[derive(Default)]
    struct FakeLive {
        pins: BTreeMap<PathBuf, Probe>,
        dirs: BTreeSet<PathBuf>,
        links: BTreeMap<u32, u32>,
        texts: BTreeMap<PathBuf, String>,
        denied: bool,
        asked: RefCell<Vec<PathBuf>>,
        /// Every kernel text file read, in order (debugfs must not be among them under lockdown).
        read: RefCell<Vec<PathBuf>>,
        instance: Option<Instance>,
        /// Inode numbers of particular directories (others: `instance`'s); `None`: not there.
        inos: BTreeMap<PathBuf, Option<u64>>,
        info: RefCell<Option<GuardInfo>>,
        prot: Option<BTreeMap<u32, u32>>,
        guarding: Guarding,
        /// Refusals of other processes that come between our mkdir and our read of the info.
        races: Cell<usize>,
        keys: BTreeMap<i32, String>,
        dirops: RefCell<Vec<String>>,
    }

    const PID: u32 = 4242;
    const BOOT: Instance = Instance { ino: 1, dev: 27 };

    fn eperm() -> io::Error {
        io::Error::from_raw_os_error(1)
    }

    fn guard_info() -> GuardInfo {
        GuardInfo {
            sealed: true,
            refused: 5,
            last: None,
            last_what: 0,
            last_pid: 0,
            mount: Some("recorded"),
            instance: Some(BOOT),
            keyring: Some(933),
        }
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
        fn link_prog(&self, id: u32) -> io::Result<Option<u32>> {
            if self.denied {
                return Err(eperm());
            }
            Ok(self.links.get(&id).copied())
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
            self.read.borrow_mut().push(path.to_owned());
            self.texts
                .get(path)
                .cloned()
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        }
        fn instance(&self, path: &Path) -> io::Result<Instance> {
            let i = self.instance.ok_or(io::ErrorKind::NotFound)?;
            match self.inos.get(path) {
                None => Ok(i),
                Some(Some(ino)) => Ok(Instance {
                    ino: *ino,
                    dev: i.dev,
                }),
                Some(None) => Err(io::ErrorKind::NotFound.into()),
            }
        }
        fn guard_info(&self, _: &Path) -> io::Result<GuardInfo> {
            self.info
                .borrow()
                .clone()
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        }
        fn prot_links(&self, _: &Path) -> io::Result<BTreeMap<u32, u32>> {
            self.prot
                .clone()
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        }
        fn mkdir(&self, path: &Path) -> io::Result<()> {
            self.dirops
                .borrow_mut()
                .push(format!("mkdir {}", path.display()));
            if self.denied {
                return Err(io::Error::from_raw_os_error(13));
            }
            match self.guarding {
                Guarding::Nobody => Ok(()),
                Guarding::Silent => Err(eperm()),
                Guarding::Alive(what) => {
                    let mut info = self.info.borrow_mut();
                    let i = info.as_mut().expect("a live guard has its info");
                    i.refused += 1;
                    (i.last_what, i.last_pid) = (what, PID);
                    if self.races.get() > 0 {
                        self.races.set(self.races.get() - 1);
                        i.refused += 1;
                        (i.last_what, i.last_pid) = (1, 77);
                    }
                    Err(eperm())
                }
            }
        }
        fn rmdir(&self, path: &Path) -> io::Result<()> {
            self.dirops
                .borrow_mut()
                .push(format!("rmdir {}", path.display()));
            Ok(())
        }
        fn pid(&self) -> u32 {
            PID
        }
        fn key_type(&self, serial: i32) -> io::Result<String> {
            self.keys
                .get(&serial)
                .cloned()
                .ok_or_else(|| io::Error::from_raw_os_error(126))
        }
    }

    fn link(id: u32, prog: u32) -> Probe {
        Probe::Link {
            live: true,
            id,
            prog,
        }
    }

    /// `counter` as `run` leaves it: a link (id 17, program 40), two maps, a shared map; the
    /// instance the boot pinned into; the switches on. No guard.
    fn loaded() -> (FakeLive, Status) {
        let mut f = FakeLive::default();
        f.dirs.insert("/bpf/counter".into());
        f.pins
            .insert("/bpf/counter/links/count_exec".into(), link(17, 40));
        f.pins
            .insert("/bpf/counter/maps/exec_count".into(), Probe::Map);
        f.pins
            .insert("/bpf/counter/maps/last_pid".into(), Probe::Map);
        f.pins.insert("/bpf/+shared/events".into(), Probe::Map);
        f.links.insert(17, 40);
        f.instance = Some(BOOT);
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
        o.link_prog_ids = [("count_exec".to_string(), 40)].into();
        o.maps = vec!["exec_count".into(), "last_pid".into()];
        o.shared_maps = vec!["events".into()];
        let mut failed = ObjectStatus::new("rej", false);
        failed.links = vec!["never".into()];
        let mut st = Status::from_json("{\"version\":1,\"source\":\"cmdline\",\"disabled\":false,\"bpffs\":\"/bpf\",\"mounted_bpffs\":true,\"error\":null,\"objects\":[],\"duration_ms\":1.0}").unwrap();
        st.objects = vec![o, failed];
        st.bpffs_instance = Some(BOOT);
        (f, st)
    }

    /// [`loaded`] with an active, alive guard (links 5 and 6, programs 7 and 8) protecting
    /// link 17, and signed-only mode with keyring 933.
    fn guarded() -> (FakeLive, Status) {
        let (mut f, mut st) = loaded();
        f.dirs.insert("/bpf/+guard/links".into());
        f.pins
            .insert("/bpf/+guard/links/guard_unlink".into(), link(5, 7));
        f.pins
            .insert("/bpf/+guard/links/guard_bpf".into(), link(6, 8));
        f.links.extend([(5, 7), (6, 8)]);
        f.prot = Some([(5, 7), (6, 8), (17, 40)].into());
        *f.info.borrow_mut() = Some(guard_info());
        f.guarding = Guarding::Alive(refusal("dir-write"));
        f.keys.insert(933, "keyring".into());
        let mut g = GuardStatus::new(GuardState::Active, true);
        g.links = vec!["guard_unlink".into(), "guard_bpf".into()];
        g.link_ids = [
            ("guard_unlink".to_string(), 5),
            ("guard_bpf".to_string(), 6),
        ]
        .into();
        g.link_prog_ids = [
            ("guard_unlink".to_string(), 7),
            ("guard_bpf".to_string(), 8),
        ]
        .into();
        g.signed_only = true;
        st.guard = Some(g);
        st.signed_only = Some(SignedOnlyStatus {
            state: SignedOnlyState::Active,
            keyring: Some(933),
            reason: None,
            required: false,
        });
        (f, st)
    }

    fn strings<T: ToString>(v: &[T]) -> Vec<String> {
        v.iter().map(T::to_string).collect()
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
                instance: InstanceCheck {
                    state: InstanceState::Same,
                    found: Some(BOOT),
                    expected: Some(BOOT),
                    evidence: Evidence::Record,
                    unchecked: None,
                },
                objects: [(
                    "counter".to_string(),
                    Check {
                        programs: Some(Evidence::Record),
                        ..Check::new(LiveState::Loaded)
                    }
                )]
                .into(),
                guard: None,
                signed_only: None,
                ftrace_enabled: Some(true),
                ftrace_unknown: None,
                kprobes_enabled: Some(true),
                kprobes_unknown: None,
                debugfs: Some("/sys/kernel/de bug".into()),
                lockdown: None,
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
                    let l = link(3, 9);
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
                        prog: 0,
                    };
                    f.pins.insert("/bpf/counter/links/count_exec".into(), l);
                },
                &["links/count_exec (detached)"],
            ),
            (
                "another link pinned in its place",
                |f| {
                    let l = link(23, 41);
                    f.pins.insert("/bpf/counter/links/count_exec".into(), l);
                    f.links.insert(23, 41);
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
            (
                "the recorded link id detached",
                |f| {
                    f.pins.remove(Path::new("/bpf/counter/links/count_exec"));
                    f.links.insert(17, 0);
                },
                &["links/count_exec", "link-id 17 (detached)"],
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
        let (mut f, mut st) = guarded();
        let g = st.guard.clone().unwrap();
        let state = |f: &FakeLive, st: &Status| {
            let c = check(st, f).guard.unwrap();
            (c.state, strings(&c.missing))
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
        f.prot = Some([(5, 7), (17, 40)].into());
        // The guard's prot_links names link 5: gone too.
        assert_eq!(
            state(&f, &st),
            (
                LiveState::Gone,
                vec!["+guard/links/*".into(), "link-id 5".into()]
            )
        );
        f.pins
            .insert("/bpf/+guard/links/guard_unlink".into(), link(5, 7));
        f.links.insert(5, 7);
        assert_eq!(state(&f, &st), (LiveState::Active, vec![]));
        // Its info unpinned: gone.
        *f.info.borrow_mut() = None;
        assert_eq!(
            state(&f, &st),
            (LiveState::Gone, vec!["+guard/info".into()])
        );
    }

    /// The guard is asked: it refuses `mkdir +guard/probe-<pid>` and counts it as ours.
    #[test]
    fn a_live_guard_answers_and_says_so() {
        let (f, st) = guarded();
        let live = check(&st, &f);
        assert_eq!(
            live.guard,
            Some(Check {
                programs: Some(Evidence::Guard),
                evidence: vec![
                    "mkdir +guard/probe-4242 refused, counted by the guard (refused 5 -> 6, last dir-write by pid 4242)".into(),
                    "protects this bpffs (ino 1 dev 0:27)".into(),
                ],
                ..Check::new(LiveState::Active)
            })
        );
        assert_eq!(*f.dirops.borrow(), ["mkdir /bpf/+guard/probe-4242"]);
        assert_eq!(live.instance.evidence, Evidence::Guard);
        assert_eq!(live.objects["counter"].programs, Some(Evidence::Guard));
        assert_eq!(
            live.signed_only,
            Some(SignedOnlyCheck {
                state: SignedOnlyLive::Active,
                reason: None
            })
        );
        assert!(live.checked);
    }

    /// A guard of an earlier release (one hook per directory operation), running until the next
    /// boot, counts the probe as a mkdir: alive all the same. Any other kind is not the probe.
    #[test]
    fn a_guard_that_counts_the_probe_as_a_mkdir_answers_too() {
        let (mut f, st) = guarded();
        f.guarding = Guarding::Alive(refusal("mkdir"));
        let c = check(&st, &f).guard.unwrap();
        assert_eq!(c.state, LiveState::Active);
        assert_eq!(
            c.evidence[0],
            "mkdir +guard/probe-4242 refused, counted by the guard (refused 5 -> 6, last mkdir by pid 4242)"
        );
        f.guarding = Guarding::Alive(refusal("create"));
        let c = check(&st, &f).guard.unwrap();
        assert_eq!(c.state, LiveState::NotVerified);
        assert_eq!(
            c.reason.as_deref(),
            Some("mkdir +guard/probe-4242 refused, but the guard did not count it: refused 8 -> 9, last create by pid 4242")
        );
    }

    /// The value of a refusal's name in `enum refusal`.
    fn refusal(name: &str) -> u32 {
        REFUSALS.iter().position(|r| *r == name).expect("a refusal") as u32
    }

    /// Another process's refusal between our mkdir and our read: asked again (3 times at most).
    #[test]
    fn a_raced_probe_is_asked_again() {
        let (f, st) = guarded();
        f.races.set(2);
        let c = check(&st, &f).guard.unwrap();
        assert_eq!(c.state, LiveState::Active);
        assert_eq!(
            c.evidence[0],
            "mkdir +guard/probe-4242 refused, counted by the guard (refused 9 -> 10, last dir-write by pid 4242)"
        );
        assert_eq!(f.dirops.borrow().len(), 3);
        f.races.set(3);
        let c = check(&st, &f).guard.unwrap();
        assert_eq!(c.state, LiveState::NotVerified);
        assert_eq!(
            c.reason.as_deref(),
            Some("mkdir +guard/probe-4242 refused, but the guard did not count it: refused 14 -> 16, last unlink by pid 77")
        );
    }

    #[test]
    fn a_dead_guard_lets_the_probe_through_and_it_is_removed_again() {
        let (mut f, st) = guarded();
        f.guarding = Guarding::Nobody;
        let live = check(&st, &f);
        let g = live.guard.unwrap();
        assert_eq!(g.state, LiveState::Gone);
        assert_eq!(
            g.reason.as_deref(),
            Some("mkdir +guard/probe-4242 was not refused")
        );
        assert_eq!(
            *f.dirops.borrow(),
            [
                "mkdir /bpf/+guard/probe-4242",
                "rmdir /bpf/+guard/probe-4242"
            ]
        );
        assert_eq!(
            live.signed_only,
            Some(SignedOnlyCheck {
                state: SignedOnlyLive::Gone,
                reason: Some("the guard that enforced it is gone".into())
            })
        );
    }

    /// EPERM from something that is not the guard (its count does not move): not verified.
    #[test]
    fn a_refusal_the_guard_did_not_count_is_not_verified() {
        let (mut f, st) = guarded();
        f.guarding = Guarding::Silent;
        let live = check(&st, &f);
        let g = live.guard.unwrap();
        assert_eq!(g.state, LiveState::NotVerified);
        assert_eq!(
            g.reason.as_deref(),
            Some("mkdir +guard/probe-4242 refused, but the guard did not count it: refused 5 -> 5, last - by pid 0")
        );
        assert_eq!(f.dirops.borrow().len(), PROBE_TRIES);
        assert_eq!(
            live.signed_only.unwrap(),
            SignedOnlyCheck {
                state: SignedOnlyLive::NotVerified,
                reason: Some("the guard did not answer: not-verified".into())
            }
        );
        assert!(!live.checked);
    }

    /// Not root: the permission check refuses the mkdir before any LSM: not checked.
    #[test]
    fn not_root_cannot_ask_the_guard() {
        let (mut f, st) = guarded();
        f.denied = true;
        let live = check(&st, &f);
        let g = live.guard.unwrap();
        assert_eq!(g.state, LiveState::Unknown);
        assert_eq!(
            g.unchecked.last().map(String::as_str),
            Some("probe mkdir +guard/probe-4242: Permission denied (os error 13)")
        );
        assert_eq!(live.signed_only.unwrap().state, SignedOnlyLive::NotVerified);
    }

    /// BPF_LINK_UPDATE gave the link another program: `replaced`, by the guard's word and by
    /// the record's.
    #[test]
    fn a_link_running_another_program_is_replaced() {
        let (mut f, st) = loaded();
        f.pins
            .insert("/bpf/counter/links/count_exec".into(), link(17, 41));
        f.links.insert(17, 41);
        let live = check(&st, &f);
        let c = &live.objects["counter"];
        assert_eq!(c.state, LiveState::Replaced);
        assert_eq!(strings(&c.replaced), ["links/count_exec prog-id 40 -> 41"]);
        assert_eq!(c.programs, Some(Evidence::Record));
        // With the guard, its prot_links is the evidence, whatever the record says.
        let (mut f, mut st) = guarded();
        f.pins
            .insert("/bpf/counter/links/count_exec".into(), link(17, 41));
        f.links.insert(17, 41);
        st.objects[0].link_prog_ids = [("count_exec".to_string(), 41)].into();
        let c = &check(&st, &f).objects["counter"];
        assert_eq!(c.state, LiveState::Replaced);
        assert_eq!(strings(&c.replaced), ["links/count_exec prog-id 40 -> 41"]);
        assert_eq!(c.programs, Some(Evidence::Guard));
        // A protected link the record does not pin (its pin was removed): by id.
        f.pins.remove(Path::new("/bpf/counter/links/count_exec"));
        st.objects[0].links.clear();
        let c = &check(&st, &f).objects["counter"];
        assert_eq!(c.state, LiveState::Replaced);
        assert_eq!(strings(&c.replaced), ["link-id 17 prog-id 40 -> 41"]);
        // A protected link no record names: the guard's.
        f.prot.as_mut().unwrap().insert(99, 50);
        f.links.insert(99, 51);
        let g = check(&st, &f).guard.unwrap();
        assert_eq!(g.state, LiveState::Replaced);
        assert_eq!(strings(&g.replaced), ["link-id 99 prog-id 50 -> 51"]);
    }

    /// The pins moved into a fresh bpffs at the same path (its device number even recycled):
    /// its `+shared` inode is not the protected one.
    #[test]
    fn a_fresh_instance_is_not_the_protected_one() {
        let fresh = Instance { ino: 9, dev: 27 };
        let (mut f, st) = guarded();
        f.instance = Some(fresh);
        let live = check(&st, &f);
        assert_eq!(
            live.instance,
            InstanceCheck {
                state: InstanceState::Moved,
                found: Some(fresh),
                expected: Some(BOOT),
                evidence: Evidence::Guard,
                unchecked: None,
            }
        );
        let g = live.guard.unwrap();
        assert_eq!(g.state, LiveState::NotProtecting);
        assert_eq!(
            g.reason.as_deref(),
            Some("instance ino 9 dev 0:27, guard protects ino 1 dev 0:27")
        );
        assert!(f.dirops.borrow().is_empty());
        assert_eq!(live.objects["counter"].state, LiveState::Moved);
        assert_eq!(live.signed_only.unwrap().state, SignedOnlyLive::NotVerified);
        // Without a guard, the record's instance tells it too.
        let (mut f, st) = loaded();
        f.instance = Some(fresh);
        let live = check(&st, &f);
        assert_eq!(live.instance.state, InstanceState::Moved);
        assert_eq!(live.instance.evidence, Evidence::Record);
        assert_eq!(live.objects["counter"].state, LiveState::Moved);
    }

    /// Each object is told by its own directory too (the record's `dir_ino`): a directory of
    /// the same name made later is another, whatever became of `+shared`.
    #[test]
    fn an_object_is_told_by_its_own_directory() {
        let (mut f, mut st) = loaded();
        st.objects[0].dir_ino = Some(77);
        f.inos.insert("/bpf/counter".into(), Some(77));
        assert_eq!(check(&st, &f).objects["counter"].state, LiveState::Loaded);
        f.inos.insert("/bpf/counter".into(), Some(78));
        assert_eq!(check(&st, &f).objects["counter"].state, LiveState::Moved);
        // `+shared` removed (possible only without the guard): the instance cannot be told by
        // it, the object still is.
        f.inos.insert("/bpf/+shared".into(), None);
        let live = check(&st, &f);
        assert_eq!(live.instance.state, InstanceState::Unknown);
        assert_eq!(
            live.instance.unchecked.as_deref(),
            Some("no /bpf/+shared: the instance cannot be told by it")
        );
        assert_eq!(live.objects["counter"].state, LiveState::Moved);
        f.inos.insert("/bpf/counter".into(), Some(77));
        assert_eq!(check(&st, &f).objects["counter"].state, LiveState::Loaded);
        // An object the record gives no directory number: not checked, as before.
        st.objects[0].dir_ino = None;
        assert_eq!(check(&st, &f).objects["counter"].state, LiveState::Unknown);
    }

    #[test]
    fn signed_only_breaks_with_its_keyring() {
        let so = |f: &FakeLive, st: &Status| check(st, f).signed_only.unwrap();
        let (f, st) = guarded();
        *f.info.borrow_mut() = Some(GuardInfo {
            keyring: Some(934),
            ..guard_info()
        });
        assert_eq!(
            so(&f, &st),
            SignedOnlyCheck {
                state: SignedOnlyLive::Broken,
                reason: Some("the guard trusts keyring 934, the record names 933".into())
            }
        );
        *f.info.borrow_mut() = Some(GuardInfo {
            keyring: Some(0),
            ..guard_info()
        });
        assert_eq!(
            so(&f, &st).reason.as_deref(),
            Some("the guard enforces no keyring: signed-only mode is not armed")
        );
        let (mut f, st) = guarded();
        f.keys.clear();
        assert_eq!(
            so(&f, &st),
            SignedOnlyCheck {
                state: SignedOnlyLive::Broken,
                reason: Some("keyring 933: Required key not available (os error 126)".into())
            }
        );
        f.keys.insert(933, "user".into());
        assert_eq!(
            so(&f, &st).reason.as_deref(),
            Some("key 933 is a \"user\" key, not a keyring")
        );
        // An older guard cannot say: not verified.
        let (f, st) = guarded();
        *f.info.borrow_mut() = Some(GuardInfo {
            keyring: None,
            ..guard_info()
        });
        assert_eq!(so(&f, &st).state, SignedOnlyLive::NotVerified);
    }

    /// A record from before program ids and instances: those parts are not checked, and the
    /// object is not called loaded.
    #[test]
    fn an_old_record_is_not_checked_where_it_says_nothing() {
        let (f, mut st) = loaded();
        st.objects[0].link_prog_ids.clear();
        st.bpffs_instance = None;
        let live = check(&st, &f);
        let c = &live.objects["counter"];
        assert_eq!(c.state, LiveState::Unknown);
        assert_eq!(
            c.unchecked,
            [
                "links/count_exec: program not checked (no program id recorded)",
                "bpffs instance not checked",
            ]
        );
        assert_eq!(c.programs, Some(Evidence::None));
        assert_eq!(live.instance.state, InstanceState::Unknown);
        assert_eq!(
            live.instance.unchecked.as_deref(),
            Some("no instance recorded (an older record, and no guard info)")
        );
        assert!(!live.checked);
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
    fn under_lockdown_debugfs_is_not_opened() {
        const KPROBES: &str = "/sys/kernel/de bug/kprobes/enabled";
        const LOCKDOWN: &str = "/sys/kernel/security/lockdown";
        let read_kprobes = |f: &FakeLive| f.read.borrow().iter().any(|p| p == Path::new(KPROBES));
        // Control: not locked down, the switch is read.
        let (mut f, st) = loaded();
        f.texts
            .insert(LOCKDOWN.into(), "[none] integrity confidentiality\n".into());
        let l = check(&st, &f);
        assert_eq!(
            (l.kprobes_enabled, l.lockdown),
            (Some(true), Some(Lockdown::None))
        );
        assert!(read_kprobes(&f));
        // integrity (Secure Boot): never opened, unknown, and why.
        for (text, mode) in [
            ("none [integrity] confidentiality\n", Lockdown::Integrity),
            (
                "none integrity [confidentiality]\n",
                Lockdown::Confidentiality,
            ),
        ] {
            let (mut f, st) = loaded();
            f.texts.insert(LOCKDOWN.into(), text.into());
            let l = check(&st, &f);
            assert!(!read_kprobes(&f), "{mode}: {:?}", f.read.borrow());
            assert_eq!(l.kprobes_enabled, None);
            assert_eq!(l.lockdown, Some(mode));
            assert_eq!(
                l.kprobes_unknown,
                Some(format!("not readable under lockdown ({mode}): the kernel refuses every open of {KPROBES}, a write included"))
            );
            assert_eq!(l.debugfs.as_deref(), Some("/sys/kernel/de bug"));
            // The ftrace sysctl is no debugfs file: still read.
            assert_eq!(l.ftrace_enabled, Some(true));
        }
        // With the guard alive that recorded the switch refused, the reason says so.
        let (mut f, mut st) = guarded();
        f.texts
            .insert(LOCKDOWN.into(), "none [integrity] confidentiality\n".into());
        st.guard.as_mut().unwrap().switches = vec![
            "kernel.ftrace_enabled:refused".into(),
            "kprobes/enabled:refused".into(),
        ];
        let l = check(&st, &f);
        assert!(!read_kprobes(&f));
        assert_eq!(
            l.kprobes_unknown,
            Some(format!("not readable under lockdown (integrity): the kernel refuses every open of {KPROBES}, a write included; the guard refuses opening it for writing too"))
        );
        // A lockdown file that cannot be read or parsed: as before, read.
        let (mut f, st) = loaded();
        f.texts.insert(LOCKDOWN.into(), "garbage".into());
        let l = check(&st, &f);
        assert_eq!((l.kprobes_enabled, l.lockdown), (Some(true), None));
        assert!(read_kprobes(&f));
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
