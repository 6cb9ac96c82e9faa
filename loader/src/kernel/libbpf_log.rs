//! libbpf's log messages, formatted without any chance of a panic.
//!
//! libbpf-rs's own print hook formats with a crate that panics on bytes that are not UTF-8, and a
//! verifier log quotes source lines from the object's BTF — bytes a signed object controls. A
//! panic inside a C callback aborts the process, and with it the boot job: the objects after that
//! one would never load and no status would be written. This hook formats with the C library's
//! `vasprintf` and decodes lossily.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::RwLock;

use libbpf_sys::{__va_list_tag, libbpf_print_level, LIBBPF_DEBUG, LIBBPF_INFO};

/// libbpf's message levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Warn,
    Info,
    Debug,
}

/// Where formatted messages go.
pub type Sink = fn(LogLevel, String);

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

unsafe extern "C" {
    fn vasprintf(strp: *mut *mut c_char, fmt: *const c_char, ap: *mut __va_list_tag) -> c_int;
    fn free(ptr: *mut c_void);
}

unsafe extern "C" fn hook(
    level: libbpf_print_level,
    fmt: *const c_char,
    ap: *mut __va_list_tag,
) -> c_int {
    let Some(sink) = *SINK.read().unwrap_or_else(|e| e.into_inner()) else {
        return 0;
    };
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: `fmt` and `ap` are the format string and argument list libbpf passes with this
    // message; vasprintf consumes `ap` once and stores a malloc'ed, NUL-terminated string in
    // `out` (or returns -1 and leaves it unusable).
    let n = unsafe { vasprintf(&mut out, fmt, ap) };
    if n < 0 || out.is_null() {
        return 0;
    }
    // SAFETY: on success `out` points to the NUL-terminated string vasprintf just wrote.
    let text = String::from_utf8_lossy(unsafe { CStr::from_ptr(out) }.to_bytes()).into_owned();
    // SAFETY: `out` was allocated by vasprintf with malloc, and is not used after this.
    unsafe { free(out.cast()) };
    let level = match level {
        LIBBPF_DEBUG => LogLevel::Debug,
        LIBBPF_INFO => LogLevel::Info,
        _ => LogLevel::Warn,
    };
    // Nothing may unwind into C.
    let _ = std::panic::catch_unwind(|| sink(level, text));
    0
}

/// Route every libbpf message to `sink` (None: drop them).
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
    // SAFETY: `hook` has the signature of libbpf_print_fn_t; libbpf only stores the pointer and
    // calls it with a format string and its va_list.
    unsafe { libbpf_sys::libbpf_set_print(Some(hook)) };
}

/// The C library's message catalogue lookup, answered with the message itself. libelf (through
/// libbpf) and the C library's `strerror` look their messages up with `dcgettext`; the static
/// C library's own lookup drags in the whole of gettext — catalogue loading, plural rules,
/// charset conversion with its `dlopen`ed modules and tables, some 200 KiB of the initramfs
/// binary — for an answer that is always the message itself here: the loader never calls
/// `setlocale`, so every lookup is in the "C" locale, where gettext returns `msgid` unchanged.
/// Defining both names keeps the linker from taking the C library's `dcgettext.o`.
#[no_mangle]
pub extern "C" fn dcgettext(
    _domain: *const c_char,
    msgid: *const c_char,
    _category: c_int,
) -> *mut c_char {
    msgid.cast_mut()
}

/// [`dcgettext`] under the C library's internal name (its `strerror` calls this one).
#[no_mangle]
pub extern "C" fn __dcgettext(
    _domain: *const c_char,
    msgid: *const c_char,
    _category: c_int,
) -> *mut c_char {
    msgid.cast_mut()
}
