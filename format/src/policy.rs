//! The build-time policy (pure): what the initramfs builder fixed in `/etc/bpf-preload/policy`,
//! which the kernel command line can add to but never weaken.
//!
//! ```text
//! # written by the dracut module from bpf_preload_required= / bpf_preload_guard=
//! required = a b
//! guard = required        # off | on | required
//! signed_only = required  # off | on | required (implies the guard)
//! strict_shared = yes      # refuse maps pinned by name that were there before the run
//! iterators = yes          # pin maps.debug, progs.debug, links.debug (the command line cannot drop them)
//! measure_pcr = 12          # measure every verified object into PCR 12 (0-23)
//! measure = required        # on | required: no TPM, or a failed extend, stops the boot
//! ```
//!
//! A switch takes the words of [`crate::switch`] (`1/yes/on`, `0/no/off`, `required` where it
//! applies), the same words as the command line and the generators' settings.
//!
//! One `key = value` a line, `#` comments, blank lines ignored; names are separated by blanks or
//! commas. Anything else is an error: a policy that cannot be read exactly must not be taken as
//! "no policy".
#![forbid(unsafe_code)]

use crate::switch::{parse_bool, Switch};

pub const POLICY_PATH: &str = "/etc/bpf-preload/policy";

/// What the build-time policy says about the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuardPolicy {
    /// Not set: the command line decides (default off).
    #[default]
    Unset,
    /// `guard = off`: off unless the command line switches it on.
    Off,
    /// `guard = on`: on unless the command line switches it off.
    On,
    /// `guard = required`: on, and a guard that cannot be activated stops the boot.
    Required,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Objects that must load, whatever the command line says.
    pub required: Vec<String>,
    pub guard: GuardPolicy,
    /// `signed_only = on | required`: signed-only mode (docs/guard.md), like the guard.
    pub signed_only: GuardPolicy,
    /// `strict_shared = yes`: objects may not reuse a shared (pin-by-name) map that existed
    /// before the run; the command line cannot switch this off.
    pub strict_shared: bool,
    /// `iterators = yes`: the built-in iterators (`maps.debug`, `progs.debug`, `links.debug`);
    /// the command line cannot switch them off.
    pub iterators: bool,
    /// `measure_pcr = N`: measure into this PCR; the command line can neither switch it off
    /// nor move it.
    pub measure_pcr: Option<u32>,
    /// `measure = required`: measurement must work, or the boot stops.
    pub measure_required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("line {line}: {what}: {text:?}")]
    Line {
        line: usize,
        what: &'static str,
        text: String,
    },
}

/// A guard-like policy value from one of the switch words ([`crate::switch`]).
fn guard_policy(value: &str) -> Option<GuardPolicy> {
    Some(match Switch::parse(value)? {
        Switch::Off => GuardPolicy::Off,
        Switch::On => GuardPolicy::On,
        Switch::Required => GuardPolicy::Required,
    })
}

impl Policy {
    /// Does the policy require anything (so a loader failure must fail closed)?
    pub fn requires_anything(&self) -> bool {
        !self.required.is_empty()
            || self.guard == GuardPolicy::Required
            || self.signed_only == GuardPolicy::Required
            || self.measure_required
    }

    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut p = Policy::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |what| PolicyError::Line {
                line: i + 1,
                what,
                text: raw.to_owned(),
            };
            let (key, value) = line.split_once('=').ok_or_else(|| err("not key = value"))?;
            let value = value.trim().trim_matches('"').trim();
            match key.trim() {
                "required" => {
                    for n in value.split([' ', '\t', ',']).filter(|n| !n.is_empty()) {
                        if !p.required.iter().any(|r| r == n) {
                            p.required.push(n.to_owned());
                        }
                    }
                }
                "guard" => {
                    p.guard = guard_policy(value)
                        .ok_or_else(|| err("guard is 1/yes/on, 0/no/off or required"))?
                }
                "signed_only" => {
                    p.signed_only = guard_policy(value)
                        .ok_or_else(|| err("signed_only is 1/yes/on, 0/no/off or required"))?
                }
                "strict_shared" => {
                    p.strict_shared = parse_bool(value)
                        .ok_or_else(|| err("strict_shared is 1/yes/on or 0/no/off"))?
                }
                "iterators" => {
                    p.iterators =
                        parse_bool(value).ok_or_else(|| err("iterators is 1/yes/on or 0/no/off"))?
                }
                "measure_pcr" => {
                    p.measure_pcr = match value.parse::<u32>() {
                        Ok(n) if n <= crate::measure::MAX_PCR => Some(n),
                        _ => return Err(err("measure_pcr is a PCR number, 0-23")),
                    }
                }
                "measure" => {
                    p.measure_required = match Switch::parse(value) {
                        Some(Switch::Required) => true,
                        Some(Switch::On) => false,
                        // measure_pcr alone switches measurement on; nothing switches it off.
                        _ => return Err(err("measure is 1/yes/on or required")),
                    }
                }
                _ => return Err(err("unknown key")),
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_comments_and_separators() {
        let p = Policy::parse(
            "# made by dracut\n\nrequired = a b,c  # three\nrequired=\"d a\"\nguard = required\n",
        )
        .unwrap();
        assert_eq!(p.required, vec!["a", "b", "c", "d"]);
        assert_eq!(p.guard, GuardPolicy::Required);
        assert!(p.requires_anything());
        assert!(!p.strict_shared);
        assert!(
            Policy::parse("strict_shared = yes\n")
                .unwrap()
                .strict_shared
        );
    }

    #[test]
    fn iterators_key() {
        assert!(!Policy::default().iterators);
        for (text, want) in [
            ("iterators = yes\n", true),
            ("iterators = on\n", true),
            ("iterators = \"1\"\n", true),
            ("iterators = no\n", false),
            ("iterators = 0\n", false),
        ] {
            assert_eq!(Policy::parse(text).unwrap().iterators, want, "{text}");
        }
        assert_eq!(
            Policy::parse("iterators = required\n")
                .unwrap_err()
                .to_string(),
            "line 1: iterators is 1/yes/on or 0/no/off: \"iterators = required\""
        );
        // Iterators alone require nothing: a loader failure does not stop the boot for them.
        assert!(!Policy::parse("iterators = yes\n")
            .unwrap()
            .requires_anything());
    }

    #[test]
    fn measure_keys() {
        let p = Policy::parse("measure_pcr = 12\nmeasure = required\n").unwrap();
        assert_eq!((p.measure_pcr, p.measure_required), (Some(12), true));
        assert!(p.requires_anything());
        let p = Policy::parse("measure_pcr = \"9\"\n").unwrap();
        assert_eq!((p.measure_pcr, p.measure_required), (Some(9), false));
    }

    #[test]
    fn every_switch_takes_every_word() {
        for (word, sw) in crate::switch::WORDS {
            let g = match sw {
                Switch::Off => GuardPolicy::Off,
                Switch::On => GuardPolicy::On,
                Switch::Required => GuardPolicy::Required,
            };
            let p = Policy::parse(&format!("guard = {word}\nsigned_only = \"{word}\"\n")).unwrap();
            assert_eq!((p.guard, p.signed_only), (g, g), "{word}");
            let strict = Policy::parse(&format!("strict_shared = {word}\n"));
            let measure = Policy::parse(&format!("measure_pcr = 9\nmeasure = {word}\n"));
            match sw {
                Switch::Required => {
                    assert!(strict.is_err(), "{word}");
                    assert!(measure.unwrap().measure_required);
                }
                Switch::On => {
                    assert!(strict.unwrap().strict_shared, "{word}");
                    assert!(!measure.unwrap().measure_required);
                }
                Switch::Off => {
                    assert!(!strict.unwrap().strict_shared, "{word}");
                    assert!(measure.is_err(), "{word}");
                }
            }
        }
    }

    #[test]
    fn empty_means_nothing_required() {
        let p = Policy::parse("").unwrap();
        assert_eq!(p, Policy::default());
        assert!(!p.requires_anything());
        assert_eq!(Policy::parse("guard=on\n").unwrap().guard, GuardPolicy::On);
        let p = Policy::parse("signed_only = required\n").unwrap();
        assert_eq!(p.signed_only, GuardPolicy::Required);
        assert!(p.requires_anything());
        assert_eq!(Policy::parse("guard=no\n").unwrap().guard, GuardPolicy::Off);
        assert!(!Policy::parse("guard=on\n").unwrap().requires_anything());
    }

    #[test]
    fn malformed_lines_are_errors() {
        let cases = [
            ("required a b\n", 1, "not key = value"),
            (
                "\nguard = maybe\n",
                2,
                "guard is 1/yes/on, 0/no/off or required",
            ),
            (
                "signed_only = Yes\n",
                1,
                "signed_only is 1/yes/on, 0/no/off or required",
            ),
            (
                "strict_shared = required\n",
                1,
                "strict_shared is 1/yes/on or 0/no/off",
            ),
            ("requred = a\n", 1, "unknown key"),
            (
                "strict_shared = maybe\n",
                1,
                "strict_shared is 1/yes/on or 0/no/off",
            ),
            ("measure_pcr = 24\n", 1, "measure_pcr is a PCR number, 0-23"),
            ("measure_pcr = x\n", 1, "measure_pcr is a PCR number, 0-23"),
            ("measure = off\n", 1, "measure is 1/yes/on or required"),
            ("measure = 0\n", 1, "measure is 1/yes/on or required"),
        ];
        for (text, line, what) in cases {
            match Policy::parse(text) {
                Err(PolicyError::Line {
                    line: l, what: w, ..
                }) => {
                    assert_eq!((l, w), (line, what), "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
