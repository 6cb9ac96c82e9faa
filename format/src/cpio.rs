//! Reading an initramfs image (pure): the kernel's initramfs format is one or more cpio archives
//! ("newc", magic `070701`, or its checksummed twin `070702`), each ended by a `TRAILER!!!`
//! entry, padded with NULs, concatenated; any of them may be compressed. Debian's images are an
//! uncompressed "early" archive (CPU microcode) followed by the main archive compressed with
//! zstd (initramfs-tools' default), gzip or xz (dracut's choice).
//!
//! [`split`] reads the uncompressed archives at the start and stops at the first compressed
//! stream, saying which compression it is; the caller decompresses the rest and calls [`split`]
//! again on the result (the loader's `inspect-initramfs` does, with the system's decompressors).
//! Every length is checked: a hostile image yields an error, never a panic or a read out of
//! bounds.
#![forbid(unsafe_code)]

/// One file, directory, symlink or device of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path as stored, without a leading `./` or `/`.
    pub name: String,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    pub data: &'a [u8],
}

impl Entry<'_> {
    pub fn is_file(&self) -> bool {
        self.mode & 0o170000 == 0o100000
    }
}

/// A compression the kernel can unpack, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Lzma,
    Lz4,
    Bzip2,
}

impl Compression {
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        const MAGICS: &[(&[u8], Compression)] = &[
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0x1f, 0x9e], Compression::Gzip),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], Compression::Xz),
            (&[0x5d, 0x00, 0x00], Compression::Lzma),
            (&[0x02, 0x21, 0x4c, 0x18], Compression::Lz4),
            (&[0x04, 0x22, 0x4d, 0x18], Compression::Lz4),
            (b"BZh", Compression::Bzip2),
        ];
        MAGICS
            .iter()
            .find(|(m, _)| bytes.starts_with(m))
            .map(|(_, c)| *c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Lz4 => "lz4",
            Compression::Bzip2 => "bzip2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpioError {
    #[error("offset {offset}: truncated {what}")]
    Truncated { offset: usize, what: &'static str },
    #[error("offset {offset}: bad header field {field}")]
    Field { offset: usize, field: &'static str },
    #[error("offset {offset}: neither a cpio archive (newc) nor a known compression")]
    Unknown { offset: usize },
    #[error("more than {max} entries")]
    TooMany { max: usize },
}

/// What [`split`] found: the entries of the uncompressed archives, in order, and the compressed
/// stream that follows them, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    pub entries: Vec<Entry<'a>>,
    /// Uncompressed archives read.
    pub archives: usize,
    pub rest: Option<(Compression, &'a [u8])>,
}

/// Most entries read from one image: a Debian initramfs has a few thousand.
pub const MAX_ENTRIES: usize = 1 << 20;
const HEADER_LEN: usize = 110;
const TRAILER: &str = "TRAILER!!!";

fn pad4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

fn hex_field(h: &[u8], i: usize, offset: usize, field: &'static str) -> Result<u32, CpioError> {
    let start = 6 + 8 * i;
    let s = std::str::from_utf8(&h[start..start + 8])
        .map_err(|_| CpioError::Field { offset, field })?;
    u32::from_str_radix(s, 16).map_err(|_| CpioError::Field { offset, field })
}

/// Read the uncompressed archives at the start of `image` (NUL padding between them skipped) up
/// to the end or the first compressed stream.
pub fn split(image: &[u8]) -> Result<Split<'_>, CpioError> {
    let mut out = Split {
        entries: Vec::new(),
        archives: 0,
        rest: None,
    };
    let mut pos = 0;
    loop {
        while pos < image.len() && image[pos] == 0 {
            pos += 1;
        }
        if pos >= image.len() {
            return Ok(out);
        }
        let here = &image[pos..];
        if here.starts_with(b"070701") || here.starts_with(b"070702") {
            pos = read_archive(image, pos, &mut out.entries)?;
            out.archives += 1;
        } else if let Some(c) = Compression::detect(here) {
            out.rest = Some((c, here));
            return Ok(out);
        } else {
            return Err(CpioError::Unknown { offset: pos });
        }
    }
}

/// One archive from `pos` to its trailer; returns the offset after it.
fn read_archive<'a>(
    image: &'a [u8],
    mut pos: usize,
    entries: &mut Vec<Entry<'a>>,
) -> Result<usize, CpioError> {
    loop {
        let offset = pos;
        let h = image
            .get(
                pos..pos.checked_add(HEADER_LEN).ok_or(CpioError::Truncated {
                    offset,
                    what: "header",
                })?,
            )
            .ok_or(CpioError::Truncated {
                offset,
                what: "header",
            })?;
        if !(h.starts_with(b"070701") || h.starts_with(b"070702")) {
            return Err(CpioError::Field {
                offset,
                field: "magic",
            });
        }
        let mode = hex_field(h, 1, offset, "mode")?;
        let filesize = hex_field(h, 6, offset, "filesize")? as usize;
        let namesize = hex_field(h, 11, offset, "namesize")? as usize;
        if namesize == 0 {
            return Err(CpioError::Field {
                offset,
                field: "namesize",
            });
        }
        let name_start = pos + HEADER_LEN;
        let name_end = name_start
            .checked_add(namesize)
            .filter(|e| *e <= image.len())
            .ok_or(CpioError::Truncated {
                offset,
                what: "name",
            })?;
        // The stored name ends with a NUL.
        let raw = &image[name_start..name_end - 1];
        let name = String::from_utf8_lossy(raw);
        let data_start = pad4(name_end).ok_or(CpioError::Truncated {
            offset,
            what: "name",
        })?;
        let data_end = data_start
            .checked_add(filesize)
            .filter(|e| *e <= image.len())
            .ok_or(CpioError::Truncated {
                offset,
                what: "data",
            })?;
        pos = pad4(data_end).ok_or(CpioError::Truncated {
            offset,
            what: "data",
        })?;
        if name == TRAILER {
            return Ok(pos.min(image.len()));
        }
        if entries.len() >= MAX_ENTRIES {
            return Err(CpioError::TooMany { max: MAX_ENTRIES });
        }
        let name = name
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_owned();
        entries.push(Entry {
            name,
            mode,
            data: &image[data_start..data_end],
        });
    }
}

/// The regular file at `path` (no leading `/`) as the kernel would leave it: a later entry of
/// the same name replaces an earlier one.
pub fn file<'a, 'e>(entries: &'e [Entry<'a>], path: &str) -> Option<&'e Entry<'a>> {
    entries
        .iter()
        .rev()
        .find(|e| e.name == path)
        .filter(|e| e.is_file())
}

/// The regular files directly in directory `dir` (no leading `/`): `(file name, entry)`, each
/// name once (the last entry of that name), sorted by name.
pub fn files_in<'a, 'e>(entries: &'e [Entry<'a>], dir: &str) -> Vec<(&'e str, &'e Entry<'a>)> {
    let mut v: Vec<(&str, &Entry)> = Vec::new();
    for e in entries.iter().rev() {
        let Some(name) = e.name.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) else {
            continue;
        };
        if name.is_empty() || name.contains('/') || v.iter().any(|(n, _)| *n == name) {
            continue;
        }
        v.push((name, e));
    }
    v.retain(|(_, e)| e.is_file());
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// An archive in the newc format, for tests (here and the loader's): `(path, mode, data)`.
pub fn newc(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |name: &str, mode: u32, data: &[u8]| {
        let fields = [
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    for (name, mode, data) in files {
        put(name, *mode, data);
    }
    put(TRAILER, 0, b"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_archive_then_compressed_rest() {
        let early = newc(&[
            ("kernel", 0o40755, b""),
            ("kernel/x86/microcode/GenuineIntel.bin", 0o100644, b"ucode"),
        ]);
        let main = newc(&[
            (".", 0o40755, b""),
            ("./etc/bpf-preload/keys/a.pub", 0o100644, b"key a"),
            ("etc/bpf-preload/keys/sub/x.pub", 0o100644, b"deeper"),
            ("etc/bpf-preload/keys/link.pub", 0o120777, b"a.pub"),
            ("etc/bpf-preload/keys/a.pub", 0o100644, b"key a, again"),
            ("/etc/bpf-preload/preload.list", 0o100644, b"a\n"),
        ]);
        // Two uncompressed archives with padding between, then a "zstd" stream.
        let mut image = early.clone();
        image.extend_from_slice(&[0; 512]);
        image.extend_from_slice(&main);
        image.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
        let s = split(&image).unwrap();
        assert_eq!(s.archives, 2);
        assert_eq!(
            s.rest.map(|(c, r)| (c, r.len())),
            Some((Compression::Zstd, 7))
        );
        assert_eq!(
            file(&s.entries, "kernel/x86/microcode/GenuineIntel.bin").map(|e| e.data),
            Some(&b"ucode"[..])
        );
        assert_eq!(
            file(&s.entries, "etc/bpf-preload/preload.list")
                .unwrap()
                .data,
            b"a\n"
        );
        assert_eq!(
            file(&s.entries, "etc/bpf-preload/keys/a.pub").unwrap().data,
            b"key a, again"
        );
        let keys: Vec<(&str, &[u8])> = files_in(&s.entries, "etc/bpf-preload/keys")
            .into_iter()
            .map(|(n, e)| (n, e.data))
            .collect();
        // The symlink and the subdirectory's file are not files of the directory.
        assert_eq!(keys, vec![("a.pub", &b"key a, again"[..])]);
        assert!(file(&s.entries, "kernel").is_none());
        // Only uncompressed: no rest.
        assert_eq!(split(&main).unwrap().rest, None);
        assert_eq!(split(b"").unwrap().archives, 0);
    }

    #[test]
    fn every_compression_by_magic() {
        for (bytes, c) in [
            (&[0x1f, 0x8b, 8][..], Compression::Gzip),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0][..], Compression::Xz),
            (&[0x02, 0x21, 0x4c, 0x18][..], Compression::Lz4),
            (b"BZh9", Compression::Bzip2),
            (&[0x5d, 0, 0, 0x80][..], Compression::Lzma),
        ] {
            assert_eq!(split(bytes).unwrap().rest.map(|r| r.0), Some(c));
        }
        assert_eq!(
            split(b"ELF!").unwrap_err(),
            CpioError::Unknown { offset: 0 }
        );
    }

    #[test]
    fn hostile_archives_are_errors_never_panics() {
        let good = newc(&[("etc/x", 0o100644, b"0123456789")]);
        // Every truncation.
        for n in 1..good.len() {
            let cut = &good[..n];
            match split(cut) {
                Err(CpioError::Truncated { .. }) | Err(CpioError::Field { .. }) => {}
                // Not even the whole magic.
                Err(CpioError::Unknown { offset: 0 }) if n < 6 => {}
                // Cut inside the trailing padding after the trailer: complete.
                Ok(s) => assert_eq!(s.entries.len(), 1, "{n}"),
                Err(e) => panic!("{n}: {e}"),
            }
        }
        // Sizes pointing past the end, non-hex fields, a zero namesize.
        let mut huge = good.clone();
        huge[6 + 8 * 6..6 + 8 * 7].copy_from_slice(b"ffffffff");
        assert_eq!(
            split(&huge).unwrap_err(),
            CpioError::Truncated {
                offset: 0,
                what: "data"
            }
        );
        let mut bad = good.clone();
        bad[6 + 8 * 11] = b'z';
        assert_eq!(
            split(&bad).unwrap_err(),
            CpioError::Field {
                offset: 0,
                field: "namesize"
            }
        );
        let mut zero = good.clone();
        zero[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00000000");
        assert!(matches!(
            split(&zero),
            Err(CpioError::Field {
                field: "namesize",
                ..
            })
        ));
        // Garbage after an archive.
        let mut tail = good.clone();
        tail.extend_from_slice(b"garbage");
        assert_eq!(
            split(&tail).unwrap_err(),
            CpioError::Unknown { offset: good.len() }
        );
    }
}
