//! What can be said about an eBPF ELF object from its bytes alone (pure).
//!
//! Used to refuse non-eBPF input before libbpf sees it, to decide whether tracefs is needed, and
//! by `inspect`. Whether a program really attaches is decided by libbpf at load time; the
//! `auto_attach` guess here mirrors libbpf's section table.
#![forbid(unsafe_code)]

use goblin::elf::header::{EI_CLASS, EI_DATA, ELFCLASS64, ELFDATA2LSB, EM_BPF};
use goblin::elf::section_header::SHF_EXECINSTR;
use goblin::elf::section_header::SHN_UNDEF;
use goblin::elf::sym::{STB_WEAK, STT_FUNC};
use goblin::elf::Elf;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("empty file")]
    Empty,
    #[error("not an ELF file")]
    NotElf,
    #[error("not an eBPF object: ELF machine is {0}")]
    NotBpf(String),
    #[error("not a 64-bit little-endian ELF")]
    WrongClass,
    #[error("malformed ELF: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramInfo {
    pub name: String,
    pub section: String,
    /// The program type as libbpf names the section prefix (e.g. `tracepoint`, `xdp`).
    pub kind: String,
    /// `SEC("?…")`: not loaded unless asked for.
    pub autoload: bool,
    /// libbpf can attach it from the section name alone.
    pub auto_attach: bool,
}

/// An extern symbol of the object (`__ksym` kfuncs and kernel variables, `__kconfig` values):
/// undefined in the ELF, resolved by libbpf at load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternInfo {
    pub name: String,
    /// Declared `__weak`: libbpf leaves it unresolved (zero) when the kernel lacks it.
    pub weak: bool,
    /// Referenced from the code of an auto-loaded program: from its own section, or from
    /// subprograms (`.text`) when every program of the object is auto-loaded.
    pub used_by_loaded: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ElfInfo {
    pub programs: Vec<ProgramInfo>,
    pub maps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub externs: Vec<ExternInfo>,
}

impl ElfInfo {
    /// Does any program attach through tracefs (`tp/`, `tracepoint/`)?
    pub fn needs_tracefs(&self) -> bool {
        self.programs
            .iter()
            .any(|p| p.autoload && matches!(p.kind.as_str(), "tracepoint"))
    }
}

/// How libbpf's attach function for a section treats it (its `prog_attach_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attach {
    /// No attach function: the program loads, someone else attaches it (xdp, tc, cgroup, ...).
    No,
    /// The attach function always makes a link (BTF-based: fentry, lsm, iter, tp_btf, ...).
    Always,
    /// The attach function makes a link only when the section names a target: the bare form
    /// (`SEC("kprobe")`, `SEC("tp")`, `SEC("uprobe")`, ...) is loaded but not attached.
    WithTarget,
}

/// libbpf's `section_defs[]` (src/libbpf.c, libbpf 1.7, the version linked here; 1.5 and 1.6
/// have the same entries less `uprobe.session*` and `fsession*`), in its order, which matters:
/// the first entry that matches wins. The pattern keeps libbpf's spelling: `x+` matches `x` or
/// `x/...`, `x/` matches any name starting with `x/`, anything else matches exactly. The kind is
/// libbpf's program type name (`BPF_PROG_TYPE_*` in lower case).
const SECTION_DEFS: &[(&str, &str, Attach)] = &[
    ("socket", "socket_filter", Attach::No),
    ("sk_reuseport/migrate", "sk_reuseport", Attach::No),
    ("sk_reuseport", "sk_reuseport", Attach::No),
    ("kprobe+", "kprobe", Attach::WithTarget),
    ("uprobe+", "kprobe", Attach::WithTarget),
    ("uprobe.s+", "kprobe", Attach::WithTarget),
    ("kretprobe+", "kprobe", Attach::WithTarget),
    ("uretprobe+", "kprobe", Attach::WithTarget),
    ("uretprobe.s+", "kprobe", Attach::WithTarget),
    ("kprobe.multi+", "kprobe", Attach::WithTarget),
    ("kretprobe.multi+", "kprobe", Attach::WithTarget),
    ("kprobe.session+", "kprobe", Attach::WithTarget),
    ("uprobe.multi+", "kprobe", Attach::WithTarget),
    ("uretprobe.multi+", "kprobe", Attach::WithTarget),
    ("uprobe.session+", "kprobe", Attach::WithTarget),
    ("uprobe.multi.s+", "kprobe", Attach::WithTarget),
    ("uretprobe.multi.s+", "kprobe", Attach::WithTarget),
    ("uprobe.session.s+", "kprobe", Attach::WithTarget),
    ("ksyscall+", "kprobe", Attach::WithTarget),
    ("kretsyscall+", "kprobe", Attach::WithTarget),
    ("usdt+", "kprobe", Attach::WithTarget),
    // libbpf exempts only the bare `usdt`; a bare `usdt.s` is an attach error, not skipped.
    ("usdt.s+", "kprobe", Attach::Always),
    ("tc/ingress", "sched_cls", Attach::No),
    ("tc/egress", "sched_cls", Attach::No),
    ("tcx/ingress", "sched_cls", Attach::No),
    ("tcx/egress", "sched_cls", Attach::No),
    ("tc", "sched_cls", Attach::No),
    ("classifier", "sched_cls", Attach::No),
    ("action", "sched_act", Attach::No),
    ("netkit/primary", "sched_cls", Attach::No),
    ("netkit/peer", "sched_cls", Attach::No),
    ("tracepoint+", "tracepoint", Attach::WithTarget),
    ("tp+", "tracepoint", Attach::WithTarget),
    ("raw_tracepoint+", "raw_tracepoint", Attach::WithTarget),
    ("raw_tp+", "raw_tracepoint", Attach::WithTarget),
    (
        "raw_tracepoint.w+",
        "raw_tracepoint_writable",
        Attach::WithTarget,
    ),
    ("raw_tp.w+", "raw_tracepoint_writable", Attach::WithTarget),
    ("tp_btf+", "tracing", Attach::Always),
    ("fentry+", "tracing", Attach::Always),
    ("fmod_ret+", "tracing", Attach::Always),
    ("fexit+", "tracing", Attach::Always),
    ("fentry.s+", "tracing", Attach::Always),
    ("fmod_ret.s+", "tracing", Attach::Always),
    ("fexit.s+", "tracing", Attach::Always),
    ("fsession+", "tracing", Attach::Always),
    ("fsession.s+", "tracing", Attach::Always),
    ("freplace+", "ext", Attach::Always),
    ("lsm+", "lsm", Attach::Always),
    ("lsm.s+", "lsm", Attach::Always),
    ("lsm_cgroup+", "lsm", Attach::No),
    ("iter+", "tracing", Attach::Always),
    ("iter.s+", "tracing", Attach::Always),
    ("syscall", "syscall", Attach::No),
    ("xdp.frags/devmap", "xdp", Attach::No),
    ("xdp/devmap", "xdp", Attach::No),
    ("xdp.frags/cpumap", "xdp", Attach::No),
    ("xdp/cpumap", "xdp", Attach::No),
    ("xdp.frags", "xdp", Attach::No),
    ("xdp", "xdp", Attach::No),
    ("perf_event", "perf_event", Attach::No),
    ("lwt_in", "lwt_in", Attach::No),
    ("lwt_out", "lwt_out", Attach::No),
    ("lwt_xmit", "lwt_xmit", Attach::No),
    ("lwt_seg6local", "lwt_seg6local", Attach::No),
    ("sockops", "sock_ops", Attach::No),
    ("sk_skb/stream_parser", "sk_skb", Attach::No),
    ("sk_skb/stream_verdict", "sk_skb", Attach::No),
    ("sk_skb/verdict", "sk_skb", Attach::No),
    ("sk_skb", "sk_skb", Attach::No),
    ("sk_msg", "sk_msg", Attach::No),
    ("lirc_mode2", "lirc_mode2", Attach::No),
    ("flow_dissector", "flow_dissector", Attach::No),
    ("cgroup_skb/ingress", "cgroup_skb", Attach::No),
    ("cgroup_skb/egress", "cgroup_skb", Attach::No),
    ("cgroup/skb", "cgroup_skb", Attach::No),
    ("cgroup/sock_create", "cgroup_sock", Attach::No),
    ("cgroup/sock_release", "cgroup_sock", Attach::No),
    ("cgroup/sock", "cgroup_sock", Attach::No),
    ("cgroup/post_bind4", "cgroup_sock", Attach::No),
    ("cgroup/post_bind6", "cgroup_sock", Attach::No),
    ("cgroup/bind4", "cgroup_sock_addr", Attach::No),
    ("cgroup/bind6", "cgroup_sock_addr", Attach::No),
    ("cgroup/connect4", "cgroup_sock_addr", Attach::No),
    ("cgroup/connect6", "cgroup_sock_addr", Attach::No),
    ("cgroup/connect_unix", "cgroup_sock_addr", Attach::No),
    ("cgroup/sendmsg4", "cgroup_sock_addr", Attach::No),
    ("cgroup/sendmsg6", "cgroup_sock_addr", Attach::No),
    ("cgroup/sendmsg_unix", "cgroup_sock_addr", Attach::No),
    ("cgroup/recvmsg4", "cgroup_sock_addr", Attach::No),
    ("cgroup/recvmsg6", "cgroup_sock_addr", Attach::No),
    ("cgroup/recvmsg_unix", "cgroup_sock_addr", Attach::No),
    ("cgroup/getpeername4", "cgroup_sock_addr", Attach::No),
    ("cgroup/getpeername6", "cgroup_sock_addr", Attach::No),
    ("cgroup/getpeername_unix", "cgroup_sock_addr", Attach::No),
    ("cgroup/getsockname4", "cgroup_sock_addr", Attach::No),
    ("cgroup/getsockname6", "cgroup_sock_addr", Attach::No),
    ("cgroup/getsockname_unix", "cgroup_sock_addr", Attach::No),
    ("cgroup/sysctl", "cgroup_sysctl", Attach::No),
    ("cgroup/getsockopt", "cgroup_sockopt", Attach::No),
    ("cgroup/setsockopt", "cgroup_sockopt", Attach::No),
    ("cgroup/dev", "cgroup_device", Attach::No),
    ("struct_ops+", "struct_ops", Attach::No),
    ("struct_ops.s+", "struct_ops", Attach::No),
    ("sk_lookup", "sk_lookup", Attach::No),
    ("netfilter", "netfilter", Attach::No),
];

/// libbpf's `sec_def_matches`: `x/` is a prefix, `x+` is `x` or `x/...`, else an exact name.
fn sec_def_matches(pattern: &str, section: &str) -> bool {
    if pattern.ends_with('/') {
        section.starts_with(pattern)
    } else if let Some(base) = pattern.strip_suffix('+') {
        section
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    } else {
        section == pattern
    }
}

/// The first `section_defs` entry matching a section name (a leading `?`, libbpf's "not
/// autoloaded" mark, is ignored as libbpf ignores it): (pattern, kind, attach function).
fn sec_def(section: &str) -> Option<(&'static str, &'static str, Attach)> {
    let section = section.strip_prefix('?').unwrap_or(section);
    SECTION_DEFS
        .iter()
        .copied()
        .find(|&(pattern, _, _)| sec_def_matches(pattern, section))
}

/// Can libbpf attach a program of this ELF section from the section name alone
/// (`bpf_program__attach`)? This is the one place that decides "cannot be auto-attached" (the
/// program is then pinned under `progs/` for someone else to attach); it mirrors libbpf's
/// `section_defs[]` and its attach functions, not an errno:
///
/// * false when the section has no attach function (`xdp`, `tc`, `tcx/ingress`, `cgroup/...`,
///   `sk_msg`, `struct_ops`, `lsm_cgroup`, `syscall`, `perf_event`, ...), when it names no
///   target (`SEC("kprobe")`, `SEC("tp")`, `SEC("uprobe")`, `SEC("usdt")`, ...), or when libbpf
///   does not know it at all (it will then refuse to load it);
/// * true otherwise, including sections whose target is malformed (`tp/only-category`): libbpf
///   then tries and fails, which is an attach error, not a program to skip.
///
/// A leading `?` is ignored. Stable: the runtime's attach step calls it.
pub fn auto_attach(section: &str) -> bool {
    match sec_def(section) {
        Some((_, _, Attach::Always)) => true,
        Some((pattern, _, Attach::WithTarget)) => {
            let section = section.strip_prefix('?').unwrap_or(section);
            section != pattern.trim_end_matches(['+', '/'])
        }
        Some((_, _, Attach::No)) | None => false,
    }
}

/// The program kind (libbpf's program type name, `unknown` when libbpf has no such section) and
/// [`auto_attach`].
pub fn classify(section: &str) -> (String, bool) {
    let kind = sec_def(section).map_or("unknown", |(_, kind, _)| kind);
    (kind.to_owned(), auto_attach(section))
}

/// Check that `payload` is a 64-bit little-endian eBPF ELF and list its programs and maps.
pub fn describe(payload: &[u8]) -> Result<ElfInfo, ElfError> {
    if payload.is_empty() {
        return Err(ElfError::Empty);
    }
    if !payload.starts_with(b"\x7fELF") {
        return Err(ElfError::NotElf);
    }
    if payload.len() < 20 || payload[EI_CLASS] != ELFCLASS64 || payload[EI_DATA] != ELFDATA2LSB {
        return Err(ElfError::WrongClass);
    }
    let machine = u16::from_le_bytes([payload[18], payload[19]]);
    if machine != EM_BPF {
        return Err(ElfError::NotBpf(
            goblin::elf::header::machine_to_str(machine).to_owned(),
        ));
    }
    let elf = Elf::parse(payload).map_err(|e| ElfError::Malformed(e.to_string()))?;
    let section_name = |idx: usize| -> Option<&str> {
        let sh = elf.section_headers.get(idx)?;
        elf.shdr_strtab.get_at(sh.sh_name)
    };
    let mut programs = Vec::new();
    let mut maps = Vec::new();
    for sym in elf.syms.iter() {
        let Some(sym_name) = elf.strtab.get_at(sym.st_name).filter(|n| !n.is_empty()) else {
            continue;
        };
        let Some(section) = section_name(sym.st_shndx) else {
            continue;
        };
        let exec = elf
            .section_headers
            .get(sym.st_shndx)
            .is_some_and(|sh| sh.sh_flags & u64::from(SHF_EXECINSTR) != 0);
        if sym.st_type() == STT_FUNC && exec && section != ".text" {
            let autoload = !section.starts_with('?');
            let (kind, auto_attach) = classify(section);
            programs.push(ProgramInfo {
                name: sym_name.to_owned(),
                section: section.to_owned(),
                kind,
                autoload,
                auto_attach,
            });
        } else if section == ".maps" || section == "maps" {
            maps.push(sym_name.to_owned());
        }
    }
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    maps.sort();
    let externs = externs(&elf, &programs, section_name);
    Ok(ElfInfo {
        programs,
        maps,
        externs,
    })
}

/// The object's extern symbols and whether an auto-loaded program's code refers to them (the
/// relocation sections of the program sections say which code does).
fn externs<'a>(
    elf: &Elf<'a>,
    programs: &[ProgramInfo],
    section_name: impl Fn(usize) -> Option<&'a str>,
) -> Vec<ExternInfo> {
    let all_loaded = programs.iter().all(|p| p.autoload);
    let loaded_code = |section: &str| {
        (section == ".text" && all_loaded)
            || programs.iter().any(|p| p.autoload && p.section == section)
    };
    // Symbol index -> its entry in `externs`: one pass over the relocations, whatever their number.
    let mut externs: Vec<ExternInfo> = Vec::new();
    let mut by_sym: Vec<Option<usize>> = vec![None; elf.syms.len()];
    for (i, sym) in elf.syms.iter().enumerate() {
        let name = elf.strtab.get_at(sym.st_name).filter(|n| !n.is_empty());
        if let (true, Some(name)) = (sym.st_shndx == SHN_UNDEF as usize, name) {
            by_sym[i] = Some(externs.len());
            externs.push(ExternInfo {
                name: name.to_owned(),
                weak: sym.st_bind() == STB_WEAK,
                used_by_loaded: false,
            });
        }
    }
    for (idx, relocs) in &elf.shdr_relocs {
        let target = elf
            .section_headers
            .get(*idx)
            .and_then(|sh| section_name(sh.sh_info as usize));
        if !target.is_some_and(loaded_code) {
            continue;
        }
        for r in relocs.iter() {
            if let Some(&Some(e)) = by_sym.get(r.r_sym) {
                externs[e].used_by_loaded = true;
            }
        }
    }
    externs.sort_by(|a, b| a.name.cmp(&b.name));
    // One name, one extern (a symbol listed twice is used if either is).
    externs.dedup_by(|later, kept| {
        let same = later.name == kept.name;
        if same {
            kept.used_by_loaded |= later.used_by_loaded;
        }
        same
    });
    externs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_ebpf() {
        assert_eq!(describe(b""), Err(ElfError::Empty));
        assert_eq!(describe(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert_eq!(describe(b"\x7fELF\x01\x01"), Err(ElfError::WrongClass));
        // The host's own executable is an ELF, but not an eBPF one.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(describe(&me), Err(ElfError::NotBpf("X86_64".to_owned())));
        let mut truncated = me[..64].to_vec();
        truncated[18..20].copy_from_slice(&EM_BPF.to_le_bytes());
        assert!(matches!(describe(&truncated), Err(ElfError::Malformed(_))));
    }

    #[test]
    fn classifies_sections_like_libbpf() {
        // (section, kind, auto-attach), checked against libbpf 1.7's section_defs[] and the
        // bare-name exemptions of its attach functions.
        let cases: &[(&str, &str, bool)] = &[
            ("tracepoint/sched/sched_process_exec", "tracepoint", true),
            ("tp/syscalls/sys_enter_openat", "tracepoint", true),
            ("tp", "tracepoint", false),
            ("tracepoint", "tracepoint", false),
            ("tpx/a/b", "unknown", false),
            ("raw_tp/sched_switch", "raw_tracepoint", true),
            ("raw_tp", "raw_tracepoint", false),
            ("raw_tp.w/bpf_test_finish", "raw_tracepoint_writable", true),
            ("raw_tracepoint.w/x", "raw_tracepoint_writable", true),
            ("raw_tp.w", "raw_tracepoint_writable", false),
            ("tp_btf/sched_switch", "tracing", true),
            ("fentry/do_unlinkat", "tracing", true),
            ("fexit/do_unlinkat", "tracing", true),
            ("fmod_ret/security_x", "tracing", true),
            ("fmod_ret.s/security_x", "tracing", true),
            ("fentry.s/x", "tracing", true),
            ("freplace/handler", "ext", true),
            ("lsm/path_mkdir", "lsm", true),
            ("lsm.s/bprm_check_security", "lsm", true),
            ("lsm_cgroup/socket_bind", "lsm", false),
            ("iter/task", "tracing", true),
            ("iter.s/task_file", "tracing", true),
            ("kprobe/do_unlinkat", "kprobe", true),
            ("kprobe/do_unlinkat+8", "kprobe", true),
            ("kprobe", "kprobe", false),
            ("kretprobe/do_unlinkat", "kprobe", true),
            ("kretprobe", "kprobe", false),
            ("kprobe.multi/do_*", "kprobe", true),
            ("kprobe.multi", "kprobe", false),
            ("kretprobe.multi/do_*", "kprobe", true),
            ("kretprobe.multi", "kprobe", false),
            ("kprobe.session/do_*", "kprobe", true),
            ("kprobe.session", "kprobe", false),
            ("kprobe.multix/a", "unknown", false),
            ("uprobe//bin/sh:main", "kprobe", true),
            ("uprobe", "kprobe", false),
            ("uretprobe.s//bin/sh:main", "kprobe", true),
            ("uprobe.multi//bin/sh:ma*", "kprobe", true),
            ("uprobe.multi", "kprobe", false),
            ("uprobe.session.s//bin/sh:f", "kprobe", true),
            ("ksyscall/openat", "kprobe", true),
            ("ksyscall", "kprobe", false),
            ("kretsyscall/openat", "kprobe", true),
            ("usdt/libc.so.6:libc:setjmp", "kprobe", true),
            ("usdt", "kprobe", false),
            ("usdt.s", "kprobe", true),
            ("struct_ops/dctcp_init", "struct_ops", false),
            ("struct_ops.s/x", "struct_ops", false),
            ("sk_lookup", "sk_lookup", false),
            ("sk_lookup/x", "unknown", false),
            ("netkit/primary", "sched_cls", false),
            ("netkit/peer", "sched_cls", false),
            ("netkit", "unknown", false),
            ("tcx/ingress", "sched_cls", false),
            ("tcx/egress", "sched_cls", false),
            ("tc/ingress", "sched_cls", false),
            ("tc", "sched_cls", false),
            ("classifier", "sched_cls", false),
            ("action", "sched_act", false),
            ("sk_msg", "sk_msg", false),
            ("sk_skb/stream_verdict", "sk_skb", false),
            ("sk_skb", "sk_skb", false),
            ("sk_reuseport/migrate", "sk_reuseport", false),
            ("socket", "socket_filter", false),
            ("sockops", "sock_ops", false),
            ("cgroup_skb/ingress", "cgroup_skb", false),
            ("cgroup/skb", "cgroup_skb", false),
            ("cgroup/sock_create", "cgroup_sock", false),
            ("cgroup/connect4", "cgroup_sock_addr", false),
            ("cgroup/getsockname_unix", "cgroup_sock_addr", false),
            ("cgroup/sysctl", "cgroup_sysctl", false),
            ("cgroup/setsockopt", "cgroup_sockopt", false),
            ("cgroup/dev", "cgroup_device", false),
            ("cgroup/nonsense", "unknown", false),
            ("xdp", "xdp", false),
            ("xdp.frags", "xdp", false),
            ("xdp/devmap", "xdp", false),
            ("xdp.frags/cpumap", "xdp", false),
            ("perf_event", "perf_event", false),
            ("syscall", "syscall", false),
            ("netfilter", "netfilter", false),
            ("flow_dissector", "flow_dissector", false),
            ("lwt_xmit", "lwt_xmit", false),
            ("lirc_mode2", "lirc_mode2", false),
            ("?kprobe/do_unlinkat", "kprobe", true),
            ("?xdp", "xdp", false),
            ("weird", "unknown", false),
            ("", "unknown", false),
        ];
        for &(section, kind, attach) in cases {
            assert_eq!(classify(section), (kind.to_owned(), attach), "{section:?}");
            assert_eq!(auto_attach(section), attach, "{section:?}");
        }
    }

    #[test]
    fn every_libbpf_pattern_matches_itself_first() {
        // No entry is shadowed by an earlier, shorter one (`kprobe/` must not take
        // `kprobe.multi/...`): the spelled-out form of each pattern finds that very entry.
        for &(pattern, kind, _) in SECTION_DEFS {
            let section = match pattern.strip_suffix('+') {
                Some(base) => format!("{base}/target"),
                None => pattern.to_owned(),
            };
            assert_eq!(sec_def(&section).map(|d| d.0), Some(pattern), "{section}");
            assert_eq!(sec_def(&section).map(|d| d.1), Some(kind), "{section}");
        }
    }
}
