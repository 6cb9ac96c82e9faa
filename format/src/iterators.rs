//! The built-in iterators (pure): the files they pin at the root of the bpffs instance, the
//! header lines they print (the kernel's own `maps.debug` / `progs.debug` format, from
//! kernel/bpf/preload/iterators/iterators.bpf.c, plus our `links.debug`), the table of object
//! names the loader fills for them, what to do when such files are already there, and a reader
//! of the files' id column. The BPF C is `bpf/builtin/iterators.bpf.c`; the loader's
//! `kernel::iterators` loads and pins it.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::status::{ObjectStatus, Outcome};

/// The kernel command line option: `rd.bpf_preload.iterators=1` (`0` off).
pub const ITERATORS_OPTION: &str = "rd.bpf_preload.iterators";

/// The files, at the root of the instance: the kernel's two names, and ours.
pub const MAPS_PIN: &str = "maps.debug";
pub const PROGS_PIN: &str = "progs.debug";
pub const LINKS_PIN: &str = "links.debug";
/// Every pin, in the order they are made.
pub const PINS: [&str; 3] = [MAPS_PIN, PROGS_PIN, LINKS_PIN];

/// The first line of `maps.debug`: kernels with `bpf_map_sum_elem_count` (6.6 on) count each
/// map's elements, and the kernel's own file has the second form there.
pub const MAPS_HEADER: &str = "  id name             max_entries";
pub const MAPS_HEADER_COUNTED: &str = "  id name             max_entries  cur_entries";
pub const PROGS_HEADER: &str = "  id name             attached";
pub const LINKS_HEADER: &str = "  id type             prog attached";

/// What a row of a preloaded object's program or link ends with, before the name.
pub const OBJECT_MARK: &str = " object=";

/// The keys of the name table (`obj_names` in iterators.bpf.c: `struct name_key`).
pub const NAME_KIND_PROG: u32 = 0;
pub const NAME_KIND_LINK: u32 = 1;
/// A name's bytes in the table, with its NUL (an object name has at most 63 bytes).
pub const NAME_LEN: usize = 64;
/// The table's size: entries beyond it are left out (and counted in the status).
pub const MAX_NAMES: usize = 4096;

const _: () = assert!(crate::name::OBJECT_NAME_MAX < NAME_LEN);

/// Which id a table entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdKind {
    Prog,
    Link,
}

/// One entry of the name table: this program or link belongs to that object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NameEntry {
    pub kind: IdKind,
    pub id: u32,
    pub object: String,
}

impl NameEntry {
    /// The table's key: `struct name_key { __u32 kind; __u32 id; }`, native endian.
    pub fn key(&self) -> [u8; 8] {
        let kind = match self.kind {
            IdKind::Prog => NAME_KIND_PROG,
            IdKind::Link => NAME_KIND_LINK,
        };
        let mut k = [0u8; 8];
        k[..4].copy_from_slice(&kind.to_ne_bytes());
        k[4..].copy_from_slice(&self.id.to_ne_bytes());
        k
    }

    /// The table's value: the name NUL-padded to [`NAME_LEN`] (cut to `NAME_LEN - 1` bytes, on
    /// a character boundary, so the BPF side always finds its NUL).
    pub fn value(&self) -> [u8; NAME_LEN] {
        let mut v = [0u8; NAME_LEN];
        let mut end = self.object.len().min(NAME_LEN - 1);
        while !self.object.is_char_boundary(end) {
            end -= 1;
        }
        v[..end].copy_from_slice(&self.object.as_bytes()[..end]);
        v
    }
}

/// The name table from the objects this run has in place (loaded, or already loaded): each
/// link and the program it runs, by the ids the status records. Programs pinned without a
/// link (`progs/`) are added by the loader, which reads their ids from the pins.
pub fn name_entries(objects: &[ObjectStatus]) -> Vec<NameEntry> {
    let mut out = BTreeMap::new();
    for o in objects
        .iter()
        .filter(|o| matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded))
    {
        for &id in o.link_ids.values() {
            out.entry((IdKind::Link, id))
                .or_insert_with(|| o.name.clone());
        }
        for &id in o.link_prog_ids.values() {
            out.entry((IdKind::Prog, id))
                .or_insert_with(|| o.name.clone());
        }
    }
    out.into_iter()
        .filter(|((_, id), _)| *id != 0)
        .map(|((kind, id), object)| NameEntry { kind, id, object })
        .collect()
}

/// What is already at the root of the instance, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Present {
    pub maps: bool,
    pub progs: bool,
    pub links: bool,
}

/// What the iterators step does, from what is already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing there: load and pin all three.
    Pin,
    /// All three are there: an earlier run of ours pinned them.
    AlreadyThere,
    /// The kernel's own `maps.debug` / `progs.debug` (CONFIG_BPF_PRELOAD, made at mount
    /// time, without our `links.debug`): ours are not pinned beside them.
    KernelOwn,
    /// Some of them and not the others: someone else's files; nothing is replaced.
    Clash(Vec<&'static str>),
}

pub fn decide(p: Present) -> Decision {
    match (p.maps, p.progs, p.links) {
        (false, false, false) => Decision::Pin,
        (true, true, true) => Decision::AlreadyThere,
        (true, true, false) => Decision::KernelOwn,
        _ => Decision::Clash(
            [
                (p.maps, MAPS_PIN),
                (p.progs, PROGS_PIN),
                (p.links, LINKS_PIN),
            ]
            .into_iter()
            .filter(|(there, _)| *there)
            .map(|(_, n)| n)
            .collect(),
        ),
    }
}

/// The ids of a `*.debug` file's rows (its first column), after the header line; `None` when
/// the first line is not one of `headers`. Rows whose first column is not a number are skipped.
pub fn listed_ids(text: &str, headers: &[&str]) -> Option<Vec<u32>> {
    let mut lines = text.lines();
    let first = lines.next()?;
    if !headers.contains(&first) {
        return None;
    }
    Some(
        lines
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect(),
    )
}

/// The object a row names (after [`OBJECT_MARK`], to the end of the line), if any.
pub fn row_object(row: &str) -> Option<&str> {
    row.rsplit_once(OBJECT_MARK).map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, result: Outcome, links: &[(&str, u32, u32)]) -> ObjectStatus {
        let mut o = ObjectStatus::new(name, false);
        o.result = result;
        for (pin, link, prog) in links {
            o.link_ids.insert(pin.to_string(), *link);
            o.link_prog_ids.insert(pin.to_string(), *prog);
        }
        o
    }

    #[test]
    fn names_come_from_loaded_objects_links_and_their_programs() {
        let objects = [
            obj("a", Outcome::Loaded, &[("x", 7, 30), ("y", 8, 31)]),
            obj("b", Outcome::AlreadyLoaded, &[("z", 9, 40)]),
            obj("c", Outcome::Failed, &[("w", 10, 50)]),
            // an id 0 (unknown) is never a key
            obj("d", Outcome::Loaded, &[("v", 0, 0)]),
        ];
        let e = |kind, id, object: &str| NameEntry {
            kind,
            id,
            object: object.into(),
        };
        assert_eq!(
            name_entries(&objects),
            vec![
                e(IdKind::Prog, 30, "a"),
                e(IdKind::Prog, 31, "a"),
                e(IdKind::Prog, 40, "b"),
                e(IdKind::Link, 7, "a"),
                e(IdKind::Link, 8, "a"),
                e(IdKind::Link, 9, "b"),
            ]
        );
    }

    #[test]
    fn keys_and_values_have_the_c_layout() {
        let e = NameEntry {
            kind: IdKind::Link,
            id: 0x0102_0304,
            object: "netpol".into(),
        };
        let mut want = [0u8; 8];
        want[..4].copy_from_slice(&1u32.to_ne_bytes());
        want[4..].copy_from_slice(&0x0102_0304u32.to_ne_bytes());
        assert_eq!(e.key(), want);
        let v = e.value();
        assert_eq!(&v[..7], b"netpol\0");
        assert!(v[6..].iter().all(|b| *b == 0));
        // Too long: cut on a character boundary, the last byte NUL.
        let long = NameEntry {
            object: format!("{}é", "a".repeat(62)),
            ..e
        };
        let v = long.value();
        assert_eq!(&v[..62], "a".repeat(62).as_bytes());
        assert_eq!(&v[62..], &[0, 0]);
    }

    #[test]
    fn the_c_source_has_the_same_constants() {
        let src = include_str!("../../bpf/builtin/iterators.bpf.c");
        for (name, value) in [
            ("NAME_KIND_PROG", NAME_KIND_PROG as usize),
            ("NAME_KIND_LINK", NAME_KIND_LINK as usize),
            ("NAME_LEN", NAME_LEN),
            ("MAX_NAMES", MAX_NAMES),
        ] {
            let line = format!("#define {name} {value}\n");
            assert!(src.contains(&line), "{line:?} not in iterators.bpf.c");
        }
        for header in [MAPS_HEADER, MAPS_HEADER_COUNTED, PROGS_HEADER, LINKS_HEADER] {
            assert!(
                src.contains(&format!("\"{header}\\n\"")),
                "{header:?} not printed by iterators.bpf.c"
            );
        }
        assert!(src.contains(&format!("{OBJECT_MARK}%s\\n\"")));
    }

    #[test]
    fn decisions() {
        let p = |maps, progs, links| Present { maps, progs, links };
        assert_eq!(decide(p(false, false, false)), Decision::Pin);
        assert_eq!(decide(p(true, true, true)), Decision::AlreadyThere);
        assert_eq!(decide(p(true, true, false)), Decision::KernelOwn);
        assert_eq!(
            decide(p(false, false, true)),
            Decision::Clash(vec![LINKS_PIN])
        );
        assert_eq!(
            decide(p(true, false, true)),
            Decision::Clash(vec![MAPS_PIN, LINKS_PIN])
        );
    }

    #[test]
    fn ids_and_objects_of_rows() {
        let text = format!(
            "{PROGS_HEADER}\n   3 dump_bpf_map      \n  12 count_exec       sys_enter  object=netpol\n"
        );
        assert_eq!(listed_ids(&text, &[PROGS_HEADER]), Some(vec![3, 12]));
        assert_eq!(listed_ids(&text, &[MAPS_HEADER]), None);
        assert_eq!(listed_ids("", &[MAPS_HEADER]), None);
        let rows: Vec<_> = text.lines().skip(1).map(row_object).collect();
        assert_eq!(rows, vec![None, Some("netpol")]);
    }
}
