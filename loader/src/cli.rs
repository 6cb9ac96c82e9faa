//! The command-line tools around the boot job: keygen, sign, verify, inspect, status.
//! Each returns the text to print or an error message; `main` decides exit codes.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::elf::{self, ElfInfo};
use crate::keys::{self, KeyId, KeyRing};
use crate::name::ObjectName;
use crate::status::Status;
use crate::trailer;
use crate::verify::{self, hex};

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))
}

/// Write via a temporary file and a rename, so a crash never leaves half an object.
fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| format!("rename {} to {}: {e}", tmp.display(), path.display()))
}

pub fn keygen(private: &Path, public: &Path) -> Result<String, String> {
    let mut seed = [0u8; 32];
    rustix::rand::getrandom(&mut seed, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| format!("getrandom: {e}"))?;
    let (sk_pem, pk_pem) = keys::keypair_pem(seed).map_err(|e| e.to_string())?;
    seed.fill(0);
    let id = KeyId::of(&keys::parse_public_pem("new key", &pk_pem).map_err(|e| e.to_string())?);
    write_new(private, &sk_pem, 0o600)?;
    write_new(public, &pk_pem, 0o644)?;
    Ok(format!(
        "key id {id}\nprivate key {}\npublic key {}\n",
        private.display(),
        public.display()
    ))
}

pub fn sign(
    key: &Path,
    name: Option<&str>,
    output: Option<&Path>,
    object: &Path,
) -> Result<String, String> {
    let sk = keys::parse_private_pem(
        &key.display().to_string(),
        &keys::read_text(key).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let name = match name {
        Some(n) => ObjectName::parse(n),
        None => {
            ObjectName::from_file_name(&object.file_name().unwrap_or_default().to_string_lossy())
        }
    }
    .map_err(|e| format!("{}: object name: {e}", object.display()))?;
    let buf = read(object)?;
    let payload = verify::payload_of(&buf).map_err(|e| format!("{}: {e}", object.display()))?;
    elf::describe(payload).map_err(|e| format!("{}: {e}", object.display()))?;
    let signed =
        verify::sign(&buf, &name, &sk).map_err(|e| format!("{}: {e}", object.display()))?;
    let out = output.unwrap_or(object);
    write_replace(out, &signed)?;
    Ok(format!(
        "{}: signed as {name} with key {}\n",
        out.display(),
        KeyId::of(&sk.verifying_key())
    ))
}

pub fn verify(
    key_files: &[PathBuf],
    key_dirs: &[PathBuf],
    object: &Path,
) -> Result<String, String> {
    let mut ring = KeyRing::default();
    for k in key_files {
        let pem = keys::read_text(k).map_err(|e| e.to_string())?;
        ring.add_pem(&k.display().to_string(), &pem)
            .map_err(|e| e.to_string())?;
    }
    for d in key_dirs {
        ring.load_dir(d).map_err(|e| e.to_string())?;
    }
    if key_files.is_empty() && key_dirs.is_empty() {
        // Nothing named: check against what this binary trusts on its own.
        ring = keys::builtin_ring().map_err(|e| e.to_string())?;
    }
    if ring.is_empty() {
        return Err("no trusted key: give --key PUBLIC.pem or --keys DIR (this binary has no built-in keys)".into());
    }
    let v = verify::verify(read(object)?, None, &ring)
        .map_err(|e| format!("{}: refused: {e}", object.display()))?;
    let source = ring
        .lookup(v.key_id)
        .map(|k| k.source.clone())
        .unwrap_or_default();
    Ok(format!(
        "{}: ok name={} key={} sha256={} trusted-by={source}\n",
        object.display(),
        v.name,
        v.key_id,
        v.sha256_hex()
    ))
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

pub fn inspect(object: &Path, json: bool) -> Result<String, String> {
    let buf = read(object)?;
    let (signed, name, key_id, payload) = match trailer::parse(&buf) {
        Ok(p) => (
            true,
            Some(p.name.to_string()),
            Some(KeyId(p.footer.key_id).to_string()),
            p.payload,
        ),
        Err(trailer::TrailerError::Unsigned) => (false, None, None, &buf[..]),
        Err(e) => return Err(format!("{}: {e}", object.display())),
    };
    let elf = elf::describe(payload).map_err(|e| format!("{}: {e}", object.display()))?;
    let sha256 = hex(&<sha2::Sha256 as sha2::Digest>::digest(payload));
    let i = Inspection {
        file: object.display().to_string(),
        signed,
        name,
        key_id,
        sha256,
        payload_len: payload.len(),
        elf,
    };
    if json {
        return Ok(serde_json::to_string_pretty(&i).expect("serialises") + "\n");
    }
    let mut s = format!("file     {}\n", i.file);
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
            p.name, p.section, p.kind
        );
    }
    s += &format!("maps     {}\n", i.elf.maps.len());
    for m in &i.elf.maps {
        s += &format!("  {m}\n");
    }
    Ok(s)
}

pub fn status(path: &Path, json: bool) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "read status {}: {e} (has `bpf-preload run` run?)",
            path.display()
        )
    })?;
    let mut st =
        Status::from_json(&text).map_err(|e| format!("status {}: {e}", path.display()))?;
    // The seal engages after `run` (when PID 1 execs the real init): read it live.
    if let Some(g) = st.guard.as_mut().filter(|g| g.is_active()) {
        if let Ok((sealed, refused)) =
            crate::builtin::guard::read_info(std::path::Path::new(&st.bpffs))
        {
            g.sealed = Some(sealed);
            g.refused = Some(refused);
        }
    }
    Ok(if json { st.to_json() } else { st.render() })
}
