//! The one escaper for text we did not write (object names from the cmdline, ELF symbol and
//! section names, file paths, status-file contents, error texts quoting them) on its way to a
//! terminal or a log line (pure).
//!
//! Printable text, UTF-8 included, is kept as it is. Everything that could end a record, move
//! the cursor, change colours or reorder what a reader sees is written as an escape:
//! `\\` for a backslash; `\n`, `\r`, `\t`; `\xNN` for the other C0 controls and DEL; `\u{NN}` for
//! C1 controls and the invisible format characters (bidi overrides and isolates such as U+202E,
//! zero-width characters, U+2028/U+2029 line and paragraph separators, BOM, tags); `\xNN` for
//! each byte of invalid UTF-8. The result is one line, safe to print and to log.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Characters that render as nothing or reorder text (Unicode general categories Cf, Zl, Zp).
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}'
        | '\u{600}'..='\u{605}'
        | '\u{61c}'
        | '\u{6dd}'
        | '\u{70f}'
        | '\u{890}'..='\u{891}'
        | '\u{8e2}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{110bd}'
        | '\u{110cd}'
        | '\u{13430}'..='\u{1343f}'
        | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0001}'
        | '\u{e0020}'..='\u{e007f}')
}

fn needs_escape(c: char) -> bool {
    c == '\\' || c.is_control() || invisible(c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_ascii_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// `s` with everything but printable text escaped; borrowed when nothing needed escaping.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Bytes that may not be UTF-8: valid runs as [`escape`], each invalid byte as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A path, byte for byte (not lossily), escaped.
pub fn escape_path(path: &Path) -> String {
    escape_bytes(path.as_os_str().as_bytes())
}

/// The escaped form of at most the first `max` characters of `s`, with `…` when cut: for
/// quoting a name that may be long garbage.
pub fn escape_short(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", escape(&s[..cut])),
        None => escape(s).into_owned(),
    }
}

/// The first `n` characters of `s` (never cutting one in two), e.g. a hash shortened for
/// people: a status file may hold anything in that field.
pub fn prefix(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(cut, _)| &s[..cut])
}

/// `format!("{}", Escaped(s))` is `escape(s)`.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

/// JSON text (as serde_json writes it) with the characters serde leaves raw inside strings —
/// DEL, C1 controls, invisible format characters — written as `\uXXXX` escapes: the same JSON
/// value, safe to print. (serde already escapes `"`, `\\` and C0 controls; outside strings JSON
/// holds none of these characters.)
pub fn json_safe(json: String) -> String {
    // ASCII text (every status record without a hostile name) can hold only DEL of these: one
    // byte scan instead of the per-character tables (the record is written on every boot).
    if json.is_ascii() && !json.as_bytes().contains(&0x7f) {
        return json;
    }
    if !json.chars().any(needs_escape_in_json) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape_in_json(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape_in_json(c: char) -> bool {
    c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) || invisible(c)
}

/// Is this text safe to print as one line: no control character, no invisible character?
pub fn is_clean_line(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || invisible(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_hurt_and_keeps_text() {
        let cases: &[(&str, &str)] = &[
            ("counter", "counter"),
            ("a\nb", "a\\nb"),
            ("\x1b[2J", "\\x1b[2J"),
            ("cr\rlf", "cr\\rlf"),
            ("tab\there", "tab\\there"),
            ("del\x7f", "del\\x7f"),
            ("nul\0", "nul\\x00"),
            ("bell\x07", "bell\\x07"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("\u{202e}gpj.exe", "\\u{202e}gpj.exe"),
            ("zw\u{200b}j", "zw\\u{200b}j"),
            ("ls\u{2028}", "ls\\u{2028}"),
            ("bom\u{feff}", "bom\\u{feff}"),
            ("back\\slash", "back\\\\slash"),
            ("été ✓ 名前", "été ✓ 名前"),
            ("", ""),
        ];
        for &(input, want) in cases {
            assert_eq!(escape(input), want, "{input:?}");
            assert!(is_clean_line(&escape(input)), "{input:?}");
        }
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn bytes_and_paths_keep_every_byte() {
        assert_eq!(escape_bytes(b"ok\xff\xfe\n\xc3\xa9"), "ok\\xff\\xfe\\né");
        assert_eq!(escape_bytes(b"\xc3"), "\\xc3");
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\x1b]0;x\x07\x80.o"));
        assert_eq!(escape_path(p), "/tmp/a\\x1b]0;x\\x07\\x80.o");
    }

    #[test]
    fn short_form_cuts_on_characters() {
        assert_eq!(escape_short("abcdef", 3), "abc…");
        assert_eq!(escape_short("abc", 3), "abc");
        assert_eq!(escape_short("ééé\n", 2), "éé…");
        assert_eq!(escape_short("a\nb", 5), "a\\nb");
        assert_eq!(Escaped("x\ny").to_string(), "x\\ny");
        assert_eq!(prefix("0123456789abcdef0123", 16), "0123456789abcdef");
        assert_eq!(prefix("ééé", 2), "éé");
        assert_eq!(prefix("ab", 16), "ab");
    }

    #[test]
    fn json_stays_the_same_value_and_gets_printable() {
        let value = serde_json::json!({ "name": "a\u{7f}\u{9b}\u{202e}b\u{e0041}é\n\u{1b}" });
        let json = json_safe(serde_json::to_string(&value).unwrap());
        assert_eq!(
            json,
            r#"{"name":"a\u007f\u009b\u202eb\udb40\udc41é\n\u001b"}"#
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            value
        );
        assert!(is_clean_line(&json));
        // ASCII only: DEL is the one character to escape; without it the text is unchanged.
        assert_eq!(json_safe("\"a\u{7f}b\"".into()), r#""a\u007fb""#);
        assert_eq!(json_safe("\"a~b\"".into()), "\"a~b\"");
    }

    #[test]
    fn every_char_escapes_to_a_clean_line() {
        // Exhaustive over the Basic Multilingual Plane and the planes with format characters.
        for c in (0u32..0x3_0000)
            .chain(0xe_0000..0xe_0100)
            .filter_map(char::from_u32)
        {
            let s = c.to_string();
            let e = escape(&s);
            assert!(is_clean_line(&e), "U+{:04X} -> {e:?}", c as u32);
            assert!(
                !e.contains('\n') && !e.contains('\x1b'),
                "U+{:04X}",
                c as u32
            );
        }
    }
}
