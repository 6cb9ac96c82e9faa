//! `bpf-preload inspect-initramfs [--cmdline FILE] [--json] IMAGE`: what an initramfs image would do at
//! boot, read from the image alone: its loader, trusted keys, revocations and certificates, its
//! build-time policy, its list and drop-ins merged, each object verified against the image's own
//! keys (as `run` in that image would), and the PCR value the boot would measure (predict's code,
//! [`super::predict::predict`]).
//!
//! The image is read with [`bpf_preload::cpio`]: uncompressed archives at its start (Debian's
//! early microcode archive), then the compressed main archive, unpacked by the system's own
//! decompressor (`zstd`, `gzip`, `xz`, `lz4`, `bzip2`: the generator that made the image needed it
//! too). The loader links no decompressor: it goes into every image, and a decompressor there
//! would serve this one diagnostic only.
//!
//! Keys are the image's `/etc/bpf-preload/keys` only: keys built into the image's loader binary
//! are not known here. Exit status 1 when the image cannot be read, or when an object its plan
//! loads would be refused (the output says which).
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use bpf_preload::cmdline;
use bpf_preload::cpio::{self, Compression, Entry};
use bpf_preload::escape::{escape, json_safe};
use bpf_preload::keys::{parse_public_pem, KeyId, KeyRing};
use bpf_preload::policy::Policy;

use serde::Serialize;

use super::predict::{predict, Refused};
use super::{is_help, missing, CommandError};

pub struct Args {
    pub image: PathBuf,
    pub cmdline: Option<PathBuf>,
    /// `--json`: the same, as one JSON object ([`Inspection`]).
    pub json: bool,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut image, mut cmdline, mut json) = (None, None, false);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("cmdline") => cmdline = Some(PathBuf::from(p.value()?)),
                Long("json") => json = true,
                Value(v) if image.is_none() => image = Some(PathBuf::from(v)),
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            image: image.ok_or_else(|| missing("inspect-initramfs", "IMAGE"))?,
            cmdline,
            json,
        }))
    }
}

/// Largest image read, and largest decompressed archive.
const MAX_IMAGE: u64 = 4 << 30;
/// Compressed streams followed one after the other (each may end in another).
const MAX_STREAMS: usize = 8;

const ETC: &str = "etc/bpf-preload";
const KEYS: &str = "etc/bpf-preload/keys";
const BUNDLE: &str = "usr/lib/bpf-preload";

/// The text of a report, and whether every object the image's plan loads would verify.
pub struct Report {
    pub text: String,
    pub ok: bool,
}

fn decompress(
    c: Compression,
    bytes: &[u8],
    image: &std::path::Path,
) -> Result<Vec<u8>, CommandError> {
    let err = |what: String| CommandError::Read {
        path: image.to_owned(),
        source: std::io::Error::other(what),
    };
    let (tool, args): (&str, &[&str]) = match c {
        Compression::Gzip => ("gzip", &["-dc"]),
        Compression::Zstd => ("zstd", &["-dcq"]),
        Compression::Xz => ("xz", &["-dc"]),
        Compression::Lzma => ("xz", &["--format=lzma", "-dc"]),
        Compression::Lz4 => ("lz4", &["-dcq"]),
        Compression::Bzip2 => ("bzip2", &["-dc"]),
    };
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            err(format!(
                "{} archive: run {tool}: {e} (install it to read this image)",
                c.name()
            ))
        })?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| err(format!("{tool}: no stdin")))?;
    let mut out = Vec::new();
    let read = std::thread::scope(|s| {
        // Write and read at once: a decompressor blocks when nobody reads its output.
        let writer = s.spawn(move || {
            // A decompressor that stops reading (trailing garbage) is not our error: its status says.
            let _ = stdin.write_all(bytes);
        });
        let r = child
            .stdout
            .take()
            .map(|o| o.take(MAX_IMAGE).read_to_end(&mut out));
        let _ = writer.join();
        r
    });
    let status = child.wait().map_err(|e| err(format!("{tool}: {e}")))?;
    match read {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(err(format!("{tool}: {e}"))),
        None => return Err(err(format!("{tool}: no stdout"))),
    }
    // zstd, gzip and xz exit non-zero on trailing data (the kernel ignores NUL padding):
    // what they unpacked counts when it is a whole archive.
    if !status.success() && out.is_empty() {
        return Err(err(format!(
            "{} archive: {tool} failed ({status})",
            c.name()
        )));
    }
    Ok(out)
}

/// Every archive of the image, uncompressed: the entries' bytes live in `buffers`.
fn unpack(image: &std::path::Path) -> Result<(Vec<Vec<u8>>, Vec<String>), CommandError> {
    let bytes = std::fs::read(image).map_err(|source| CommandError::Read {
        path: image.to_owned(),
        source,
    })?;
    if bytes.len() as u64 > MAX_IMAGE {
        return Err(CommandError::Read {
            path: image.to_owned(),
            source: std::io::Error::other("larger than 4 GiB"),
        });
    }
    let mut buffers = vec![bytes];
    let mut layers = Vec::new();
    for _ in 0..MAX_STREAMS {
        let last = buffers.last().map(Vec::as_slice).unwrap_or_default();
        let split = cpio::split(last).map_err(|e| CommandError::Read {
            path: image.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if split.archives > 0 {
            layers.push(format!("{} cpio archive(s)", split.archives));
        }
        let Some((c, rest)) = split.rest else {
            return Ok((buffers, layers));
        };
        layers.push(format!("{} stream", c.name()));
        let next = decompress(c, rest, image)?;
        buffers.push(next);
    }
    Err(CommandError::Read {
        path: image.to_owned(),
        source: std::io::Error::other(format!("more than {MAX_STREAMS} compressed streams")),
    })
}

fn lossy(e: &Entry) -> String {
    String::from_utf8_lossy(e.data).into_owned()
}

/// The non-comment, non-blank lines of a file.
fn settings(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// What an image would do at boot: the text output and `--json` (schema in docs/bpf-preload.8,
/// `inspect-initramfs`; fields are only ever added). Strings are as read from the image, so the
/// text escapes them and the JSON is [`json_safe`].
#[derive(Debug, Serialize)]
pub struct Inspection {
    pub image: String,
    /// How the image is packed, in order: `1 cpio archive(s)`, `zstd stream`, ...
    pub layers: Vec<String>,
    pub entries: usize,
    /// `/usr/bin/bpf-preload`: its size, or `None` when the image has none.
    pub loader_bytes: Option<usize>,
    /// `/etc/bpf-preload/keys/*.pub`, in name order.
    pub keys: Vec<Key>,
    pub certificates: usize,
    /// `/etc/bpf-preload/keys/revoked`: `None` when the image has none.
    pub revoked: Option<Readable>,
    /// `/etc/bpf-preload/policy`: its settings; `None` when the image has none.
    pub policy: Option<Readable>,
    /// The command line the loader there would read (the image's built-in one, then `--cmdline`).
    pub cmdline: String,
    /// The list files merged, in order; empty when none is used (`list_unused`).
    pub list_files: Vec<String>,
    /// Why no list is used, when none is.
    pub list_unused: Option<String>,
    pub notes: Vec<String>,
    /// Each object the plan loads, in load order.
    pub objects: Vec<Object>,
    /// Objects in the image's bundle.
    pub objects_in_image: usize,
    /// In the bundle, not in the plan.
    pub not_in_plan: Vec<String>,
    /// `on` or `off`, then as `predict --json`.
    pub measurement: &'static str,
    pub pcr: Option<u32>,
    pub required: bool,
    pub value: Option<String>,
    pub events: Vec<String>,
    /// Exit status 0: a loader, readable policy and revocations, every planned object verified.
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct Key {
    pub path: String,
    /// `None` when the file is not a key `run` would take (`error` says why).
    pub key_id: Option<String>,
    pub error: Option<String>,
}

/// A file that is read as a list of settings (or key ids), or why it cannot be.
#[derive(Debug, Serialize)]
pub struct Readable {
    pub lines: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Object {
    pub name: String,
    pub required: bool,
    /// `verified` or `refused`.
    pub result: &'static str,
    pub key_id: Option<String>,
    pub sha256: Option<String>,
    /// `fast` or `libbpf`, when verified.
    pub load_path: Option<&'static str>,
    pub reason: Option<String>,
}

pub fn run(args: &Args) -> Result<Report, CommandError> {
    let i = inspect(args)?;
    let ok = i.ok;
    let text = if args.json {
        json_safe(serde_json::to_string_pretty(&i).unwrap_or_default()) + "\n"
    } else {
        render(&i)
    };
    Ok(Report { text, ok })
}

fn inspect(args: &Args) -> Result<Inspection, CommandError> {
    let (buffers, layers) = unpack(&args.image)?;
    let mut entries: Vec<Entry> = Vec::new();
    for b in &buffers {
        // Each buffer was split once in unpack(); only its archives are taken here.
        if let Ok(s) = cpio::split(b) {
            entries.extend(s.entries);
        }
    }
    let loader_bytes = cpio::file(&entries, "usr/bin/bpf-preload").map(|e| e.data.len());
    let mut ok = loader_bytes.is_some();

    // The image's trusted keys, as `run` there reads them.
    let mut ring = KeyRing::default();
    let mut keys = Vec::new();
    let mut certificates = 0;
    for (name, e) in cpio::files_in(&entries, KEYS) {
        let path = format!("/{KEYS}/{name}");
        if name.ends_with(".pub") {
            match parse_public_pem(&path, &lossy(e)) {
                Ok(k) => {
                    keys.push(Key {
                        path: path.clone(),
                        key_id: Some(KeyId::of(&k).to_string()),
                        error: None,
                    });
                    ring.add(&path, k);
                }
                Err(err) => keys.push(Key {
                    path,
                    key_id: None,
                    error: Some(err.to_string()),
                }),
            }
        } else if name.ends_with(".crt") {
            certificates += 1;
        }
    }
    let revoked = cpio::file(&entries, &format!("{KEYS}/revoked")).map(|e| {
        let path = std::path::Path::new("/etc/bpf-preload/keys/revoked");
        match ring.add_revocations(path, &lossy(e)) {
            Ok(()) => Readable {
                lines: settings(&lossy(e)),
                error: None,
            },
            Err(err) => {
                // Unreadable: the boot trusts no key.
                ring = KeyRing::default();
                ok = false;
                Readable {
                    lines: Vec::new(),
                    error: Some(err.to_string()),
                }
            }
        }
    });

    // The build-time policy.
    let (policy_value, policy) = match cpio::file(&entries, &format!("{ETC}/policy")) {
        None => (Policy::default(), None),
        Some(e) => match Policy::parse(&lossy(e)) {
            Ok(p) => (
                p,
                Some(Readable {
                    lines: settings(&lossy(e)),
                    error: None,
                }),
            ),
            Err(err) => {
                ok = false;
                (
                    Policy::default(),
                    Some(Readable {
                        lines: Vec::new(),
                        error: Some(err.to_string()),
                    }),
                )
            }
        },
    };

    // The command line as the loader there sees it: the image's built-in options
    // (/etc/cmdline.d/*.conf, /etc/cmdline), then the one given (none: the bootloader's).
    let mut parts: Vec<String> = cpio::files_in(&entries, "etc/cmdline.d")
        .into_iter()
        .filter(|(n, _)| n.ends_with(".conf"))
        .map(|(_, e)| lossy(e))
        .collect();
    parts.extend(cpio::file(&entries, "etc/cmdline").map(lossy));
    if let Some(p) = &args.cmdline {
        parts.push(String::from_utf8_lossy(&super::read(p)?).into_owned());
    }
    let cmdline_text = cmdline::combine(parts.iter().map(String::as_str));

    // The list and its drop-ins, merged as `run` merges them.
    let list_path = format!("{ETC}/preload.list");
    let mut lists = Vec::new();
    if let Some(e) = cpio::file(&entries, &list_path) {
        lists.push((format!("/{list_path}"), lossy(e)));
    }
    let dropins = cpio::files_in(&entries, &format!("{list_path}.d"));
    for name in cmdline::dropin_files(dropins.iter().map(|(n, _)| n.to_string())) {
        if let Some((_, e)) = dropins.iter().find(|(n, _)| *n == name) {
            lists.push((format!("/{list_path}.d/{name}"), lossy(e)));
        }
    }
    let merged = cmdline::merge_lists(lists);
    let plan = cmdline::plan_with_lists(&cmdline_text, merged.as_ref(), &policy_value);
    let list_unused = plan.list_files.is_empty().then(|| {
        match plan.source {
            cmdline::Source::Cmdline => "the command line names the objects",
            _ => "the image has no preload.list or drop-in",
        }
        .to_owned()
    });

    // Each object the plan loads, verified against the image's keys; then the measurement.
    let bundle = cpio::files_in(&entries, BUNDLE);
    let prediction = predict(&plan, &Ok(ring), |name| {
        bundle
            .iter()
            .find(|(n, _)| *n == name.file_name())
            .map(|(_, e)| e.data.to_vec())
            .ok_or_else(|| Refused::NotInImage(format!("/{BUNDLE}/{}", name.file_name())))
    });
    let objects: Vec<Object> = prediction
        .objects
        .iter()
        .map(|o| {
            let required = plan.entries.iter().any(|e| e.raw == o.raw && e.required);
            match &o.result {
                Ok(m) => Object {
                    name: o.raw.clone(),
                    required,
                    result: "verified",
                    key_id: Some(m.key_id.clone()),
                    sha256: Some(m.sha256.clone()),
                    load_path: Some(if m.fast_path { "fast" } else { "libbpf" }),
                    reason: None,
                },
                Err(why) => Object {
                    name: o.raw.clone(),
                    required,
                    result: "refused",
                    key_id: None,
                    sha256: None,
                    load_path: None,
                    reason: Some(why.to_string()),
                },
            }
        })
        .collect();
    ok &= objects.iter().all(|o| o.result == "verified");
    let in_image: Vec<&str> = bundle
        .iter()
        .filter_map(|(n, _)| n.strip_suffix(".bpf.o"))
        .collect();
    let not_in_plan = in_image
        .iter()
        .filter(|n| !prediction.objects.iter().any(|o| o.raw == **n))
        .map(|n| n.to_string())
        .collect();
    Ok(Inspection {
        image: args.image.display().to_string(),
        layers,
        entries: entries.len(),
        loader_bytes,
        keys,
        certificates,
        revoked,
        policy,
        cmdline: cmdline_text.trim().to_owned(),
        list_files: plan.list_files.clone(),
        list_unused,
        notes: plan.notes.clone(),
        objects,
        objects_in_image: in_image.len(),
        not_in_plan,
        measurement: prediction.measurement,
        pcr: prediction.pcr,
        required: prediction.required,
        value: prediction.value.clone(),
        events: prediction.events.clone(),
        ok,
    })
}

fn render(i: &Inspection) -> String {
    let mut s = format!(
        "image: {}: {} ({} entries)\n",
        escape(&i.image),
        i.layers.join(", then "),
        i.entries
    );
    match i.loader_bytes {
        Some(n) => s.push_str(&format!("loader: /usr/bin/bpf-preload ({n} bytes)\n")),
        None => {
            s.push_str("loader: none: the image has no /usr/bin/bpf-preload, so it loads nothing\n")
        }
    }
    s.push_str(&format!(
        "keys: {}; certificates: {}\n",
        i.keys.len(),
        i.certificates
    ));
    for k in &i.keys {
        match (&k.key_id, &k.error) {
            (Some(id), _) => s.push_str(&format!("  {id} {}\n", escape(&k.path))),
            (None, e) => s.push_str(&format!(
                "  skipped: {}\n",
                escape(e.as_deref().unwrap_or_default())
            )),
        }
    }
    if let Some(r) = &i.revoked {
        match &r.error {
            None => s.push_str(&format!("revoked: {}\n", escape(&r.lines.join(" ")))),
            Some(e) => s.push_str(&format!(
                "revoked: unreadable, so the boot trusts no key: {}\n",
                escape(e)
            )),
        }
    }
    match &i.policy {
        None => s.push_str("policy: none\n"),
        Some(Readable { error: Some(e), .. }) => s.push_str(&format!(
            "policy: unreadable, so the boot stops at planning: {}\n",
            escape(e)
        )),
        Some(p) => s.push_str(&format!("policy: {}\n", escape(&p.lines.join("; ")))),
    }
    if !i.cmdline.is_empty() {
        s.push_str(&format!("command line: {}\n", escape(&i.cmdline)));
    }
    match &i.list_unused {
        Some(why) => s.push_str(&format!("list: none used ({why})\n")),
        None => {
            let files: Vec<_> = i.list_files.iter().map(|f| escape(f)).collect();
            s.push_str(&format!(
                "list: {} (merged in this order)\n",
                files.join(", ")
            ));
        }
    }
    for n in &i.notes {
        s.push_str(&format!("note: {}\n", escape(n)));
    }
    s.push_str(&format!(
        "objects: {} listed, {} in the image\n",
        i.objects.len(),
        i.objects_in_image
    ));
    for o in &i.objects {
        let req = if o.required { " required" } else { "" };
        match (&o.key_id, &o.sha256, o.load_path) {
            (Some(key), Some(sha), Some(path)) => s.push_str(&format!(
                "  {}: verified{req} key={key} sha256={sha} path={path}\n",
                escape(&o.name),
            )),
            _ => s.push_str(&format!(
                "  {}: REFUSED{req}: {}\n",
                escape(&o.name),
                escape(o.reason.as_deref().unwrap_or_default())
            )),
        }
    }
    for n in &i.not_in_plan {
        s.push_str(&format!(
            "  {}: in the image, not in the plan (loaded only when rd.bpf_preload= names it)\n",
            escape(n)
        ));
    }
    match (i.pcr, &i.value) {
        (Some(pcr), Some(value)) => s.push_str(&format!(
            "pcr {pcr}: {value}{} ({} events)\n",
            if i.required { ", required" } else { "" },
            i.events.len()
        )),
        _ => s.push_str(
            "measurement: off (no measure_pcr in the policy; rd.bpf_preload.measure=N on the command line would measure)\n",
        ),
    }
    s
}
