//! What can be said about an eBPF ELF object from its bytes alone (pure).
//!
//! Used to refuse non-eBPF input before libbpf sees it, to decide whether tracefs is needed, and
//! by `inspect`. Whether a program really attaches is decided by libbpf at load time; the
//! `auto_attach` guess here mirrors libbpf's section table.
#![forbid(unsafe_code)]

use goblin::elf::header::{EI_CLASS, EI_DATA, ELFCLASS64, ELFDATA2LSB, EM_BPF};
use goblin::elf::section_header::SHF_EXECINSTR;
use goblin::elf::sym::STT_FUNC;
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElfInfo {
    pub programs: Vec<ProgramInfo>,
    pub maps: Vec<String>,
}

impl ElfInfo {
    /// Does any program attach through tracefs (`tp/`, `tracepoint/`)?
    pub fn needs_tracefs(&self) -> bool {
        self.programs
            .iter()
            .any(|p| p.autoload && matches!(p.kind.as_str(), "tracepoint"))
    }
}

/// Section prefixes libbpf can auto-attach (its `section_defs` with an attach function), and the
/// program kind of each. Anything else loads but must be attached by someone else.
const SECTIONS: &[(&str, &str, bool)] = &[
    ("tp/", "tracepoint", true),
    ("tracepoint/", "tracepoint", true),
    ("raw_tp/", "raw_tracepoint", true),
    ("raw_tracepoint/", "raw_tracepoint", true),
    ("raw_tp.w/", "raw_tracepoint_writable", true),
    ("tp_btf/", "tracing", true),
    ("fentry/", "tracing", true),
    ("fexit/", "tracing", true),
    ("fmod_ret/", "tracing", true),
    ("fentry.s/", "tracing", true),
    ("fexit.s/", "tracing", true),
    ("lsm/", "lsm", true),
    ("lsm.s/", "lsm", true),
    ("iter/", "iter", true),
    ("iter.s/", "iter", true),
    ("kprobe/", "kprobe", true),
    ("kretprobe/", "kprobe", true),
    ("ksyscall/", "kprobe", true),
    ("kretsyscall/", "kprobe", true),
    ("uprobe", "kprobe", true),
    ("usdt", "kprobe", true),
    ("struct_ops", "struct_ops", false),
    ("xdp", "xdp", false),
    ("tc", "sched_cls", false),
    ("classifier", "sched_cls", false),
    ("action", "sched_act", false),
    ("cgroup", "cgroup", false),
    ("socket", "socket_filter", false),
    ("sk_", "sk", false),
    ("sockops", "sock_ops", false),
    ("flow_dissector", "flow_dissector", false),
    ("perf_event", "perf_event", false),
    ("netfilter", "netfilter", false),
    ("syscall", "syscall", false),
];

fn classify(section: &str) -> (String, bool) {
    SECTIONS
        .iter()
        .find(|(prefix, _, _)| section.starts_with(prefix))
        .map(|&(_, kind, attach)| (kind.to_owned(), attach))
        .unwrap_or_else(|| ("unknown".to_owned(), false))
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
            let (kind, auto_attach) = classify(section.trim_start_matches('?'));
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
    Ok(ElfInfo { programs, maps })
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
        assert_eq!(
            classify("tracepoint/sched/sched_process_exec"),
            ("tracepoint".into(), true)
        );
        assert_eq!(
            classify("tp/syscalls/sys_enter_openat"),
            ("tracepoint".into(), true)
        );
        assert_eq!(classify("iter/task"), ("iter".into(), true));
        assert_eq!(classify("lsm/path_mkdir"), ("lsm".into(), true));
        assert_eq!(classify("xdp"), ("xdp".into(), false));
        assert_eq!(classify("cgroup_skb/ingress"), ("cgroup".into(), false));
        assert_eq!(classify("tc"), ("sched_cls".into(), false));
        assert_eq!(classify("weird"), ("unknown".into(), false));
    }
}
