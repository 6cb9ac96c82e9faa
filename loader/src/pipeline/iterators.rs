//! The built-in iterators' step, after the objects and before the guard (which then protects
//! their files): `maps.debug`, `progs.debug` and `links.debug` at the root of the instance,
//! what the kernel's own `bpf_preload` pins where it is built (docs/status.md). The pipeline
//! knows the small [`IteratorLoader`] trait; `kernel::iterators` implements it (the libbpf-cargo
//! skeleton of `bpf/builtin/iterators.bpf.c`); what to do from what is there, and the name
//! table, are decided in `bpf_preload_format::iterators` (pure).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::guard::{BpffsReady, ProbeFn};
use super::measure::{Measured, Measurer};
use super::object::Probe;
use crate::sys::{Prio, Sys};
use bpf_preload_format::escape::escape;
use bpf_preload_format::iterators::{
    decide, name_entries, Decision, NameEntry, Present, LINKS_PIN, MAPS_PIN, PINS, PROGS_PIN,
};
use bpf_preload_format::status::{IteratorsState, IteratorsStatus, ObjectStatus, Outcome};

/// What pinned iterators report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IteratorsReport {
    /// The kernel's id of each file's link, and of the program behind it, by file name.
    pub link_ids: BTreeMap<String, u32>,
    pub prog_ids: BTreeMap<String, u32>,
    /// Entries written to the name table.
    pub named: usize,
    /// `maps.debug` has `cur_entries` (the kernel has `bpf_map_sum_elem_count`).
    pub cur_entries: bool,
    /// How they loaded: `light` or `libbpf`, and why not `light`.
    pub load_path: String,
    pub load_path_reason: Option<String>,
}

pub trait IteratorLoader {
    /// SHA-256 (hex) of the iterators' BPF object as built into this binary: what is measured.
    fn sha256(&self) -> String;
    /// Load the iterators, fill their name table with `names` and with the programs pinned in
    /// each `(object, dir)`'s `progs/`, freeze it, attach, and pin the three files at the root
    /// of `bpffs`; all three or none.
    fn activate(
        &self,
        bpffs: &Path,
        names: &[NameEntry],
        dirs: &[(String, PathBuf)],
    ) -> Result<IteratorsReport, Arc<dyn std::error::Error + Send + Sync>>;
}

/// The iterators' step. Never fails the run: whatever happened is in the returned status.
pub fn step(
    bpffs: &Path,
    sys: &dyn Sys,
    loader: &dyn IteratorLoader,
    probe: ProbeFn<'_>,
    ready: BpffsReady<'_>,
    objects: &[ObjectStatus],
    measurer: &Measurer,
) -> IteratorsStatus {
    let t = Instant::now();
    let mut st = IteratorsStatus::new(IteratorsState::Failed);
    match ready {
        BpffsReady::Ready => {}
        BpffsReady::Failed(e) => {
            st.reason = Some(e.to_string());
            return st;
        }
        BpffsReady::NotPrepared => {
            st.reason = Some("no bpffs prepared".into());
            return st;
        }
    }
    let present = Present {
        maps: sys.exists(&bpffs.join(MAPS_PIN)),
        progs: sys.exists(&bpffs.join(PROGS_PIN)),
        links: sys.exists(&bpffs.join(LINKS_PIN)),
    };
    match decide(present) {
        Decision::Pin => {}
        Decision::AlreadyThere => {
            st.state = IteratorsState::AlreadyActive;
            st.pins = PINS.map(String::from).to_vec();
            for pin in PINS {
                if let Ok(Probe::Link { id, prog, .. }) = probe(&bpffs.join(pin)) {
                    st.link_ids.insert(pin.to_owned(), id);
                    st.prog_ids.insert(pin.to_owned(), prog);
                }
            }
            return st;
        }
        Decision::KernelOwn => {
            st.state = IteratorsState::Skipped;
            st.reason = Some(format!(
                "the kernel's own {MAPS_PIN} and {PROGS_PIN} are in this bpffs (CONFIG_BPF_PRELOAD)"
            ));
            st.duration_ms = super::ms(t);
            return st;
        }
        Decision::Clash(there) => {
            st.reason = Some(format!(
                "{} already in {} without the others: not ours, nothing pinned",
                there.join(", "),
                bpffs.display()
            ));
            st.duration_ms = super::ms(t);
            return st;
        }
    }
    // Measured like an object: before any byte of it reaches the kernel.
    match measurer.builtin("iterators", &loader.sha256()) {
        Ok(m) => st.measured = m == Measured::Extended,
        Err(e) => {
            st.reason = Some(format!("not loaded: {e}"));
            st.duration_ms = super::ms(t);
            return st;
        }
    }
    let names = name_entries(objects);
    let dirs: Vec<(String, PathBuf)> = objects
        .iter()
        .filter(|o| matches!(o.result, Outcome::Loaded | Outcome::AlreadyLoaded))
        .map(|o| (o.name.clone(), bpffs.join(&o.name)))
        .collect();
    match loader.activate(bpffs, &names, &dirs) {
        Ok(r) => {
            st.state = IteratorsState::Active;
            st.pins = PINS.map(String::from).to_vec();
            st.link_ids = r.link_ids;
            st.prog_ids = r.prog_ids;
            st.named = r.named;
            st.cur_entries = r.cur_entries;
            st.load_path = Some(r.load_path);
            st.load_path_reason = r.load_path_reason;
        }
        Err(e) => st.reason = Some(e.to_string()),
    }
    st.duration_ms = super::ms(t);
    st
}

/// Priority of the step's kmsg line.
pub fn prio(st: &IteratorsStatus) -> Prio {
    match st.state {
        IteratorsState::Active | IteratorsState::AlreadyActive => Prio::Info,
        IteratorsState::Skipped => Prio::Notice,
        IteratorsState::Failed => Prio::Warning,
    }
}

/// The step's kmsg line.
pub fn log(sys: &dyn Sys, st: &IteratorsStatus) {
    sys.log(prio(st), &escape(&st.line()));
}

/// The files the guard protects once they are in place: this run's, or an earlier run's.
pub fn protected(bpffs: &Path, st: Option<&IteratorsStatus>) -> Vec<PathBuf> {
    match st.map(|s| s.state) {
        Some(IteratorsState::Active | IteratorsState::AlreadyActive) => {
            PINS.iter().map(|p| bpffs.join(p)).collect()
        }
        _ => Vec::new(),
    }
}
