//! The libbpf boundary: the only module that imports libbpf-rs.
//!
//! It implements the pipeline's [`Kernel`], [`Loaded`] and [`Pinnable`] traits. The one thing
//! it decides is which way an object goes in: the signed fast path ([`fast`]) when the object
//! has one and the kernel runs its loader, otherwise libbpf, with the reason recorded. Which
//! pins, under which names, is the pipeline's policy (`pipeline::pin::plan`).
//!
//! `unsafe` is confined to [`libbpf_log`] (libbpf's print callback) and the light-skeleton calls
//! of [`skel`]; the other files forbid it.
// kernel/ is an OS boundary like sys/: it reads what libbpf would read itself (/proc fdinfo and
// fd links, the tracefs and kprobe PMU ids in sysfs), stats and makes the guard's directories on
// bpffs. std::fs is allowed here for that (loader/clippy.toml keeps it out of the pipeline).
#![allow(clippy::disallowed_methods)]

#[cfg(feature = "sign")]
pub mod convert;
pub mod fast;
pub mod guard;
pub mod iterators;
pub mod libbpf_log;
pub mod live;
pub mod skel;

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use libbpf_rs::{Link, MapCore, Object, ObjectBuilder};

use crate::pipeline::load::{Kernel, LinkIds, LoadError, LoadFailed, LoadPath, LoadReport, Loaded};
use crate::pipeline::object::Probe;
use crate::pipeline::object::{PinNames, Pinnable};
use bpf_preload_format::elf;
use bpf_preload_format::name::PinKind;
use bpf_preload_format::status::VerifierWork;
use bpf_preload_format::verify::VerifiedObject;
use libbpf_log::LogLevel;

thread_local! {
    /// libbpf's messages: kept for error reports, echoed to stderr when verbose. Per thread:
    /// libbpf calls its print hook on the thread of the call that prints, and objects load on
    /// several threads at once; each load's error report reads its own thread's messages.
    static LIBBPF_LOG: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}
static VERBOSE: AtomicBool = AtomicBool::new(false);
/// Bound on the kept log, so a huge verifier log cannot eat the initramfs's memory.
const LOG_KEEP: usize = 256;

/// While `Some`: the load logs libbpf prints at debug level after a successful program load
/// (the guard's, with BPF_LOG_STATS: the verifier's statistics), at most [`LOG_KEEP`].
static LOAD_LOGS: Mutex<Option<Vec<String>>> = Mutex::new(None);

fn on_libbpf_message(level: LogLevel, msg: String) {
    // libbpf says this after any EPERM as root; BPF memory is charged to the memory cgroup
    // since 5.11 (older kernels are not supported), so RLIMIT_MEMLOCK is never the reason and
    // the hint only misleads (the guard's reason says what to check instead).
    if msg.contains("try raising 'ulimit -l'") {
        return;
    }
    let verbose = VERBOSE.load(Ordering::Relaxed);
    if verbose {
        eprint!("libbpf: {msg}");
    }
    if level == LogLevel::Debug && msg.contains("-- BEGIN PROG LOAD LOG --") {
        let mut logs = LOAD_LOGS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(logs) = logs.as_mut().filter(|l| l.len() < LOG_KEEP) {
            logs.push(msg.clone());
        }
    }
    if level != LogLevel::Debug {
        LIBBPF_LOG.with_borrow_mut(|log| {
            log.extend(msg.lines().map(str::to_owned));
            let excess = log.len().saturating_sub(LOG_KEEP);
            log.drain(..excess);
        });
    }
}

/// Does this kernel take BPF_PROG_LOAD's signature fields? (For the loader's keyring setup.)
pub use skel::calls::signatures_supported;

/// Route libbpf's own messages through us (formatted lossily: no message can panic the loader);
/// debug ones are echoed only when `verbose`.
pub fn init_logging(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    libbpf_log::set_sink(Some(on_libbpf_message));
}

/// Keep the program load logs libbpf prints from now on (see [`verifier_statistics`]).
pub(crate) fn keep_load_logs() {
    *LOAD_LOGS.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
}

/// What the verifier reported of each program loaded since [`keep_load_logs`], by program name.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct VerifierStatistics {
    /// Its own time, in ms.
    pub ms: BTreeMap<String, f64>,
    /// Its work: instructions processed, states.
    pub work: BTreeMap<String, VerifierWork>,
}

/// The verifier's statistics (BPF_LOG_STATS) in libbpf's load logs since [`keep_load_logs`];
/// stops keeping them.
pub(crate) fn verifier_statistics() -> VerifierStatistics {
    let logs = LOAD_LOGS.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut stats = VerifierStatistics::default();
    for log in logs.unwrap_or_default() {
        let Some((name, body)) = load_log(&log) else {
            continue;
        };
        if let Some(ms) = verification_ms(body) {
            stats.ms.insert(name.to_owned(), ms);
        }
        if let Some(work) = body.lines().find_map(VerifierWork::parse) {
            stats.work.insert(name.to_owned(), work);
        }
    }
    stats
}

/// `libbpf: prog 'NAME': -- BEGIN PROG LOAD LOG --\n…` -> (NAME, the log after the name).
fn load_log(log: &str) -> Option<(&str, &str)> {
    let log = log.strip_prefix("libbpf: ").unwrap_or(log);
    log.strip_prefix("prog '")?.split_once("': ")
}

/// `verification time 1234 usec` in a load log -> 1.234.
fn verification_ms(log: &str) -> Option<f64> {
    let usec: u64 = log
        .lines()
        .find_map(|l| l.trim().strip_prefix("verification time "))?
        .strip_suffix(" usec")?
        .parse()
        .ok()?;
    Some(usec as f64 / 1000.0)
}

/// Forget what libbpf said so far (before a load whose reason is wanted: the guard's).
pub(crate) fn clear_log() {
    take_log();
}

/// Since the last [`clear_log`]: the first program libbpf could not load, and the verifier's
/// reason (when the verifier ran: a refusal before it, like EPERM, has none).
pub(crate) fn last_load_failure() -> (Option<String>, Option<String>) {
    let log = take_log();
    (
        bpf_preload_format::guard::first_refused_program(&log),
        verifier_reason(&log),
    )
}

fn take_log() -> Vec<String> {
    LIBBPF_LOG.with_borrow_mut(std::mem::take)
}

/// The verifier's own reason: the last meaningful line of the last program load log.
fn verifier_reason(log: &[String]) -> Option<String> {
    let end = log
        .iter()
        .rposition(|l| l.contains("-- END PROG LOAD LOG --"))?;
    log[..end]
        .iter()
        .rev()
        .take_while(|l| !l.contains("-- BEGIN PROG LOAD LOG --"))
        .map(|l| l.trim())
        .find(|l| {
            !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
        })
        .map(str::to_owned)
}

/// The innermost cause of a libbpf-rs error (its outer layers say "failed to …"), as an
/// `io::Error`: with its errno when it names one (libbpf-rs keeps the `io::Error` private, but
/// its text ends in `(os error N)`), else with the text.
fn cause(e: &libbpf_rs::Error) -> io::Error {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let text = inner.to_string();
    let errno = text
        .strip_suffix(')')
        .and_then(|t| t.rsplit_once("(os error "))
        .and_then(|(_, n)| n.parse::<i32>().ok());
    match errno {
        Some(n) => io::Error::from_raw_os_error(n),
        None => io::Error::other(text),
    }
}

/// The real kernel, through libbpf. `keyring`: the loader's sealed keyring, which kernel-signed
/// loaders are checked against; `signed_only`: a kernel-signed object whose signature the kernel
/// refuses fails, without the libbpf fallback.
#[derive(Debug, Clone, Copy, Default)]
pub struct Libbpf {
    pub keyring: Option<i32>,
    pub signed_only: bool,
}

/// The kernel's refusal of a signed loader, in words (never a bare errno): `refused: …`, or
/// `unsupported: …` when the kernel has no BPF signatures at all.
pub fn signature_verdict(e: &skel::SkelError) -> String {
    use rustix::io::Errno;
    let errno = e.source.raw_os_error().map(Errno::from_raw_os_error);
    let words = match errno {
        Some(Errno::TOOBIG) => {
            return "unsupported: this kernel has no BPF signatures (its BPF_PROG_LOAD and \
                    BPF_MAP_CREATE lack the signature fields: E2BIG)"
                .to_owned()
        }
        Some(Errno::OPNOTSUPP) => {
            return "unsupported: this kernel does not verify BPF signatures (EOPNOTSUPP)"
                .to_owned()
        }
        Some(Errno::BADMSG) => "bad message: the kernel cannot parse the signature",
        Some(Errno::KEYREJECTED) => "key rejected: the signature does not match the loader",
        Some(Errno::NOKEY) => "no key: no certificate in the loader's keyring made this signature",
        Some(Errno::KEYEXPIRED) => "key expired",
        Some(Errno::KEYREVOKED) => "key revoked",
        Some(Errno::NOPKG) => "the kernel lacks the signature's algorithm",
        Some(Errno::INVAL) => "keyring or signature refused (EINVAL)",
        Some(Errno::PERM) | Some(Errno::ACCESS) => "not permitted",
        _ => "",
    };
    if words.is_empty() {
        format!("refused: {e}")
    } else {
        format!("refused: {words} ({}: {})", e.step, e.source)
    }
}

impl Kernel for Libbpf {
    /// An object with a fast path: the light skeleton pins nothing by name, and the libbpf
    /// fallback loads the same ELF, which has no map pinned by name (`sign` offers no fast path
    /// for one: `fast::Unconvertible::PinnedMap`). An object without one may share maps.
    fn independent(&self, obj: &VerifiedObject) -> bool {
        obj.fast.is_some()
    }

    fn probe(&self, path: &Path) -> io::Result<Probe> {
        // bpf_link__open is a plain BPF_OBJ_GET whatever the pin holds, and closing what it
        // returns only closes the descriptor (it never detaches anything).
        let obj = Link::open(path).map_err(|e| cause(&e))?;
        let fd = obj.as_fd().as_raw_fd();
        let target = std::fs::read_link(Path::new(&format!("/proc/self/fd/{fd}")))?;
        // The anonymous inode's name: "bpf-link" (older kernels: "bpf_link"), "bpf-map", ...
        let target = target.to_string_lossy();
        let kind = target
            .strip_prefix("anon_inode:")
            .unwrap_or("")
            .replace('_', "-");
        Ok(match kind.as_str() {
            "bpf-link" => {
                // The link's own info (what its fdinfo shows too: link_id, prog_id), one call.
                let (id, prog) = skel::calls::link_ids(obj.as_fd())?;
                Probe::Link {
                    live: prog != 0,
                    id,
                    prog,
                }
            }
            "bpf-map" => Probe::Map,
            "bpf-prog" => Probe::Prog,
            _ => Probe::Other,
        })
    }

    fn load<'s>(
        &'s self,
        obj: &VerifiedObject,
        shared_dir: &Path,
    ) -> Result<Box<dyn Loaded + 's>, LoadFailed> {
        let mut kernel_signature = None;
        let reason = match &obj.fast {
            None => match &obj.fast_declined {
                Some(why) => format!("fast path not taken: {why}"),
                None => "signed without a fast path".to_owned(),
            },
            Some(fast) => match fast::FastObject::load(fast, self.keyring) {
                Ok(o) => return Ok(Box::new(o)),
                // The loader cleans up after itself: nothing of it stays in the kernel.
                Err(e) => {
                    let signed = !fast.kernel_sig.is_empty();
                    if signed && self.keyring.is_some() {
                        let verdict = signature_verdict(&e);
                        // Signed-only: a refused kernel signature is final, no libbpf fallback.
                        if self.signed_only && verdict.starts_with("refused") {
                            return Err(LoadFailed {
                                error: LoadError::Load {
                                    source: e.source,
                                    verifier: Some(format!("kernel signature {verdict}")),
                                },
                                path: LoadPath::Fast,
                                path_reason: None,
                                kernel_signature: Some(verdict),
                            });
                        }
                        kernel_signature = Some(verdict);
                    } else if signed {
                        kernel_signature = Some(
                            "unsupported: the loader has no kernel keyring (no usable \
                             certificate, or no BPF signatures in this kernel)"
                                .to_owned(),
                        );
                    }
                    format!("fast path: {e}")
                }
            },
        };
        match LibbpfObject::load(obj, shared_dir) {
            Ok(mut o) => {
                o.path_reason = Some(reason);
                o.kernel_signature = kernel_signature;
                Ok(Box::new(o))
            }
            Err(error) => Err(LoadFailed {
                error,
                path: LoadPath::Libbpf,
                path_reason: Some(reason),
                kernel_signature,
            }),
        }
    }
}

/// An object loaded into the kernel, attached where libbpf can, not yet pinned.
struct LibbpfObject {
    obj: Object,
    links: Vec<(String, Link)>,
    not_attached: Vec<String>,
    skipped: Vec<String>,
    shared_pins: Vec<PathBuf>,
    /// Why this object is not on the fast path.
    path_reason: Option<String>,
    /// Why its kernel signature did not count (the libbpf path loads unsigned).
    kernel_signature: Option<String>,
}

impl LibbpfObject {
    /// Open `obj` from memory (the verified bytes, never the file again) and load it.
    fn load(obj: &VerifiedObject, shared_dir: &Path) -> Result<Self, LoadError> {
        take_log();
        let mut builder = ObjectBuilder::default();
        let open = builder
            .name(obj.name.as_str())
            .and_then(|b| b.pin_root_path(shared_dir))
            .and_then(|b| b.open_memory(obj.payload()))
            .map_err(|e| LoadError::Open { source: cause(&e) })?;
        let skipped: Vec<String> = open
            .progs()
            .filter(|p| !p.autoload())
            .map(|p| p.name().to_string_lossy().into_owned())
            .collect();
        // On failure libbpf itself unpins the pin-by-name maps this load created.
        let loaded = open.load().map_err(|e| LoadError::Load {
            source: cause(&e),
            verifier: verifier_reason(&take_log()),
        })?;
        let shared_pins = loaded
            .maps()
            .filter_map(|m| m.get_pin_path().map(PathBuf::from))
            .collect();
        Ok(Self {
            obj: loaded,
            links: Vec::new(),
            not_attached: Vec::new(),
            skipped,
            shared_pins,
            path_reason: None,
            kernel_signature: None,
        })
    }
}

impl PinNames for LibbpfObject {
    fn names(&self, kind: PinKind) -> Vec<String> {
        match kind {
            PinKind::Link => self.links.iter().map(|(n, _)| n.clone()).collect(),
            PinKind::Prog => self.not_attached.clone(),
            PinKind::Map => self
                .obj
                .maps()
                .filter(|m| m.get_pin_path().is_none())
                .map(|m| m.name().to_string_lossy().into_owned())
                .collect(),
        }
    }
}

impl Pinnable for LibbpfObject {
    fn pin(&mut self, kind: PinKind, raw: &str, path: &Path) -> io::Result<()> {
        let not_found = || io::Error::new(io::ErrorKind::NotFound, format!("no {raw:?}"));
        let result = match kind {
            PinKind::Link => self
                .links
                .iter_mut()
                .find(|(n, _)| n == raw)
                .ok_or_else(not_found)?
                .1
                .pin(path),
            PinKind::Prog => self
                .obj
                .progs_mut()
                .find(|p| p.name().to_string_lossy() == raw)
                .ok_or_else(not_found)?
                .pin(path),
            PinKind::Map => self
                .obj
                .maps_mut()
                .find(|m| m.name().to_string_lossy() == raw)
                .ok_or_else(not_found)?
                .pin(path),
        };
        result.map_err(|e| cause(&e))
    }
}

/// The ids of these links and of their programs (one BPF_OBJ_GET_INFO_BY_FD each), by name:
/// `Loaded::link_ids` of both load paths.
fn link_ids<'a>(links: impl Iterator<Item = (&'a String, std::os::fd::BorrowedFd<'a>)>) -> LinkIds {
    let (mut ids, mut progs) = LinkIds::default();
    for (name, fd) in links {
        if let Ok((id, prog)) = skel::calls::link_ids(fd) {
            if id != 0 {
                ids.insert(name.clone(), id);
            }
            if prog != 0 {
                progs.insert(name.clone(), prog);
            }
        }
    }
    (ids, progs)
}

impl Loaded for LibbpfObject {
    fn attach(&mut self) -> Result<(), LoadError> {
        for prog in self.obj.progs_mut().filter(|p| p.autoload()) {
            let name = prog.name().to_string_lossy().into_owned();
            // The section decides (xdp, tc, cgroup… have no attach function); every failure of
            // a real attach fails the object, whatever its errno.
            if !elf::auto_attach(&prog.section().to_string_lossy()) {
                self.not_attached.push(name);
                continue;
            }
            let link = prog.attach().map_err(|e| LoadError::Attach {
                prog: name.clone(),
                source: cause(&e),
            })?;
            self.links.push((name, link));
        }
        Ok(())
    }

    fn report(&self) -> LoadReport {
        LoadReport {
            not_attached: self.not_attached.clone(),
            skipped: self.skipped.clone(),
            path: LoadPath::Libbpf,
            path_reason: self.path_reason.clone(),
            kernel_signature: self.kernel_signature.clone(),
        }
    }

    fn shared_pins(&self) -> Vec<PathBuf> {
        self.shared_pins.clone()
    }

    fn link_ids(&self) -> LinkIds {
        link_ids(self.links.iter().map(|(n, l)| (n, l.as_fd())))
    }

    fn keep(&mut self) {
        for (_, mut link) in self.links.drain(..) {
            // Dropping an attached libbpf link detaches it (for perf-event links it even disables
            // the event): disconnect so only the pin holds it.
            link.disconnect();
        }
    }

    fn as_pinnable(&mut self) -> &mut dyn Pinnable {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_statistics_from_the_load_logs() {
        keep_load_logs();
        for (level, msg) in [
            (
                LogLevel::Debug,
                "libbpf: prog 'guard_bpf': -- BEGIN PROG LOAD LOG --\nverification time 2345 \
                 usec\nstack depth 0\nprocessed 312 insns (limit 1000000) max_states_per_insn 1 \
                 total_states 20 peak_states 18 mark_read 3\n-- END PROG LOAD LOG --\n",
            ),
            // Without the statistics (another log level): nothing for it.
            (
                LogLevel::Debug,
                "libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n0: R1=ctx()\n",
            ),
            // Not a load log, or not at debug level: ignored.
            (LogLevel::Debug, "libbpf: loaded 3 programs"),
            (
                LogLevel::Warn,
                "libbpf: prog 'w': -- BEGIN PROG LOAD LOG --\nverification time 1 usec\n",
            ),
        ] {
            on_libbpf_message(level, msg.to_owned());
        }
        let stats = verifier_statistics();
        assert_eq!(
            stats,
            VerifierStatistics {
                ms: [("guard_bpf".to_owned(), 2.345)].into(),
                work: [(
                    "guard_bpf".to_owned(),
                    VerifierWork {
                        insns: 312,
                        total_states: 20,
                        peak_states: 18,
                    }
                )]
                .into(),
            }
        );
        // Taken: kept no longer.
        on_libbpf_message(
            LogLevel::Debug,
            "libbpf: prog 'x': -- BEGIN PROG LOAD LOG --\nverification time 1 usec\n".to_owned(),
        );
        assert_eq!(verifier_statistics(), VerifierStatistics::default());
    }

    #[test]
    fn verifier_reason_is_the_last_real_line() {
        let log: Vec<String> = [
            "libbpf: prog 'bad': BPF program load failed: Permission denied",
            "libbpf: prog 'bad': -- BEGIN PROG LOAD LOG --",
            "0: R1=ctx() R10=fp0",
            "R0 invalid mem access 'map_value_or_null'",
            "processed 5 insns (limit 1000000) max_states_per_insn 0",
            "-- END PROG LOAD LOG --",
            "libbpf: failed to load object 'rejected'",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            verifier_reason(&log).as_deref(),
            Some("R0 invalid mem access 'map_value_or_null'")
        );
        assert_eq!(verifier_reason(&log[..2]), None);
    }

    #[test]
    fn causes_keep_the_errno() {
        let e = libbpf_rs::Error::from_raw_os_error(13);
        assert_eq!(cause(&e).raw_os_error(), Some(13));
        let e = libbpf_rs::Error::from(io::Error::other("no BTF"));
        let c = cause(&e);
        assert_eq!(
            (c.raw_os_error(), c.to_string()),
            (None, "no BTF".to_string())
        );
    }
}
