//! A loaded object as the pinning sees it: the names it has, pinning one of them, and what a pin
//! in the bpffs holds. The kernel boundary implements these; `load` (which loads) and `pin`
//! (which decides and installs) both use them, neither uses the other.
#![forbid(unsafe_code)]

use std::io;
use std::path::Path;

use bpf_preload_format::name::PinKind;

/// What a pin in the bpffs holds, as the kernel says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A BPF link; `live` when it still has its program; `id`: the kernel's link id, `prog`:
    /// the id of its program (0 when the kernel does not say, or detached).
    Link {
        live: bool,
        id: u32,
        prog: u32,
    },
    Map,
    Prog,
    /// Not a BPF object (a directory, a file) or not ours to open.
    Other,
}

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
