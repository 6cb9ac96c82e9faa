//! `bpf-preload inspect [--json] OBJECT`: what is in an object, signed or not (nothing verified).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use serde::Serialize;

use bpf_preload::elf::{self, ElfInfo};
use bpf_preload::escape::{escape, escape_path, json_safe};
use bpf_preload::fast::{self, FastPath};
use bpf_preload::keys::KeyId;
use bpf_preload::name::ObjectName;
use bpf_preload::trailer::{self, TrailerError};
use bpf_preload::verify::hex;

use super::{is_help, missing, read, CommandError};

pub struct Args {
    pub object: PathBuf,
    pub json: bool,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut object, mut json) = (None, false);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("json") => json = true,
                Value(v) if object.is_none() => object = Some(PathBuf::from(v)),
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            object: object.ok_or_else(|| missing("inspect", "OBJECT"))?,
            json,
        }))
    }
}

#[derive(Serialize)]
struct Inspection {
    file: String,
    signed: bool,
    name: Option<String>,
    key_id: Option<String>,
    sha256: String,
    payload_len: usize,
    /// The path `run` takes: `fast` (the signed light skeleton) or `libbpf`; null if unsigned.
    load_path: Option<&'static str>,
    /// Why not the fast path (or why `run` would refuse the fast-path section).
    load_path_reason: Option<String>,
    /// The fast path's loader and data sizes.
    fast_path: Option<FastSummary>,
    #[serde(flatten)]
    elf: ElfInfo,
    /// The placeholder signature of `sign --message-out` (text only: the JSON's `signed` is
    /// about the trailer, and `verify` refuses the object).
    #[serde(skip)]
    placeholder: bool,
}

#[derive(Serialize)]
struct FastSummary {
    loader_insns: usize,
    data_len: usize,
    maps: usize,
    programs: usize,
}

/// Which path `run` takes for this object, and why not the fast one.
fn load_path(
    name: Option<&str>,
    fast: Option<&[u8]>,
    payload: &[u8],
    elf: &ElfInfo,
) -> (Option<&'static str>, Option<String>, Option<FastSummary>) {
    let Some(name) = name.and_then(|n| ObjectName::parse(n).ok()) else {
        return (None, None, None);
    };
    match fast {
        Some(section) => match (FastPath::parse(section, elf), fast::libbpf_only(elf)) {
            (Ok(_), Some(why)) => (
                Some("libbpf"),
                Some(format!("fast path not taken: {why}")),
                None,
            ),
            (Ok(f), None) => {
                let summary = FastSummary {
                    loader_insns: f.insns.len() / fast::INSN_LEN,
                    data_len: f.data.len(),
                    maps: f.descriptor.maps.len(),
                    programs: f.descriptor.programs.len(),
                };
                (Some("fast"), None, Some(summary))
            }
            (Err(e), _) => (None, Some(format!("refused by run: {e}")), None),
        },
        None => (Some("libbpf"), Some(no_fast_path(payload, &name)), None),
    }
}

/// Why a signed object has no fast path: what `sign` would say now (gen_loader is sign-time
/// code, so the initramfs build cannot tell).
#[cfg(feature = "sign")]
fn no_fast_path(payload: &[u8], name: &ObjectName) -> String {
    match bpf_preload::fast_path_section(payload, name, None) {
        Ok(_) => "signed without a fast path (sign again to add one)".to_owned(),
        Err(e) => format!("signed without a fast path; it has none because {e}"),
    }
}

#[cfg(not(feature = "sign"))]
fn no_fast_path(_payload: &[u8], _name: &ObjectName) -> String {
    "signed without a fast path (the host's bpf-preload inspect says why)".to_owned()
}

pub fn run(args: &Args) -> Result<String, CommandError> {
    let object = &args.object;
    let buf = read(object)?;
    let placeholder = trailer::parse(&buf)
        .is_ok_and(|p| p.signature == bpf_preload::verify::PLACEHOLDER_SIGNATURE);
    let (signed, name, key_id, payload, fast) = match trailer::parse(&buf) {
        Ok(p) => (
            true,
            Some(p.name.to_string()),
            Some(KeyId(p.footer.key_id).to_string()),
            p.payload,
            p.fast,
        ),
        Err(TrailerError::Unsigned) => (false, None, None, &buf[..], None),
        Err(source) => {
            return Err(CommandError::Trailer {
                path: object.clone(),
                source,
            })
        }
    };
    let elf = elf::describe(payload).map_err(|source| CommandError::Elf {
        path: object.clone(),
        source,
    })?;
    let (load_path, load_path_reason, fast_path) = load_path(name.as_deref(), fast, payload, &elf);
    let i = Inspection {
        file: object.to_string_lossy().into_owned(),
        signed,
        name,
        key_id,
        sha256: hex(&<sha2::Sha256 as sha2::Digest>::digest(payload)),
        payload_len: payload.len(),
        load_path,
        load_path_reason,
        fast_path,
        elf,
        placeholder,
    };
    Ok(if args.json {
        json_safe(serde_json::to_string_pretty(&i).unwrap_or_default()) + "\n"
    } else {
        render(&i, object)
    })
}

/// For a person: every name in the object (symbols, sections, maps) and the path are escaped.
fn render(i: &Inspection, path: &std::path::Path) -> String {
    let mut s = format!("file     {}\n", escape_path(path));
    match (&i.name, &i.key_id) {
        (Some(n), Some(k)) if i.placeholder => {
            s += &format!(
                "name     {n}\nkey id   {k} (not signed yet: prepared by sign --message-out)\n"
            )
        }
        (Some(n), Some(k)) => {
            s += &format!("name     {n}\nkey id   {k} (signature not checked: use verify)\n")
        }
        _ => s += "name     (unsigned)\n",
    }
    s += &format!(
        "sha256   {}\npayload  {} bytes\nprograms {}\n",
        i.sha256,
        i.payload_len,
        i.elf.programs.len()
    );
    for p in &i.elf.programs {
        let attach = match (p.autoload, p.auto_attach) {
            (false, _) => "not autoloaded",
            (true, true) => "auto-attach",
            (true, false) => "no auto-attach (pinned under progs/)",
        };
        s += &format!(
            "  {:<24} {:<36} {:<16} {attach}\n",
            escape(&p.name),
            escape(&p.section),
            p.kind
        );
    }
    s += &format!("maps     {}\n", i.elf.maps.len());
    for m in &i.elf.maps {
        s += &format!("  {}\n", escape(m));
    }
    let summary = i.fast_path.as_ref().map(|f| {
        format!(
            " ({} loader insns, {} bytes of data, {} maps, {} programs)",
            f.loader_insns, f.data_len, f.maps, f.programs
        )
    });
    let reason = i
        .load_path_reason
        .as_deref()
        .map(|r| format!(": {}", escape(r)));
    s += &format!(
        "path     {}{}{}\n",
        i.load_path
            .unwrap_or(if i.signed { "refused" } else { "(unsigned)" }),
        summary.unwrap_or_default(),
        reason.unwrap_or_default()
    );
    s
}
