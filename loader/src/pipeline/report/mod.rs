//! Reporting: one kmsg line per object, and writing the status record (the record itself,
//! `bpf_preload_format::status`, is pure).
#![forbid(unsafe_code)]

use std::path::Path;

use crate::sys::{Durability, Prio, Sys};
use bpf_preload_format::escape::escape;
use bpf_preload_format::status::{ObjectStatus, Outcome, Status};

/// The kernel log priority of an object's line.
pub fn prio(o: &ObjectStatus) -> Prio {
    match o.result {
        Outcome::Failed if o.required => Prio::Err,
        Outcome::Failed => Prio::Warning,
        Outcome::Skipped => Prio::Notice,
        Outcome::Loaded | Outcome::AlreadyLoaded => Prio::Info,
    }
}

/// Write the status record (atomically, never following a planted link); a failure is logged,
/// it does not change what was loaded.
pub fn write_status(sys: &dyn Sys, path: &Path, status: &Status) {
    let written = path
        .parent()
        .map_or(Ok(()), |dir| sys.create_dir_all(dir))
        .and_then(|()| {
            let json = status.to_json();
            sys.write_replace(path, json.as_bytes(), 0o644, Durability::Unsynced)
        });
    if let Err(e) = written {
        sys.log(
            Prio::Warning,
            &escape(&format!("write status {}: {e}", path.display())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_directory_that_cannot_be_made_is_logged_and_nothing_written() {
        let sys = crate::fakes::FakeSys::default();
        let dir = Path::new("/nonexistent-run/bpf-preload");
        sys.fail_on.borrow_mut().insert(dir.to_owned());
        let st = Status::from_json(include_str!("../../../../format/src/status-v1.golden.json"));
        write_status(&sys, &dir.join("status.json"), &st.unwrap());
        assert_eq!(sys.ops.borrow().len(), 0);
        assert_eq!(
            *sys.logs.borrow(),
            vec![(
                Prio::Warning,
                "write status /nonexistent-run/bpf-preload/status.json: No space left on device (os error 28)".to_owned()
            )]
        );
    }

    #[test]
    fn an_objects_priority_follows_its_outcome() {
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::Loaded;
        assert_eq!(prio(&o), Prio::Info);
        o.result = Outcome::AlreadyLoaded;
        assert_eq!(prio(&o), Prio::Info);
        o.result = Outcome::Skipped;
        assert_eq!(prio(&o), Prio::Notice);
        o.result = Outcome::Failed;
        assert_eq!(prio(&o), Prio::Err);
        o.required = false;
        assert_eq!(prio(&o), Prio::Warning);
    }
}
