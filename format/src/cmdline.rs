//! Kernel command line and preload list → the ordered plan of objects (pure).
//!
//! * `rd.bpf_preload=a,b,c`: ordered list; repeated options append; a name listed twice loads once.
//! * `rd.bpf_preload=0`: load nothing (a `0` anywhere among the values disables loading; the
//!   other names stay in the plan, to be reported as skipped).
//! * `rd.bpf_preload.required=a,b`: these must load; a required name not in the list is appended.
//! * Without any `rd.bpf_preload=`, the preload list file (one name per line, `#` comments) is used,
//!   followed by its drop-ins ([`dropin_files`]: `preload.list.d/*.list`, in byte order of the
//!   file names), merged by [`merge_lists`]: a name keeps the first position it is listed at. A
//!   `rd.bpf_preload=` replaces the whole merged list; the drop-ins are then not read.
//! * A malformed name fails that entry alone; the rest of the list still loads.
//! * Switches take the words of [`crate::switch`] (`1/yes/on`, `0/no/off`, `required` where it
//!   applies); a word not understood is ignored with a note. `rd.bpf_preload.measure=` is the
//!   exception: its `0` is PCR 0, so only `off`/`no` switch it off.
//! * `rd.bpf_preload.guard=1|0|required`: the built-in guard (see [`crate::guard`] and the loader's `kernel::guard`).
//! * `rd.bpf_preload.iterators=1|0`: the built-in iterators ([`crate::iterators`]); the build-time
//!   policy's `iterators = yes` cannot be switched off.
//! * `rd.bpf_preload.measure=<PCR>[,required]` | `required` | `off`: measured preload
//!   ([`crate::measure`]); the last value counts. `required` alone takes the build-time PCR.
//! * The build-time policy ([`crate::policy`]) adds required objects and a guard requirement that
//!   the command line cannot remove: `rd.bpf_preload=0`, `rd.bpf_preload.guard=0` or a list that
//!   omits a policy-required object are refused for those, with a note saying so.
#![forbid(unsafe_code)]

use crate::iterators::ITERATORS_OPTION;
use crate::measure::{MeasurePlan, MAX_PCR, MEASURE_OPTION};
use crate::name::{NameError, ObjectName};
use crate::policy::{GuardPolicy, Policy};
use crate::switch::{Switch, ON_OFF, ON_OFF_REQUIRED};

pub const LIST_OPTION: &str = "rd.bpf_preload";
pub const REQUIRED_OPTION: &str = "rd.bpf_preload.required";
pub const STRICT_SHARED_OPTION: &str = "rd.bpf_preload.strict_shared";
pub const GUARD_OPTION: &str = "rd.bpf_preload.guard";
pub const SIGNED_ONLY_OPTION: &str = "rd.bpf_preload.signed_only";

/// Whether `run` activates the built-in guard, and whether its failure stops the boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum GuardMode {
    #[default]
    Off,
    On,
    Required,
}

/// Where the list of objects came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Cmdline,
    PreloadList,
    /// No list anywhere: only `rd.bpf_preload.required=` named objects.
    Required,
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as written.
    pub raw: String,
    pub name: Result<ObjectName, NameError>,
    pub required: bool,
    /// Required by the build-time policy: loaded even under `rd.bpf_preload=0`.
    pub forced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: Source,
    /// `rd.bpf_preload=0`.
    pub disabled: bool,
    pub entries: Vec<Entry>,
    pub guard: GuardMode,
    /// `rd.bpf_preload.signed_only=` with the build-time policy (it implies the guard).
    pub signed_only: GuardMode,
    /// What the build-time policy refused of the command line, one sentence each.
    pub notes: Vec<String>,
    /// Refuse shared (pin-by-name) maps that existed before the run
    /// (`rd.bpf_preload.strict_shared=1` or the build-time policy).
    pub strict_shared: bool,
    /// Measure every verified object into a PCR (`rd.bpf_preload.measure=` or the policy).
    pub measure: Option<MeasurePlan>,
    /// Pin the built-in iterators (`rd.bpf_preload.iterators=1` or the policy).
    pub iterators: bool,
    /// With [`Source::PreloadList`] and [`plan_with_lists`]: the list files the entries came
    /// from, in the order they were merged (the list, then its drop-ins).
    pub list_files: Vec<String>,
}

impl Plan {
    /// The entries a run goes through, in order: all of them, or with `rd.bpf_preload=0` only
    /// those the build-time policy requires (the others are skipped as disabled).
    pub fn to_load(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !self.disabled || e.forced)
    }
}

/// Split a kernel command line into parameters as the kernel does: whitespace separates, double
/// quotes group (and are removed).
pub fn split_params(cmdline: &str) -> Vec<String> {
    let mut params = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut any = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                any = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if any {
                    params.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        params.push(cur);
    }
    params
}

/// The values of every `key=value` parameter for `key`, in order.
fn values<'a>(params: &'a [String], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    params
        .iter()
        .filter_map(move |p| p.strip_prefix(key)?.strip_prefix('='))
}

fn names(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Does the command line name the objects itself (any `rd.bpf_preload=`)? Then the preload list
/// file is not used, and need not be read.
pub fn names_objects(cmdline: &str) -> bool {
    has_option(cmdline, LIST_OPTION)
}

/// Does the command line carry `key=` at all (whatever its value, understood or not)?
pub fn has_option(cmdline: &str, key: &str) -> bool {
    values(&split_params(cmdline), key).next().is_some()
}

/// dracut's view of the command line (its `getcmdline`): the built-in options of
/// `/etc/cmdline.d/*.conf` (in name order), then `/etc/cmdline`, then the kernel's; lines joined
/// with spaces.
pub fn combine<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .flat_map(str::lines)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parse the preload list file: one name per line, blank lines and `#` comments ignored.
pub fn list_file_names(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The directory of drop-ins beside a preload list `FILE`: `FILE.d`
/// (`/etc/bpf-preload/preload.list.d`).
pub fn dropin_dir(list: &std::path::Path) -> std::path::PathBuf {
    let mut d = list.as_os_str().to_owned();
    d.push(".d");
    d.into()
}

/// Which entries of a drop-in directory are drop-ins, in the order they are merged: names ending
/// in `.list` that do not start with `.`, sorted by their bytes (`10-a.list` before `20-b.list`
/// before `a.list`). Anything else there (`x.list.dpkg-old`, `README`) is ignored.
pub fn dropin_files(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names
        .into_iter()
        .filter(|n| n.len() > ".list".len() && n.ends_with(".list") && !n.starts_with('.'))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The preload list and its drop-ins as one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedList {
    /// The files, in the order merged.
    pub files: Vec<String>,
    /// Their lines, file after file: a name listed twice keeps its first position (the plan
    /// drops the later one).
    pub text: String,
}

/// Merge list files given as `(path, text)` in merge order (the list first, then the drop-ins
/// of [`dropin_files`]). `None` when there is none: then no list exists.
pub fn merge_lists(parts: impl IntoIterator<Item = (String, String)>) -> Option<MergedList> {
    let mut m = MergedList {
        files: Vec::new(),
        text: String::new(),
    };
    for (file, text) in parts {
        m.files.push(file);
        m.text.push_str(&text);
        if !text.is_empty() && !text.ends_with('\n') {
            m.text.push('\n');
        }
    }
    (!m.files.is_empty()).then_some(m)
}

/// [`plan_with`] from a merged list: the plan also says which files its entries came from.
pub fn plan_with_lists(cmdline: &str, lists: Option<&MergedList>, policy: &Policy) -> Plan {
    let mut p = plan_with(cmdline, lists.map(|l| l.text.as_str()), policy);
    if p.source == Source::PreloadList {
        p.list_files = lists.map(|l| l.files.clone()).unwrap_or_default();
    }
    p
}

/// Build the plan from the command line and, when the command line names no list, the text of
/// the preload list file (if one exists), without a build-time policy.
pub fn plan(cmdline: &str, preload_list: Option<&str>) -> Plan {
    plan_with(cmdline, preload_list, &Policy::default())
}

/// A switch option's last value in the words of [`crate::switch`]: `Some(switch)`, or `None`
/// when absent. A value that is not one of the words is ignored, with a note saying so (an
/// earlier value that was understood then counts).
fn switch_option(
    params: &[String],
    option: &str,
    words: &str,
    notes: &mut Vec<String>,
) -> Option<Switch> {
    let mut last = None;
    for v in values(params, option) {
        match Switch::parse(v) {
            Some(s) => last = Some(s),
            None => notes.push(format!("{option}={v} not understood ({words}): ignored")),
        }
    }
    last
}

/// The guard option's (or signed-only option's) last understood value.
fn guard_option(params: &[String], option: &str, notes: &mut Vec<String>) -> Option<GuardMode> {
    switch_option(params, option, ON_OFF_REQUIRED, notes).map(|s| match s {
        Switch::Off => GuardMode::Off,
        Switch::On => GuardMode::On,
        Switch::Required => GuardMode::Required,
    })
}

/// The build-time policy's guard requirement combined with the command line's wish.
fn guard_mode(
    params: &[String],
    option: &str,
    policy: GuardPolicy,
    notes: &mut Vec<String>,
) -> GuardMode {
    let asked = guard_option(params, option, notes);
    match (policy, asked) {
        (GuardPolicy::Required, Some(GuardMode::Off)) => {
            let what = if option == GUARD_OPTION {
                "the guard"
            } else {
                "signed-only mode"
            };
            notes.push(format!(
                "{option}=0 refused: {what} is required by the initramfs policy"
            ));
            GuardMode::Required
        }
        (GuardPolicy::Required, _) => GuardMode::Required,
        (_, Some(mode)) => mode,
        (GuardPolicy::On, None) => GuardMode::On,
        (GuardPolicy::Off | GuardPolicy::Unset, None) => GuardMode::Off,
    }
}

/// The built-in iterators: on when the policy or the command line says so; the command line's
/// `0` cannot switch off the policy's `yes` (a note says so). Values in the words of
/// [`crate::switch`]; `required` means nothing more than on here.
fn iterators_on(params: &[String], policy: &Policy, notes: &mut Vec<String>) -> bool {
    let asked = switch_option(params, ITERATORS_OPTION, ON_OFF, notes);
    if policy.iterators && asked == Some(Switch::Off) {
        notes.push(format!(
            "{ITERATORS_OPTION}=0 refused: the iterators are set by the initramfs policy"
        ));
    }
    policy.iterators || asked.is_some_and(|m| m != Switch::Off)
}

/// What `rd.bpf_preload.measure=` asked for (its last value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MeasureAsk {
    Off,
    On { pcr: Option<u32>, required: bool },
}

fn measure_option(params: &[String], notes: &mut Vec<String>) -> Option<MeasureAsk> {
    let value = values(params, MEASURE_OPTION).last()?;
    let mut pcr = None;
    let mut required = false;
    for tok in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match tok {
            // `0` is PCR 0 here, so of the switch words only `off` and `no` switch it off.
            "off" | "no" => return Some(MeasureAsk::Off),
            "required" => required = true,
            n => match n.parse::<u32>() {
                Ok(n) if n <= MAX_PCR && pcr.is_none() => pcr = Some(n),
                _ => {
                    notes.push(format!(
                        "{MEASURE_OPTION}={value} not understood (a PCR 0-{MAX_PCR}, required, or off): ignored"
                    ));
                    return None;
                }
            },
        }
    }
    Some(MeasureAsk::On { pcr, required })
}

/// The build-time measurement combined with the command line's: the command line can turn it on
/// or make it required, never turn it off or move it to another PCR.
fn measure_plan(
    params: &[String],
    policy: &Policy,
    notes: &mut Vec<String>,
) -> Option<MeasurePlan> {
    let asked = measure_option(params, notes);
    match (policy.measure_pcr, asked) {
        (None, None | Some(MeasureAsk::Off)) => None,
        (None, Some(MeasureAsk::On { pcr: None, .. })) => {
            notes.push(format!(
                "{MEASURE_OPTION}=required without a PCR (none in the initramfs policy): ignored"
            ));
            None
        }
        (
            None,
            Some(MeasureAsk::On {
                pcr: Some(pcr),
                required,
            }),
        ) => Some(MeasurePlan { pcr, required }),
        (Some(pcr), ask) => {
            let mut required = policy.measure_required;
            match ask {
                Some(MeasureAsk::Off) => notes.push(format!(
                    "{MEASURE_OPTION}=off refused: measurement into PCR {pcr} is set by the initramfs policy"
                )),
                Some(MeasureAsk::On { pcr: asked, required: r }) => {
                    if let Some(other) = asked.filter(|a| *a != pcr) {
                        notes.push(format!(
                            "{MEASURE_OPTION}={other} refused: the initramfs policy measures into PCR {pcr}"
                        ));
                    }
                    required |= r;
                }
                None => {}
            }
            Some(MeasurePlan { pcr, required })
        }
    }
}

/// [`plan`] under a build-time policy: its required objects are always in the plan, required
/// and forced; its guard requirement holds whatever the command line says.
pub fn plan_with(cmdline: &str, preload_list: Option<&str>, policy: &Policy) -> Plan {
    let params = split_params(cmdline);
    let mut notes = Vec::new();
    // No `required` here: the build-time policy is what makes strict shared maps binding.
    let asked_strict = match switch_option(&params, STRICT_SHARED_OPTION, ON_OFF, &mut notes) {
        Some(Switch::Required) => {
            notes.push(format!(
                "{STRICT_SHARED_OPTION}=required not understood ({ON_OFF}): ignored"
            ));
            None
        }
        Some(s) => Some(s == Switch::On),
        None => None,
    };
    if policy.strict_shared && asked_strict == Some(false) {
        notes.push(format!(
            "{STRICT_SHARED_OPTION}=0 refused: strict shared maps are required by the initramfs policy"
        ));
    }
    let strict_shared = policy.strict_shared || asked_strict == Some(true);
    let signed_only = guard_mode(&params, SIGNED_ONLY_OPTION, policy.signed_only, &mut notes);
    // Signed-only mode is enforced by the guard: it implies it (required implies required).
    let guard = guard_mode(&params, GUARD_OPTION, policy.guard, &mut notes).max(signed_only);
    let measure = measure_plan(&params, policy, &mut notes);
    let iterators = iterators_on(&params, policy, &mut notes);
    let listed: Vec<&str> = values(&params, LIST_OPTION).collect();
    let required: Vec<&str> = values(&params, REQUIRED_OPTION).flat_map(names).collect();
    let disabled = listed.iter().flat_map(|v| names(v)).any(|n| n == "0");
    let (source, wanted): (Source, Vec<String>) = if !listed.is_empty() {
        (
            Source::Cmdline,
            listed
                .iter()
                .flat_map(|v| names(v))
                .map(str::to_owned)
                .collect(),
        )
    } else if let Some(text) = preload_list {
        (Source::PreloadList, list_file_names(text))
    } else if !required.is_empty() {
        (Source::Required, Vec::new())
    } else {
        (Source::Nothing, Vec::new())
    };
    let forced: Vec<&str> = policy.required.iter().map(String::as_str).collect();
    let omitted: Vec<&str> = forced
        .iter()
        .copied()
        .filter(|f| !wanted.iter().any(|w| w == f) && !required.contains(f))
        .collect();
    if source == Source::Cmdline && !disabled && !omitted.is_empty() {
        notes.push(format!(
            "{LIST_OPTION}= omits {}: loaded anyway, required by the initramfs policy",
            omitted.join(", ")
        ));
    }
    if disabled && !forced.is_empty() {
        notes.push(format!(
            "{LIST_OPTION}=0 refused for {}: required by the initramfs policy",
            forced.join(", ")
        ));
    }
    let mut entries: Vec<Entry> = Vec::new();
    for raw in wanted
        .iter()
        .map(String::as_str)
        .chain(required.iter().copied())
        .chain(forced.iter().copied())
    {
        if raw == "0" || entries.iter().any(|e| e.raw == raw) {
            continue;
        }
        entries.push(Entry {
            raw: raw.to_owned(),
            name: ObjectName::parse(raw),
            required: false,
            forced: false,
        });
    }
    for e in &mut entries {
        e.forced = forced.contains(&e.raw.as_str());
        e.required = e.forced || required.contains(&e.raw.as_str());
    }
    Plan {
        source,
        disabled,
        entries,
        guard,
        signed_only,
        notes,
        strict_shared,
        measure,
        iterators,
        list_files: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_of(p: &Plan) -> Vec<(&str, bool, bool)> {
        p.entries
            .iter()
            .map(|e| (e.raw.as_str(), e.name.is_ok(), e.required))
            .collect()
    }

    #[test]
    fn splits_like_the_kernel() {
        assert_eq!(
            split_params("  a=1  b=\"x y\" c\n"),
            vec!["a=1", "b=x y", "c"]
        );
        assert_eq!(split_params(""), Vec::<String>::new());
        assert_eq!(split_params("x=\"\""), vec!["x="]);
    }

    #[test]
    fn ordered_appending_deduplicated() {
        let p = plan(
            "quiet rd.bpf_preload=a,b root=/dev/vda rd.bpf_preload=c,a rd.bpf_preload=b",
            None,
        );
        assert_eq!(p.source, Source::Cmdline);
        assert_eq!(
            names_of(&p),
            vec![("a", true, false), ("b", true, false), ("c", true, false)]
        );
    }

    #[test]
    fn required_marks_and_appends() {
        let p = plan(
            "rd.bpf_preload=a,b rd.bpf_preload.required=b,z rd.bpf_preload.required=a",
            None,
        );
        assert_eq!(
            names_of(&p),
            vec![("a", true, true), ("b", true, true), ("z", true, true)]
        );
        let p = plan("rd.bpf_preload.required=z", Some("x\n"));
        assert_eq!(p.source, Source::PreloadList);
        assert_eq!(names_of(&p), vec![("x", true, false), ("z", true, true)]);
        let p = plan("rd.bpf_preload.required=z", None);
        assert_eq!(p.source, Source::Required);
        assert_eq!(names_of(&p), vec![("z", true, true)]);
    }

    #[test]
    fn zero_disables() {
        let p = plan(
            "rd.bpf_preload=a rd.bpf_preload=0 rd.bpf_preload.required=a",
            Some("b"),
        );
        assert!(p.disabled);
        assert_eq!(names_of(&p), vec![("a", true, true)]);
    }

    #[test]
    fn preload_list_is_the_fallback() {
        let p = plan(
            "root=/dev/sda",
            Some("# default\ncounter\n\n  iter # comment\ncounter\n"),
        );
        assert_eq!(p.source, Source::PreloadList);
        assert_eq!(
            names_of(&p),
            vec![("counter", true, false), ("iter", true, false)]
        );
        // The command line wins over the list, even when it names nothing loadable.
        let p = plan("rd.bpf_preload=", Some("counter"));
        assert_eq!((p.source, p.entries.len()), (Source::Cmdline, 0));
        let p = plan("", None);
        assert_eq!((p.source, p.entries.len()), (Source::Nothing, 0));
    }

    #[test]
    fn malformed_entries_fail_alone() {
        let p = plan("rd.bpf_preload=ok1,../etc,a/b,a.b,,é,ok2 rd.bpf_preload=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", None);
        assert_eq!(
            names_of(&p),
            vec![
                ("ok1", true, false),
                ("../etc", false, false),
                ("a/b", false, false),
                ("a.b", false, false),
                ("é", false, false),
                ("ok2", true, false),
                (&"x".repeat(64), false, false),
            ]
        );
    }

    fn policy(required: &[&str], guard: GuardPolicy) -> Policy {
        Policy {
            required: required.iter().map(|s| s.to_string()).collect(),
            guard,
            strict_shared: false,
            ..Policy::default()
        }
    }

    #[test]
    fn dropins_merge_in_name_order_first_position_wins() {
        assert_eq!(
            dropin_files(
                [
                    "20-b.list",
                    "a.list",
                    "10-a.list",
                    ".hidden.list",
                    ".list",
                    "x.list.dpkg-old",
                    "README",
                    "10-a.list",
                ]
                .map(String::from)
            ),
            vec!["10-a.list", "20-b.list", "a.list"]
        );
        assert_eq!(
            dropin_dir(std::path::Path::new("/etc/bpf-preload/preload.list")),
            std::path::Path::new("/etc/bpf-preload/preload.list.d")
        );
        assert_eq!(merge_lists(Vec::new()), None);
        let m = merge_lists([
            (
                "preload.list".to_string(),
                "base\nshared # first\n".to_string(),
            ),
            (
                "preload.list.d/10-a.list".to_string(),
                "a1\nshared\na2".to_string(),
            ),
            ("preload.list.d/20-b.list".to_string(), "".to_string()),
            (
                "preload.list.d/30-c.list".to_string(),
                "# c\na1\nc\n".to_string(),
            ),
        ])
        .unwrap();
        let p = plan_with_lists("root=/dev/vda", Some(&m), &Policy::default());
        assert_eq!(p.source, Source::PreloadList);
        assert_eq!(
            p.entries.iter().map(|e| e.raw.as_str()).collect::<Vec<_>>(),
            vec!["base", "shared", "a1", "a2", "c"]
        );
        assert_eq!(p.list_files, m.files);
        // The command line's list replaces the merged list, drop-ins and all.
        let p = plan_with_lists("rd.bpf_preload=c,x", Some(&m), &Policy::default());
        assert_eq!(
            (
                p.source,
                p.entries.iter().map(|e| e.raw.as_str()).collect::<Vec<_>>(),
                p.list_files.len()
            ),
            (Source::Cmdline, vec!["c", "x"], 0)
        );
        // Drop-ins alone (no preload.list) are a list.
        let only = merge_lists([("d/1.list".to_string(), "z\n".to_string())]).unwrap();
        let p = plan_with_lists("", Some(&only), &Policy::default());
        assert_eq!((p.source, p.entries.len()), (Source::PreloadList, 1));
    }

    #[test]
    fn switches_take_every_word() {
        use crate::switch::WORDS;
        for (word, sw) in WORDS {
            let mode = match sw {
                Switch::Off => GuardMode::Off,
                Switch::On => GuardMode::On,
                Switch::Required => GuardMode::Required,
            };
            let p = plan(&format!("rd.bpf_preload.guard={word}"), None);
            assert_eq!((p.guard, p.notes.len()), (mode, 0), "guard={word}");
            let p = plan(&format!("rd.bpf_preload.signed_only={word}"), None);
            assert_eq!(
                (p.signed_only, p.notes.len()),
                (mode, 0),
                "signed_only={word}"
            );
            let p = plan(&format!("rd.bpf_preload.strict_shared={word}"), None);
            match sw {
                Switch::Required => assert_eq!(
                    (p.strict_shared, p.notes),
                    (
                        false,
                        vec!["rd.bpf_preload.strict_shared=required not understood (1/yes/on or 0/no/off): ignored".to_string()]
                    )
                ),
                _ => assert_eq!(
                    (p.strict_shared, p.notes.len()),
                    (*sw == Switch::On, 0),
                    "strict_shared={word}"
                ),
            }
        }
        let p = plan("rd.bpf_preload.guard=true", None);
        assert_eq!(
            (p.guard, p.notes),
            (
                GuardMode::Off,
                vec!["rd.bpf_preload.guard=true not understood (1/yes/on, 0/no/off or required): ignored".to_string()]
            )
        );
        // strict_shared=yes under a policy is no weakening; =off is refused.
        let pol = Policy {
            strict_shared: true,
            ..Policy::default()
        };
        assert!(plan_with("rd.bpf_preload.strict_shared=yes", None, &pol)
            .notes
            .is_empty());
        assert_eq!(
            plan_with("rd.bpf_preload.strict_shared=off", None, &pol)
                .notes
                .len(),
            1
        );
    }

    #[test]
    fn strict_shared_maps_from_the_cmdline_or_the_policy_which_it_cannot_undo() {
        let strict = |cmd: &str, pol: bool| {
            let p = Policy {
                strict_shared: pol,
                ..Policy::default()
            };
            let plan = plan_with(cmd, None, &p);
            (plan.strict_shared, plan.notes)
        };
        assert_eq!(strict("", false), (false, vec![]));
        assert_eq!(
            strict("rd.bpf_preload.strict_shared=1", false),
            (true, vec![])
        );
        assert_eq!(strict("", true), (true, vec![]));
        assert_eq!(
            strict("rd.bpf_preload.strict_shared=0", true),
            (
                true,
                vec!["rd.bpf_preload.strict_shared=0 refused: strict shared maps are required by the initramfs policy".to_string()]
            )
        );
    }

    #[test]
    fn iterators_option_and_policy() {
        let it = |cmdline: &str, policy: bool| {
            let pol = Policy {
                iterators: policy,
                ..Policy::default()
            };
            let plan = plan_with(cmdline, None, &pol);
            (plan.iterators, plan.notes)
        };
        let none: Vec<String> = Vec::new();
        assert_eq!(it("", false), (false, none.clone()), "off by default");
        for on in ["1", "yes", "on"] {
            let c = format!("rd.bpf_preload.iterators={on}");
            assert_eq!(it(&c, false), (true, none.clone()), "{c}");
        }
        assert_eq!(
            it("rd.bpf_preload.iterators=0", false),
            (false, none.clone())
        );
        // The last value counts; one not understood is no value.
        assert_eq!(
            it(
                "rd.bpf_preload.iterators=1 rd.bpf_preload.iterators=0",
                false
            ),
            (false, none.clone())
        );
        assert_eq!(
            it("rd.bpf_preload.iterators=maybe", false),
            (
                false,
                vec![
                    "rd.bpf_preload.iterators=maybe not understood (1/yes/on or 0/no/off): ignored"
                        .to_string()
                ]
            )
        );
        // The policy: on without the command line, and the command line cannot weaken it.
        assert_eq!(it("", true), (true, none.clone()));
        assert_eq!(
            it("rd.bpf_preload.iterators=no", true),
            (
                true,
                vec![
                    "rd.bpf_preload.iterators=0 refused: the iterators are set by the initramfs policy"
                        .to_string()
                ]
            )
        );
        // Unrelated to the list: rd.bpf_preload=0 keeps them.
        assert_eq!(
            it("rd.bpf_preload=0 rd.bpf_preload.iterators=1", false),
            (true, none)
        );
    }

    #[test]
    fn measure_option_and_policy() {
        let m = |cmdline: &str, pcr: Option<u32>, req: bool| {
            let pol = Policy {
                measure_pcr: pcr,
                measure_required: req,
                ..Policy::default()
            };
            let plan = plan_with(cmdline, None, &pol);
            (plan.measure.map(|m| (m.pcr, m.required)), plan.notes)
        };
        assert_eq!(m("", None, false), (None, vec![]));
        assert_eq!(
            m("rd.bpf_preload.measure=12", None, false),
            (Some((12, false)), vec![])
        );
        assert_eq!(
            m("rd.bpf_preload.measure=12,required", None, false),
            (Some((12, true)), vec![])
        );
        assert_eq!(
            m(
                "rd.bpf_preload.measure=12 rd.bpf_preload.measure=off",
                None,
                false
            ),
            (None, vec![])
        );
        assert_eq!(m("", Some(9), false), (Some((9, false)), vec![]));
        assert_eq!(
            m("rd.bpf_preload.measure=required", Some(9), false),
            (Some((9, true)), vec![])
        );
        assert_eq!(
            m("rd.bpf_preload.measure=off", Some(9), true),
            (
                Some((9, true)),
                vec!["rd.bpf_preload.measure=off refused: measurement into PCR 9 is set by the initramfs policy".to_string()]
            )
        );
        assert_eq!(
            m("rd.bpf_preload.measure=12", Some(9), false),
            (
                Some((9, false)),
                vec![
                    "rd.bpf_preload.measure=12 refused: the initramfs policy measures into PCR 9"
                        .to_string()
                ]
            )
        );
        assert_eq!(
            m("rd.bpf_preload.measure=24", None, false),
            (
                None,
                vec!["rd.bpf_preload.measure=24 not understood (a PCR 0-23, required, or off): ignored".to_string()]
            )
        );
        assert_eq!(
            m("rd.bpf_preload.measure=required", None, false),
            (
                None,
                vec!["rd.bpf_preload.measure=required without a PCR (none in the initramfs policy): ignored".to_string()]
            )
        );
    }

    #[test]
    fn signed_only_implies_the_guard_and_holds_under_policy() {
        let p = |c: &str, pol: Policy| {
            let p = plan_with(c, None, &pol);
            (p.signed_only, p.guard, p.notes.len())
        };
        let on = |g: GuardPolicy| Policy {
            signed_only: g,
            ..Policy::default()
        };
        assert_eq!(
            p("", Policy::default()),
            (GuardMode::Off, GuardMode::Off, 0)
        );
        assert_eq!(
            p("rd.bpf_preload.signed_only=1", Policy::default()),
            (GuardMode::On, GuardMode::On, 0)
        );
        assert_eq!(
            p("rd.bpf_preload.signed_only=required", Policy::default()),
            (GuardMode::Required, GuardMode::Required, 0)
        );
        // The guard cannot be switched off under it.
        assert_eq!(
            p(
                "rd.bpf_preload.signed_only=1 rd.bpf_preload.guard=0",
                Policy::default()
            ),
            (GuardMode::On, GuardMode::On, 0)
        );
        assert_eq!(
            p("rd.bpf_preload.signed_only=0", on(GuardPolicy::Required)),
            (GuardMode::Required, GuardMode::Required, 1)
        );
        assert_eq!(
            p("rd.bpf_preload.signed_only=0", on(GuardPolicy::On)),
            (GuardMode::Off, GuardMode::Off, 0)
        );
    }

    #[test]
    fn guard_option_and_policy() {
        let cases = [
            ("", GuardPolicy::Unset, GuardMode::Off, 0),
            (
                "rd.bpf_preload.guard=1",
                GuardPolicy::Unset,
                GuardMode::On,
                0,
            ),
            (
                "rd.bpf_preload.guard=1 rd.bpf_preload.guard=0",
                GuardPolicy::Unset,
                GuardMode::Off,
                0,
            ),
            (
                "rd.bpf_preload.guard=required",
                GuardPolicy::Off,
                GuardMode::Required,
                0,
            ),
            ("", GuardPolicy::On, GuardMode::On, 0),
            ("rd.bpf_preload.guard=0", GuardPolicy::On, GuardMode::Off, 0),
            (
                "rd.bpf_preload.guard=bogus",
                GuardPolicy::On,
                GuardMode::On,
                1,
            ),
            (
                "rd.bpf_preload.guard=on rd.bpf_preload.guard=Off",
                GuardPolicy::Unset,
                GuardMode::On,
                1,
            ),
            ("", GuardPolicy::Required, GuardMode::Required, 0),
            (
                "rd.bpf_preload.guard=0",
                GuardPolicy::Required,
                GuardMode::Required,
                1,
            ),
            (
                "rd.bpf_preload.guard=1",
                GuardPolicy::Required,
                GuardMode::Required,
                0,
            ),
        ];
        for (cmd, pol, want, notes) in cases {
            let p = plan_with(cmd, None, &policy(&[], pol));
            assert_eq!((p.guard, p.notes.len()), (want, notes), "{cmd:?} {pol:?}");
        }
        let p = plan_with(
            "rd.bpf_preload.guard=0",
            None,
            &policy(&[], GuardPolicy::Required),
        );
        assert_eq!(
            p.notes,
            vec!["rd.bpf_preload.guard=0 refused: the guard is required by the initramfs policy"]
        );
    }

    #[test]
    fn policy_required_objects_cannot_be_removed() {
        let pol = policy(&["a", "b"], GuardPolicy::Unset);
        // A list that omits them: appended, required, forced, with a note.
        let p = plan_with("rd.bpf_preload=c,a", None, &pol);
        assert_eq!(
            p.entries
                .iter()
                .map(|e| (e.raw.as_str(), e.required, e.forced))
                .collect::<Vec<_>>(),
            vec![("c", false, false), ("a", true, true), ("b", true, true)]
        );
        assert_eq!(
            p.notes,
            vec!["rd.bpf_preload= omits b: loaded anyway, required by the initramfs policy"]
        );
        // rd.bpf_preload=0: disabled for the others, refused for these.
        let p = plan_with("rd.bpf_preload=0", Some("c\n"), &pol);
        assert!(p.disabled);
        assert_eq!(
            p.entries
                .iter()
                .map(|e| (e.raw.as_str(), e.forced))
                .collect::<Vec<_>>(),
            vec![("a", true), ("b", true)]
        );
        assert_eq!(
            p.notes,
            vec!["rd.bpf_preload=0 refused for a, b: required by the initramfs policy"]
        );
        // The preload list (no command line list) gets them appended, silently.
        let p = plan_with("", Some("c\n"), &pol);
        assert_eq!(p.entries.len(), 3);
        assert!(p.notes.is_empty());
    }

    #[test]
    fn garbage_cmdlines_plan_what_they_say() {
        /// (cmdline, source, entries as (raw, valid name?))
        type Case<'a> = (&'a str, Source, &'a [(&'a str, bool)]);
        let cases: &[Case] = &[
            ("\0\0\0", Source::Nothing, &[]),
            // An unterminated quote runs to the end: one parameter, not ours.
            ("\"unterminated rd.bpf_preload=a", Source::Nothing, &[]),
            ("rd.bpf_preload", Source::Nothing, &[]),
            ("rd.bpf_preloadx=a", Source::Nothing, &[]),
            ("=,=,", Source::Nothing, &[]),
            ("rd.bpf_preload=,,,", Source::Cmdline, &[]),
            (
                "rd.bpf_preload=a\0b,c",
                Source::Cmdline,
                &[("a\0b", false), ("c", true)],
            ),
            ("rd.bpf_preload==a", Source::Cmdline, &[("=a", false)]),
            ("x=\"rd.bpf_preload=a\"", Source::Nothing, &[]),
        ];
        for (junk, source, want) in cases {
            let p = plan(junk, None);
            let got: Vec<(&str, bool)> = p
                .entries
                .iter()
                .map(|e| (e.raw.as_str(), e.name.is_ok()))
                .collect();
            assert_eq!((p.source, got.as_slice()), (*source, *want), "{junk:?}");
        }
    }

    #[test]
    fn dracut_builtin_options_come_first_and_count() {
        let all = combine([
            "rd.bpf_preload.required=a\n",
            "rd.bpf_preload=b\nquiet",
            "",
            "root=/dev/vda rd.bpf_preload=c\n",
        ]);
        assert_eq!(
            all,
            "rd.bpf_preload.required=a rd.bpf_preload=b quiet root=/dev/vda rd.bpf_preload=c"
        );
        let p = plan(&all, None);
        assert_eq!(
            names_of(&p),
            vec![("b", true, false), ("c", true, false), ("a", true, true)]
        );
        assert!(names_objects(&all));
        assert!(!names_objects(
            "rd.bpf_preload.required=a rd.bpf_preloadx=b"
        ));
    }

    #[test]
    fn a_stray_byte_elsewhere_changes_nothing() {
        let raw = b"root=LABEL=Syst\xe8me rd.bpf_preload=a,b\xff rd.bpf_preload.required=a";
        let text = String::from_utf8_lossy(raw);
        let p = plan(&text, None);
        assert_eq!(
            names_of(&p),
            vec![("a", true, true), ("b\u{fffd}", false, false)]
        );
    }
}
