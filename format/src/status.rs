//! The status record written by `run` (JSON, versioned) and its rendering for people.
//!
//! Schema (version 1): see `docs/status.md`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::cmdline::Source;
use crate::escape::{escape, json_safe, prefix};
use crate::live::{Check, Instance, InstanceState, Live, LiveState, SignedOnlyLive};
use crate::place::Place;

pub const STATUS_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Loaded,
    Failed,
    Skipped,
    AlreadyLoaded,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Loaded => "loaded",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::AlreadyLoaded => "already-loaded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectStatus {
    /// The name as listed (may be invalid when the entry was malformed).
    pub name: String,
    pub result: Outcome,
    pub required: bool,
    /// SHA-256 of the signed payload, once verified.
    pub sha256: Option<String>,
    /// Id of the key that signed it, once verified.
    pub key_id: Option<String>,
    pub error: Option<String>,
    /// Pin names under `<bpffs>/<name>/links`.
    pub links: Vec<String>,
    /// The kernel's id of each link, by pin name (`status` checks they still exist); empty in
    /// records older than this field.
    #[serde(default)]
    pub link_ids: BTreeMap<String, u32>,
    /// The kernel's id of the program each link ran at boot, by pin name (`status` checks the
    /// link still runs it); empty in records older than this field.
    #[serde(default)]
    pub link_prog_ids: BTreeMap<String, u32>,
    /// Inode number of `<bpffs>/<name>/` when the run was done (a directory's number comes from
    /// the kernel's global `get_next_ino`: the same name in a fresh bpffs has another); absent in
    /// older records and for objects that did not load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir_ino: Option<u64>,
    /// Pin names under `<bpffs>/<name>/maps`.
    pub maps: Vec<String>,
    /// Pin names under `<bpffs>/<name>/progs`: programs that loaded but were not attached.
    pub programs: Vec<String>,
    /// Programs loaded but not attached (libbpf cannot auto-attach their section).
    pub not_attached: Vec<String>,
    /// Programs marked not-autoload (`SEC("?…")`), skipped.
    pub skipped_programs: Vec<String>,
    /// Maps pinned by name in the shared directory (created or reused); none for a failed
    /// object (those it created are removed).
    pub shared_maps: Vec<String>,
    /// Those of `shared_maps` that were already in the shared directory when this object loaded
    /// (pinned by an earlier object, or by someone else before the run): reused, not created.
    #[serde(default)]
    pub shared_maps_reused: Vec<String>,
    /// How it was loaded: `fast` (the light skeleton signed with it, run in the kernel) or
    /// `libbpf`; null when it was not loaded by this run.
    #[serde(default)]
    pub load_path: Option<String>,
    /// Why not the fast path, when `load_path` is `libbpf`.
    #[serde(default)]
    pub load_path_reason: Option<String>,
    /// Its event was extended into the measurement PCR before it reached the kernel
    /// (`measurement` in the record); false in records older than this field.
    #[serde(default)]
    pub measured: bool,
    /// The kernel's verdict on the object's kernel signature: `verified`, `unsigned`,
    /// `refused: <reason>`, `unsupported: <reason>`; absent when it never reached the kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_signature: Option<String>,
    pub duration_ms: f64,
    /// Where the time went: reading and verifying (signature, ELF checks), loading and
    /// attaching in the kernel, pinning.
    pub phases: Phases,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub verify_ms: f64,
    pub load_ms: f64,
    pub pin_ms: f64,
}

impl ObjectStatus {
    /// One line per object, `key=value` after a short phrase: one kmsg record, so every string in
    /// it (the name as listed, error texts quoting names and paths, program names) is escaped: no
    /// newline, control character or escape sequence of an attacker's reaches the log.
    pub fn log_line(&self) -> String {
        let o = self;
        let mut line = format!("object {}: {}", escape(&o.name), o.result.as_str());
        if let Some(e) = &o.error {
            line.push_str(": ");
            line.push_str(&escape(e));
        }
        if o.required {
            line.push_str(" required=yes");
        }
        if matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded) {
            line.push_str(&format!(
                " links={} maps={} progs={}",
                o.links.len(),
                o.maps.len(),
                o.programs.len()
            ));
            if !o.not_attached.is_empty() {
                let names: Vec<_> = o.not_attached.iter().map(|n| escape(n)).collect();
                line.push_str(&format!(" not_attached={}", names.join(",")));
            }
        }
        if let Some(path) = &o.load_path {
            line.push_str(&format!(" path={}", escape(path)));
        }
        // The kernel's verdict on its kernel signature, in one word (the reason is in the error
        // and the status): verified, unsigned, refused, unsupported.
        if let Some(k) = &o.kernel_signature {
            let word = k.split(':').next().unwrap_or_default();
            line.push_str(&format!(" kernel_signature={}", escape(word)));
        }
        if let Some(k) = &o.key_id {
            line.push_str(&format!(" key={}", escape(k)));
        }
        if let Some(h) = &o.sha256 {
            line.push_str(&format!(" sha256={}", escape(prefix(h, 16))));
        }
        if o.measured {
            line.push_str(" measured=yes");
        }
        line.push_str(&format!(" ms={:.1}", o.duration_ms));
        line
    }

    pub fn new(name: &str, required: bool) -> Self {
        Self {
            name: name.to_owned(),
            result: Outcome::Failed,
            required,
            sha256: None,
            key_id: None,
            error: None,
            links: vec![],
            link_ids: BTreeMap::new(),
            link_prog_ids: BTreeMap::new(),
            dir_ino: None,
            maps: vec![],
            programs: vec![],
            not_attached: vec![],
            skipped_programs: vec![],
            shared_maps: vec![],
            shared_maps_reused: vec![],
            load_path: None,
            load_path_reason: None,
            measured: false,
            kernel_signature: None,
            duration_ms: 0.0,
            phases: Phases::default(),
        }
    }
}

/// Measured preload: did every extend work?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasureState {
    /// Every verified object and the closing event were extended.
    Ok,
    /// Not asked for.
    Off,
    /// Asked for, and the TPM could not be used (no device, failure mode, an extend failed):
    /// `reason`.
    Unavailable,
}

impl MeasureState {
    pub fn as_str(self) -> &'static str {
        match self {
            MeasureState::Ok => "ok",
            MeasureState::Off => "off",
            MeasureState::Unavailable => "unavailable",
        }
    }
}

/// The run's measurement into a PCR (docs/status.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementStatus {
    /// The PCR (SHA-256 bank); null when off.
    pub pcr: Option<u32>,
    pub state: MeasureState,
    /// Build-time policy or `rd.bpf_preload.measure=…,required`: not ok stops the boot.
    pub required: bool,
    /// Why not ok.
    pub reason: Option<String>,
    /// The TPM device used.
    pub device: Option<String>,
    /// Events extended (objects, then the closing event).
    pub events: u32,
    /// The measurement log appended to, and why a record could not be written there (the
    /// extends are unaffected: the PCR stays right, the log is then incomplete).
    pub log: Option<String>,
    pub log_error: Option<String>,
}

impl MeasurementStatus {
    pub fn off() -> Self {
        Self {
            pcr: None,
            state: MeasureState::Off,
            required: false,
            reason: None,
            device: None,
            events: 0,
            log: None,
            log_error: None,
        }
    }

    /// One line for kmsg and `status`.
    pub fn line(&self) -> String {
        let mut l = format!("measurement: {}", self.state.as_str());
        if let Some(p) = self.pcr {
            l.push_str(&format!(" pcr={p} events={}", self.events));
        }
        if self.required {
            l.push_str(" required");
        }
        if let Some(d) = &self.device {
            l.push_str(&format!(" device={d}"));
        }
        if let Some(r) = &self.reason {
            l.push_str(&format!(" reason: {r}"));
        }
        if let Some(e) = &self.log_error {
            l.push_str(&format!(" (log: {e})"));
        }
        l
    }
}

/// The built-in iterators (docs/status.md): `maps.debug`, `progs.debug`, `links.debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IteratorsState {
    /// Loaded and pinned by this run.
    Active,
    /// All three files were already there (an earlier run pinned them).
    AlreadyActive,
    /// Not pinned, on purpose: `reason` (the kernel's own files are there).
    Skipped,
    /// Asked for, and they could not be loaded or pinned: `reason`.
    Failed,
}

impl IteratorsState {
    pub fn as_str(self) -> &'static str {
        match self {
            IteratorsState::Active => "active",
            IteratorsState::AlreadyActive => "already-active",
            IteratorsState::Skipped => "skipped",
            IteratorsState::Failed => "failed",
        }
    }
}

/// `"iterators": {...}`: absent when not asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IteratorsStatus {
    pub state: IteratorsState,
    pub reason: Option<String>,
    /// The files pinned (or found), relative to the bpffs.
    #[serde(default)]
    pub pins: Vec<String>,
    /// The kernel's id of each file's link, by file name.
    #[serde(default)]
    pub link_ids: BTreeMap<String, u32>,
    /// The program id behind each file's link, by file name.
    #[serde(default)]
    pub prog_ids: BTreeMap<String, u32>,
    /// Programs and links given their object's name in the files.
    #[serde(default)]
    pub named: usize,
    /// `maps.debug` has the `cur_entries` column (the kernel counts map elements: 6.6 on).
    #[serde(default)]
    pub cur_entries: bool,
    /// How this run loaded them: `light` (a light skeleton made at boot, its loader run in the
    /// kernel) or `libbpf`; null when this run loaded nothing.
    #[serde(default)]
    pub load_path: Option<String>,
    /// Why not the light skeleton, when `load_path` is `libbpf`.
    #[serde(default)]
    pub load_path_reason: Option<String>,
    /// Its event was extended into the measurement PCR before it was loaded.
    #[serde(default)]
    pub measured: bool,
    pub duration_ms: f64,
}

impl IteratorsStatus {
    pub fn new(state: IteratorsState) -> Self {
        Self {
            state,
            reason: None,
            pins: Vec::new(),
            link_ids: BTreeMap::new(),
            prog_ids: BTreeMap::new(),
            named: 0,
            cur_entries: false,
            load_path: None,
            load_path_reason: None,
            measured: false,
            duration_ms: 0.0,
        }
    }

    /// One line, for kmsg and `status`.
    pub fn line(&self) -> String {
        let mut l = format!("iterators: {}", self.state.as_str());
        if let Some(r) = &self.reason {
            l.push_str(&format!(": {r}"));
        }
        if !self.pins.is_empty() {
            l.push_str(&format!(" pins={}", self.pins.join(",")));
        }
        if self.state == IteratorsState::Active {
            l.push_str(&format!(" named={}", self.named));
            if self.cur_entries {
                l.push_str(" cur_entries=yes");
            }
        }
        if let Some(p) = &self.load_path {
            l.push_str(&format!(" path={p}"));
            if let Some(why) = &self.load_path_reason {
                l.push_str(&format!(" (light skeleton: {why})"));
            }
        }
        if self.measured {
            l.push_str(" measured=yes");
        }
        if self.state != IteratorsState::AlreadyActive {
            l.push_str(&format!(" ms={:.1}", self.duration_ms));
        }
        l
    }
}

/// The built-in guard (docs/guard.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardState {
    /// Loaded, attached, armed by this run.
    Active,
    /// `+guard` was already there (an earlier run armed it).
    AlreadyActive,
    /// This kernel cannot run it (no BPF LSM): `reason` says how to fix it.
    Unavailable,
    /// Not asked for.
    Off,
    /// Asked for, and it could not be activated: `reason`.
    Failed,
}

impl GuardState {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardState::Active => "active",
            GuardState::AlreadyActive => "already-active",
            GuardState::Unavailable => "unavailable",
            GuardState::Off => "off",
            GuardState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardStatus {
    pub state: GuardState,
    /// Required (build-time policy or `rd.bpf_preload.guard=required`): not active stops the boot.
    pub required: bool,
    pub reason: Option<String>,
    /// `major:minor` of the protected bpffs instance.
    pub instance: Option<String>,
    /// Protected directories, relative to the bpffs.
    pub protected: Vec<String>,
    /// The guard's links, pinned under `+guard/links`.
    pub links: Vec<String>,
    /// The kernel's id of each of the guard's links, by pin name; empty in older records.
    #[serde(default)]
    pub link_ids: BTreeMap<String, u32>,
    /// The program id behind each of the guard's links, by pin name; empty in older records.
    #[serde(default)]
    pub link_prog_ids: BTreeMap<String, u32>,
    /// How many link ids (preloaded objects' and the guard's) cannot be detached or updated.
    pub protected_links: usize,
    /// How many program ids (the guard's and the preloaded objects') no tracing or extension
    /// program may attach to.
    #[serde(default)]
    pub protected_progs: usize,
    /// How many security_* and bpf_lsm_* functions no fmod_ret program may attach to.
    #[serde(default)]
    pub hook_funcs: usize,
    /// This kernel's verifier lets BPF LSM programs return positive values (6.1), so BPF LSM
    /// programs on the bpf hooks are refused as well.
    #[serde(default)]
    pub lsm_positive_returns: bool,
    /// The global switches that would disarm preloaded programs, each `NAME:refused`,
    /// `NAME:absent (why)` or `NAME:NOT-GUARDED (why)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<String>,
    /// Signed-only mode is armed: after the seal, programs that can observe or change the
    /// kernel load only when the kernel verified them against the loader's keyring.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed_only: bool,
    /// Whether the seal engaged (PID 1 exec'd the real init); filled in live by `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<bool>,
    /// Operations refused so far; filled in live by `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
    /// Once sealed, what the mount-level protection holds on: `recorded` (the loader's mount),
    /// `copy` (switch_root copied /sys into the real root) or `lost`; filled in live by `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    /// The last refusal (`umount by "systemd"[1]`); filled in live by `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refused: Option<String>,
    /// Where `duration_ms` went, step by step (a guard that `run` armed; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<GuardSteps>,
    pub duration_ms: f64,
}

/// The guard's arming, step by step, in milliseconds, in the order the steps run. Their sum is
/// close to the guard's `duration_ms` (the rest: bookkeeping between the steps).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GuardSteps {
    /// securityfs and debugfs mounted when needed, the active LSM list read.
    pub prepare_ms: f64,
    /// The kernel's BTF (`/sys/kernel/btf/vmlinux`) in memory: mapped where the kernel allows it
    /// (6.16 and later), else copied whole by one BPF_OBJ_GET_INFO_BY_FD of the kernel's BTF
    /// object (since 2026-12-07), else read. This and the next two run
    /// in a thread of their own from the start of the boot, beside the objects' loading: they
    /// count in `duration_ms` only through `prefetch_wait_ms`. (Before 2026-12-07: libbpf's
    /// parse of it.)
    pub btf_ms: f64,
    /// Our scan of it (`btf::scan`, no BTF parse in user space): each hook's prototype (which
    /// program variant fits) and the functions no fmod_ret program may attach to. (Before
    /// 2026-12-07: the same found through libbpf's parsed BTF.)
    pub lookups_ms: f64,
    /// The verifier probe: may an LSM program return a positive value on this kernel?
    pub probe_ms: f64,
    /// How long arming waited for that thread (or did its work, without one); with `early`,
    /// for the thread that went on to load and attach.
    #[serde(default)]
    pub prefetch_wait_ms: f64,
    /// The steps from here to `attach_ms` ran in a thread of their own too, beside the objects'
    /// loading (since 2026-12-07): the programs loaded and attached, not armed, before the
    /// objects were done; they count in `duration_ms` only through `prefetch_wait_ms`. `false`:
    /// arming did them (older records; no thread; the thread's work could not be used).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub early: bool,
    /// The programs chosen for this kernel, signed-only mode's fit, root's user keyring.
    #[serde(default)]
    pub choose_ms: f64,
    /// libbpf opens the built-in object (its ELF); on the light path also libbpf's gen_loader
    /// over it (the loader program and its data, made in memory).
    pub open_ms: f64,
    /// The programs loaded: on the light path the loader run in the kernel (which relocates
    /// the programs and finds the hooks itself, each program through the verifier); on libbpf's
    /// path the kernel's BTF parsed again, relocations in user space, each program through the
    /// verifier.
    pub load_ms: f64,
    /// How the programs loaded: `light` (libbpf's gen_loader, its loader run in the kernel: no
    /// kernel BTF parsed in user space), or `libbpf (light skeleton: WHY)` when the light
    /// skeleton failed and libbpf loaded them (which names a refused program and the verifier's
    /// reason). Empty in records from before 2026-12-07 (always libbpf then).
    #[serde(default)]
    pub load_path: String,
    /// The verifier's instructions for each program as the kernel keeps them with it
    /// (`verified_insns`, 5.16 and later), whichever path loaded it.
    #[serde(default)]
    pub verified_insns: BTreeMap<String, u64>,
    /// Of `load_ms`: the verifier's own time for each program, by program name, as the kernel
    /// reports it (`verification time`, BPF_LOG_STATS); empty when it did not (the light path:
    /// its loader keeps no log).
    #[serde(default)]
    pub verifier_ms: BTreeMap<String, f64>,
    /// The verifier's work on each program, by program name, from the same statistics: unlike
    /// its time, the same on every boot of one kernel with one object. Empty when not reported.
    #[serde(default)]
    pub verifier_work: BTreeMap<String, VerifierWork>,
    pub attach_ms: f64,
    /// `+guard/links/*` and the maps pinned, each link's ids read back.
    pub pin_ms: f64,
    /// The protected inodes, link ids, program ids and hook functions written into their maps
    /// (`map_updates` updates; the loaded objects' link and program ids read from their pins),
    /// and those maps frozen.
    pub maps_ms: f64,
    pub map_updates: usize,
    /// The switches, the objects' pins and the mount recorded through the guard; armed.
    pub record_ms: f64,
    /// The guard's own links probed back through their pins for the record.
    pub describe_ms: f64,
}

/// The verifier's statistics line for one program (BPF_LOG_STATS): `processed N insns (limit …)
/// max_states_per_insn M total_states T peak_states P mark_read R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VerifierWork {
    /// Instructions the verifier walked, counting each path through them (`processed N insns`).
    pub insns: u64,
    /// States it kept to prune paths with (`total_states`).
    pub total_states: u64,
    /// The most of them kept at once (`peak_states`).
    pub peak_states: u64,
}

impl VerifierWork {
    /// The statistics line, or `None` when `line` is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.trim().strip_prefix("processed ")?;
        let (insns, rest) = rest.split_once(" insns")?;
        let field = |name: &str| -> Option<u64> {
            let mut words = rest.split_whitespace();
            words.find(|w| *w == name)?;
            words.next()?.parse().ok()
        };
        Some(Self {
            insns: insns.parse().ok()?,
            total_states: field("total_states")?,
            peak_states: field("peak_states")?,
        })
    }
}

impl GuardSteps {
    /// `steps=prepare:0.1,btf:80.2,…,verifier:12.0,…` for the guard's kmsg line.
    pub fn line(&self) -> String {
        // (A fold from 0.0: an empty f64 sum is -0.0, which would print as "-0.0".)
        let verifier = self.verifier_ms.values().fold(0.0, |a, b| a + b);
        format!(
            "steps=prepare:{:.1},btf:{:.1},lookups:{:.1},probe:{:.1},wait:{:.1},early:{},\
             choose:{:.1},open:{:.1},load:{:.1},path:{},verifier:{:.1},attach:{:.1},pin:{:.1},\
             maps:{:.1}/{},record:{:.1},describe:{:.1}",
            self.prepare_ms,
            self.btf_ms,
            self.lookups_ms,
            self.probe_ms,
            self.prefetch_wait_ms,
            u8::from(self.early),
            self.choose_ms,
            self.open_ms,
            self.load_ms,
            self.load_path
                .split(' ')
                .next()
                .filter(|p| !p.is_empty())
                .unwrap_or("-"),
            verifier,
            self.attach_ms,
            self.pin_ms,
            self.maps_ms,
            self.map_updates,
            self.record_ms,
            self.describe_ms
        )
    }
}

impl GuardStatus {
    pub fn new(state: GuardState, required: bool) -> Self {
        Self {
            state,
            required,
            signed_only: false,
            reason: None,
            instance: None,
            protected: vec![],
            links: vec![],
            link_ids: BTreeMap::new(),
            link_prog_ids: BTreeMap::new(),
            protected_links: 0,
            protected_progs: 0,
            hook_funcs: 0,
            lsm_positive_returns: false,
            switches: vec![],
            sealed: None,
            refused: None,
            last_refused: None,
            mount: None,
            steps: None,
            duration_ms: 0.0,
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self.state, GuardState::Active | GuardState::AlreadyActive)
    }

    /// One line, for kmsg and `status`.
    pub fn line(&self) -> String {
        let mut l = format!("guard: {}", self.state.as_str());
        if let Some(r) = &self.reason {
            l.push_str(": ");
            l.push_str(r);
        }
        if self.required {
            l.push_str(" required=yes");
        }
        if let Some(i) = &self.instance {
            l.push_str(&format!(" instance={i}"));
        }
        if !self.protected.is_empty() {
            l.push_str(&format!(" protected={}", self.protected.join(",")));
        }
        if self.is_active() && self.state == GuardState::Active {
            l.push_str(&format!(
                " links={} protected_links={} protected_progs={} hook_funcs={}",
                self.links.len(),
                self.protected_links,
                self.protected_progs,
                self.hook_funcs
            ));
            if self.lsm_positive_returns {
                l.push_str(" lsm_positive_returns=refused");
            }
        }
        if !self.switches.is_empty() {
            l.push_str(&format!(" switches={}", self.switches.join(",")));
        }
        if let Some(s) = &self.steps {
            l.push(' ');
            l.push_str(&s.line());
        }
        if let Some(s) = self.sealed {
            l.push_str(if s { " sealed=yes" } else { " sealed=no" });
        }
        if let Some(m) = &self.mount {
            l.push_str(&format!(" mount={m}"));
        }
        if let Some(n) = self.refused {
            l.push_str(&format!(" refused={n}"));
        }
        if let Some(last) = &self.last_refused {
            l.push_str(&format!(" last={last}"));
        }
        if self.state == GuardState::Active {
            l.push_str(&format!(" ms={:.1}", self.duration_ms));
        }
        l
    }
}

/// Signed-only mode's state (docs/guard.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignedOnlyState {
    /// The guard refuses unsigned kernel-observing programs after the seal.
    Active,
    Off,
    /// This kernel cannot do it (no BPF signatures, no BPF LSM): the reason says which.
    Unavailable,
    Failed,
}

impl SignedOnlyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Off => "off",
            Self::Unavailable => "unavailable",
            Self::Failed => "failed",
        }
    }
}

/// `"signed_only": {"state": …, "keyring": <serial>, "reason": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOnlyStatus {
    pub state: SignedOnlyState,
    /// The loader's sealed keyring (its serial), when one was made.
    pub keyring: Option<i32>,
    /// Why not active.
    pub reason: Option<String>,
    /// Build-time policy or `rd.bpf_preload.signed_only=required`.
    #[serde(default)]
    pub required: bool,
}

impl SignedOnlyStatus {
    /// `signed_only: active keyring=123` / `signed_only: unavailable: <reason>`.
    pub fn line(&self) -> String {
        let mut l = format!("signed_only: {}", self.state.as_str());
        if let Some(r) = &self.reason {
            l.push_str(&format!(": {r}"));
        }
        if let Some(k) = self.keyring {
            l.push_str(&format!(" keyring={k}"));
        }
        if self.required {
            l.push_str(" required");
        }
        l
    }
}

/// Which run wrote a record: the kernel's boot id then (`/proc/sys/kernel/random/boot_id`,
/// without dashes), when it started (seconds since 1970, UTC) and where it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub boot_id: String,
    pub started: u64,
    pub place: Place,
}

impl RunInfo {
    /// `run: boot <id>, started <UTC time>, in the initramfs`.
    pub fn line(&self) -> String {
        format!(
            "run: boot {}, started {}, {}",
            escape(&self.boot_id),
            utc(self.started),
            self.place.describe()
        )
    }
}

/// Seconds since 1970 as `YYYY-MM-DD HH:MM:SS UTC` (days to a civil date: H. Hinnant's
/// `civil_from_days`).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub version: u32,
    /// Which run wrote the record: its boot, when, where. Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// Where the list came from: `cmdline`, `preload-list` or `nothing`.
    pub source: Source,
    /// With `preload-list`: the list files in the order they were merged (the list, then its
    /// drop-ins in `preload.list.d/`); the objects are in the merged order. Absent otherwise
    /// (and in older records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_files: Vec<String>,
    /// `rd.bpf_preload=0` was given.
    pub disabled: bool,
    pub bpffs: String,
    /// We mounted the bpffs (false: one was already there and was reused).
    pub mounted_bpffs: bool,
    /// The bpffs instance the run pinned into (its `+shared` directory's inode and device); absent in older
    /// records and when no bpffs was prepared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpffs_instance: Option<Instance>,
    /// A run-wide error (e.g. bpffs could not be mounted, keys could not be read).
    pub error: Option<String>,
    pub objects: Vec<ObjectStatus>,
    /// The built-in guard; absent when it was not asked for (and in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardStatus>,
    /// Measured preload; absent in older records and when the run could not plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<MeasurementStatus>,
    /// Signed-only mode; absent when it was not asked for (and in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_only: Option<SignedOnlyStatus>,
    /// The built-in iterators; absent when they were not asked for (and in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterators: Option<IteratorsStatus>,
    /// What the build-time policy refused of the command line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the run left out and went on without: key files that could not be read or parsed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What `status` found at read time, beside the record (never written by `run`; whatever a
    /// record file holds here is replaced).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub live: Option<Live>,
    /// The whole run; last, so that it is the last `duration_ms` of the record.
    pub duration_ms: f64,
}

/// What `status --check` finds wrong, most serious first: the exit code is the most serious
/// one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// A required object, the required guard or required measurement failed (exit 3).
    RequiredUnmet,
    /// The guard was asked for and is not active: not at boot, or not now (exit 6).
    GuardNotActive,
    /// An object the boot loaded is no longer in place: removed, replaced or on another bpffs
    /// instance (exit 5).
    Removed,
    /// An object (not required) failed at boot (exit 4).
    Failed,
    /// A live check could not be made (not root?): nothing can be vouched for (exit 7).
    Unchecked,
}

impl Problem {
    pub fn exit_code(self) -> u8 {
        match self {
            Problem::RequiredUnmet => 3,
            Problem::Failed => 4,
            Problem::Removed => 5,
            Problem::GuardNotActive => 6,
            Problem::Unchecked => 7,
        }
    }
}

impl Status {
    pub fn required_failed(&self) -> impl Iterator<Item = &ObjectStatus> {
        self.objects
            .iter()
            .filter(|o| o.required && o.result == Outcome::Failed)
    }

    /// Everything `status --check` refuses, most serious first, each with one line saying
    /// what (names escaped). Live problems need [`Status::live`].
    pub fn problems(&self) -> Vec<(Problem, String)> {
        let mut out = Vec::new();
        for o in self.required_failed() {
            out.push((
                Problem::RequiredUnmet,
                format!("required object {} failed", escape(&o.name)),
            ));
        }
        if self.guard_required_failed() {
            out.push((
                Problem::RequiredUnmet,
                "the required guard is not active".into(),
            ));
        }
        if self.measurement_required_failed() {
            out.push((Problem::RequiredUnmet, "required measurement failed".into()));
        }
        if let Some(g) = &self.guard {
            let live = self.live.as_ref().and_then(|l| l.guard.as_ref());
            if !g.is_active() {
                out.push((Problem::GuardNotActive, format!("{} at boot", g.line())));
            } else if let Some(c) = live.filter(|c| c.state != LiveState::Active) {
                let problem = if c.state == LiveState::Unknown {
                    Problem::Unchecked
                } else {
                    Problem::GuardNotActive
                };
                out.push((problem, format!("guard: {} now", c.state.as_str())));
            }
        }
        if let Some(live) = &self.live {
            for (name, c) in &live.objects {
                match c.state {
                    LiveState::Removed | LiveState::Replaced | LiveState::Moved => out.push((
                        Problem::Removed,
                        format!("object {}: {} now", escape(name), c.state.as_str()),
                    )),
                    LiveState::Unknown => out.push((
                        Problem::Unchecked,
                        format!("object {}: not checked now", escape(name)),
                    )),
                    _ => {}
                }
            }
        }
        for o in &self.objects {
            if !o.required && o.result == Outcome::Failed {
                out.push((
                    Problem::Failed,
                    format!("object {} failed", escape(&o.name)),
                ));
            }
        }
        out.sort_by_key(|(p, _)| *p);
        out
    }

    /// Required measurement that is not ok: `run` fails closed (exit 3).
    pub fn measurement_required_failed(&self) -> bool {
        self.measurement
            .as_ref()
            .is_some_and(|m| m.required && m.state != MeasureState::Ok)
    }

    /// A required guard (or required signed-only mode) that is not active: `run` fails closed
    /// (exit 3).
    pub fn guard_required_failed(&self) -> bool {
        self.guard
            .as_ref()
            .is_some_and(|g| g.required && !g.is_active())
            || self
                .signed_only
                .as_ref()
                .is_some_and(|s| s.required && s.state != SignedOnlyState::Active)
    }

    /// The record as JSON; printable as it is (see [`json_safe`]).
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        json_safe(serde_json::to_string_pretty(self).unwrap_or_default()) + "\n"
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// A few lines a person can read. The record may come from a file anyone could have
    /// written: every string in it is escaped, and nothing in it can make this panic.
    pub fn render(&self) -> String {
        let count = |o: Outcome| self.objects.iter().filter(|x| x.result == o).count();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "bpf-preload: {} object(s) from {}: {} loaded, {} already loaded, {} failed, {} skipped in {:.1} ms (bpffs {}{})",
            self.objects.len(),
            match self.source {
                Source::Cmdline => "the kernel cmdline",
                Source::PreloadList => "the preload list",
                Source::Required => "rd.bpf_preload.required (no list)",
                Source::Nothing => "nowhere (no list)",
            },
            count(Outcome::Loaded),
            count(Outcome::AlreadyLoaded),
            count(Outcome::Failed),
            count(Outcome::Skipped),
            self.duration_ms,
            escape(&self.bpffs),
            if self.mounted_bpffs { ", mounted" } else { "" },
        );
        if let Some(r) = &self.run {
            let _ = writeln!(s, "  {}", r.line());
        }
        if !self.list_files.is_empty() {
            let files: Vec<_> = self.list_files.iter().map(|f| escape(f)).collect();
            let _ = writeln!(s, "  list: {} (merged in this order)", files.join(", "));
        }
        if self.disabled {
            s.push_str("  loading disabled by rd.bpf_preload=0\n");
        }
        if let Some(e) = &self.error {
            let _ = writeln!(s, "  error: {}", escape(e));
        }
        for n in &self.notes {
            let _ = writeln!(s, "  policy: {}", escape(n));
        }
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {}", escape(w));
        }
        if let Some(m) = self
            .measurement
            .as_ref()
            .filter(|m| m.state != MeasureState::Off)
        {
            let _ = writeln!(s, "  {}", escape(&m.line()));
        }
        let live = self.live.as_ref();
        if let Some(g) = &self.guard {
            let recorded = g.line();
            let recorded = recorded.strip_prefix("guard: ").unwrap_or(&recorded);
            match live.and_then(|l| l.guard.as_ref()) {
                Some(c) if !matches!(c.state, LiveState::Active | LiveState::Unknown) => {
                    let state = match c.state {
                        LiveState::NotProtecting => "not protecting this bpffs",
                        LiveState::NotVerified => "not verified",
                        other => other.as_str(),
                    };
                    let why = c
                        .reason
                        .as_ref()
                        .map(|r| format!(" ({})", escape(r)))
                        .unwrap_or_default();
                    let _ = writeln!(s, "  guard: {state}{why} (recorded: {})", escape(recorded));
                    render_check(&mut s, c);
                }
                Some(c) => {
                    let _ = writeln!(s, "  {}", escape(&g.line()));
                    render_check(&mut s, c);
                }
                None => {
                    let _ = writeln!(s, "  {}", escape(&g.line()));
                }
            }
        }
        if let Some(so) = &self.signed_only {
            match live.and_then(|l| l.signed_only.as_ref()) {
                Some(c) if c.state != SignedOnlyLive::Active => {
                    let recorded = so.line();
                    let recorded = recorded.strip_prefix("signed_only: ").unwrap_or(&recorded);
                    let why = c
                        .reason
                        .as_ref()
                        .map(|r| format!(" ({})", escape(r)))
                        .unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "  signed_only: {}{why} (recorded: {})",
                        c.state.as_str(),
                        escape(recorded)
                    );
                }
                _ => {
                    let _ = writeln!(s, "  {}", escape(&so.line()));
                }
            }
        }
        if let Some(i) = &self.iterators {
            let _ = writeln!(s, "  {}", escape(&i.line()));
        }
        if let Some(l) = live {
            render_instance(&mut s, l);
            render_switches(&mut s, l);
        }
        for o in &self.objects {
            let check = live.and_then(|l| l.objects.get(&o.name));
            let result = if o.result == Outcome::Failed {
                "FAILED"
            } else if let Some(c) = check.filter(|c| {
                matches!(
                    c.state,
                    LiveState::Removed | LiveState::Replaced | LiveState::Moved
                )
            }) {
                c.state.as_str()
            } else {
                o.result.as_str()
            };
            let _ = write!(s, "  {:<20} {:<14}", escape(&o.name), result);
            if o.required {
                s.push_str(" required");
            }
            if let Some(k) = &o.key_id {
                let _ = write!(s, " key {}", escape(k));
            }
            if let Some(h) = &o.sha256 {
                let _ = write!(s, " sha256 {}", escape(prefix(h, 16)));
            }
            if o.measured {
                s.push_str(" measured");
            }
            let _ = writeln!(s, " {:.1} ms", o.duration_ms);
            if let Some(c) = check {
                render_check(&mut s, c);
            }
            if let Some(e) = &o.error {
                let _ = writeln!(s, "      error: {}", escape(e));
            }
            if let Some(k) = &o.kernel_signature {
                // "unsigned" alone reads as "this object is unsigned": it means no kernel
                // signature (the loader's own ed25519 signature was verified all the same).
                let k = match k.as_str() {
                    "unsigned" => "none (not kernel-signed: the kernel checked no signature; the object's ed25519 signature was verified)".into(),
                    other => escape(other),
                };
                let _ = writeln!(s, "      kernel signature: {k}");
            }
            if let Some(p) = &o.load_path {
                let _ = match &o.load_path_reason {
                    Some(why) => writeln!(s, "      path: {} ({})", escape(p), escape(why)),
                    None => writeln!(s, "      path: {}", escape(p)),
                };
            }
            for (label, list) in [
                ("links", &o.links),
                ("maps", &o.maps),
                ("progs", &o.programs),
                ("not attached", &o.not_attached),
                ("shared maps", &o.shared_maps),
                ("of which reused", &o.shared_maps_reused),
                ("skipped progs", &o.skipped_programs),
            ] {
                if !list.is_empty() {
                    let names: Vec<_> = list.iter().map(|n| escape(n)).collect();
                    let _ = writeln!(s, "      {label}: {}", names.join(" "));
                }
            }
        }
        s
    }
}

/// What a live check found missing, or could not check, under an object's (or the guard's)
/// line; nothing when all is in place.
fn render_check(s: &mut String, c: &Check) {
    if !c.missing.is_empty() {
        let m: Vec<String> = c
            .missing
            .iter()
            .map(|m| escape(&m.to_string()).into_owned())
            .collect();
        let _ = writeln!(s, "      missing: {}", m.join(" "));
    }
    if !c.replaced.is_empty() {
        let r: Vec<String> = c
            .replaced
            .iter()
            .map(|r| escape(&r.to_string()).into_owned())
            .collect();
        let _ = writeln!(s, "      replaced: {}", r.join(" "));
    }
    if !c.unchecked.is_empty() {
        let u: Vec<String> = c.unchecked.iter().map(|u| escape(u).into_owned()).collect();
        let _ = writeln!(s, "      live: not checked: {}", u.join("; "));
    }
    if !c.evidence.is_empty() {
        let e: Vec<String> = c.evidence.iter().map(|e| escape(e).into_owned()).collect();
        let _ = writeln!(s, "      evidence: {}", e.join("; "));
    }
}

/// The bpffs instance, when it is not the boot's or could not be checked.
fn render_instance(s: &mut String, l: &Live) {
    let i = &l.instance;
    match (i.state, i.found, i.expected) {
        (InstanceState::Moved, Some(found), Some(expected)) => {
            let _ = writeln!(
                s,
                "  live: bpffs instance moved: {found} is not the boot's {expected} (evidence: {})",
                i.evidence.as_str()
            );
        }
        (InstanceState::Same, _, _) => {}
        _ => {
            let why = i.unchecked.as_deref().unwrap_or("no evidence");
            let _ = writeln!(s, "  live: bpffs instance not checked ({})", escape(why));
        }
    }
}

/// The kernel switches that disarm preloaded programs, when found off or unreadable.
fn render_switches(s: &mut String, l: &Live) {
    match (l.ftrace_enabled, &l.ftrace_unknown) {
        (Some(false), _) => s.push_str(
            "  live: ftrace disabled (kernel.ftrace_enabled=0): trampolines (LSM, fentry/fexit, kprobe.multi) are not running\n",
        ),
        (None, Some(why)) => {
            let _ = writeln!(s, "  live: ftrace unknown ({})", escape(why));
        }
        _ => {}
    }
    match (l.kprobes_enabled, &l.kprobes_unknown) {
        (Some(false), _) => {
            let at = l.debugfs.as_deref().unwrap_or("<debugfs>");
            let _ = writeln!(
                s,
                "  live: kprobes disabled ({}/kprobes/enabled=0): kprobe and kretprobe programs are not running",
                escape(at)
            );
        }
        (None, Some(why)) => {
            let _ = writeln!(s, "  live: kprobes unknown ({})", escape(why));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{Evidence, InstanceCheck};

    /// The guard's steps: kept through the record, shown on its line, absent from a record
    /// that has none (older ones, a guard that did not arm).
    #[test]
    fn guard_steps_round_trip_and_show() {
        let mut g = GuardStatus::new(GuardState::Active, false);
        let json = serde_json::to_string(&g).unwrap();
        assert!(!json.contains("steps"), "{json}");
        assert_eq!(
            serde_json::from_str::<GuardStatus>(&json).unwrap().steps,
            None
        );
        g.steps = Some(GuardSteps {
            prepare_ms: 0.25,
            btf_ms: 80.0,
            lookups_ms: 40.5,
            probe_ms: 3.0,
            prefetch_wait_ms: 7.5,
            early: true,
            choose_ms: 0.5,
            open_ms: 1.0,
            load_ms: 900.0,
            load_path: "libbpf (light skeleton: run loader: Invalid argument (os error 22))".into(),
            verified_insns: [("guard_bpf".to_owned(), 20_345)].into(),
            verifier_ms: [
                ("guard_bpf".to_owned(), 20.0),
                ("guard_mount".to_owned(), 5.5),
            ]
            .into(),
            verifier_work: [(
                "guard_bpf".to_owned(),
                VerifierWork {
                    insns: 20_345,
                    total_states: 1_200,
                    peak_states: 400,
                },
            )]
            .into(),
            attach_ms: 30.0,
            pin_ms: 12.0,
            maps_ms: 60.0,
            map_updates: 640,
            record_ms: 4.0,
            describe_ms: 2.0,
        });
        let back: GuardStatus = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(back, g);
        assert!(
            g.line().ends_with(
                " steps=prepare:0.2,btf:80.0,lookups:40.5,probe:3.0,wait:7.5,early:1,choose:0.5,\
             open:1.0,load:900.0,path:libbpf,verifier:25.5,attach:30.0,pin:12.0,maps:60.0/640,record:4.0,describe:2.0 \
             ms=0.0"
            ),
            "{}",
            g.line()
        );
    }

    #[test]
    fn verifier_work_from_the_statistics_line() {
        // As 6.1, 6.12 and 7.x print it.
        assert_eq!(
            VerifierWork::parse(
                "processed 3075 insns (limit 1000000) max_states_per_insn 4 total_states 212 \
                 peak_states 140 mark_read 31"
            ),
            Some(VerifierWork {
                insns: 3075,
                total_states: 212,
                peak_states: 140,
            })
        );
        // Without the state counts, or not the statistics line at all: nothing.
        assert_eq!(
            VerifierWork::parse("processed 5 insns (limit 1000000) max_states_per_insn 0"),
            None
        );
        assert_eq!(
            VerifierWork::parse("processed x insns (limit 1000000) total_states 1 peak_states 1"),
            None
        );
        assert_eq!(VerifierWork::parse("verification time 12 usec"), None);
        assert_eq!(
            VerifierWork::parse("processed 9 insns total_states peak_states 1"),
            None
        );
    }

    #[test]
    fn json_round_trip_and_render() {
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::Loaded;
        o.links = vec!["count_exec".into()];
        o.sha256 = Some("ab".repeat(32));
        o.load_path = Some("fast".into());
        let mut bad = ObjectStatus::new("a.b", false);
        bad.error = Some("name \"a.b\" has '.'".into());
        bad.load_path = Some("libbpf".into());
        bad.load_path_reason = Some("fast path: loader: \x1b[31m".into());
        let st = Status {
            version: STATUS_VERSION,
            source: Source::Cmdline,
            list_files: Vec::new(),
            disabled: false,
            bpffs: "/sys/fs/bpf".into(),
            mounted_bpffs: false,
            bpffs_instance: None,
            run: None,
            error: None,
            objects: vec![o, bad],
            duration_ms: 3.25,
            guard: Some(GuardStatus {
                instance: Some("0:42".into()),
                protected: vec!["counter".into(), "+shared".into(), "+guard".into()],
                lsm_positive_returns: true,
                switches: vec![
                    "kernel.ftrace_enabled:refused".into(),
                    "kprobes/enabled:NOT-GUARDED (debugfs: \x1b)".into(),
                ],
                ..GuardStatus::new(GuardState::Active, true)
            }),
            measurement: Some(MeasurementStatus {
                pcr: Some(12),
                state: MeasureState::Unavailable,
                required: true,
                reason: Some("no TPM: open /dev/tpm0: \x1b".into()),
                ..MeasurementStatus::off()
            }),
            signed_only: None,
            iterators: None,
            notes: vec!["rd.bpf_preload.guard=0 refused".into()],
            warnings: vec![],
            live: None,
        };
        let json = st.to_json();
        assert!(json.contains("\"result\": \"loaded\""), "{json}");
        assert!(json.contains("\"source\": \"cmdline\""), "{json}");
        assert_eq!(Status::from_json(&json).unwrap(), st);
        let text = st.render();
        assert!(
            text.contains(
                "2 object(s) from the kernel cmdline: 1 loaded, 0 already loaded, 1 failed"
            ),
            "{text}"
        );
        assert!(text.contains("links: count_exec"), "{text}");
        assert!(text.contains("FAILED"), "{text}");
        assert!(
            text.contains("\n  measurement: unavailable pcr=12 events=0 required reason: no TPM: open /dev/tpm0: \\x1b\n"),
            "{text}"
        );
        assert!(st.measurement_required_failed());
        // The path each object was loaded on, or failed on, and why not the fast one (escaped).
        assert!(text.contains("\n      path: fast\n"), "{text}");
        assert!(
            text.contains("\n      path: libbpf (fast path: loader: \\x1b[31m)\n"),
            "{text}"
        );
        assert_eq!(st.required_failed().count(), 0);
        assert!(
            text.contains("  guard: active required=yes instance=0:42 protected=counter,+shared,+guard links=0 protected_links=0 protected_progs=0 hook_funcs=0 lsm_positive_returns=refused switches=kernel.ftrace_enabled:refused,kprobes/enabled:NOT-GUARDED (debugfs: \\x1b) ms=0.0\n"),
            "{text}"
        );
        assert!(
            text.contains("  policy: rd.bpf_preload.guard=0 refused\n"),
            "{text}"
        );
        assert!(!st.guard_required_failed());
        // Records written before the guard existed still read.
        let old = json.replace("\"guard\"", "\"unknown_guard\"");
        assert_eq!(Status::from_json(&old).unwrap().guard, None);
    }

    #[test]
    fn guard_lines_and_required_failure() {
        let mut g = GuardStatus::new(GuardState::Unavailable, true);
        g.reason =
            Some("BPF LSM is not active (lsm=\"capability\"): boot with lsm=capability,bpf".into());
        assert_eq!(
            g.line(),
            "guard: unavailable: BPF LSM is not active (lsm=\"capability\"): boot with lsm=capability,bpf required=yes"
        );
        let mut st = Status::from_json(&Status::from_json("{\"version\":1,\"source\":\"nothing\",\"disabled\":false,\"bpffs\":\"/b\",\"mounted_bpffs\":false,\"error\":null,\"objects\":[],\"duration_ms\":0.0}").unwrap().to_json()).unwrap();
        assert!(!st.guard_required_failed());
        st.guard = Some(g);
        assert!(st.guard_required_failed());
        let mut live = GuardStatus::new(GuardState::AlreadyActive, false);
        live.sealed = Some(true);
        live.refused = Some(7);
        assert_eq!(live.line(), "guard: already-active sealed=yes refused=7");
    }

    /// The live view beside the record: a removed object says `removed` where `loaded` was and
    /// what is missing on the next line; a gone guard says so first; the switches found off
    /// are named. Every string from the record or the system is escaped.
    #[test]
    fn render_names_the_merged_list_files_escaped() {
        let mut st = Status::from_json("{\"version\":1,\"source\":\"preload-list\",\"list_files\":[\"/etc/bpf-preload/preload.list\",\"/etc/bpf-preload/preload.list.d/10-x\\u001b.list\"],\"disabled\":false,\"bpffs\":\"/b\",\"mounted_bpffs\":false,\"error\":null,\"objects\":[],\"duration_ms\":0.0}").unwrap();
        let text = st.render();
        assert_eq!(
            text.lines().nth(1),
            Some("  list: /etc/bpf-preload/preload.list, /etc/bpf-preload/preload.list.d/10-x\\x1b.list (merged in this order)"),
            "{text}"
        );
        st.list_files.clear();
        assert!(!st.render().contains("  list: "), "{}", st.render());
        assert!(!st.to_json().contains("list_files"));
    }

    #[test]
    fn live_view_renders_removed_gone_and_switches() {
        use crate::live::{Check, Live, LiveState, Missing};
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::Loaded;
        o.links = vec!["count_exec".into()];
        o.maps = vec!["exec_count".into()];
        let mut kept = ObjectStatus::new("iter", false);
        kept.result = Outcome::AlreadyLoaded;
        let mut forged = ObjectStatus::new("../e\x1btc", false);
        forged.result = Outcome::Loaded;
        let mut st = Status::from_json(&golden_free_record()).unwrap();
        st.objects = vec![o, kept, forged];
        st.warnings = vec![
            "trusted keys: skipped a key file: read /k/a\x1b.pub: is a directory (refused)".into(),
        ];
        st.guard = Some(GuardStatus {
            instance: Some("0:42".into()),
            links: vec!["guard_unlink".into()],
            ..GuardStatus::new(GuardState::Active, false)
        });
        let removed = Check {
            state: LiveState::Removed,
            missing: vec![
                Missing::Pin {
                    dir: "links",
                    pin: "count_exec".into(),
                },
                Missing::WrongKind {
                    dir: "maps",
                    pin: "exec_count".into(),
                    kind: crate::name::PinKind::Map,
                },
                Missing::LinkId(17),
            ],
            ..Check::new(LiveState::Removed)
        };
        let ok = Check::new(LiveState::Loaded);
        let unknown = Check {
            unchecked: vec!["not an object name: name \"../e\x1btc\" has '.' at byte 0".into()],
            ..Check::new(LiveState::Unknown)
        };
        st.live = Some(Live {
            checked: false,
            instance: same_instance(),
            objects: [
                ("counter".to_string(), removed),
                ("iter".to_string(), ok),
                ("../e\x1btc".to_string(), unknown),
            ]
            .into(),
            guard: Some(Check {
                missing: vec![Missing::Dir("+guard/links".into()), Missing::LinkId(5)],
                ..Check::new(LiveState::Gone)
            }),
            signed_only: None,
            ftrace_enabled: Some(false),
            ftrace_unknown: None,
            kprobes_enabled: None,
            kprobes_unknown: Some("debugfs not mounted".into()),
            debugfs: None,
            lockdown: None,
        });
        // `status --check`: every problem, the most serious first (its code is the exit code).
        assert_eq!(
            st.problems(),
            vec![
                (Problem::GuardNotActive, "guard: gone now".to_string()),
                (Problem::Removed, "object counter: removed now".to_string()),
                (
                    Problem::Unchecked,
                    "object ../e\\x1btc: not checked now".to_string()
                ),
            ]
        );
        assert_eq!(st.problems()[0].0.exit_code(), 6);
        let text = st.render();
        let want = "\
bpf-preload: 3 object(s) from nowhere (no list): 2 loaded, 1 already loaded, 0 failed, 0 skipped in 0.0 ms (bpffs /b)
  warning: trusted keys: skipped a key file: read /k/a\\x1b.pub: is a directory (refused)
  guard: gone (recorded: active instance=0:42 links=1 protected_links=0 protected_progs=0 hook_funcs=0 ms=0.0)
      missing: +guard/links/ link-id 5
  live: ftrace disabled (kernel.ftrace_enabled=0): trampolines (LSM, fentry/fexit, kprobe.multi) are not running
  live: kprobes unknown (debugfs not mounted)
  counter              removed        required 0.0 ms
      missing: links/count_exec maps/exec_count (not a map) link-id 17
      links: count_exec
      maps: exec_count
  iter                 already-loaded 0.0 ms
  ../e\\x1btc           loaded         0.0 ms
      live: not checked: not an object name: name \"../e\\x1btc\" has '.' at byte 0
";
        assert_eq!(text, want);
        let json = st.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v["live"],
            serde_json::json!({
                "checked": false,
                "instance": {
                    "state": "same",
                    "found": {"ino": 1, "dev": "0:42"},
                    "expected": {"ino": 1, "dev": "0:42"},
                    "evidence": "guard"
                },
                "objects": {
                    "counter": {
                        "state": "removed",
                        "missing": ["links/count_exec", "maps/exec_count (not a map)", "link-id 17"]
                    },
                    "iter": { "state": "loaded" },
                    "../e\x1btc": {
                        "state": "unknown",
                        "unchecked": ["not an object name: name \"../e\x1btc\" has '.' at byte 0"]
                    }
                },
                "guard": { "state": "gone", "missing": ["+guard/links/", "link-id 5"] },
                "ftrace_enabled": false,
                "kprobes_enabled": null,
                "kprobes_unknown": "debugfs not mounted"
            })
        );
        // The record file never holds the live view: what a file says there is not believed.
        assert_eq!(Status::from_json(&json).unwrap().live, None);
        // Switches on, everything in place: nothing more than before.
        let l = st.live.as_mut().unwrap();
        l.ftrace_enabled = Some(true);
        l.kprobes_enabled = Some(true);
        l.kprobes_unknown = None;
        l.debugfs = Some("/sys/kernel/debug".into());
        l.guard.as_mut().unwrap().state = LiveState::Active;
        l.guard.as_mut().unwrap().missing.clear();
        let text = st.render();
        assert!(
            !text.contains("live: ftrace") && !text.contains("live: kprobes"),
            "{text}"
        );
        assert!(text.contains("\n  guard: active instance=0:42 "), "{text}");
        st.live.as_mut().unwrap().kprobes_enabled = Some(false);
        assert!(st.render().contains(
            "\n  live: kprobes disabled (/sys/kernel/debug/kprobes/enabled=0): kprobe and kretprobe programs are not running\n"
        ));
    }

    fn same_instance() -> InstanceCheck {
        let i = Instance { ino: 1, dev: 42 };
        InstanceCheck {
            state: InstanceState::Same,
            found: Some(i),
            expected: Some(i),
            evidence: Evidence::Guard,
            unchecked: None,
        }
    }

    /// The states a fooled status used to hide: a link running another program (`replaced`),
    /// the pins in a fresh bpffs (`moved`, the guard `not protecting this bpffs`), a guard that
    /// did not confirm the probe, signed-only mode without its keyring. Text and JSON.
    #[test]
    fn live_view_renders_replaced_moved_and_unverified() {
        use crate::live::{Replacement, SignedOnlyCheck};
        let mut o = ObjectStatus::new("iter", false);
        o.result = Outcome::Loaded;
        o.links = vec!["dump".into()];
        let mut moved = ObjectStatus::new("counter", false);
        moved.result = Outcome::AlreadyLoaded;
        let mut st = Status::from_json(&golden_free_record()).unwrap();
        st.objects = vec![o, moved];
        st.guard = Some(GuardStatus::new(GuardState::AlreadyActive, false));
        st.signed_only = Some(SignedOnlyStatus {
            state: SignedOnlyState::Active,
            keyring: Some(933),
            reason: None,
            required: false,
        });
        let replaced = Check {
            replaced: vec![Replacement {
                what: "links/dump".into(),
                recorded: 40,
                found: 41,
            }],
            programs: Some(Evidence::Guard),
            ..Check::new(LiveState::Replaced)
        };
        let fresh = Instance { ino: 9, dev: 42 };
        let mut instance = same_instance();
        instance.state = InstanceState::Moved;
        instance.found = Some(fresh);
        let live = |guard: Check, so: SignedOnlyCheck| Live {
            checked: true,
            instance: instance.clone(),
            objects: [
                ("iter".to_string(), replaced.clone()),
                ("counter".to_string(), Check::new(LiveState::Moved)),
            ]
            .into(),
            guard: Some(guard),
            signed_only: Some(so),
            ftrace_enabled: Some(true),
            ftrace_unknown: None,
            kprobes_enabled: Some(true),
            kprobes_unknown: None,
            debugfs: None,
            lockdown: None,
        };
        st.live = Some(live(
            Check {
                reason: Some("instance ino 9 dev 0:42, guard protects ino 1 dev 0:42".into()),
                ..Check::new(LiveState::NotProtecting)
            },
            SignedOnlyCheck {
                state: SignedOnlyLive::Broken,
                reason: Some("keyring 933: Key has been revoked (os error 128)".into()),
            },
        ));
        let want = "\
bpf-preload: 2 object(s) from nowhere (no list): 1 loaded, 1 already loaded, 0 failed, 0 skipped in 0.0 ms (bpffs /b)
  guard: not protecting this bpffs (instance ino 9 dev 0:42, guard protects ino 1 dev 0:42) (recorded: already-active)
  signed_only: broken (keyring 933: Key has been revoked (os error 128)) (recorded: active keyring=933)
  live: bpffs instance moved: ino 9 dev 0:42 is not the boot's ino 1 dev 0:42 (evidence: guard)
  iter                 replaced       0.0 ms
      replaced: links/dump prog-id 40 -> 41
      links: dump
  counter              moved          0.0 ms
";
        assert_eq!(st.render(), want);
        let v: serde_json::Value = serde_json::from_str(&st.to_json()).unwrap();
        assert_eq!(
            v["live"]["objects"]["iter"],
            serde_json::json!({
                "state": "replaced",
                "replaced": ["links/dump prog-id 40 -> 41"],
                "programs": "guard"
            })
        );
        assert_eq!(
            v["live"]["guard"],
            serde_json::json!({
                "state": "not-protecting",
                "reason": "instance ino 9 dev 0:42, guard protects ino 1 dev 0:42"
            })
        );
        assert_eq!(
            v["live"]["signed_only"],
            serde_json::json!({
                "state": "broken",
                "reason": "keyring 933: Key has been revoked (os error 128)"
            })
        );
        assert_eq!(v["live"]["instance"]["state"], "moved");
        // A guard that let the probe through, and one that did not confirm it.
        st.live = Some(live(
            Check {
                reason: Some("mkdir +guard/probe-7 was not refused".into()),
                ..Check::new(LiveState::Gone)
            },
            SignedOnlyCheck {
                state: SignedOnlyLive::Gone,
                reason: Some("the guard that enforced it is gone".into()),
            },
        ));
        let text = st.render();
        assert!(
            text.contains("\n  guard: gone (mkdir +guard/probe-7 was not refused) (recorded: already-active)\n  signed_only: gone (the guard that enforced it is gone) (recorded: active keyring=933)\n"),
            "{text}"
        );
        st.live = Some(live(
            Check {
                reason: Some("mkdir +guard/probe-7 refused, but the guard did not count it: refused 5 -> 5, last - by pid 0".into()),
                ..Check::new(LiveState::NotVerified)
            },
            SignedOnlyCheck {
                state: SignedOnlyLive::Active,
                reason: None,
            },
        ));
        let text = st.render();
        assert!(
            text.contains("\n  guard: not verified (mkdir +guard/probe-7 refused, but the guard did not count it: refused 5 -> 5, last - by pid 0) (recorded: already-active)\n  signed_only: active keyring=933\n"),
            "{text}"
        );
        // A live guard says how it was found alive.
        st.live = Some(live(
            Check {
                evidence: vec!["mkdir +guard/probe-7 refused, counted by the guard (refused 5 -> 6, last mkdir by pid 7)".into()],
                ..Check::new(LiveState::Active)
            },
            SignedOnlyCheck {
                state: SignedOnlyLive::Active,
                reason: None,
            },
        ));
        let text = st.render();
        assert!(
            text.contains("\n  guard: already-active\n      evidence: mkdir +guard/probe-7 refused, counted by the guard (refused 5 -> 6, last mkdir by pid 7)\n"),
            "{text}"
        );
    }

    #[test]
    fn run_info_says_which_boot_when_and_where() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_577_602), "2026-12-06 17:20:02 UTC");
        let r = RunInfo {
            boot_id: "0123456789abcdef0123456789abcdef".into(),
            started: 1_796_577_602,
            place: Place::System,
        };
        assert_eq!(
            r.line(),
            "run: boot 0123456789abcdef0123456789abcdef, started 2026-12-06 17:20:02 UTC, on the booted system (a manual run, not the boot)"
        );
        let mut st = Status::from_json(&golden_free_record()).unwrap();
        st.run = Some(r);
        assert!(st.render().contains("\n  run: boot 0123456789abcdef0123456789abcdef, started 2026-12-06 17:20:02 UTC, on the booted system"));
    }

    #[test]
    fn kernel_signature_unsigned_says_what_it_means() {
        let mut st = Status::from_json(&golden_free_record()).unwrap();
        let mut o = ObjectStatus::new("counter", false);
        o.result = Outcome::Loaded;
        o.kernel_signature = Some("unsigned".into());
        st.objects = vec![o];
        let text = st.render();
        assert!(
            text.contains("\n      kernel signature: none (not kernel-signed: the kernel checked no signature; the object's ed25519 signature was verified)\n"),
            "{text}"
        );
        assert!(!text.contains("kernel signature: unsigned"), "{text}");
    }

    #[test]
    fn check_finds_required_unmet_and_failed_objects() {
        let mut st = Status::from_json(&golden_free_record()).unwrap();
        assert_eq!(st.problems(), vec![], "nothing asked, nothing wrong");
        let mut opt = ObjectStatus::new("opt", false);
        opt.result = Outcome::Failed;
        let mut req = ObjectStatus::new("req", true);
        req.result = Outcome::Failed;
        st.objects = vec![opt.clone()];
        assert_eq!(
            st.problems(),
            vec![(Problem::Failed, "object opt failed".to_string())]
        );
        assert_eq!(Problem::Failed.exit_code(), 4);
        st.objects = vec![opt, req];
        st.guard = Some(GuardStatus::new(GuardState::Unavailable, true));
        let p = st.problems();
        assert_eq!(
            p.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [
                Problem::RequiredUnmet,
                Problem::RequiredUnmet,
                Problem::GuardNotActive,
                Problem::Failed
            ]
        );
        assert_eq!(p[0].1, "required object req failed");
        assert_eq!(p[1].1, "the required guard is not active");
        assert!(p[2].1.starts_with("guard: unavailable"), "{}", p[2].1);
        assert_eq!(p[0].0.exit_code(), 3);
    }

    fn golden_free_record() -> String {
        "{\"version\":1,\"source\":\"nothing\",\"disabled\":false,\"bpffs\":\"/b\",\"mounted_bpffs\":false,\"error\":null,\"objects\":[],\"duration_ms\":0.0}".into()
    }

    /// Every field of a version-1 record, with the names docs/status.md promises. A renamed or
    /// removed field fails here; a new field means updating the golden file and the doc.
    #[test]
    fn json_matches_the_golden_record() {
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::AlreadyLoaded;
        o.sha256 = Some("8e".repeat(32));
        o.key_id = Some("bfec6534c3009d50".into());
        o.links = vec!["count_exec".into()];
        o.link_ids = [("count_exec".to_string(), 17)].into();
        o.link_prog_ids = [("count_exec".to_string(), 40)].into();
        o.maps = vec!["exec_count".into()];
        o.programs = vec!["xdp_pass".into()];
        o.not_attached = vec!["xdp_pass".into()];
        o.skipped_programs = vec!["never_loaded".into()];
        o.shared_maps = vec!["shared_events".into(), "planted".into()];
        o.shared_maps_reused = vec!["planted".into()];
        o.load_path = Some("libbpf".into());
        o.load_path_reason = Some("map \"shared_events\" is pinned by name".into());
        o.measured = true;
        o.duration_ms = 6.3;
        o.phases = Phases {
            verify_ms: 0.4,
            load_ms: 5.6,
            pin_ms: 0.3,
        };
        let mut bad = ObjectStatus::new("a.b", false);
        bad.error = Some("invalid name".into());
        let st = Status {
            version: STATUS_VERSION,
            source: Source::PreloadList,
            list_files: vec![
                "/etc/bpf-preload/preload.list".into(),
                "/etc/bpf-preload/preload.list.d/50-netpol.list".into(),
            ],
            disabled: false,
            bpffs: "/sys/fs/bpf".into(),
            mounted_bpffs: true,
            bpffs_instance: Some(Instance { ino: 1, dev: 27 }),
            run: Some(RunInfo {
                boot_id: "0123456789abcdef0123456789abcdef".into(),
                started: 1_796_577_602,
                place: Place::Initramfs,
            }),
            error: None,
            objects: vec![o, bad],
            duration_ms: 16.1,
            guard: None,
            measurement: Some(MeasurementStatus {
                pcr: Some(12),
                state: MeasureState::Ok,
                required: false,
                reason: None,
                device: Some("/dev/tpmrm0".into()),
                events: 3,
                log: Some("/run/log/systemd/tpm2-measure.log".into()),
                log_error: None,
            }),
            signed_only: None,
            iterators: Some(IteratorsStatus {
                state: IteratorsState::Active,
                reason: None,
                pins: vec!["maps.debug".into(), "progs.debug".into(), "links.debug".into()],
                link_ids: [("maps.debug".to_string(), 3)].into(),
                prog_ids: [("maps.debug".to_string(), 21)].into(),
                named: 2,
                cur_entries: true,
                load_path: Some("libbpf".into()),
                load_path_reason: Some("load loader: Operation not permitted (os error 1)".into()),
                measured: true,
                duration_ms: 1.5,
            }),
            notes: vec![],
            warnings: vec![
                "trusted keys: skipped a key file: read /etc/bpf-preload/keys/x.pub: is a special file (refused)".into(),
            ],
            live: None,
        };
        let golden = include_str!("status-v1.golden.json");
        assert_eq!(st.to_json(), golden);
        assert_eq!(Status::from_json(golden).unwrap(), st);
        // A record from before link ids and warnings reads, with none of them.
        let old = golden
            .replace("\"link_ids\"", "\"old_link_ids\"")
            .replace("\"link_prog_ids\"", "\"old_link_prog_ids\"")
            .replace("\"bpffs_instance\"", "\"old_bpffs_instance\"")
            .replace("\"warnings\"", "\"old_warnings\"")
            .replace("\"run\"", "\"old_run\"");
        let old = Status::from_json(&old).unwrap();
        assert!(old.objects[0].link_ids.is_empty() && old.warnings.is_empty());
        assert!(old.objects[0].link_prog_ids.is_empty());
        assert_eq!(old.bpffs_instance, None);
        assert_eq!(old.run, None);
        // An instance's dev must be major:minor.
        let bad = golden.replace("\"0:27\"", "\"0:x\"");
        let e = Status::from_json(&bad).unwrap_err().to_string();
        assert!(e.starts_with("dev \"0:x\" is not major:minor"), "{e}");
    }

    #[test]
    fn the_iterators_line_says_how_they_loaded_and_why_not_light() {
        let mut i = IteratorsStatus::new(IteratorsState::Active);
        i.pins = vec!["maps.debug".into()];
        i.named = 2;
        i.duration_ms = 6.5;
        assert_eq!(i.line(), "iterators: active pins=maps.debug named=2 ms=6.5");
        i.load_path = Some("light".into());
        assert_eq!(
            i.line(),
            "iterators: active pins=maps.debug named=2 path=light ms=6.5"
        );
        i.load_path = Some("libbpf".into());
        i.load_path_reason = Some("load loader: \x1b[31m".into());
        assert_eq!(
            i.line(),
            "iterators: active pins=maps.debug named=2 path=libbpf (light skeleton: load loader: \x1b[31m) ms=6.5"
        );
        // What reaches a terminal: the rendered status escapes the line.
        let mut st = Status::from_json(&golden_free_record()).unwrap();
        st.iterators = Some(i);
        let text = st.render();
        assert!(
            text.contains("(light skeleton: load loader: \\x1b[31m)"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn log_line_is_one_short_line() {
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::Loaded;
        o.links = vec!["a".into()];
        o.sha256 = Some("0123456789abcdef0123".into());
        o.key_id = Some("00112233aabbccdd".into());
        assert_eq!(o.log_line(), "object counter: loaded required=yes links=1 maps=0 progs=0 key=00112233aabbccdd sha256=0123456789abcdef ms=0.0");
        o.load_path = Some("fast".into());
        assert_eq!(o.log_line(), "object counter: loaded required=yes links=1 maps=0 progs=0 path=fast key=00112233aabbccdd sha256=0123456789abcdef ms=0.0");
        o.load_path = None;
        o.result = Outcome::Failed;
        o.error = Some("verify: no signature trailer (unsigned object)".into());
        assert_eq!(o.log_line(), "object counter: failed: verify: no signature trailer (unsigned object) required=yes key=00112233aabbccdd sha256=0123456789abcdef ms=0.0");
    }

    #[test]
    fn log_line_escapes_what_it_did_not_write() {
        type Case<'a> = (&'a str, &'a str, &'a str);
        let cases: &[Case] = &[
            (
                "a\nb",
                "name \"a\nb\" has '\n'",
                "object a\\nb: failed: name \"a\\nb\" has '\\n' ms=0.0",
            ),
            (
                "\x1b[2J",
                "e\x1b[2J",
                "object \\x1b[2J: failed: e\\x1b[2J ms=0.0",
            ),
            ("cr\r", "x\ry", "object cr\\r: failed: x\\ry ms=0.0"),
            ("del\x7f", "x", "object del\\x7f: failed: x ms=0.0"),
            (
                "\u{202e}rev",
                "\u{202e}",
                "object \\u{202e}rev: failed: \\u{202e} ms=0.0",
            ),
        ];
        for &(name, error, want) in cases {
            let mut o = ObjectStatus::new(name, false);
            o.error = Some(error.into());
            let line = o.log_line();
            assert_eq!(line, want, "{name:?}");
            assert!(crate::escape::is_clean_line(&line), "{line:?}");
        }
        let mut o = ObjectStatus::new("x", false);
        o.result = Outcome::Loaded;
        o.not_attached = vec!["p\nq".into()];
        o.sha256 = Some("é".repeat(40));
        o.key_id = Some("k\x1b".into());
        assert_eq!(
            o.log_line(),
            "object x: loaded links=0 maps=0 progs=0 not_attached=p\\nq key=k\\x1b sha256=éééééééééééééééé ms=0.0"
        );
    }
}
