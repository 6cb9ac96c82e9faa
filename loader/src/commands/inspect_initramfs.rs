//! `bpf-preload inspect-initramfs [--cmdline FILE] IMAGE`: what an initramfs image would do at
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
use bpf_preload::escape::{escape, escape_path};
use bpf_preload::keys::{parse_public_pem, KeyId, KeyRing};
use bpf_preload::policy::Policy;

use super::predict::{predict, Refused};
use super::{is_help, missing, CommandError};

pub struct Args {
    pub image: PathBuf,
    pub cmdline: Option<PathBuf>,
}

impl Args {
    pub fn parse(p: &mut lexopt::Parser) -> Result<Option<Self>, lexopt::Error> {
        use lexopt::prelude::*;
        let (mut image, mut cmdline) = (None, None);
        while let Some(arg) = p.next()? {
            match arg {
                a if is_help(&a) => return Ok(None),
                Long("cmdline") => cmdline = Some(PathBuf::from(p.value()?)),
                Value(v) if image.is_none() => image = Some(PathBuf::from(v)),
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(Self {
            image: image.ok_or_else(|| missing("inspect-initramfs", "IMAGE"))?,
            cmdline,
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

pub fn run(args: &Args) -> Result<Report, CommandError> {
    let (buffers, layers) = unpack(&args.image)?;
    let mut entries: Vec<Entry> = Vec::new();
    for b in &buffers {
        // Each buffer was split once in unpack(); only its archives are taken here.
        if let Ok(s) = cpio::split(b) {
            entries.extend(s.entries);
        }
    }
    let mut s = String::new();
    let mut ok = true;
    s.push_str(&format!(
        "image: {}: {} ({} entries)\n",
        escape_path(&args.image),
        layers.join(", then "),
        entries.len()
    ));
    match cpio::file(&entries, "usr/bin/bpf-preload") {
        Some(e) => s.push_str(&format!(
            "loader: /usr/bin/bpf-preload ({} bytes)\n",
            e.data.len()
        )),
        None => {
            s.push_str(
                "loader: none: the image has no /usr/bin/bpf-preload, so it loads nothing\n",
            );
            ok = false;
        }
    }

    // The image's trusted keys, as `run` there reads them.
    let mut ring = KeyRing::default();
    let mut key_lines = Vec::new();
    let (mut npub, mut ncrt) = (0, 0);
    for (name, e) in cpio::files_in(&entries, KEYS) {
        let path = format!("/{KEYS}/{name}");
        if name.ends_with(".pub") {
            npub += 1;
            match parse_public_pem(&path, &lossy(e)) {
                Ok(k) => {
                    key_lines.push(format!("  {} {}", KeyId::of(&k), escape(&path)));
                    ring.add(&path, k);
                }
                Err(err) => key_lines.push(format!("  skipped: {}", escape(&err.to_string()))),
            }
        } else if name.ends_with(".crt") {
            ncrt += 1;
        }
    }
    s.push_str(&format!("keys: {npub}; certificates: {ncrt}\n"));
    for l in &key_lines {
        s.push_str(l);
        s.push('\n');
    }
    if let Some(e) = cpio::file(&entries, &format!("{KEYS}/revoked")) {
        let path = std::path::Path::new("/etc/bpf-preload/keys/revoked");
        match ring.add_revocations(path, &lossy(e)) {
            Ok(()) => {
                let ids: Vec<String> = lossy(e)
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect();
                s.push_str(&format!("revoked: {}\n", escape(&ids.join(" "))));
            }
            Err(err) => {
                s.push_str(&format!(
                    "revoked: unreadable, so the boot trusts no key: {}\n",
                    escape(&err.to_string())
                ));
                ring = KeyRing::default();
                ok = false;
            }
        }
    }

    // The build-time policy.
    let policy = match cpio::file(&entries, &format!("{ETC}/policy")) {
        None => {
            s.push_str("policy: none\n");
            Policy::default()
        }
        Some(e) => match Policy::parse(&lossy(e)) {
            Ok(p) => {
                let lines: Vec<String> = lossy(e)
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect();
                s.push_str(&format!("policy: {}\n", escape(&lines.join("; "))));
                p
            }
            Err(err) => {
                s.push_str(&format!(
                    "policy: unreadable, so the boot stops at planning: {}\n",
                    escape(&err.to_string())
                ));
                ok = false;
                Policy::default()
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
    if !cmdline_text.trim().is_empty() {
        s.push_str(&format!("command line: {}\n", escape(cmdline_text.trim())));
    }

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
    let plan = cmdline::plan_with_lists(&cmdline_text, merged.as_ref(), &policy);
    if plan.list_files.is_empty() {
        let why = match plan.source {
            cmdline::Source::Cmdline => "the command line names the objects",
            _ => "the image has no preload.list or drop-in",
        };
        s.push_str(&format!("list: none used ({why})\n"));
    } else {
        let files: Vec<_> = plan.list_files.iter().map(|f| escape(f)).collect();
        s.push_str(&format!(
            "list: {} (merged in this order)\n",
            files.join(", ")
        ));
    }
    for n in &plan.notes {
        s.push_str(&format!("note: {}\n", escape(n)));
    }

    // Each object the plan loads, verified against the image's keys; then the measurement.
    let bundle = cpio::files_in(&entries, BUNDLE);
    let prediction = predict(&plan, &Ok(ring), |name| {
        bundle
            .iter()
            .find(|(n, _)| *n == name.file_name())
            .map(|(_, e)| e.data.to_vec())
            .ok_or_else(|| Refused::NotInImage(format!("/{BUNDLE}/{}", name.file_name())))
    });
    s.push_str(&format!(
        "objects: {} listed, {} in the image\n",
        prediction.objects.len(),
        bundle.iter().filter(|(n, _)| n.ends_with(".bpf.o")).count()
    ));
    for o in &prediction.objects {
        let required = plan.entries.iter().any(|e| e.raw == o.raw && e.required);
        let req = if required { " required" } else { "" };
        match &o.result {
            Ok(m) => s.push_str(&format!(
                "  {}: verified{req} key={} sha256={} path={}\n",
                escape(&o.raw),
                m.key_id,
                m.sha256,
                if m.fast_path { "fast" } else { "libbpf" }
            )),
            Err(why) => {
                ok = false;
                s.push_str(&format!(
                    "  {}: REFUSED{req}: {}\n",
                    escape(&o.raw),
                    escape(&why.to_string())
                ));
            }
        }
    }
    for (n, _) in bundle.iter().filter(|(n, _)| n.ends_with(".bpf.o")) {
        let name = n.trim_end_matches(".bpf.o");
        if !prediction.objects.iter().any(|o| o.raw == name) {
            s.push_str(&format!(
                "  {}: in the image, not in the plan (loaded only when rd.bpf_preload= names it)\n",
                escape(name)
            ));
        }
    }
    match (prediction.pcr, &prediction.value) {
        (Some(pcr), Some(value)) => s.push_str(&format!(
            "pcr {pcr}: {value}{} ({} events)\n",
            if prediction.required { ", required" } else { "" },
            prediction.events.len()
        )),
        _ => s.push_str(
            "measurement: off (no measure_pcr in the policy; rd.bpf_preload.measure=N on the command line would measure)\n",
        ),
    }
    Ok(Report { text: s, ok })
}
