//! The loader's context: what `run` hands the light skeleton's loader and what the loader writes
//! back, as libbpf's `skel_internal.h` lays it out (a generated skeleton's struct: one
//! `bpf_loader_ctx`, then a `bpf_map_desc` per map, then a `bpf_prog_desc` per program). The C
//! structs are mirrored `#[repr(C)]` and checked against the header's sizes and offsets; every
//! offset below comes from the compiler, none is counted by hand. Pure: no kernel involved.
#![forbid(unsafe_code)]

use std::mem::{offset_of, size_of};

/// `struct bpf_loader_ctx` (skel_internal.h): `__u32 sz, flags, log_level, log_size;
/// __u64 log_buf`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoaderCtx {
    pub sz: u32,
    pub flags: u32,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
}

/// `struct bpf_map_desc`: `int map_fd` (the loader's output), `__u32 max_entries`,
/// `__aligned_u64 initial_value` (inputs for a skeleton that sets them; `run` does not).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapDesc {
    pub map_fd: i32,
    pub max_entries: u32,
    pub initial_value: u64,
}

/// `struct bpf_prog_desc`: `int prog_fd` (the loader's output).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgDesc {
    pub prog_fd: i32,
}

// The header's layout (x86-64 and aarch64 alike: no pointer-sized field).
const _: () = assert!(size_of::<LoaderCtx>() == 24);
const _: () = assert!(offset_of!(LoaderCtx, sz) == 0 && offset_of!(LoaderCtx, flags) == 4);
const _: () = assert!(offset_of!(LoaderCtx, log_level) == 8);
const _: () = assert!(offset_of!(LoaderCtx, log_size) == 12);
const _: () = assert!(offset_of!(LoaderCtx, log_buf) == 16);
const _: () = assert!(size_of::<MapDesc>() == 16);
const _: () = assert!(offset_of!(MapDesc, map_fd) == 0 && offset_of!(MapDesc, max_entries) == 4);
const _: () = assert!(offset_of!(MapDesc, initial_value) == 8);
const _: () = assert!(size_of::<ProgDesc>() == 4 && offset_of!(ProgDesc, prog_fd) == 0);

/// Where each part of the context of a loader with `maps` maps and `progs` programs is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextLayout {
    pub maps: usize,
    pub progs: usize,
}

impl ContextLayout {
    /// The context's length, as its `sz` says and as the kernel copies it in and out.
    pub fn len(&self) -> usize {
        size_of::<LoaderCtx>()
            + size_of::<MapDesc>() * self.maps
            + size_of::<ProgDesc>() * self.progs
    }

    fn map_at(&self, i: usize) -> usize {
        size_of::<LoaderCtx>() + size_of::<MapDesc>() * i
    }

    fn prog_at(&self, i: usize) -> usize {
        self.map_at(self.maps) + size_of::<ProgDesc>() * i
    }

    /// The context `run` hands in: `sz` set, everything else zero (no log, no initial values),
    /// in a buffer rounded up to 8 bytes as the C struct is (`__aligned_u64` members).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.len().next_multiple_of(8)];
        put_u32(&mut buf, offset_of!(LoaderCtx, sz), self.len() as u32);
        buf
    }

    /// The fds the loader wrote back: one per map, one per program, in the loader's order.
    /// `None` when `buf` is shorter than the layout.
    pub fn fds(&self, buf: &[u8]) -> Option<(Vec<i32>, Vec<i32>)> {
        if buf.len() < self.len() {
            return None;
        }
        let maps = (0..self.maps)
            .map(|i| get_i32(buf, self.map_at(i) + offset_of!(MapDesc, map_fd)))
            .collect::<Option<_>>()?;
        let progs = (0..self.progs)
            .map(|i| get_i32(buf, self.prog_at(i) + offset_of!(ProgDesc, prog_fd)))
            .collect::<Option<_>>()?;
        Some((maps, progs))
    }
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn get_i32(buf: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What gen_loader's skeleton struct for 2 maps and 3 programs is in C:
    /// `{ struct bpf_loader_ctx ctx; struct bpf_map_desc maps[2]; struct bpf_prog_desc progs[3]; }`.
    #[repr(C)]
    struct Skel2x3 {
        ctx: LoaderCtx,
        maps: [MapDesc; 2],
        progs: [ProgDesc; 3],
    }

    #[test]
    fn the_layout_is_the_c_structs() {
        let l = ContextLayout { maps: 2, progs: 3 };
        assert_eq!(l.len(), 24 + 2 * 16 + 3 * 4);
        assert_eq!(
            l.map_at(1),
            offset_of!(Skel2x3, maps) + size_of::<MapDesc>()
        );
        assert_eq!(l.prog_at(0), offset_of!(Skel2x3, progs));
        assert_eq!(l.prog_at(2), 64);
        // The C struct is padded to its 8-byte alignment; so is the buffer handed in.
        assert_eq!(l.encode().len(), size_of::<Skel2x3>());
        assert_eq!(size_of::<Skel2x3>(), 72);
    }

    #[test]
    fn encode_sets_only_the_size() {
        let l = ContextLayout { maps: 2, progs: 3 };
        let buf = l.encode();
        assert_eq!(&buf[..4], &68u32.to_ne_bytes());
        assert!(buf[4..].iter().all(|&b| b == 0), "{buf:?}");
        let empty = ContextLayout { maps: 0, progs: 0 }.encode();
        assert_eq!(empty.len(), 24);
        assert_eq!(&empty[..4], &24u32.to_ne_bytes());
    }

    #[test]
    fn fds_are_read_where_the_loader_writes_them() {
        let l = ContextLayout { maps: 2, progs: 3 };
        let mut buf = l.encode();
        for (at, fd) in [(24, 7), (40, 8), (56, 9), (60, 10), (64, 11)] {
            put_u32(&mut buf, at, fd);
        }
        // what the loader does not own (max_entries, padding) is not read as an fd
        put_u32(&mut buf, 28, 99);
        put_u32(&mut buf, 68, 99);
        assert_eq!(l.fds(&buf), Some((vec![7, 8], vec![9, 10, 11])));
        put_u32(&mut buf, 60, -22i32 as u32);
        assert_eq!(l.fds(&buf).unwrap().1, vec![9, -22, 11]);
        assert_eq!(l.fds(&buf[..67]), None);
        assert_eq!(
            ContextLayout { maps: 0, progs: 0 }.fds(&[]),
            None,
            "not even a header"
        );
    }
}
