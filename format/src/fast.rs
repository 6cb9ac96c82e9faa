//! The fast-path section of a version-2 signed object (pure, no I/O): a light skeleton made at
//! sign time — libbpf's gen_loader program (BPF_PROG_TYPE_SYSCALL), its data blob — and a
//! descriptor saying what the loader creates and how each program attaches. Specified in
//! `docs/format.md` ("Fast-path section").
//!
//! [`FastSection::parse`] makes only the cheap length checks; [`Descriptor::parse`] validates the
//! descriptor into typed values (names safe to print and to pin, tracepoint names safe as a
//! tracefs path) and [`Descriptor::matches_elf`] ties it to the ELF it was made from.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::elf::ElfInfo;

pub const MAGIC: &[u8; 8] = b"bpfp-ls\0";
pub const HEADER_LEN: usize = 32;
pub const VERSION: u16 = 1;
/// Section version 2: a kernel signature follows the data (`kernel_sig_len` > 0), and the loader
/// was generated with libbpf's `gen_hash` (it checks the SHA-256 of its frozen, exclusive data
/// map itself). Version 1 carries none.
pub const VERSION_KERNEL_SIGNED: u16 = 2;
/// Longest kernel signature a section may carry (a CMS signature with RSA-4096 is ~600 bytes).
pub const MAX_KERNEL_SIG: u32 = 16 * 1024;
/// Size of one BPF instruction.
pub const INSN_LEN: usize = 8;
/// Bounds on what a descriptor may list (far above any real object, and above what libbpf's
/// gen_loader can make: [`GEN_MAX_MAPS`], [`GEN_MAX_PROGS`]).
pub const MAX_MAPS: usize = 256;
pub const MAX_PROGS: usize = 256;
/// libbpf's gen_loader makes at most 64 maps (`MAX_USED_MAPS` in gen_loader.c; a 65th fails the
/// generation) and keeps the fds of at most 32 loaded programs on its stack (`MAX_USED_PROGS`; a
/// 33rd makes a loader the verifier refuses).
pub const GEN_MAX_MAPS: usize = 64;
pub const GEN_MAX_PROGS: usize = 32;
/// Longest map/program name or section a descriptor may carry.
pub const MAX_NAME: usize = 128;
pub const MAX_SECTION: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FastError {
    #[error("fast-path section is {0} bytes, shorter than its header")]
    Short(usize),
    #[error("fast-path section has no magic")]
    Magic,
    #[error("unknown fast-path section version {0}")]
    Version(u16),
    #[error("fast-path section: reserved field is not zero")]
    Reserved,
    #[error("fast-path section lengths do not add up: header {HEADER_LEN} + descriptor {descriptor} + loader {insns} + data {data} + kernel signature {ksig} != {total}")]
    Lengths {
        descriptor: u32,
        insns: u32,
        data: u32,
        ksig: u32,
        total: usize,
    },
    #[error("fast-path loader is {0} bytes: not a non-empty multiple of {INSN_LEN}")]
    Insns(u32),
    #[error("fast-path section version {version} with a kernel signature of {len} bytes (version 1 carries none, version 2 one of 1..={MAX_KERNEL_SIG})")]
    KernelSignature { version: u16, len: u32 },
    #[error("fast-path descriptor: {0}")]
    Descriptor(#[from] DescriptorError),
    #[error("fast-path descriptor does not match the ELF: {0}")]
    Mismatch(String),
}

/// What the descriptor's checks refused (the boot-time rules; `sign` applies the very same ones
/// to the section it is about to sign). Names are shown shortened; output escapes them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    #[error("{0}")]
    Json(String),
    #[error("more than {MAX_MAPS} maps ({0})")]
    TooManyMaps(usize),
    #[error("more than {MAX_PROGS} programs ({0})")]
    TooManyPrograms(usize),
    #[error("empty {0} name")]
    EmptyName(&'static str),
    #[error("{what} name longer than {MAX_NAME} bytes ({len}): {name:?}")]
    LongName {
        what: &'static str,
        len: usize,
        name: String,
    },
    #[error("{what} name {name:?} has a '/', NUL or control character")]
    BadName { what: &'static str, name: String },
    #[error("program {prog:?}: bad section {section:?} (empty, over {MAX_SECTION} bytes or a control character)")]
    BadSection { prog: String, section: String },
    #[error("{what} {name:?} is not [A-Za-z0-9_]+")]
    NotIdent { what: &'static str, name: String },
    #[error("kprobe function {0:?} is not [A-Za-z0-9_.]+")]
    NotSymbol(String),
    #[error("program {0:?}: a kretprobe has no offset")]
    RetprobeOffset(String),
    #[error("program {0:?} listed twice")]
    Duplicate(String),
}

/// Why an object cannot have a fast path (it keeps the libbpf path), decided from what libbpf
/// lists of it or from its ELF, before any loader is generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unconvertible {
    #[error("map {0:?} is pinned by name (shared maps need libbpf)")]
    PinnedMap(String),
    #[error("map {0:?}: kconfig externs would be resolved on the signing machine")]
    Kconfig(String),
    #[error("map {0:?} is a struct_ops map")]
    StructOps(String),
    #[error("more than {GEN_MAX_MAPS} maps ({0})")]
    TooManyMaps(usize),
    #[error("more than {GEN_MAX_PROGS} loaded programs ({0})")]
    TooManyPrograms(usize),
    #[error("section {0:?}: no fast-path attach")]
    NoAttach(String),
    #[error("extern {0:?} is used only by programs not loaded (SEC(\"?...\")); libbpf resolves it all the same (declare it __weak to make it optional)")]
    UnloadedExtern(String),
}

/// Why an object keeps the libbpf path, from its ELF alone; `sign` (not converting) and `run`
/// (not taking the fast path of an object signed before this rule) decide alike.
///
/// libbpf resolves every strong `__ksym` extern of an object at load, whichever program uses
/// it (`bpf_object__resolve_ksyms_btf_id`: an extern kfunc it cannot find fails the whole
/// object), while a light skeleton only looks up those of the programs it loads: an object
/// whose programs not loaded (`SEC("?…")`) use a strong extern would load on the fast path
/// where libbpf refuses it.
pub fn libbpf_only(info: &ElfInfo) -> Option<Unconvertible> {
    info.externs
        .iter()
        .find(|e| !e.weak && !e.used_by_loaded)
        .map(|e| Unconvertible::UnloadedExtern(crate::name::shown(&e.name)))
}

/// The fixed header of the section, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u16,
    pub flags: u16,
    pub descriptor_len: u32,
    pub insns_len: u32,
    pub data_len: u32,
    /// Length of the CMS signature the kernel checks (docs/format.md): 0 in version 1.
    pub kernel_sig_len: u32,
    pub reserved: u32,
}

impl Header {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&self.version.to_le_bytes());
        b[10..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&self.descriptor_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.insns_len.to_le_bytes());
        b[20..24].copy_from_slice(&self.data_len.to_le_bytes());
        b[24..28].copy_from_slice(&self.kernel_sig_len.to_le_bytes());
        b[28..32].copy_from_slice(&self.reserved.to_le_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; HEADER_LEN]) -> Option<Self> {
        if &b[0..8] != MAGIC {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Self {
            version: u16_at(8),
            flags: u16_at(10),
            descriptor_len: u32_at(12),
            insns_len: u32_at(16),
            data_len: u32_at(20),
            kernel_sig_len: u32_at(24),
            reserved: u32_at(28),
        })
    }
}

/// The section split into its parts (lengths checked, descriptor not yet parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastSection<'a> {
    pub descriptor: &'a [u8],
    pub insns: &'a [u8],
    pub data: &'a [u8],
    /// The kernel's CMS signature over `insns` (empty in version 1).
    pub kernel_sig: &'a [u8],
}

impl<'a> FastSection<'a> {
    /// Split a section; cheap checks only.
    pub fn parse(b: &'a [u8]) -> Result<Self, FastError> {
        let header: &[u8; HEADER_LEN] = b
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(FastError::Short(b.len()))?;
        let h = Header::from_bytes(header).ok_or(FastError::Magic)?;
        if h.version != VERSION && h.version != VERSION_KERNEL_SIGNED {
            return Err(FastError::Version(h.version));
        }
        if h.flags != 0 || h.reserved != 0 {
            return Err(FastError::Reserved);
        }
        let lengths = FastError::Lengths {
            descriptor: h.descriptor_len,
            insns: h.insns_len,
            data: h.data_len,
            ksig: h.kernel_sig_len,
            total: b.len(),
        };
        let total = [h.descriptor_len, h.insns_len, h.data_len, h.kernel_sig_len]
            .iter()
            .try_fold(HEADER_LEN, |acc, &n| acc.checked_add(n as usize));
        if total != Some(b.len()) {
            return Err(lengths);
        }
        if h.insns_len == 0 || h.insns_len as usize % INSN_LEN != 0 {
            return Err(FastError::Insns(h.insns_len));
        }
        let signed_ok = match h.version {
            VERSION => h.kernel_sig_len == 0,
            _ => h.kernel_sig_len != 0 && h.kernel_sig_len <= MAX_KERNEL_SIG,
        };
        if !signed_ok {
            return Err(FastError::KernelSignature {
                version: h.version,
                len: h.kernel_sig_len,
            });
        }
        let rest = &b[HEADER_LEN..];
        let (descriptor, rest) = rest.split_at(h.descriptor_len as usize);
        let (insns, rest) = rest.split_at(h.insns_len as usize);
        let (data, kernel_sig) = rest.split_at(h.data_len as usize);
        Ok(Self {
            descriptor,
            insns,
            data,
            kernel_sig,
        })
    }

    /// The section's bytes: version 1 without a kernel signature, version 2 with one.
    pub fn encode(
        descriptor: &[u8],
        insns: &[u8],
        data: &[u8],
        kernel_sig: &[u8],
    ) -> Option<Vec<u8>> {
        let kernel_sig_len = u32::try_from(kernel_sig.len()).ok()?;
        if kernel_sig_len > MAX_KERNEL_SIG {
            return None;
        }
        let h = Header {
            version: if kernel_sig.is_empty() {
                VERSION
            } else {
                VERSION_KERNEL_SIGNED
            },
            flags: 0,
            descriptor_len: u32::try_from(descriptor.len()).ok()?,
            insns_len: u32::try_from(insns.len()).ok()?,
            data_len: u32::try_from(data.len()).ok()?,
            kernel_sig_len,
            reserved: 0,
        };
        let mut out = Vec::with_capacity(
            HEADER_LEN + descriptor.len() + insns.len() + data.len() + kernel_sig.len(),
        );
        out.extend_from_slice(&h.to_bytes());
        out.extend_from_slice(descriptor);
        out.extend_from_slice(insns);
        out.extend_from_slice(data);
        out.extend_from_slice(kernel_sig);
        Some(out)
    }
}

/// How a program is attached on the fast path (the kernel's own interfaces, as libbpf would).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Attach {
    /// Loaded, not attached: pinned under `progs/`.
    None,
    /// `tracepoint/CATEGORY/EVENT`: a perf event on the tracepoint, then a perf link.
    Tracepoint { category: String, event: String },
    /// `raw_tp/NAME`: BPF_RAW_TRACEPOINT_OPEN.
    RawTracepoint { name: String },
    /// The target was fixed at load (fentry, fexit, fmod_ret, lsm, tp_btf): BPF_LINK_CREATE with
    /// the program's expected attach type.
    Btf { attach_type: u32 },
    /// `iter/…`: BPF_LINK_CREATE with BPF_TRACE_ITER.
    Iter,
    /// `kprobe/FUNC[+OFFSET]`, `kretprobe/FUNC`: a perf event of the kprobe PMU, then a perf link.
    Kprobe {
        func: String,
        offset: u64,
        retprobe: bool,
    },
    /// `kprobe.multi/FUNC`, `kretprobe.multi/FUNC` naming one function (no glob): BPF_LINK_CREATE
    /// with BPF_TRACE_KPROBE_MULTI, where the kernel has fprobe.
    KprobeMulti { func: String, retprobe: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapDesc {
    /// libbpf's name (internal maps included: `obj.bss`, ...), in the loader's order.
    pub name: String,
    pub map_type: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgDesc {
    pub name: String,
    pub section: String,
    pub prog_type: u32,
    pub attach: Attach,
}

/// What the loader makes, in its order, and what happens to each program after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    pub maps: Vec<MapDesc>,
    /// The loaded programs, in the loader's order.
    pub programs: Vec<ProgDesc>,
    /// Programs not loaded (`SEC("?…")`).
    pub skipped: Vec<String>,
}

fn check_name(what: &'static str, s: &str) -> Result<(), DescriptorError> {
    if s.is_empty() {
        return Err(DescriptorError::EmptyName(what));
    }
    if s.len() > MAX_NAME {
        return Err(DescriptorError::LongName {
            what,
            len: s.len(),
            name: crate::name::shown(s),
        });
    }
    if s.chars().any(|c| c.is_control() || c == '/' || c == '\0') {
        return Err(DescriptorError::BadName {
            what,
            name: crate::name::shown(s),
        });
    }
    Ok(())
}

/// A kernel symbol, as kprobes take it: `[A-Za-z0-9_.]` (`.isra.0`, `.cold` suffixes).
fn check_symbol(s: &str) -> Result<(), DescriptorError> {
    if !is_symbol(s) {
        return Err(DescriptorError::NotSymbol(crate::name::shown(s)));
    }
    Ok(())
}

/// Tracepoint and raw tracepoint names become a tracefs path or a kernel lookup: `[A-Za-z0-9_]`.
fn check_ident(what: &'static str, s: &str) -> Result<(), DescriptorError> {
    if s.is_empty()
        || s.len() > MAX_NAME
        || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(DescriptorError::NotIdent {
            what,
            name: crate::name::shown(s),
        });
    }
    Ok(())
}

impl Descriptor {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parse and validate: every name is printable and pinnable, every tracepoint a plain name.
    pub fn parse(b: &[u8]) -> Result<Self, FastError> {
        let d: Descriptor =
            serde_json::from_slice(b).map_err(|e| DescriptorError::Json(e.to_string()))?;
        d.validate()?;
        Ok(d)
    }

    /// The descriptor's rules (limits, names, characters), in order: maps, then programs.
    fn validate(&self) -> Result<(), DescriptorError> {
        if self.maps.len() > MAX_MAPS {
            return Err(DescriptorError::TooManyMaps(self.maps.len()));
        }
        let programs = self.programs.len() + self.skipped.len();
        if programs > MAX_PROGS {
            return Err(DescriptorError::TooManyPrograms(programs));
        }
        for m in &self.maps {
            check_name("map", &m.name)?;
        }
        for s in &self.skipped {
            check_name("program", s)?;
        }
        for p in &self.programs {
            check_name("program", &p.name)?;
            if p.section.is_empty()
                || p.section.len() > MAX_SECTION
                || p.section.chars().any(char::is_control)
            {
                return Err(DescriptorError::BadSection {
                    prog: p.name.clone(),
                    section: crate::name::shown(&p.section),
                });
            }
            match &p.attach {
                Attach::Tracepoint { category, event } => {
                    check_ident("tracepoint category", category)?;
                    check_ident("tracepoint", event)?;
                }
                Attach::RawTracepoint { name } => check_ident("raw tracepoint", name)?,
                Attach::Kprobe {
                    func,
                    offset,
                    retprobe,
                } => {
                    check_symbol(func)?;
                    if *retprobe && *offset != 0 {
                        return Err(DescriptorError::RetprobeOffset(p.name.clone()));
                    }
                }
                Attach::KprobeMulti { func, .. } => check_symbol(func)?,
                Attach::None | Attach::Btf { .. } | Attach::Iter => {}
            }
        }
        let mut names: Vec<&str> = self.programs.iter().map(|p| p.name.as_str()).collect();
        names.extend(self.skipped.iter().map(String::as_str));
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(DescriptorError::Duplicate(w[0].to_owned()));
        }
        Ok(())
    }

    /// The descriptor describes this ELF: the same programs loaded, skipped and attached, the
    /// same maps. So both paths pin the same tree, and `already-loaded` checks hold for both.
    pub fn matches_elf(&self, info: &ElfInfo) -> Result<(), FastError> {
        let mut ours: Vec<(&str, bool)> = self
            .programs
            .iter()
            .map(|p| (p.name.as_str(), p.attach != Attach::None))
            .collect();
        let mut elf: Vec<(&str, bool)> = info
            .programs
            .iter()
            .filter(|p| p.autoload)
            .map(|p| (p.name.as_str(), p.auto_attach))
            .collect();
        ours.sort_unstable();
        elf.sort_unstable();
        if ours != elf {
            return Err(FastError::Mismatch(format!(
                "programs {ours:?}, ELF {elf:?}"
            )));
        }
        let mut skipped: Vec<&str> = self.skipped.iter().map(String::as_str).collect();
        let mut elf_skipped: Vec<&str> = info
            .programs
            .iter()
            .filter(|p| !p.autoload)
            .map(|p| p.name.as_str())
            .collect();
        skipped.sort_unstable();
        elf_skipped.sort_unstable();
        if skipped != elf_skipped {
            return Err(FastError::Mismatch(format!(
                "skipped {skipped:?}, ELF {elf_skipped:?}"
            )));
        }
        let mut maps: Vec<&str> = self
            .maps
            .iter()
            .map(|m| m.name.as_str())
            .filter(|n| !n.contains('.'))
            .collect();
        let mut elf_maps: Vec<&str> = info.maps.iter().map(String::as_str).collect();
        maps.sort_unstable();
        elf_maps.sort_unstable();
        if maps != elf_maps {
            return Err(FastError::Mismatch(format!(
                "maps {maps:?}, ELF {elf_maps:?}"
            )));
        }
        Ok(())
    }
}

fn is_symbol(s: &str) -> bool {
    let symbol = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    !s.is_empty() && s.len() <= MAX_NAME && s.chars().all(symbol)
}

/// A kprobe offset as libbpf reads it (`%li`): decimal, or hex after `0x`.
fn parse_offset(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// How a program of `section` attaches on the fast path, as libbpf would attach it; `Err` says
/// why the fast path cannot (then the object keeps the libbpf path).
pub fn attach_for(section: &str, expected_attach_type: u32) -> Result<Attach, Unconvertible> {
    if !crate::elf::auto_attach(section) {
        return Ok(Attach::None);
    }
    let sec = section.strip_prefix('?').unwrap_or(section);
    let (prefix, target) = sec.split_once('/').unwrap_or((sec, ""));
    let unsupported = || Err(Unconvertible::NoAttach(section.to_owned()));
    match prefix {
        "tracepoint" | "tp" => match target.split_once('/') {
            Some((category, event)) if !event.contains('/') => Ok(Attach::Tracepoint {
                category: category.to_owned(),
                event: event.to_owned(),
            }),
            _ => unsupported(),
        },
        "raw_tracepoint" | "raw_tp" => Ok(Attach::RawTracepoint {
            name: target.to_owned(),
        }),
        "iter" | "iter.s" => Ok(Attach::Iter),
        // libbpf's forms: `kprobe/FUNC`, `kprobe/FUNC+OFFSET` (decimal or 0x), `kretprobe/FUNC`.
        "kprobe" | "kretprobe" => {
            let retprobe = prefix == "kretprobe";
            let (func, offset) = match target.split_once('+') {
                None => (target, 0),
                Some((f, off)) if !retprobe => match parse_offset(off) {
                    Some(o) => (f, o),
                    None => return unsupported(),
                },
                Some(_) => return unsupported(),
            };
            if !is_symbol(func) {
                return unsupported();
            }
            Ok(Attach::Kprobe {
                func: func.to_owned(),
                offset,
                retprobe,
            })
        }
        // One function named in full; a glob (or a module prefix) needs libbpf's resolution
        // against available_filter_functions, so it keeps the libbpf path.
        "kprobe.multi" | "kretprobe.multi" if is_symbol(target) => Ok(Attach::KprobeMulti {
            func: target.to_owned(),
            retprobe: prefix == "kretprobe.multi",
        }),
        "fentry" | "fentry.s" | "fexit" | "fexit.s" | "fmod_ret" | "fmod_ret.s" | "lsm"
        | "lsm.s" | "tp_btf" => Ok(Attach::Btf {
            attach_type: expected_attach_type,
        }),
        _ => unsupported(),
    }
}

/// A fast-path section that verified, parsed and matched its ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastPath {
    pub descriptor: Descriptor,
    pub insns: Vec<u8>,
    pub data: Vec<u8>,
    /// The kernel's CMS signature over `insns` (empty: none).
    pub kernel_sig: Vec<u8>,
}

impl FastPath {
    /// Parse a (signature-verified) section and tie it to its ELF.
    pub fn parse(section: &[u8], info: &ElfInfo) -> Result<Self, FastError> {
        let s = FastSection::parse(section)?;
        let descriptor = Descriptor::parse(s.descriptor)?;
        descriptor.matches_elf(info)?;
        Ok(Self {
            descriptor,
            insns: s.insns.to_vec(),
            data: s.data.to_vec(),
            kernel_sig: s.kernel_sig.to_vec(),
        })
    }

    pub fn encode(&self) -> Option<Vec<u8>> {
        FastSection::encode(
            &self.descriptor.to_bytes(),
            &self.insns,
            &self.data,
            &self.kernel_sig,
        )
    }
}

/// A small fast-path section and the ELF description it matches, for the tests here and the
/// loader's mutation tests (its dev-dependency turns on the `test-fixtures` feature).
#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures {
    use super::*;
    use crate::elf::ProgramInfo;

    pub fn sample() -> (FastPath, ElfInfo) {
        let prog = |name: &str, section: &str, autoload: bool, auto_attach: bool| ProgramInfo {
            name: name.into(),
            section: section.into(),
            kind: "tracepoint".into(),
            autoload,
            auto_attach,
        };
        let info = ElfInfo {
            programs: vec![
                prog(
                    "count_exec",
                    "tracepoint/sched/sched_process_exec",
                    true,
                    true,
                ),
                prog("never", "?raw_tp/x", false, true),
                prog("pass", "xdp", true, false),
            ],
            maps: vec!["exec_count".into()],
            ..Default::default()
        };
        let fast = FastPath {
            descriptor: Descriptor {
                maps: vec![
                    MapDesc {
                        name: "exec_count".into(),
                        map_type: 2,
                    },
                    MapDesc {
                        name: "counter.bss".into(),
                        map_type: 2,
                    },
                ],
                programs: vec![
                    ProgDesc {
                        name: "count_exec".into(),
                        section: "tracepoint/sched/sched_process_exec".into(),
                        prog_type: 5,
                        attach: Attach::Tracepoint {
                            category: "sched".into(),
                            event: "sched_process_exec".into(),
                        },
                    },
                    ProgDesc {
                        name: "pass".into(),
                        section: "xdp".into(),
                        prog_type: 6,
                        attach: Attach::None,
                    },
                ],
                skipped: vec!["never".into()],
            },
            insns: vec![0x95, 0, 0, 0, 0, 0, 0, 0],
            data: b"data".to_vec(),
            kernel_sig: Vec::new(),
        };
        (fast, info)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::sample;
    use super::*;

    #[test]
    fn attach_follows_the_section() {
        let tp = |c: &str, e: &str| Attach::Tracepoint {
            category: c.into(),
            event: e.into(),
        };
        let raw = |n: &str| Attach::RawTracepoint { name: n.into() };
        let kp = |f: &str, offset: u64, retprobe: bool| Attach::Kprobe {
            func: f.into(),
            offset,
            retprobe,
        };
        let cases: Vec<(&str, Result<Attach, String>)> = vec![
            (
                "tracepoint/sched/sched_process_exec",
                Ok(tp("sched", "sched_process_exec")),
            ),
            (
                "tp/syscalls/sys_enter_openat",
                Ok(tp("syscalls", "sys_enter_openat")),
            ),
            ("tp", Ok(Attach::None)),
            ("raw_tp/sched_process_exec", Ok(raw("sched_process_exec"))),
            ("raw_tracepoint/sched_switch", Ok(raw("sched_switch"))),
            ("?raw_tp/sched_process_exit", Ok(raw("sched_process_exit"))),
            ("iter/task", Ok(Attach::Iter)),
            ("fentry/do_unlinkat", Ok(Attach::Btf { attach_type: 24 })),
            ("lsm/path_mkdir", Ok(Attach::Btf { attach_type: 24 })),
            ("xdp", Ok(Attach::None)),
            ("tc/ingress", Ok(Attach::None)),
            ("kprobe/vfs_unlink", Ok(kp("vfs_unlink", 0, false))),
            ("kprobe/foo.isra.0+0x10", Ok(kp("foo.isra.0", 16, false))),
            ("kprobe/f+16", Ok(kp("f", 16, false))),
            ("kretprobe/vfs_unlink", Ok(kp("vfs_unlink", 0, true))),
            (
                "kretprobe/f+4",
                Err("section \"kretprobe/f+4\": no fast-path attach".into()),
            ),
            (
                "kprobe/f+zz",
                Err("section \"kprobe/f+zz\": no fast-path attach".into()),
            ),
            (
                "kprobe/a/b",
                Err("section \"kprobe/a/b\": no fast-path attach".into()),
            ),
            (
                "kprobe.multi/vfs_*",
                Err("section \"kprobe.multi/vfs_*\": no fast-path attach".into()),
            ),
            (
                "kprobe.multi/vfs_unlink",
                Ok(Attach::KprobeMulti {
                    func: "vfs_unlink".into(),
                    retprobe: false,
                }),
            ),
            (
                "kretprobe.multi/vfs_unlink",
                Ok(Attach::KprobeMulti {
                    func: "vfs_unlink".into(),
                    retprobe: true,
                }),
            ),
            (
                "kprobe.multi/ext4:ext4_*",
                Err("section \"kprobe.multi/ext4:ext4_*\": no fast-path attach".into()),
            ),
            (
                "tracepoint/a/b/c",
                Err("section \"tracepoint/a/b/c\": no fast-path attach".into()),
            ),
            (
                "freplace/f",
                Err("section \"freplace/f\": no fast-path attach".into()),
            ),
        ];
        for (section, want) in cases {
            assert_eq!(
                attach_for(section, 24).map_err(|e| e.to_string()),
                want,
                "{section}"
            );
        }
    }

    #[test]
    fn limits_are_inclusive() {
        let (fast, _) = sample();
        let mut d = fast.descriptor.clone();
        d.maps[0].name = "m".repeat(MAX_NAME);
        d.programs[0].name = "p".repeat(MAX_NAME);
        d.maps.resize(MAX_MAPS, d.maps[1].clone());
        d.skipped = (0..MAX_PROGS - d.programs.len())
            .map(|i| format!("s{i}"))
            .collect();
        assert_eq!(Descriptor::parse(&d.to_bytes()), Ok(d));
    }

    /// libbpf resolves every strong extern at load; the fast path only those of the programs
    /// it loads: an object whose strong externs are all used by loaded programs (or weak)
    /// keeps its fast path, one with a strong extern only `?` programs use does not.
    #[test]
    fn strong_externs_of_unloaded_programs_keep_the_libbpf_path() {
        use crate::elf::ExternInfo;
        let info = |weak, used_by_loaded| ElfInfo {
            externs: vec![ExternInfo {
                name: "bpf_no_such_kfunc".into(),
                weak,
                used_by_loaded,
            }],
            ..sample().1
        };
        let unloaded = Unconvertible::UnloadedExtern("bpf_no_such_kfunc".into());
        assert_eq!(libbpf_only(&info(false, false)), Some(unloaded.clone()));
        assert_eq!(libbpf_only(&info(true, false)), None);
        assert_eq!(libbpf_only(&info(false, true)), None);
        assert_eq!(libbpf_only(&sample().1), None);
        assert_eq!(
            unloaded.to_string(),
            "extern \"bpf_no_such_kfunc\" is used only by programs not loaded (SEC(\"?...\")); \
             libbpf resolves it all the same (declare it __weak to make it optional)"
        );
    }

    #[test]
    fn round_trip() {
        let (fast, info) = sample();
        let bytes = fast.encode().unwrap();
        assert_eq!(FastPath::parse(&bytes, &info), Ok(fast.clone()));
        let h = Header::from_bytes(bytes[..HEADER_LEN].try_into().unwrap()).unwrap();
        assert_eq!(h.to_bytes(), bytes[..HEADER_LEN]);
        assert_eq!(h.insns_len, 8);
        assert_eq!(h.data_len, 4);
    }

    fn with_header(f: impl Fn(&mut Header)) -> Vec<u8> {
        let (fast, _) = sample();
        let mut b = fast.encode().unwrap();
        let mut h = Header::from_bytes(b[..HEADER_LEN].try_into().unwrap()).unwrap();
        f(&mut h);
        b[..HEADER_LEN].copy_from_slice(&h.to_bytes());
        b
    }

    #[test]
    fn damaged_sections_are_refused() {
        let (fast, _) = sample();
        let good = fast.encode().unwrap();
        let dlen = fast.descriptor.to_bytes().len() as u32;
        let total = good.len();
        let lengths = |descriptor, insns, data, ksig, total| FastError::Lengths {
            descriptor,
            insns,
            data,
            ksig,
            total,
        };
        let cases: Vec<(&str, Vec<u8>, FastError)> = vec![
            ("empty", vec![], FastError::Short(0)),
            ("short", good[..31].to_vec(), FastError::Short(31)),
            (
                "magic",
                [b"X".as_slice(), &good[1..]].concat(),
                FastError::Magic,
            ),
            (
                "version",
                with_header(|h| h.version = 3),
                FastError::Version(3),
            ),
            ("flags", with_header(|h| h.flags = 1), FastError::Reserved),
            (
                "reserved",
                with_header(|h| h.reserved = 1),
                FastError::Reserved,
            ),
            (
                "descriptor too long",
                with_header(|h| h.descriptor_len += 1),
                lengths(dlen + 1, 8, 4, 0, total),
            ),
            (
                "overflow",
                with_header(|h| h.data_len = u32::MAX),
                lengths(dlen, 8, u32::MAX, 0, total),
            ),
            (
                "trailing byte",
                [good.clone(), vec![0]].concat(),
                lengths(dlen, 8, 4, 0, total + 1),
            ),
            (
                "insns not whole",
                with_header(|h| {
                    h.insns_len = 7;
                    h.data_len = 5
                }),
                FastError::Insns(7),
            ),
            (
                "no insns",
                with_header(|h| {
                    h.insns_len = 0;
                    h.data_len = 12
                }),
                FastError::Insns(0),
            ),
            (
                "kernel signature in version 1",
                with_header(|h| {
                    h.data_len = 0;
                    h.kernel_sig_len = 4
                }),
                FastError::KernelSignature { version: 1, len: 4 },
            ),
            (
                "version 2 without a kernel signature",
                with_header(|h| h.version = VERSION_KERNEL_SIGNED),
                FastError::KernelSignature { version: 2, len: 0 },
            ),
        ];
        for (what, b, want) in cases {
            assert_eq!(FastSection::parse(&b), Err(want), "{what}");
        }
        for len in 0..good.len() {
            assert!(
                FastSection::parse(&good[..len]).is_err(),
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn bad_descriptors_are_refused() {
        let (fast, info) = sample();
        let edit = |f: &dyn Fn(&mut Descriptor)| {
            let mut d = fast.descriptor.clone();
            f(&mut d);
            d
        };
        let tp = |category: &str, event: &str| Attach::Tracepoint {
            category: category.into(),
            event: event.into(),
        };
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("not json", b"{".to_vec(), "EOF while parsing"),
            (
                "long map name",
                edit(&|d| d.maps[0].name = "m".repeat(MAX_NAME + 1)).to_bytes(),
                "fast-path descriptor: map name longer than 128 bytes (129): \"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm…\"",
            ),
            (
                "long program name",
                edit(&|d| d.programs[0].name = "p".repeat(MAX_NAME + 1)).to_bytes(),
                "fast-path descriptor: program name longer than 128 bytes (129): \"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp…\"",
            ),
            (
                "long skipped name",
                edit(&|d| d.skipped[0] = "s".repeat(MAX_NAME + 1)).to_bytes(),
                "program name longer than 128 bytes (129)",
            ),
            (
                "raw tracepoint with a colon",
                edit(&|d| d.programs[0].attach = Attach::RawTracepoint { name: "sys_enter:skip_loop".into() }).to_bytes(),
                "fast-path descriptor: raw tracepoint \"sys_enter:skip_loop\" is not [A-Za-z0-9_]+",
            ),
            (
                "too many programs",
                edit(&|d| {
                    d.skipped = (0..MAX_PROGS - 1).map(|i| format!("s{i}")).collect();
                })
                .to_bytes(),
                "fast-path descriptor: more than 256 programs (257)",
            ),
            ("unknown field", br#"{"maps":[],"programs":[],"skipped":[],"x":1}"#.to_vec(), "unknown field `x`"),
            ("unknown attach", br#"{"maps":[],"programs":[{"name":"a","section":"s","prog_type":1,"attach":{"kind":"uprobe"}}],"skipped":[]}"#.to_vec(), "unknown variant `uprobe`"),
            (
                "path in tracepoint",
                edit(&|d| d.programs[0].attach = tp("..", "x")).to_bytes(),
                "tracepoint category \"..\" is not [A-Za-z0-9_]+",
            ),
            (
                "slash in event",
                edit(&|d| d.programs[0].attach = tp("sched", "a/b")).to_bytes(),
                "tracepoint \"a/b\" is not",
            ),
            (
                "raw tp",
                edit(&|d| d.programs[0].attach = Attach::RawTracepoint { name: String::new() }).to_bytes(),
                "raw tracepoint \"\" is not",
            ),
            (
                "path in kprobe",
                edit(&|d| d.programs[0].attach = Attach::Kprobe { func: "../x".into(), offset: 0, retprobe: false }).to_bytes(),
                "kprobe function \"../x\" is not [A-Za-z0-9_.]+",
            ),
            (
                "kretprobe offset",
                edit(&|d| d.programs[0].attach = Attach::Kprobe { func: "f".into(), offset: 8, retprobe: true }).to_bytes(),
                "a kretprobe has no offset",
            ),
            (
                "glob in kprobe.multi",
                edit(&|d| d.programs[0].attach = Attach::KprobeMulti { func: "vfs_*".into(), retprobe: false }).to_bytes(),
                "kprobe function \"vfs_*\" is not",
            ),
            (
                "empty map name",
                edit(&|d| d.maps[0].name.clear()).to_bytes(),
                "fast-path descriptor: empty map name",
            ),
            (
                "slash in prog name",
                edit(&|d| d.programs[1].name = "a/b".into()).to_bytes(),
                "fast-path descriptor: program name \"a/b\" has a '/', NUL or control character",
            ),
            (
                "control in section",
                edit(&|d| d.programs[1].section = "xdp\n".into()).to_bytes(),
                "bad section",
            ),
            (
                "duplicate",
                edit(&|d| d.skipped.push("pass".into())).to_bytes(),
                "listed twice",
            ),
            (
                "too many maps",
                edit(&|d| d.maps = vec![d.maps[0].clone(); MAX_MAPS + 1]).to_bytes(),
                "fast-path descriptor: more than 256 maps (257)",
            ),
        ];
        for (what, b, want) in cases {
            let e = Descriptor::parse(&b).unwrap_err().to_string();
            assert!(e.contains(want), "{what}: {e}");
        }
        // The words `sign` prints for the limits, exactly.
        let long = edit(&|d| d.programs[0].name = "p".repeat(MAX_NAME + 1));
        assert_eq!(
            Descriptor::parse(&long.to_bytes()),
            Err(FastError::Descriptor(DescriptorError::LongName {
                what: "program",
                len: MAX_NAME + 1,
                name: crate::name::shown(&"p".repeat(MAX_NAME + 1)),
            }))
        );
        let mismatches: Vec<(&str, Descriptor, &str)> = vec![
            (
                "attach differs",
                edit(&|d| d.programs[1].attach = Attach::Iter),
                "programs",
            ),
            (
                "program missing",
                edit(&|d| {
                    d.programs.pop();
                }),
                "programs",
            ),
            ("skipped differs", edit(&|d| d.skipped.clear()), "skipped"),
            (
                "map missing",
                edit(&|d| {
                    d.maps.remove(0);
                }),
                "maps",
            ),
        ];
        for (what, d, want) in mismatches {
            let e = d.matches_elf(&info).unwrap_err();
            assert!(
                matches!(&e, FastError::Mismatch(m) if m.starts_with(want)),
                "{what}: {e}"
            );
        }
    }
}
