//! Reporting: one kmsg line per object, and writing the status record (the record itself,
//! `bpf_preload_format::status`, is pure).
#![forbid(unsafe_code)]

use std::path::Path;

use crate::sys::{Durability, Prio, Sys};
use bpf_preload_format::escape::{escape, prefix};
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

/// One line per object, `key=value` after a short phrase: one kmsg record, so every string in
/// it (the name as listed, error texts quoting names and paths, program names) is escaped: no
/// newline, control character or escape sequence of an attacker's reaches the log.
pub fn log_line(o: &ObjectStatus) -> String {
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
    fn log_line_is_one_short_line() {
        let mut o = ObjectStatus::new("counter", true);
        o.result = Outcome::Loaded;
        o.links = vec!["a".into()];
        o.sha256 = Some("0123456789abcdef0123".into());
        o.key_id = Some("00112233aabbccdd".into());
        assert_eq!(log_line(&o), "object counter: loaded required=yes links=1 maps=0 progs=0 key=00112233aabbccdd sha256=0123456789abcdef ms=0.0");
        assert_eq!(prio(&o), Prio::Info);
        o.load_path = Some("fast".into());
        assert_eq!(log_line(&o), "object counter: loaded required=yes links=1 maps=0 progs=0 path=fast key=00112233aabbccdd sha256=0123456789abcdef ms=0.0");
        o.load_path = None;
        o.result = Outcome::Failed;
        o.error = Some("verify: no signature trailer (unsigned object)".into());
        assert_eq!(log_line(&o), "object counter: failed: verify: no signature trailer (unsigned object) required=yes key=00112233aabbccdd sha256=0123456789abcdef ms=0.0");
        assert_eq!(prio(&o), Prio::Err);
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
            let line = log_line(&o);
            assert_eq!(line, want, "{name:?}");
            assert!(bpf_preload_format::escape::is_clean_line(&line), "{line:?}");
        }
        let mut o = ObjectStatus::new("x", false);
        o.result = Outcome::Loaded;
        o.not_attached = vec!["p\nq".into()];
        o.sha256 = Some("é".repeat(40));
        o.key_id = Some("k\x1b".into());
        assert_eq!(
            log_line(&o),
            "object x: loaded links=0 maps=0 progs=0 not_attached=p\\nq key=k\\x1b sha256=éééééééééééééééé ms=0.0"
        );
    }
}
