//! One vocabulary for every switch (pure): the words the kernel command line
//! (`rd.bpf_preload.guard=`), the build-time policy file (`guard = `), dracut's configuration and
//! initramfs-tools' `initrd.conf` (`bpf_preload_guard=`) accept for "on", "off" and, where a
//! setting has it, "required":
//!
//! | word | means |
//! |---|---|
//! | `1`, `yes`, `on` | on |
//! | `0`, `no`, `off` | off |
//! | `required` | on, and a failure stops the boot (guard, signed_only, measure) |
//!
//! Exact, lower-case words: `Yes` or `true` is not understood, on both sides. The generators'
//! shell side (`initrd/initrd-install`, `switch_word`) accepts the same words; tests/initrd.rs
//! runs it on every one of [`WORDS`].
//!
//! A new switch calls [`Switch::parse`] (or [`parse_bool`] when it has no `required`) and says
//! in its error which words it takes with [`ON_OFF`] / [`ON_OFF_REQUIRED`].
#![forbid(unsafe_code)]

/// A switch's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Switch {
    Off,
    On,
    Required,
}

/// Every word and what it means, in the order the docs list them.
pub const WORDS: &[(&str, Switch)] = &[
    ("1", Switch::On),
    ("0", Switch::Off),
    ("yes", Switch::On),
    ("no", Switch::Off),
    ("on", Switch::On),
    ("off", Switch::Off),
    ("required", Switch::Required),
];

/// For messages about a switch without `required`.
pub const ON_OFF: &str = "1/yes/on or 0/no/off";
/// For messages about a switch with `required`.
pub const ON_OFF_REQUIRED: &str = "1/yes/on, 0/no/off or required";

impl Switch {
    /// The word's meaning (surrounding blanks and one pair of double quotes ignored), or `None`
    /// for a word not in [`WORDS`].
    pub fn parse(word: &str) -> Option<Switch> {
        let w = word.trim();
        let w = w
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(w)
            .trim();
        WORDS.iter().find(|(k, _)| *k == w).map(|(_, s)| *s)
    }

    /// The word the build-time policy file is written with.
    pub fn policy_word(self) -> &'static str {
        match self {
            Switch::Off => "off",
            Switch::On => "on",
            Switch::Required => "required",
        }
    }
}

/// A switch that has no `required`: `Some(true/false)`, or `None` for any other word
/// (`required` included).
pub fn parse_bool(word: &str) -> Option<bool> {
    match Switch::parse(word)? {
        Switch::On => Some(true),
        Switch::Off => Some(false),
        Switch::Required => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word() {
        let cases = [
            ("1", Some(Switch::On)),
            ("yes", Some(Switch::On)),
            ("on", Some(Switch::On)),
            ("0", Some(Switch::Off)),
            ("no", Some(Switch::Off)),
            ("off", Some(Switch::Off)),
            ("required", Some(Switch::Required)),
            (" on ", Some(Switch::On)),
            ("\"no\"", Some(Switch::Off)),
            ("\" required \"", Some(Switch::Required)),
            ("", None),
            ("Yes", None),
            ("ON", None),
            ("true", None),
            ("2", None),
            ("y", None),
            ("require", None),
            ("on,required", None),
            ("\"on", None),
        ];
        for (w, want) in cases {
            assert_eq!(Switch::parse(w), want, "{w:?}");
        }
        for (w, s) in WORDS {
            assert_eq!(Switch::parse(w), Some(*s), "{w:?}");
            assert_eq!(Switch::parse(s.policy_word()), Some(*s));
        }
    }

    #[test]
    fn bool_switches_have_no_required() {
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("required"), None);
        assert_eq!(parse_bool("maybe"), None);
    }
}
