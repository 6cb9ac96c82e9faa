//! The signature trailer appended to a signed object (pure, no I/O): [`parse`], [`encode`] and
//! [`signed_message`]. The format is specified once, in `docs/format.md`, included here:
//!
#![doc = include_str!("../../docs/format.md")]
#![forbid(unsafe_code)]

use crate::name::{shown, NameError, ObjectName};

pub const MAGIC: &[u8; 28] = b"~bpf-preload signed object~\n";
pub const FOOTER_LEN: usize = 52;
/// The footer bytes covered by the signature: all but the magic.
pub const FOOTER_FIELDS_LEN: usize = FOOTER_LEN - MAGIC.len();
pub const VERSION: u8 = 1;
/// Version 2: a fast-path section (`fast`) follows the payload, covered by the signature.
pub const VERSION_FAST: u8 = 2;
pub const SIG_ALG_ED25519: u8 = 1;
pub const HASH_ALG_SHA256: u8 = 1;
pub const ED25519_SIG_LEN: usize = 64;
pub const KEY_ID_LEN: usize = 8;
/// Domain separation: a signature made for anything else can never verify as one of ours.
pub const DOMAIN_TAG: &[u8] = b"bpf-preload signed object v1\0";
/// The domain tag of version 2 (a signature over one version never verifies as the other).
pub const DOMAIN_TAG_V2: &[u8] = b"bpf-preload signed object v2\0";
/// How far back from the end a misplaced magic is looked for, to name "trailing bytes" precisely.
const MISPLACED_MAGIC_WINDOW: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailerError {
    #[error("no signature trailer (unsigned object)")]
    Unsigned,
    #[error("{0} bytes follow the signature trailer")]
    TrailingBytes(usize),
    #[error("unknown trailer version {0}")]
    UnknownVersion(u8),
    #[error("unknown signature algorithm {0}")]
    UnknownSigAlg(u8),
    #[error("unknown hash algorithm {0}")]
    UnknownHashAlg(u8),
    #[error("reserved trailer field is {0:#06x}, not zero")]
    Reserved(u16),
    #[error("signature length {0} is not {ED25519_SIG_LEN}")]
    SigLen(u16),
    #[error("trailer lengths do not add up: payload {payload} + name {name} + signature {sig} + footer {FOOTER_LEN} != file {file}")]
    Lengths {
        payload: u64,
        name: usize,
        sig: usize,
        file: usize,
    },
    #[error("signed name: {0}")]
    Name(#[source] NameError),
}

/// The fixed footer, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    pub payload_len: u64,
    pub key_id: [u8; KEY_ID_LEN],
    pub version: u8,
    pub sig_alg: u8,
    pub hash_alg: u8,
    pub name_len: u8,
    pub sig_len: u16,
    pub reserved: u16,
}

impl Footer {
    pub fn to_bytes(&self) -> [u8; FOOTER_LEN] {
        let mut b = [0u8; FOOTER_LEN];
        b[..FOOTER_FIELDS_LEN].copy_from_slice(&self.fields());
        b[FOOTER_FIELDS_LEN..].copy_from_slice(MAGIC);
        b
    }

    /// The footer fields covered by the signature (everything but the magic).
    pub fn fields(&self) -> [u8; FOOTER_FIELDS_LEN] {
        let mut b = [0u8; FOOTER_FIELDS_LEN];
        b[0..8].copy_from_slice(&self.payload_len.to_le_bytes());
        b[8..16].copy_from_slice(&self.key_id);
        b[16] = self.version;
        b[17] = self.sig_alg;
        b[18] = self.hash_alg;
        b[19] = self.name_len;
        b[20..22].copy_from_slice(&self.sig_len.to_le_bytes());
        b[22..24].copy_from_slice(&self.reserved.to_le_bytes());
        b
    }

    /// Decode a footer; checks only the magic. Field checks happen in [`parse`].
    pub fn from_bytes(b: &[u8; FOOTER_LEN]) -> Option<Self> {
        if &b[FOOTER_FIELDS_LEN..] != MAGIC {
            return None;
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let mut payload_len = [0u8; 8];
        payload_len.copy_from_slice(&b[0..8]);
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&b[8..16]);
        Some(Self {
            payload_len: u64::from_le_bytes(payload_len),
            key_id,
            version: b[16],
            sig_alg: b[17],
            hash_alg: b[18],
            name_len: b[19],
            sig_len: u16_at(20),
            reserved: u16_at(22),
        })
    }
}

/// A signed file split into its parts; nothing is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub payload: &'a [u8],
    /// Version 2: the fast-path section between the payload and the name (not parsed here).
    pub fast: Option<&'a [u8]>,
    pub name: ObjectName,
    pub signature: [u8; ED25519_SIG_LEN],
    pub footer: Footer,
}

/// Does this buffer end with a trailer magic? (Cheap; says nothing about validity.)
pub fn has_trailer(buf: &[u8]) -> bool {
    buf.ends_with(MAGIC)
}

/// Split a signed file. Every check here is cheap and happens before any hashing or crypto.
///
/// A file that does not end with the magic is unsigned, unless a whole valid trailer ends
/// somewhere in its last 4 KiB: then it is a signed object with bytes appended
/// ([`TrailerError::TrailingBytes`]). The magic string alone in an object's data (a string
/// table, a test object) does not make it look signed, so it can still be signed.
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, TrailerError> {
    if !has_trailer(buf) {
        let start = buf.len().saturating_sub(MISPLACED_MAGIC_WINDOW);
        let tail = &buf[start..];
        let mut ends = tail
            .windows(MAGIC.len())
            .enumerate()
            .filter(|(_, w)| w == MAGIC)
            .map(|(i, _)| start + i + MAGIC.len());
        return match ends.rfind(|&end| parse_exact(&buf[..end]).is_ok()) {
            Some(end) => Err(TrailerError::TrailingBytes(buf.len() - end)),
            None => Err(TrailerError::Unsigned),
        };
    }
    parse_exact(buf)
}

/// [`parse`] of a buffer known to end with the magic.
fn parse_exact(buf: &[u8]) -> Result<Parsed<'_>, TrailerError> {
    if buf.len() < FOOTER_LEN {
        return Err(TrailerError::Unsigned);
    }
    let (body, footer_bytes) = buf.split_at(buf.len() - FOOTER_LEN);
    let footer_bytes: &[u8; FOOTER_LEN] = footer_bytes.try_into().expect("split at FOOTER_LEN");
    let footer = Footer::from_bytes(footer_bytes).ok_or(TrailerError::Unsigned)?;
    if footer.version != VERSION && footer.version != VERSION_FAST {
        return Err(TrailerError::UnknownVersion(footer.version));
    }
    if footer.sig_alg != SIG_ALG_ED25519 {
        return Err(TrailerError::UnknownSigAlg(footer.sig_alg));
    }
    if footer.hash_alg != HASH_ALG_SHA256 {
        return Err(TrailerError::UnknownHashAlg(footer.hash_alg));
    }
    if footer.reserved != 0 {
        return Err(TrailerError::Reserved(footer.reserved));
    }
    if usize::from(footer.sig_len) != ED25519_SIG_LEN {
        return Err(TrailerError::SigLen(footer.sig_len));
    }
    let name_len = usize::from(footer.name_len);
    let lengths = TrailerError::Lengths {
        payload: footer.payload_len,
        name: name_len,
        sig: ED25519_SIG_LEN,
        file: buf.len(),
    };
    let payload_len = usize::try_from(footer.payload_len).map_err(|_| lengths.clone())?;
    let expected = payload_len
        .checked_add(name_len + ED25519_SIG_LEN + FOOTER_LEN)
        .ok_or_else(|| lengths.clone())?;
    // Version 1: nothing else. Version 2: the fast-path section fills the gap (at least one byte;
    // its own header says whether its lengths add up).
    let fits = match footer.version {
        VERSION => expected == buf.len(),
        _ => expected < buf.len(),
    };
    if !fits {
        return Err(lengths);
    }
    let (payload, rest) = body.split_at(payload_len);
    let (fast, rest) = rest.split_at(rest.len() - name_len - ED25519_SIG_LEN);
    let fast = (footer.version == VERSION_FAST).then_some(fast);
    let (name_bytes, sig_bytes) = rest.split_at(name_len);
    let name_str = std::str::from_utf8(name_bytes).map_err(|e| {
        TrailerError::Name(NameError::BadChar {
            shown: shown(&String::from_utf8_lossy(name_bytes)),
            bad: '\u{fffd}',
            at: e.valid_up_to(),
        })
    })?;
    let name = ObjectName::parse(name_str).map_err(TrailerError::Name)?;
    let signature: [u8; ED25519_SIG_LEN] = sig_bytes.try_into().expect("length checked above");
    Ok(Parsed {
        payload,
        fast,
        name,
        signature,
        footer,
    })
}

/// The exact bytes the ed25519 signature covers. Version 2 adds the SHA-256 of the fast-path
/// section (`fast_sha256`) under its own domain tag.
pub fn signed_message(
    footer: &Footer,
    name: &ObjectName,
    payload_sha256: &[u8; 32],
    fast_sha256: Option<&[u8; 32]>,
) -> Vec<u8> {
    let tag = match fast_sha256 {
        None => DOMAIN_TAG,
        Some(_) => DOMAIN_TAG_V2,
    };
    let mut m = Vec::with_capacity(tag.len() + FOOTER_FIELDS_LEN + name.as_str().len() + 64);
    m.extend_from_slice(tag);
    m.extend_from_slice(&footer.fields());
    m.extend_from_slice(name.as_str().as_bytes());
    m.extend_from_slice(payload_sha256);
    if let Some(fast) = fast_sha256 {
        m.extend_from_slice(fast);
    }
    m
}

/// The footer for a new signature over a payload of `payload_len` bytes (version 2 when a
/// fast-path section follows it).
pub fn new_footer(
    payload_len: usize,
    name: &ObjectName,
    key_id: [u8; KEY_ID_LEN],
    fast: bool,
) -> Footer {
    Footer {
        payload_len: payload_len as u64,
        key_id,
        version: if fast { VERSION_FAST } else { VERSION },
        sig_alg: SIG_ALG_ED25519,
        hash_alg: HASH_ALG_SHA256,
        name_len: u8::try_from(name.as_str().len()).expect("object names are at most 63 bytes"),
        sig_len: ED25519_SIG_LEN as u16,
        reserved: 0,
    }
}

/// Append the fast-path section (version 2, else empty), name, signature and footer to a payload.
pub fn encode(
    payload: &[u8],
    fast: &[u8],
    name: &ObjectName,
    signature: &[u8; ED25519_SIG_LEN],
    footer: &Footer,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        payload.len() + fast.len() + name.as_str().len() + ED25519_SIG_LEN + FOOTER_LEN,
    );
    out.extend_from_slice(payload);
    out.extend_from_slice(fast);
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(signature);
    out.extend_from_slice(&footer.to_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let name = ObjectName::parse("counter").unwrap();
        let footer = new_footer(5, &name, [1, 2, 3, 4, 5, 6, 7, 8], false);
        encode(b"\x7fELF!", &[], &name, &[9u8; 64], &footer)
    }

    #[test]
    fn footer_round_trip() {
        let f = new_footer(1234, &ObjectName::parse("abc").unwrap(), [0xaa; 8], false);
        let b = f.to_bytes();
        assert_eq!(b.len(), FOOTER_LEN);
        assert_eq!(Footer::from_bytes(&b), Some(f));
        assert_eq!(&b[FOOTER_FIELDS_LEN..], MAGIC);
    }

    #[test]
    fn parse_round_trip() {
        let buf = sample();
        let p = parse(&buf).unwrap();
        assert_eq!(p.payload, b"\x7fELF!");
        assert_eq!(p.name.as_str(), "counter");
        assert_eq!(p.signature, [9u8; 64]);
        assert_eq!(p.footer.key_id, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    fn with_footer(mut f: impl FnMut(&mut Footer)) -> Vec<u8> {
        let mut buf = sample();
        let at = buf.len() - FOOTER_LEN;
        let mut footer = Footer::from_bytes(buf[at..].try_into().unwrap()).unwrap();
        f(&mut footer);
        buf[at..].copy_from_slice(&footer.to_bytes());
        buf
    }

    #[test]
    fn bad_trailers_are_refused_by_cheap_checks() {
        let cases: Vec<(&str, Vec<u8>, TrailerError)> = vec![
            ("empty", vec![], TrailerError::Unsigned),
            (
                "plain elf",
                b"\x7fELF plain".to_vec(),
                TrailerError::Unsigned,
            ),
            ("magic only", MAGIC.to_vec(), TrailerError::Unsigned),
            (
                "version 3",
                with_footer(|f| f.version = 3),
                TrailerError::UnknownVersion(3),
            ),
            (
                "version 2 without a fast-path section",
                with_footer(|f| f.version = 2),
                TrailerError::Lengths {
                    payload: 5,
                    name: 7,
                    sig: 64,
                    file: 5 + 7 + 64 + 52,
                },
            ),
            (
                "version 0",
                with_footer(|f| f.version = 0),
                TrailerError::UnknownVersion(0),
            ),
            (
                "alg",
                with_footer(|f| f.sig_alg = 7),
                TrailerError::UnknownSigAlg(7),
            ),
            (
                "hash",
                with_footer(|f| f.hash_alg = 2),
                TrailerError::UnknownHashAlg(2),
            ),
            (
                "reserved",
                with_footer(|f| f.reserved = 1),
                TrailerError::Reserved(1),
            ),
            (
                "sig len",
                with_footer(|f| f.sig_len = 65),
                TrailerError::SigLen(65),
            ),
            (
                "absurd payload",
                with_footer(|f| f.payload_len = u64::MAX),
                TrailerError::Lengths {
                    payload: u64::MAX,
                    name: 7,
                    sig: 64,
                    file: 5 + 7 + 64 + 52,
                },
            ),
            (
                "short payload",
                with_footer(|f| f.payload_len = 4),
                TrailerError::Lengths {
                    payload: 4,
                    name: 7,
                    sig: 64,
                    file: 5 + 7 + 64 + 52,
                },
            ),
            (
                "name len 255",
                with_footer(|f| f.name_len = 255),
                TrailerError::Lengths {
                    payload: 5,
                    name: 255,
                    sig: 64,
                    file: 5 + 7 + 64 + 52,
                },
            ),
            (
                "trailing garbage",
                [sample(), b"xyz".to_vec()].concat(),
                TrailerError::TrailingBytes(3),
            ),
        ];
        for (what, buf, want) in cases {
            assert_eq!(parse(&buf).unwrap_err(), want, "{what}");
        }
    }

    #[test]
    fn zero_name_len_or_bad_name_is_refused() {
        // name_len 0 with a payload one longer: lengths add up, but an empty name is invalid.
        let buf = with_footer(|f| {
            f.name_len = 0;
            f.payload_len = 12;
        });
        assert_eq!(
            parse(&buf).unwrap_err(),
            TrailerError::Name(NameError::Empty)
        );
        let mut buf = sample();
        buf[5] = b'.'; // first byte of the name
        assert!(matches!(
            parse(&buf).unwrap_err(),
            TrailerError::Name(NameError::BadChar { .. })
        ));
    }

    #[test]
    fn magic_inside_an_unsigned_object_does_not_make_it_signed() {
        // An object whose last 4 KiB hold the magic (a string in its data) is unsigned, not
        // "signed with trailing bytes": it can be signed.
        let cases: Vec<(&str, Vec<u8>, TrailerError)> = vec![
            (
                "magic near the end",
                [b"\x7fELF data ".as_slice(), MAGIC, b"more data"].concat(),
                TrailerError::Unsigned,
            ),
            (
                "magic after a footer-sized junk",
                [vec![0xff; 100].as_slice(), MAGIC, b"xyz"].concat(),
                TrailerError::Unsigned,
            ),
            (
                "a valid trailer, then bytes",
                [sample(), b"xyz".to_vec()].concat(),
                TrailerError::TrailingBytes(3),
            ),
            (
                "a valid trailer, then a stray magic",
                [sample(), b"x".to_vec(), MAGIC.to_vec(), b"y".to_vec()].concat(),
                TrailerError::TrailingBytes(1 + MAGIC.len() + 1),
            ),
        ];
        for (what, buf, want) in cases {
            assert_eq!(parse(&buf).unwrap_err(), want, "{what}");
        }
    }

    #[test]
    fn binary_name_is_quoted_short() {
        // name_len 255 of binary bytes, lengths made to add up: the error quotes a short,
        // lossy form, never 255 raw bytes.
        let name = ObjectName::parse("counter").unwrap();
        let mut footer = new_footer(5, &name, [1; 8], false);
        footer.name_len = 255;
        let mut buf = b"\x7fELF!".to_vec();
        buf.extend((0..255).map(|i| 0x80 | (i as u8)));
        buf.extend_from_slice(&[9u8; 64]);
        buf.extend_from_slice(&footer.to_bytes());
        let e = parse(&buf).unwrap_err();
        let TrailerError::Name(NameError::BadChar { shown, at, .. }) = &e else {
            panic!("{e:?}");
        };
        assert_eq!(*at, 0);
        assert_eq!(shown.chars().count(), crate::name::SHOWN_MAX + 1, "{shown}");
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn version_2_carries_the_fast_section() {
        let name = ObjectName::parse("counter").unwrap();
        let footer = new_footer(5, &name, [1; 8], true);
        let buf = encode(b"\x7fELF!", b"FAST", &name, &[9u8; 64], &footer);
        let p = parse(&buf).unwrap();
        assert_eq!(
            (p.payload, p.fast),
            (b"\x7fELF!".as_slice(), Some(b"FAST".as_slice()))
        );
        assert_eq!(p.footer.version, VERSION_FAST);
        // Relabelled version 1, the same bytes no longer add up.
        let mut v1 = buf.clone();
        let at = v1.len() - FOOTER_LEN + 16;
        v1[at] = VERSION;
        assert!(matches!(parse(&v1), Err(TrailerError::Lengths { .. })));
        assert_eq!(parse(&sample()).unwrap().fast, None);
    }

    #[test]
    fn every_truncation_is_refused() {
        let buf = sample();
        for len in 0..buf.len() {
            assert!(parse(&buf[..len]).is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn signed_message_covers_every_field() {
        let name = ObjectName::parse("a").unwrap();
        let f = new_footer(10, &name, [0; 8], false);
        let base = signed_message(&f, &name, &[0; 32], None);
        assert!(base.starts_with(DOMAIN_TAG));
        let variants = [
            signed_message(
                &Footer {
                    payload_len: 11,
                    ..f
                },
                &name,
                &[0; 32],
                None,
            ),
            signed_message(
                &Footer {
                    key_id: [1; 8],
                    ..f
                },
                &name,
                &[0; 32],
                None,
            ),
            signed_message(&f, &ObjectName::parse("b").unwrap(), &[0; 32], None),
            signed_message(&f, &name, &[1; 32], None),
            signed_message(&f, &name, &[0; 32], Some(&[0; 32])),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }
}
