//! `bpf-preload inspect [--json] OBJECT`: what is in an object, signed or not (nothing verified).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use serde::Serialize;

use bpf_preload::elf::{self, ElfInfo};
use bpf_preload::escape::{escape, escape_path, json_safe};
use bpf_preload::keys::KeyId;
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
    #[serde(flatten)]
    elf: ElfInfo,
}

pub fn run(args: &Args) -> Result<String, CommandError> {
    let object = &args.object;
    let buf = read(object)?;
    let (signed, name, key_id, payload) = match trailer::parse(&buf) {
        Ok(p) => (
            true,
            Some(p.name.to_string()),
            Some(KeyId(p.footer.key_id).to_string()),
            p.payload,
        ),
        Err(TrailerError::Unsigned) => (false, None, None, &buf[..]),
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
    let i = Inspection {
        file: object.to_string_lossy().into_owned(),
        signed,
        name,
        key_id,
        sha256: hex(&<sha2::Sha256 as sha2::Digest>::digest(payload)),
        payload_len: payload.len(),
        elf,
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
    s
}
