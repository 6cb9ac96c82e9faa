//! Measured preload (pure): the events a boot extends into a TPM PCR, their replay, the record
//! appended to systemd's measurement log, a systemd-pcrlock component, and the two TPM 2.0
//! commands the loader sends (`TPM2_PCR_Extend`, `TPM2_PCR_Read`) with their responses.
//!
//! Events, in load order (one per object whose signature verified, measured before any byte of
//! it reaches the kernel), then one closing event:
//!
//! ```text
//! bpf-preload object=counter sha256=<64 hex: the signed payload> key=<16 hex> path=fast
//! bpf-preload builtin=iterators sha256=<64 hex: the BPF object built into the binary>
//! bpf-preload end listed=2 measured=2
//! ```
//!
//! The `builtin` event is there when the built-in iterators are asked for and loaded by the run
//! (after the objects, before the closing event).
//!
//! `path` is the load path the signed object offers: `fast` when it was signed with a fast path
//! (format version 2), `libbpf` otherwise. Each event is extended into the SHA-256 bank as
//! `SHA-256(event text)`, like systemd's own string measurements; a PCR that starts at zero
//! ends at [`replay`] of those digests.
#![forbid(unsafe_code)]

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::verify::hex;

/// systemd's userspace measurement log (JSON-SEQ), which systemd-pcrlock reads.
pub const LOG_PATH: &str = "/run/log/systemd/tpm2-measure.log";
/// The kernel command line option: `rd.bpf_preload.measure=<PCR>[,required]` or `off`.
pub const MEASURE_OPTION: &str = "rd.bpf_preload.measure";
/// PCRs 0-23: what a PC TPM 2.0 has.
pub const MAX_PCR: u32 = 23;

/// What the plan says about measuring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasurePlan {
    pub pcr: u32,
    /// A failed or impossible extend stops the boot, and the object it was for is not loaded.
    pub required: bool,
}

/// The event of one verified object.
pub fn object_event(name: &str, sha256_hex: &str, key_id: &str, fast: bool) -> String {
    let path = if fast { "fast" } else { "libbpf" };
    format!("bpf-preload object={name} sha256={sha256_hex} key={key_id} path={path}")
}

/// The event of a built-in BPF object the binary carries and loads (`iterators`): the SHA-256
/// of its bytes as built into the binary. Not an object event: the closing event's `measured`
/// does not count it.
pub fn builtin_event(name: &str, sha256_hex: &str) -> String {
    format!("bpf-preload builtin={name} sha256={sha256_hex}")
}

/// The closing event: how many entries the run went through, how many were measured.
pub fn closing_event(listed: usize, measured: usize) -> String {
    format!("bpf-preload end listed={listed} measured={measured}")
}

/// What is extended for an event: SHA-256 of its text.
pub fn event_digest(event: &str) -> [u8; 32] {
    Sha256::digest(event.as_bytes()).into()
}

/// One PCR extend: `SHA-256(pcr || digest)`.
pub fn extend(pcr: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(pcr);
    h.update(digest);
    h.finalize().into()
}

/// A PCR reset to zero, extended with `digests` in order.
pub fn replay<'a>(digests: impl IntoIterator<Item = &'a [u8; 32]>) -> [u8; 32] {
    digests
        .into_iter()
        .fold([0u8; 32], |pcr, d| extend(&pcr, d))
}

#[derive(Serialize)]
struct DigestJson<'a> {
    #[serde(rename = "hashAlg")]
    hash_alg: &'a str,
    digest: String,
}

#[derive(Serialize)]
struct ContentJson<'a> {
    string: &'a str,
    #[serde(rename = "bootId")]
    boot_id: &'a str,
    timestamp: u64,
}

#[derive(Serialize)]
struct RecordJson<'a> {
    pcr: u32,
    digests: [DigestJson<'a>; 1],
    content_type: &'a str,
    content: ContentJson<'a>,
}

/// One record of systemd's measurement log, as systemd writes its own (RFC 7464 JSON-SEQ:
/// 0x1E, the JSON object, a newline): `pcr`, `digests` (`hashAlg`, `digest` in lowercase hex),
/// `content_type` `"systemd"`, `content` with the event `string`, the `bootId` (32 hex digits)
/// and a CLOCK_BOOTTIME `timestamp` in microseconds. No `eventType`: systemd's types name its
/// own events, and its readers skip an absent one.
pub fn log_record(pcr: u32, event: &str, boot_id: &str, timestamp_us: u64) -> Vec<u8> {
    let rec = RecordJson {
        pcr,
        digests: [DigestJson {
            hash_alg: "sha256",
            digest: hex(&event_digest(event)),
        }],
        content_type: "systemd",
        content: ContentJson {
            string: event,
            boot_id,
            timestamp: timestamp_us,
        },
    };
    let mut out = vec![0x1e];
    // Serialising plain strings and numbers cannot fail.
    out.extend(serde_json::to_vec(&rec).unwrap_or_default());
    out.push(b'\n');
    out
}

/// A boot id as systemd writes it: `/proc/sys/kernel/random/boot_id` without dashes, or `None`
/// when the text is not one.
pub fn boot_id(text: &str) -> Option<String> {
    let id: String = text.trim().chars().filter(|c| *c != '-').collect();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

#[derive(Serialize)]
struct PcrlockRecord<'a> {
    pcr: u32,
    digests: [DigestJson<'a>; 1],
}

#[derive(Serialize)]
struct Pcrlock<'a> {
    records: Vec<PcrlockRecord<'a>>,
}

/// A systemd-pcrlock component (`*.pcrlock`): the records the events extend, in order.
pub fn pcrlock_component(pcr: u32, events: &[String]) -> String {
    let c = Pcrlock {
        records: events
            .iter()
            .map(|e| PcrlockRecord {
                pcr,
                digests: [DigestJson {
                    hash_alg: "sha256",
                    digest: hex(&event_digest(e)),
                }],
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&c).unwrap_or_default();
    s.push('\n');
    s
}

/// One record read back from a measurement log (for tests and replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub pcr: u32,
    pub sha256: Option<[u8; 32]>,
    pub string: Option<String>,
}

/// Why a measurement log did not parse: which record (counting from 0, the text before the first
/// record separator included), and what was wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum LogParseError {
    #[error("record {record}: {source}")]
    Json {
        record: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("record {record}: no pcr")]
    NoPcr { record: usize },
}

/// Parse a JSON-SEQ measurement log; a record that is not JSON or lacks `pcr` is an error.
pub fn parse_log(bytes: &[u8]) -> Result<Vec<LogRecord>, LogParseError> {
    let mut out = Vec::new();
    for (i, chunk) in bytes.split(|b| *b == 0x1e).enumerate() {
        if chunk.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(chunk)
            .map_err(|source| LogParseError::Json { record: i, source })?;
        let pcr = v["pcr"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(LogParseError::NoPcr { record: i })?;
        let sha256 = v["digests"].as_array().and_then(|a| {
            a.iter()
                .find(|d| d["hashAlg"] == "sha256")
                .and_then(|d| d["digest"].as_str())
                .and_then(unhex32)
        });
        let string = v["content"]["string"].as_str().map(str::to_owned);
        out.push(LogRecord {
            pcr,
            sha256,
            string,
        });
    }
    Ok(out)
}

/// 64 hex digits → 32 bytes.
pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

// TPM 2.0 (TCG TPM 2.0 Library, Part 2 structures and Part 3 commands).
const TPM_ST_NO_SESSIONS: u16 = 0x8001;
const TPM_ST_SESSIONS: u16 = 0x8002;
const TPM_CC_PCR_EXTEND: u32 = 0x0000_0182;
const TPM_CC_PCR_READ: u32 = 0x0000_017e;
const TPM_RS_PW: u32 = 0x4000_0009;
const TPM_ALG_SHA256: u16 = 0x000b;
/// A TPM 1.2 answers with this tag (TPM_TAG_RSP_COMMAND).
const TPM12_TAG_RSP: u16 = 0x00c4;
const HEADER: usize = 10;

/// `TPM2_PCR_Extend` of `pcr` with one SHA-256 digest, authorised by an empty password session.
pub fn pcr_extend_command(pcr: u32, digest: &[u8; 32]) -> Vec<u8> {
    let mut c = Vec::with_capacity(65);
    c.extend(TPM_ST_SESSIONS.to_be_bytes());
    c.extend(0u32.to_be_bytes()); // size, below
    c.extend(TPM_CC_PCR_EXTEND.to_be_bytes());
    c.extend(pcr.to_be_bytes()); // PCR handles are 0x00000000 + index
    c.extend(9u32.to_be_bytes()); // authorizationSize: one password session
    c.extend(TPM_RS_PW.to_be_bytes());
    c.extend(0u16.to_be_bytes()); // nonceCaller: empty
    c.push(0); // sessionAttributes
    c.extend(0u16.to_be_bytes()); // hmac (the password): empty
    c.extend(1u32.to_be_bytes()); // TPML_DIGEST_VALUES.count
    c.extend(TPM_ALG_SHA256.to_be_bytes());
    c.extend(digest);
    let len = c.len() as u32;
    c[2..6].copy_from_slice(&len.to_be_bytes());
    c
}

/// `TPM2_PCR_Read` of one PCR of the SHA-256 bank.
pub fn pcr_read_command(pcr: u32) -> Vec<u8> {
    let mut select = [0u8; 3];
    if let Some(b) = select.get_mut((pcr / 8) as usize) {
        *b = 1 << (pcr % 8);
    }
    let mut c = Vec::with_capacity(20);
    c.extend(TPM_ST_NO_SESSIONS.to_be_bytes());
    c.extend(20u32.to_be_bytes());
    c.extend(TPM_CC_PCR_READ.to_be_bytes());
    c.extend(1u32.to_be_bytes()); // TPML_PCR_SELECTION.count
    c.extend(TPM_ALG_SHA256.to_be_bytes());
    c.push(3); // sizeofSelect
    c.extend(select);
    c
}

/// A TPM response code other than success, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseCode(pub u32);

impl ResponseCode {
    /// Worth asking again, a bounded number of times: TPM_RC_RETRY, TPM_RC_YIELDED,
    /// TPM_RC_TESTING (self test running).
    pub fn is_transient(self) -> bool {
        matches!(self.0, 0x922 | 0x908 | 0x90a)
    }

    fn words(self) -> &'static str {
        match self.0 {
            0x101 => "TPM_RC_FAILURE: the TPM is in failure mode",
            0x100 => "TPM_RC_INITIALIZE: the TPM was not started up",
            0x922 => "TPM_RC_RETRY: the TPM is busy",
            0x908 => "TPM_RC_YIELDED: the TPM yielded",
            0x90a => "TPM_RC_TESTING: the TPM is running its self test",
            0x907 => "TPM_RC_LOCALITY: this PCR cannot be extended from this locality",
            0x909 => "TPM_RC_CANCELED",
            0x921 => "TPM_RC_LOCKOUT",
            0x143 => "TPM_RC_COMMAND_CODE: command not supported",
            0x98e | 0x08e => "TPM_RC_AUTH_FAIL: the PCR's authorization failed",
            0x8b => "TPM_RC_HANDLE: no such PCR",
            0x84 | 0x2c4 => "TPM_RC_VALUE: no such PCR",
            0x1c4 | 0x2c3 | 0x1c3 => "TPM_RC_HASH: the SHA-256 bank is not active",
            _ => "",
        }
    }
}

impl std::fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.words() {
            "" => write!(f, "TPM response code {:#x}", self.0),
            w => write!(f, "{w} ({:#x})", self.0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("{0}")]
    Code(ResponseCode),
    #[error("a TPM 1.2 answered: TPM 2.0 needed")]
    Tpm12,
    #[error("malformed TPM response: {0}")]
    Malformed(&'static str),
}

/// The header of a response: its parameters (after the header) on success, else why not.
pub fn check_response(resp: &[u8]) -> Result<&[u8], ResponseError> {
    if resp.len() < HEADER {
        return Err(ResponseError::Malformed("shorter than a header"));
    }
    let tag = u16::from_be_bytes([resp[0], resp[1]]);
    let size = u32::from_be_bytes([resp[2], resp[3], resp[4], resp[5]]) as usize;
    let rc = u32::from_be_bytes([resp[6], resp[7], resp[8], resp[9]]);
    if tag == TPM12_TAG_RSP {
        return Err(ResponseError::Tpm12);
    }
    if tag != TPM_ST_NO_SESSIONS && tag != TPM_ST_SESSIONS {
        return Err(ResponseError::Malformed("unknown tag"));
    }
    if size != resp.len() {
        return Err(ResponseError::Malformed(
            "size field does not match the length",
        ));
    }
    if rc != 0 {
        return Err(ResponseError::Code(ResponseCode(rc)));
    }
    Ok(&resp[HEADER..])
}

/// The SHA-256 PCR value in a `TPM2_PCR_Read` response.
pub fn parse_pcr_read(resp: &[u8]) -> Result<[u8; 32], ResponseError> {
    let p = check_response(resp)?;
    let short = ResponseError::Malformed("truncated PCR_Read response");
    // pcrUpdateCounter, TPML_PCR_SELECTION (count, then hash, sizeofSelect, select each)
    let mut at = 4;
    let count = u32::from_be_bytes(
        p.get(at..at + 4)
            .ok_or(short.clone())?
            .try_into()
            .unwrap_or([0; 4]),
    );
    at += 4;
    for _ in 0..count.min(16) {
        let size = *p.get(at + 2).ok_or(short.clone())? as usize;
        at += 3 + size;
    }
    let digests = u32::from_be_bytes(
        p.get(at..at + 4)
            .ok_or(short.clone())?
            .try_into()
            .unwrap_or([0; 4]),
    );
    if digests != 1 {
        return Err(ResponseError::Malformed("not one digest"));
    }
    at += 4;
    let len = u16::from_be_bytes(
        p.get(at..at + 2)
            .ok_or(short.clone())?
            .try_into()
            .unwrap_or([0; 2]),
    );
    at += 2;
    if len != 32 {
        return Err(ResponseError::Malformed("digest is not 32 bytes"));
    }
    let d = p.get(at..at + 32).ok_or(short)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(d);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently (Python hashlib / struct), see vectors/README.md.
    const COUNTER_SHA: &str = "8ec9c8f9478bf9c2a1f1e5ad45ab4f5f4b4d7f8f4a7c1d3bbd5a0e6bd8b5e0a1";

    #[test]
    fn events_are_fixed_text() {
        assert_eq!(
            object_event("counter", COUNTER_SHA, "bfec6534c3009d50", true),
            format!(
                "bpf-preload object=counter sha256={COUNTER_SHA} key=bfec6534c3009d50 path=fast"
            )
        );
        assert_eq!(
            object_event("a", COUNTER_SHA, "bfec6534c3009d50", false),
            format!("bpf-preload object=a sha256={COUNTER_SHA} key=bfec6534c3009d50 path=libbpf")
        );
        assert_eq!(closing_event(3, 2), "bpf-preload end listed=3 measured=2");
    }

    #[test]
    fn known_answer_digests_and_replay() {
        let close = closing_event(0, 0);
        assert_eq!(
            hex(&event_digest(&close)),
            "273633fd7107c655d60a283322146397818e59d165f6ac874c3f499e664904fa"
        );
        assert_eq!(
            hex(&replay([&event_digest(&close)])),
            "c4f5176db6ca3e85cf239d94aafe6a56318bd4ce18d054993f9e6d872ede548f"
        );
        let ev = object_event("counter", COUNTER_SHA, "bfec6534c3009d50", true);
        let c1 = closing_event(1, 1);
        assert_eq!(
            hex(&replay([&event_digest(&ev), &event_digest(&c1)])),
            "a1f6c0cbaa21cc5fda55fa50c4945c83d36ea56ed3d79944fced78cd45b8d30b"
        );
        assert_eq!(replay([]), [0u8; 32]);
    }

    #[test]
    fn log_record_is_systemds_json_seq() {
        let rec = log_record(
            12,
            "bpf-preload end listed=0 measured=0",
            "0123456789abcdef0123456789abcdef",
            1234567,
        );
        let text = String::from_utf8(rec).unwrap();
        assert_eq!(
            text,
            "\u{1e}{\"pcr\":12,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"273633fd7107c655d60a283322146397818e59d165f6ac874c3f499e664904fa\"}],\"content_type\":\"systemd\",\"content\":{\"string\":\"bpf-preload end listed=0 measured=0\",\"bootId\":\"0123456789abcdef0123456789abcdef\",\"timestamp\":1234567}}\n"
        );
        let parsed = parse_log(text.as_bytes()).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].pcr, 12);
        assert_eq!(
            parsed[0].sha256,
            Some(event_digest("bpf-preload end listed=0 measured=0"))
        );
        assert!(parse_log(b"\x1e{\"pcr\":1}\n\x1e{not json\n").is_err());
    }

    #[test]
    fn an_event_with_quotes_is_escaped_json() {
        let rec = log_record(9, "a\"b\\c\n", "00000000000000000000000000000000", 0);
        let parsed = parse_log(&rec).unwrap();
        assert_eq!(parsed[0].string.as_deref(), Some("a\"b\\c\n"));
    }

    #[test]
    fn boot_ids() {
        assert_eq!(
            boot_id("01234567-89AB-cdef-0123-456789abcdef\n").as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(boot_id("nope"), None);
    }

    #[test]
    fn pcrlock_component_lists_records() {
        let events = vec![closing_event(0, 0)];
        assert_eq!(
            pcrlock_component(12, &events),
            "{\n  \"records\": [\n    {\n      \"pcr\": 12,\n      \"digests\": [\n        {\n          \"hashAlg\": \"sha256\",\n          \"digest\": \"273633fd7107c655d60a283322146397818e59d165f6ac874c3f499e664904fa\"\n        }\n      ]\n    }\n  ]\n}\n"
        );
    }

    #[test]
    fn tpm_commands_known_answer() {
        let d = [0xabu8; 32];
        let mut want =
            String::from("80020000004100000182000000170000000940000009000000000000000001000b");
        want.push_str(&"ab".repeat(32));
        assert_eq!(hex(&pcr_extend_command(23, &d)), want);
        assert_eq!(
            hex(&pcr_read_command(12)),
            "8001000000140000017e00000001000b03001000"
        );
    }

    #[test]
    fn responses() {
        assert_eq!(
            check_response(&hex_bytes("80020000000a00000000")),
            Ok(&[][..])
        );
        assert_eq!(
            check_response(&hex_bytes("80010000000a00000101")),
            Err(ResponseError::Code(ResponseCode(0x101)))
        );
        let busy = ResponseCode(0x922);
        assert!(busy.is_transient() && ResponseCode(0x908).is_transient());
        assert!(!ResponseCode(0x101).is_transient());
        assert_eq!(
            ResponseCode(0x101).to_string(),
            "TPM_RC_FAILURE: the TPM is in failure mode (0x101)"
        );
        assert_eq!(ResponseCode(0x123).to_string(), "TPM response code 0x123");
        assert_eq!(
            check_response(&hex_bytes("00c40000000a00000000")),
            Err(ResponseError::Tpm12)
        );
        assert_eq!(
            check_response(&hex_bytes("80010000000b00000000")),
            Err(ResponseError::Malformed(
                "size field does not match the length"
            ))
        );
        assert!(check_response(&[0x80]).is_err());
        // PCR_Read: counter, selection (sha256, 3 bytes), one digest of 0x11.
        let mut r = hex_bytes("80010000003e00000000");
        r.extend(hex_bytes("0000001f00000001000b03001000000000010020"));
        r.extend([0x11u8; 32]);
        let len = r.len() as u32;
        r[2..6].copy_from_slice(&len.to_be_bytes());
        assert_eq!(parse_pcr_read(&r), Ok([0x11u8; 32]));
        assert!(parse_pcr_read(&r[..r.len() - 1]).is_err());
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
