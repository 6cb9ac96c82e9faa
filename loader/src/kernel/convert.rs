//! Sign time: an ELF object into its fast path (docs/format.md), by libbpf's gen_loader
//! (`skel::generate`), with the kernel's signature over the loader when asked. Only in the host
//! build (feature `sign`); the boot side is `kernel::fast`.
#![forbid(unsafe_code)]

use super::skel::{self, GenerateError};
use bpf_preload_format::elf::ElfError;
use bpf_preload_format::fast::{
    attach_for, Descriptor, DescriptorError, FastError, FastPath, MapDesc, ProgDesc, Unconvertible,
    GEN_MAX_MAPS, GEN_MAX_PROGS,
};
use bpf_preload_format::ksig::{KernelSigner, KsigError};

/// Why `sign` makes no fast path for an object (it is then signed as version 1).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Elf(#[from] ElfError),
    /// The object has what the fast path cannot express.
    #[error("{0}")]
    Refused(#[from] Unconvertible),
    /// libbpf's gen_loader failed (its errno).
    #[error("{0}")]
    Generate(#[source] GenerateError<Unconvertible>),
    /// The boot-time checks would refuse the section: its rule, in words.
    #[error("{0}")]
    Descriptor(#[source] DescriptorError),
    #[error("{0}")]
    Check(#[source] FastError),
    #[error("fast-path section larger than 4 GiB")]
    TooLarge,
    #[error("kernel signature: {0}")]
    KernelSign(#[source] KsigError),
}

impl From<GenerateError<Unconvertible>> for ConvertError {
    fn from(e: GenerateError<Unconvertible>) -> Self {
        match e {
            GenerateError::Refused(why) => Self::Refused(why),
            e => Self::Generate(e),
        }
    }
}

impl From<FastError> for ConvertError {
    fn from(e: FastError) -> Self {
        match e {
            FastError::Descriptor(d) => Self::Descriptor(d),
            e => Self::Check(e),
        }
    }
}

/// Why an object cannot take the fast path, from its maps and programs (before generating):
/// what gen_loader cannot make, then what it would make wrong.
fn refusal(maps: &[(String, u32, bool)], progs: &[skel::GenProg]) -> Option<Unconvertible> {
    if maps.len() > GEN_MAX_MAPS {
        return Some(Unconvertible::TooManyMaps(maps.len()));
    }
    let loaded = progs.iter().filter(|p| p.autoload).count();
    if loaded > GEN_MAX_PROGS {
        return Some(Unconvertible::TooManyPrograms(loaded));
    }
    for (name, map_type, pinned) in maps {
        if *pinned {
            return Some(Unconvertible::PinnedMap(name.clone()));
        }
        if name.ends_with(".kconfig") {
            return Some(Unconvertible::Kconfig(name.clone()));
        }
        if *map_type == libbpf_sys::BPF_MAP_TYPE_STRUCT_OPS {
            return Some(Unconvertible::StructOps(name.clone()));
        }
    }
    progs
        .iter()
        .filter(|p| p.autoload)
        .find_map(|p| attach_for(&p.section, p.expected_attach_type).err())
}

/// Convert an ELF object, signed as `name`, into its fast path (not yet checked as boot
/// checks it: `crate::fast_path_section` (lib.rs) does); `Err` says why not. With `signer` the loader
/// is generated with `gen_hash` and the kernel's signature over its instructions is added.
pub fn convert(
    elf: &[u8],
    name: &str,
    signer: Option<&KernelSigner>,
) -> Result<FastPath, ConvertError> {
    let g = skel::generate(elf, name, signer.is_some(), refusal)?;
    let mut programs = Vec::new();
    let mut skipped = Vec::new();
    for p in g.progs {
        if !p.autoload {
            skipped.push(p.name);
            continue;
        }
        let attach = attach_for(&p.section, p.expected_attach_type)?;
        programs.push(ProgDesc {
            name: p.name,
            section: p.section,
            prog_type: p.prog_type,
            attach,
        });
    }
    let maps = g
        .maps
        .into_iter()
        .map(|(name, map_type, _)| MapDesc { name, map_type })
        .collect();
    Ok(FastPath {
        descriptor: Descriptor {
            maps,
            programs,
            skipped,
        },
        kernel_sig: match signer {
            Some(s) => s
                .sign(&bpf_preload_format::ksig::signed_content(&g.insns, &g.data))
                .map_err(ConvertError::KernelSign)?,
            None => Vec::new(),
        },
        insns: g.insns,
        data: g.data,
    })
}
