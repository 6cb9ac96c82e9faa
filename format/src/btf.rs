//! The kernel's BTF (`/sys/kernel/btf/vmlinux`), scanned for what the built-in guard needs
//! before it loads (the `guard` module decides with it; the loader's `kernel::guard` reads the
//! file): each LSM hook's function `bpf_lsm_<hook>` with its parameter names, and every function
//! no fmod_ret program may attach to ([`crate::guard::hook_flags`]).
//!
//! Not a BTF parser: the header is checked, the type section walked once (each record's length
//! from its kind and `vlen`), names read only for functions, and a second walk, up to the last
//! prototype wanted, reads the prototypes of the `bpf_lsm_` functions. Nothing is kept per type.
//! The layout is the kernel's `include/uapi/linux/btf.h` (Documentation/bpf/btf.rst), in the
//! byte order of the machine that reads it, as the kernel writes it.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::guard::hook_flags;

/// Where the running kernel exposes its own BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";
/// `BTF_MAGIC`, read in native byte order.
pub const MAGIC: u16 = 0xeb9f;
pub const VERSION: u8 = 1;
/// `struct btf_header`: magic, version, flags, hdr_len, type_off/len, str_off/len.
pub const HEADER_LEN: usize = 24;
/// `struct btf_type`: name_off, info, size or type.
const TYPE_LEN: usize = 12;
/// Where BPF LSM programs attach: `bpf_lsm_<hook>`.
const LSM_PREFIX: &str = "bpf_lsm_";
/// The other functions with hook flags ([`hook_flags`]: every name it flags has one of these two
/// prefixes, so no other name needs reading).
const SECURITY_PREFIX: &str = "security_";

/// `BTF_KIND_*`.
const INT: u32 = 1;
const PTR: u32 = 2;
const ARRAY: u32 = 3;
const STRUCT: u32 = 4;
const UNION: u32 = 5;
const ENUM: u32 = 6;
const FWD: u32 = 7;
const TYPEDEF: u32 = 8;
const VOLATILE: u32 = 9;
const CONST: u32 = 10;
const RESTRICT: u32 = 11;
const FUNC: u32 = 12;
const FUNC_PROTO: u32 = 13;
const VAR: u32 = 14;
const DATASEC: u32 = 15;
const FLOAT: u32 = 16;
const DECL_TAG: u32 = 17;
const TYPE_TAG: u32 = 18;
const ENUM64: u32 = 19;

/// By kind: the bytes after a record's `struct btf_type` whatever its `vlen`, and those per
/// `vlen`; `None`: a kind this scanner does not know (and so cannot step over).
const LAYOUT: [Option<(u8, u8)>; 32] = {
    let mut t = [None; 32];
    let mut k = 0;
    let kinds = [
        PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG,
    ];
    while k < kinds.len() {
        t[kinds[k] as usize] = Some((0, 0));
        k += 1;
    }
    // the INT encoding; `struct btf_var` (linkage); `struct btf_decl_tag` (component_idx)
    t[INT as usize] = Some((4, 0));
    t[VAR as usize] = Some((4, 0));
    t[DECL_TAG as usize] = Some((4, 0));
    // `struct btf_array`
    t[ARRAY as usize] = Some((12, 0));
    // `struct btf_member`, `struct btf_var_secinfo`, `struct btf_enum64` each
    t[STRUCT as usize] = Some((0, 12));
    t[UNION as usize] = Some((0, 12));
    t[DATASEC as usize] = Some((0, 12));
    t[ENUM64 as usize] = Some((0, 12));
    // `struct btf_enum`, `struct btf_param` each
    t[ENUM as usize] = Some((0, 8));
    t[FUNC_PROTO as usize] = Some((0, 8));
    t
};

/// Bytes after a record's `struct btf_type`, by kind (5 bits) and `vlen`.
fn extra_len(kind: u32, vlen: usize) -> Option<usize> {
    let (fixed, each) = LAYOUT[(kind & 0x1f) as usize]?;
    Some(usize::from(fixed) + usize::from(each) * vlen)
}

/// Why a BTF blob could not be scanned. Offsets are from the start of the type section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("{len} bytes, shorter than a BTF header ({HEADER_LEN})")]
    Short { len: usize },
    #[error("magic {found:#06x}: BTF of the other byte order")]
    OtherEndian { found: u32 },
    #[error("magic {found:#06x}, not BTF's {MAGIC:#06x}")]
    Magic { found: u32 },
    #[error("version {found}, not {VERSION}")]
    Version { found: u8 },
    #[error("header length {hdr_len}: shorter than {HEADER_LEN} or past the end ({len} bytes)")]
    HeaderLen { hdr_len: u32, len: usize },
    #[error(
        "{section} section at {off}, {size} bytes: past the end ({len} bytes after the header)"
    )]
    Section {
        section: &'static str,
        off: u32,
        size: u32,
        len: usize,
    },
    #[error("the type and string sections overlap")]
    Overlap,
    #[error("the string section is empty or does not begin and end with NUL")]
    Strings,
    #[error("type {id} at {off}: unknown kind {kind}")]
    Kind { id: u32, off: usize, kind: u32 },
    #[error("type {id} at {off}: runs past the end of the type section ({len} bytes)")]
    Truncated { id: u32, off: usize, len: usize },
    #[error("type {id}: name offset {name_off} outside the string section ({len} bytes)")]
    Name { id: u32, name_off: u32, len: usize },
    #[error("function {id}: its prototype {refers} is not a type (the last is {last})")]
    Reference { id: u32, refers: u32, last: u32 },
}

/// What the guard needs from the kernel's BTF, as [`scan`] finds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelHooks {
    /// Each `bpf_lsm_<hook>` by `<hook>`: its BTF id and parameter names (`None`: the type it
    /// refers to is not a function prototype; a parameter without a name is ""). The first
    /// function of a name, as a lookup by name finds it.
    pub lsm: BTreeMap<String, (u32, Option<Vec<String>>)>,
    /// `(BTF id, flags)` of every function with hook flags, by id.
    pub funcs: Vec<(u32, u8)>,
}

impl KernelHooks {
    /// Parameter names of `bpf_lsm_<hook>`.
    pub fn params(&self, hook: &str) -> Option<Vec<String>> {
        self.lsm.get(hook).and_then(|(_, p)| p.clone())
    }
}

/// The native-endian `u32` at `at` of `b`.
fn word(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?.first_chunk().map(|w| u32::from_ne_bytes(*w))
}

/// The type and string sections of a BTF blob, its header checked.
fn sections(data: &[u8]) -> Result<(&[u8], &[u8]), BtfError> {
    let len = data.len();
    let h: &[u8; HEADER_LEN] = data.first_chunk().ok_or(BtfError::Short { len })?;
    let magic = u16::from_ne_bytes([h[0], h[1]]);
    if magic == MAGIC.swap_bytes() {
        return Err(BtfError::OtherEndian {
            found: magic.into(),
        });
    }
    if magic != MAGIC {
        return Err(BtfError::Magic {
            found: magic.into(),
        });
    }
    if h[2] != VERSION {
        return Err(BtfError::Version { found: h[2] });
    }
    let [hdr_len, type_off, type_len, str_off, str_len] =
        [4, 8, 12, 16, 20].map(|at| word(h, at).unwrap_or(0));
    let body = data
        .get(hdr_len as usize..)
        .filter(|_| hdr_len as usize >= HEADER_LEN)
        .ok_or(BtfError::HeaderLen { hdr_len, len })?;
    let section = |section, off: u32, size: u32| {
        (off as usize)
            .checked_add(size as usize)
            .and_then(|end| body.get(off as usize..end))
            .ok_or(BtfError::Section {
                section,
                off,
                size,
                len: body.len(),
            })
    };
    let types = section("type", type_off, type_len)?;
    let strs = section("string", str_off, str_len)?;
    let (t, s) = (u64::from(type_off), u64::from(str_off));
    if !types.is_empty() && t < s + u64::from(str_len) && s < t + u64::from(type_len) {
        return Err(BtfError::Overlap);
    }
    if strs.first() != Some(&0) || strs.last() != Some(&0) {
        return Err(BtfError::Strings);
    }
    Ok((types, strs))
}

/// One record of the type section.
struct Record<'a> {
    id: u32,
    kind: u32,
    name_off: u32,
    /// `size` or `type`, by kind.
    size_type: u32,
    /// What follows the `struct btf_type` (members, parameters, ...).
    extra: &'a [u8],
}

/// The records of a type section in order, ids from 1 (0 is void); after an error, nothing.
struct Records<'a> {
    types: &'a [u8],
    off: usize,
    id: u32,
}

impl<'a> Records<'a> {
    fn new(types: &'a [u8]) -> Self {
        Self {
            types,
            off: 0,
            id: 0,
        }
    }

    /// The record at `off` and where the next begins; `None`: see [`Records::error`].
    fn record(&self) -> Option<(Record<'a>, usize)> {
        let off = self.off;
        let t: &[u8; TYPE_LEN] = self.types.get(off..)?.first_chunk()?;
        let w = |i: usize| u32::from_ne_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
        let info = w(4);
        let kind = (info >> 24) & 0x1f;
        let start = off + TYPE_LEN;
        let extra = extra_len(kind, (info & 0xffff) as usize)?;
        let extra = self.types.get(start..start + extra)?;
        let r = Record {
            id: self.id,
            kind,
            name_off: w(0),
            size_type: w(8),
            extra,
        };
        Some((r, start + extra.len()))
    }

    /// Why there is no record at `off`: an unknown kind, or one running past the section.
    fn error(&self) -> BtfError {
        let (off, id, len) = (self.off, self.id, self.types.len());
        let kind = word(self.types, off + 4).map(|info| (info >> 24) & 0x1f);
        match kind {
            Some(kind) if off + TYPE_LEN <= len && extra_len(kind, 0).is_none() => {
                BtfError::Kind { id, off, kind }
            }
            _ => BtfError::Truncated { id, off, len },
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, BtfError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.types.len() {
            return None;
        }
        self.id += 1;
        match self.record() {
            Some((r, next)) => {
                self.off = next;
                Some(Ok(r))
            }
            None => {
                let e = self.error();
                self.off = self.types.len();
                Some(Err(e))
            }
        }
    }
}

/// The name at `name_off` of the string section, without its NUL (the section ends with one).
fn name_at(strs: &[u8], id: u32, name_off: u32) -> Result<&[u8], BtfError> {
    let s = strs.get(name_off as usize..).unwrap_or_default();
    let end = s.iter().position(|&b| b == 0).ok_or(BtfError::Name {
        id,
        name_off,
        len: strs.len(),
    })?;
    Ok(s.get(..end).unwrap_or_default())
}

/// What the guard needs from a kernel's BTF (`data`: all of [`VMLINUX`]): see [`KernelHooks`].
pub fn scan(data: &[u8]) -> Result<KernelHooks, BtfError> {
    let (types, strs) = sections(data)?;
    let mut hooks = KernelHooks::default();
    // (function id, prototype id) of each `bpf_lsm_` function kept, by function id
    let mut refs: Vec<(u32, u32)> = Vec::new();
    let mut last = 0;
    for r in Records::new(types) {
        let r = r?;
        last = r.id;
        if r.kind != FUNC {
            continue;
        }
        // Only names with one of the two prefixes are read whole (and made text).
        let rest = strs.get(r.name_off as usize..).unwrap_or_default();
        if rest.is_empty() {
            return Err(BtfError::Name {
                id: r.id,
                name_off: r.name_off,
                len: strs.len(),
            });
        }
        let hit = match rest.first() {
            Some(b'b') => rest.starts_with(LSM_PREFIX.as_bytes()),
            Some(b's') => rest.starts_with(SECURITY_PREFIX.as_bytes()),
            _ => false,
        };
        if !hit {
            continue;
        }
        let name = String::from_utf8_lossy(name_at(strs, r.id, r.name_off)?);
        let flags = hook_flags(&name);
        if flags != 0 {
            hooks.funcs.push((r.id, flags));
        }
        let Some(hook) = name.strip_prefix(LSM_PREFIX) else {
            continue;
        };
        if !hooks.lsm.contains_key(hook) {
            hooks.lsm.insert(hook.to_owned(), (r.id, None));
            refs.push((r.id, r.size_type));
        }
    }
    if let Some(&(id, refers)) = refs.iter().find(|r| r.1 > last) {
        return Err(BtfError::Reference { id, refers, last });
    }
    // The prototypes, in a second walk up to the last one wanted (0, void, is none): their
    // parameter names by prototype id, in id order.
    let mut wanted: Vec<u32> = refs.iter().map(|r| r.1).filter(|&p| p != 0).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut wanted = wanted.into_iter().peekable();
    let mut found: Vec<(u32, Vec<String>)> = Vec::new();
    for r in Records::new(types) {
        let Some(&want) = wanted.peek() else { break };
        let r = r?;
        if r.id != want {
            continue;
        }
        wanted.next();
        if r.kind != FUNC_PROTO {
            continue;
        }
        let mut params = Vec::new();
        for p in r.extra.chunks_exact(8) {
            let name = name_at(strs, r.id, word(p, 0).unwrap_or(0))?;
            params.push(String::from_utf8_lossy(name).into_owned());
        }
        found.push((r.id, params));
    }
    for (id, params) in hooks.lsm.values_mut() {
        let proto = refs
            .binary_search_by_key(id, |r| r.0)
            .ok()
            .and_then(|i| refs.get(i));
        *params = proto
            .and_then(|&(_, proto)| found.binary_search_by_key(&proto, |f| f.0).ok())
            .and_then(|i| found.get(i))
            .map(|f| f.1.clone());
    }
    Ok(hooks)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::guard::{HF_HOOK, HF_POSITIVE};

    /// A BTF blob under construction: records and strings, ids from 1.
    pub(crate) struct Blob {
        types: Vec<u8>,
        strs: Vec<u8>,
        next: u32,
    }

    impl Blob {
        pub(crate) fn new() -> Self {
            Self {
                types: Vec::new(),
                strs: vec![0],
                next: 1,
            }
        }

        /// The string's offset (0 for "": the section's first byte is its NUL).
        fn name(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strs.len() as u32;
            self.strs.extend_from_slice(s.as_bytes());
            self.strs.push(0);
            off
        }

        /// A record of any kind; its id.
        pub(crate) fn ty(
            &mut self,
            name: &str,
            kind: u32,
            vlen: u32,
            st: u32,
            extra: &[u8],
        ) -> u32 {
            let name_off = self.name(name);
            for w in [name_off, (kind << 24) | vlen, st] {
                self.types.extend_from_slice(&w.to_ne_bytes());
            }
            self.types.extend_from_slice(extra);
            self.next += 1;
            self.next - 1
        }

        pub(crate) fn int(&mut self, name: &str) -> u32 {
            self.ty(name, INT, 0, 4, &[0, 0, 0, 32])
        }

        pub(crate) fn func(&mut self, name: &str, proto: u32) -> u32 {
            self.ty(name, FUNC, 1, proto, &[])
        }

        /// A FUNC_PROTO returning int (type 1) with these parameter names.
        pub(crate) fn proto(&mut self, params: &[&str]) -> u32 {
            let mut extra = Vec::new();
            for p in params {
                extra.extend_from_slice(&self.name(p).to_ne_bytes());
                extra.extend_from_slice(&1u32.to_ne_bytes());
            }
            self.ty("", FUNC_PROTO, params.len() as u32, 1, &extra)
        }

        /// The id the next record gets.
        pub(crate) fn next_id(&self) -> u32 {
            self.next
        }

        /// Header, types, strings.
        pub(crate) fn bytes(&self) -> Vec<u8> {
            let (t, s) = (self.types.len() as u32, self.strs.len() as u32);
            let mut b = Vec::new();
            b.extend_from_slice(&MAGIC.to_ne_bytes());
            b.extend_from_slice(&[VERSION, 0]);
            for w in [HEADER_LEN as u32, 0, t, t, s] {
                b.extend_from_slice(&w.to_ne_bytes());
            }
            b.extend_from_slice(&self.types);
            b.extend_from_slice(&self.strs);
            b
        }
    }

    /// A small kernel: an int, two hooks sharing a prototype, one with its own, a security_
    /// function, an unrelated one, and bpf_lsm_bpf (positive flag).
    pub(crate) fn sample() -> Vec<u8> {
        let mut b = Blob::new();
        b.int("int");
        let two = b.proto(&["dir", "dentry"]);
        let one = b.proto(&["file"]);
        b.func("bpf_lsm_inode_unlink", two);
        b.func("security_inode_unlink", two);
        b.func("bpf_lsm_inode_rmdir", two);
        b.func("vfs_unlink", two);
        b.func("bpf_lsm_file_open", one);
        let cmd = b.proto(&["cmd", "attr", "size"]);
        b.func("bpf_lsm_bpf", cmd);
        b.bytes()
    }

    fn params(p: &[&str]) -> Option<Vec<String>> {
        Some(p.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn the_sample_gives_hooks_prototypes_and_flagged_functions() {
        let h = scan(&sample()).unwrap();
        let lsm: Vec<(&str, u32, Option<Vec<String>>)> = h
            .lsm
            .iter()
            .map(|(k, (id, p))| (k.as_str(), *id, p.clone()))
            .collect();
        assert_eq!(
            lsm,
            [
                ("bpf", 10, params(&["cmd", "attr", "size"])),
                ("file_open", 8, params(&["file"])),
                ("inode_rmdir", 6, params(&["dir", "dentry"])),
                ("inode_unlink", 4, params(&["dir", "dentry"])),
            ]
        );
        assert_eq!(
            h.funcs,
            [
                (4, HF_HOOK),
                (5, HF_HOOK),
                (6, HF_HOOK),
                (8, HF_HOOK),
                (10, HF_HOOK | HF_POSITIVE)
            ]
        );
        assert_eq!(h.params("file_open"), params(&["file"]));
        assert_eq!(h.params("inode_link"), None);
    }

    /// Every kind's record length: a record of the kind (with two members where `vlen` counts
    /// them) before a hook; the hook is found at the next id with its prototype only if the
    /// record was stepped over by exactly its length.
    #[test]
    fn every_kind_is_stepped_over_by_its_length() {
        let lens = [
            (INT, 4),
            (PTR, 0),
            (ARRAY, 12),
            (STRUCT, 24),
            (UNION, 24),
            (ENUM, 16),
            (FWD, 0),
            (TYPEDEF, 0),
            (VOLATILE, 0),
            (CONST, 0),
            (RESTRICT, 0),
            (FUNC, 0),
            (FUNC_PROTO, 16),
            (VAR, 4),
            (DATASEC, 24),
            (FLOAT, 0),
            (DECL_TAG, 4),
            (TYPE_TAG, 0),
            (ENUM64, 24),
        ];
        assert_eq!(lens.len(), 19);
        for (kind, len) in lens {
            let mut b = Blob::new();
            // Extra bytes of 0xff: were any read as the next record, its kind would be 31.
            let kept = b.ty("x", kind, 2, 1, &vec![0xff; len]);
            let proto = b.proto(&["a"]);
            let f = b.func("bpf_lsm_k", proto);
            assert_eq!((kept, proto, f), (1, 2, 3));
            let h = scan(&b.bytes()).unwrap_or_else(|e| panic!("kind {kind}: {e}"));
            assert_eq!(h.lsm["k"], (3, params(&["a"])), "kind {kind}");
            // One byte short of the record: the walk no longer lands on the hook.
            if len > 0 {
                let mut b = Blob::new();
                b.ty("x", kind, 2, 1, &vec![0xff; len - 1]);
                b.int("int");
                assert!(scan(&b.bytes()).is_err(), "kind {kind}");
            }
        }
        for kind in [0, 20, 31] {
            let mut b = Blob::new();
            b.int("int");
            b.ty("x", kind, 0, 0, &[]);
            assert_eq!(
                scan(&b.bytes()),
                Err(BtfError::Kind {
                    id: 2,
                    off: 16,
                    kind
                })
            );
        }
    }

    #[test]
    fn the_first_function_of_a_name_is_the_hook() {
        let mut b = Blob::new();
        let old = b.proto(&["a", "b"]);
        let new = b.proto(&["x"]);
        b.func("bpf_lsm_sb_mount", old);
        b.func("bpf_lsm_sb_mount", new);
        let h = scan(&b.bytes()).unwrap();
        assert_eq!(h.lsm["sb_mount"], (3, params(&["a", "b"])));
        // Both are hook functions.
        assert_eq!(h.funcs, [(3, HF_HOOK), (4, HF_HOOK)]);
    }

    #[test]
    fn prototypes_missing_odd_or_unnamed() {
        let mut b = Blob::new();
        let int = b.int("int");
        let unnamed = b.proto(&["ctx", ""]);
        b.func("bpf_lsm_not_a_proto", int);
        b.func("bpf_lsm_void", 0);
        b.func("bpf_lsm_unnamed", unnamed);
        let empty = b.proto(&[]);
        // A prototype after the function that refers to it.
        b.func("bpf_lsm_later", b.next_id() + 1);
        let later = b.proto(&["late"]);
        b.func("bpf_lsm_empty", empty);
        let h = scan(&b.bytes()).unwrap();
        assert_eq!(h.lsm["not_a_proto"], (3, None));
        assert_eq!(h.lsm["void"], (4, None));
        assert_eq!(h.lsm["unnamed"], (5, params(&["ctx", ""])));
        assert_eq!(h.lsm["later"], (7, params(&["late"])));
        assert_eq!(later, 8);
        assert_eq!(h.lsm["empty"], (9, Some(Vec::new())));
        // A prototype id past the last type.
        let mut b = Blob::new();
        b.int("int");
        b.func("bpf_lsm_far", 3);
        assert_eq!(
            scan(&b.bytes()),
            Err(BtfError::Reference {
                id: 2,
                refers: 3,
                last: 2
            })
        );
    }

    #[test]
    fn names_are_bytes_made_text_only_for_hits() {
        let mut b = Blob::new();
        let p = b.proto(&["a"]);
        // Not UTF-8: made text lossily, as libbpf-rs's names were.
        let off = b.strs.len() as u32;
        b.strs.extend_from_slice(b"bpf_lsm_\xffx\0");
        b.ty("", FUNC, 1, p, &[]);
        let at = b.types.len() - 12;
        b.types[at..at + 4].copy_from_slice(&off.to_ne_bytes());
        b.func("security_", p);
        b.func("bpf_lsm", p);
        b.func("", p);
        let h = scan(&b.bytes()).unwrap();
        assert_eq!(h.lsm.keys().collect::<Vec<_>>(), ["\u{fffd}x"]);
        assert_eq!(h.funcs, [(2, HF_HOOK), (3, HF_HOOK)]);
    }

    /// Bytes of a blob with header word `at` (a byte offset) replaced.
    fn with_word(mut blob: Vec<u8>, at: usize, v: u32) -> Vec<u8> {
        blob[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        blob
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let good = sample();
        let body = good.len() - HEADER_LEN;
        let (tl, sl) = (word(&good, 12).unwrap(), word(&good, 20).unwrap());
        let mut other = good.clone();
        other.swap(0, 1);
        let mut magic = good.clone();
        magic[0] = 0;
        let mut version = good.clone();
        version[2] = 2;
        let mut unterminated = good.clone();
        *unterminated.last_mut().unwrap() = b'x';
        let mut no_leading_nul = good.clone();
        no_leading_nul[HEADER_LEN + tl as usize] = b'x';
        let cases: Vec<(&str, Vec<u8>, BtfError)> = vec![
            ("empty", Vec::new(), BtfError::Short { len: 0 }),
            ("short", good[..23].to_vec(), BtfError::Short { len: 23 }),
            (
                "other endian",
                other,
                BtfError::OtherEndian { found: 0x9feb },
            ),
            ("magic", magic, BtfError::Magic { found: 0xeb00 }),
            ("version", version, BtfError::Version { found: 2 }),
            (
                "hdr_len short",
                with_word(good.clone(), 4, 20),
                BtfError::HeaderLen {
                    hdr_len: 20,
                    len: good.len(),
                },
            ),
            (
                "hdr_len past",
                with_word(good.clone(), 4, good.len() as u32 + 1),
                BtfError::HeaderLen {
                    hdr_len: good.len() as u32 + 1,
                    len: good.len(),
                },
            ),
            (
                "types past",
                with_word(good.clone(), 12, tl + sl + 1),
                BtfError::Section {
                    section: "type",
                    off: 0,
                    size: tl + sl + 1,
                    len: body,
                },
            ),
            (
                "type offset wraps",
                with_word(good.clone(), 8, u32::MAX),
                BtfError::Section {
                    section: "type",
                    off: u32::MAX,
                    size: tl,
                    len: body,
                },
            ),
            (
                "strings past",
                with_word(good.clone(), 20, sl + 1),
                BtfError::Section {
                    section: "string",
                    off: tl,
                    size: sl + 1,
                    len: body,
                },
            ),
            (
                "overlap",
                with_word(good.clone(), 16, tl - 4),
                BtfError::Overlap,
            ),
            (
                "no strings",
                with_word(good.clone(), 20, 0),
                BtfError::Strings,
            ),
            ("unterminated", unterminated, BtfError::Strings),
            ("no leading NUL", no_leading_nul, BtfError::Strings),
        ];
        for (what, blob, want) in cases {
            assert_eq!(scan(&blob), Err(want), "{what}");
        }
    }

    #[test]
    fn a_longer_header_and_an_empty_type_section_are_fine() {
        // hdr_len 32: the sections start after it.
        let mut b = sample();
        b.splice(HEADER_LEN..HEADER_LEN, [0u8; 8]);
        let b = with_word(b, 4, 32);
        assert_eq!(scan(&b).unwrap(), scan(&sample()).unwrap());
        assert_eq!(scan(&Blob::new().bytes()), Ok(KernelHooks::default()));
    }

    #[test]
    fn records_past_the_section_and_names_past_the_strings_are_errors() {
        let mut b = Blob::new();
        b.int("int");
        // A struct claiming 3 members, with 2, last in the section.
        b.ty("s", STRUCT, 3, 8, &[0; 24]);
        assert_eq!(
            scan(&b.bytes()),
            Err(BtfError::Truncated {
                id: 2,
                off: 16,
                len: 16 + 36
            })
        );
        // Less than a record's header left.
        let mut b = Blob::new();
        b.int("int");
        b.types.extend_from_slice(&[0; 11]);
        assert_eq!(
            scan(&b.bytes()),
            Err(BtfError::Truncated {
                id: 2,
                off: 16,
                len: 27
            })
        );
        // A function's name past the strings; a parameter's.
        let mut b = Blob::new();
        let p = b.proto(&["a"]);
        let f = b.func("bpf_lsm_x", p);
        let len = b.strs.len();
        // the function's record: after the prototype's 12 + 8 bytes
        assert_eq!(f, 2);
        let mut bad = b.types.clone();
        bad[20..24].copy_from_slice(&(len as u32).to_ne_bytes());
        let mut func = Blob {
            types: bad,
            strs: b.strs.clone(),
            next: 3,
        };
        assert_eq!(
            scan(&func.bytes()),
            Err(BtfError::Name {
                id: 2,
                name_off: len as u32,
                len
            })
        );
        // the parameter's name_off: right after the prototype's own 12 bytes
        func.types = b.types.clone();
        func.types[12..16].copy_from_slice(&(len as u32 + 5).to_ne_bytes());
        assert_eq!(
            scan(&func.bytes()),
            Err(BtfError::Name {
                id: 1,
                name_off: len as u32 + 5,
                len
            })
        );
    }

    /// Any truncation of a valid blob is an error, never a panic (the string section ends it, and
    /// the header counts its bytes); any one byte flipped never panics.
    #[test]
    fn every_truncation_is_an_error_and_no_flip_panics() {
        let good = sample();
        for n in 0..good.len() {
            assert!(scan(&good[..n]).is_err(), "{n} bytes");
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut m = good.clone();
                m[i] ^= 1 << bit;
                let _ = scan(&m);
            }
        }
    }
}
