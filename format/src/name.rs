//! Names that become path components in bpffs.
//!
//! An [`ObjectName`] or [`PinName`] that exists is already known to be safe as a single bpffs path
//! component: no '/', no '.', no NUL, bounded length. Everything that builds a path in bpffs goes
//! through these types.
#![forbid(unsafe_code)]

use std::fmt;

/// Longest object name (same bound as a kernel object name would allow, with room for prefixes).
pub const OBJECT_NAME_MAX: usize = 63;
/// Longest pin name: the longest file name a bpffs accepts.
pub const PIN_NAME_MAX: usize = 255;

/// Directory of the bpffs holding maps shared between objects (libbpf's `LIBBPF_PIN_BY_NAME`).
/// '+' can never appear in an object name, so no object can take this directory.
pub const SHARED_DIR: &str = "+shared";
/// Prefix of the per-object staging directories; like [`SHARED_DIR`] no object name can clash.
pub const STAGING_PREFIX: &str = "+staging-";
/// Prefix of the marker directory recording the sha256 of a loaded object's payload.
pub const SHA256_MARKER_PREFIX: &str = "sha256-";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    /// `shown`: the name as given, cut to [`SHOWN_MAX`] characters (see [`shown`]).
    #[error("name \"{shown}\" is {len} bytes long, at most {max} allowed")]
    TooLong {
        shown: String,
        len: usize,
        max: usize,
    },
    #[error("name \"{shown}\" has '{bad}' at byte {at}: only A-Z a-z 0-9 _ - are allowed")]
    BadChar { shown: String, bad: char, at: usize },
}

/// How much of a refused name an error quotes: names come from the cmdline and from signed
/// files, so they may be long garbage. Errors carry the text as it was (cut); whoever prints
/// them escapes it (`report::escape`), once.
pub const SHOWN_MAX: usize = OBJECT_NAME_MAX + 1;

/// A refused name as an error quotes it: at most [`SHOWN_MAX`] characters, `…` when cut.
pub fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN_MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// 1–`max` bytes of `[A-Za-z0-9_-]`, or why not.
fn check(s: &str, max: usize) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some((at, bad)) = s.char_indices().find(|&(_, c)| !allowed(c)) {
        return Err(NameError::BadChar {
            shown: shown(s),
            bad,
            at,
        });
    }
    if s.len() > max {
        return Err(NameError::TooLong {
            shown: shown(s),
            len: s.len(),
            max,
        });
    }
    Ok(())
}

/// The name of a preloaded object: 1–63 of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName(String);

impl ObjectName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check(s, OBJECT_NAME_MAX)?;
        Ok(Self(s.to_owned()))
    }

    /// The default name of an object file: its file name without `.bpf.o` or `.o`.
    pub fn from_file_name(file_name: &str) -> Result<Self, NameError> {
        let stem = file_name
            .strip_suffix(".bpf.o")
            .or_else(|| file_name.strip_suffix(".o"))
            .unwrap_or(file_name);
        Self::parse(stem)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The staging directory name used while this object's pins are being built by the run
    /// `run_id` (no other run, even one that crashed, uses the same name).
    pub fn staging_dir(&self, run_id: &str) -> String {
        format!("{STAGING_PREFIX}{run_id}-{}", self.0)
    }

    /// The bundle file that holds this object.
    pub fn file_name(&self) -> String {
        format!("{}.bpf.o", self.0)
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file name for a pin of a program, link or map.
///
/// Built from the libbpf name by one rule: every byte outside `[A-Za-z0-9_-]` becomes '_'
/// (bpffs refuses '.', and we refuse anything else surprising), truncated to 255 bytes.
/// `my.map` → `my_map`. Two names of one object that map to the same pin name are an error of
/// that object, never a silent overwrite.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PinName(String);

impl PinName {
    /// A name that already is a pin name (as a status record lists them): 1–255 of
    /// `[A-Za-z0-9_-]`, nothing replaced.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check(s, PIN_NAME_MAX)?;
        Ok(Self(s.to_owned()))
    }

    pub fn sanitize(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        let mut s: String = raw
            .chars()
            .map(|c| if allowed(c) { c } else { '_' })
            .collect();
        // Replacement keeps ASCII, so truncating at a byte index is a char boundary.
        s.truncate(PIN_NAME_MAX);
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PinName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The three kinds of pins, each in its own subdirectory of the object's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    /// Attached programs: the link keeps them running.
    Link,
    /// The object's own maps (not the internal `.rodata`/`.data`/`.bss`/`.kconfig`, not the
    /// pin-by-name maps, which live in the shared directory).
    Map,
    /// Programs that loaded but are not attached.
    Prog,
}

impl PinKind {
    pub const ALL: [PinKind; 3] = [PinKind::Link, PinKind::Map, PinKind::Prog];

    pub fn dir(self) -> &'static str {
        match self {
            PinKind::Link => "links",
            PinKind::Map => "maps",
            PinKind::Prog => "progs",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PinKind::Link => "link",
            PinKind::Map => "map",
            PinKind::Prog => "prog",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        for good in ["a", "counter", "net-pol_2", &"x".repeat(63)] {
            assert_eq!(ObjectName::parse(good).unwrap().as_str(), good);
        }
        let bad: &[(&str, &str)] = &[
            ("", "empty"),
            ("..", "'.'"),
            (".", "'.'"),
            ("a/b", "'/'"),
            ("a.b", "'.'"),
            ("émoji", "'é'"),
            ("a b", "' '"),
            ("a\0b", "'\\x00'"),
            ("a\nb", "name \"a\\nb\" has '\\n' at byte 1"),
            ("\x1b[2J", "name \"\\x1b[2J\" has '\\x1b' at byte 0"),
            ("+shared", "'+'"),
        ];
        for (name, why) in bad {
            // Errors quote the name as it was; printing escapes it.
            let e = ObjectName::parse(name).unwrap_err().to_string();
            let e = crate::escape::escape(&e);
            assert!(e.contains(why), "{name:?}: {e}");
        }
        let garbage = "\u{fffd}".repeat(300);
        assert_eq!(
            ObjectName::parse(&garbage).unwrap_err(),
            NameError::BadChar {
                shown: format!("{}…", "\u{fffd}".repeat(SHOWN_MAX)),
                bad: '\u{fffd}',
                at: 0
            }
        );
        let long = "x".repeat(64);
        assert_eq!(
            ObjectName::parse(&long).unwrap_err(),
            NameError::TooLong {
                shown: long.clone(),
                len: 64,
                max: 63
            }
        );
    }

    #[test]
    fn object_name_from_file() {
        assert_eq!(
            ObjectName::from_file_name("counter.bpf.o")
                .unwrap()
                .as_str(),
            "counter"
        );
        assert_eq!(
            ObjectName::from_file_name("counter.o").unwrap().as_str(),
            "counter"
        );
        assert_eq!(
            ObjectName::from_file_name("counter").unwrap().as_str(),
            "counter"
        );
        assert!(ObjectName::from_file_name("a.b.bpf.o").is_err());
        assert!(ObjectName::from_file_name(".bpf.o").is_err());
    }

    #[test]
    fn reserved_dirs_cannot_be_object_names() {
        assert!(ObjectName::parse(SHARED_DIR).is_err());
        let staging = ObjectName::parse("x").unwrap().staging_dir("r1");
        assert!(ObjectName::parse(&staging).is_err());
    }

    #[test]
    fn pin_names() {
        assert_eq!(
            PinName::sanitize("count_exec").unwrap().as_str(),
            "count_exec"
        );
        assert_eq!(
            PinName::sanitize("obj.rodata").unwrap().as_str(),
            "obj_rodata"
        );
        assert_eq!(PinName::sanitize("a/b..c").unwrap().as_str(), "a_b__c");
        assert_eq!(PinName::sanitize("é").unwrap().as_str(), "_");
        assert_eq!(
            PinName::sanitize(&"y".repeat(300)).unwrap().as_str().len(),
            255
        );
        assert_eq!(PinName::sanitize(""), Err(NameError::Empty));
        // A name read back (from a status record) must already be one: nothing is replaced.
        assert_eq!(PinName::parse("count_exec").unwrap().as_str(), "count_exec");
        for bad in ["", "..", "../x", "a/b", "a.b", "a\nb", &"y".repeat(256)] {
            assert!(PinName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
