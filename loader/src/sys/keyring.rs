//! The loader's kernel keyring: created in the loader's process keyring (so the loader possesses
//! it while it fills it, whatever session keyring its service manager gave it), one
//! `asymmetric` key per certificate, closed for good with a keyring restriction that rejects
//! every further link (`KEYCTL_RESTRICT_KEYRING` with no type), then linked into root's user
//! keyring, so that it outlives the loader and the initramfs and root can name it by its
//! serial later, to load update programs against it.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_long, CStr};
use std::io;

const SYS_ADD_KEY: c_long = linux_raw_sys::general::__NR_add_key as c_long;
const SYS_KEYCTL: c_long = linux_raw_sys::general::__NR_keyctl as c_long;
/// include/uapi/linux/keyctl.h
const KEY_SPEC_PROCESS_KEYRING: i32 = -2;
const KEY_SPEC_USER_KEYRING: i32 = -4;
const KEYCTL_GET_KEYRING_ID: c_long = 0;
const KEYCTL_DESCRIBE: c_long = 6;
const KEYCTL_LINK: c_long = 8;
const KEYCTL_RESTRICT_KEYRING: c_long = 29;

unsafe extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
}

fn add_key(kind: &CStr, desc: Option<&CStr>, payload: &[u8], keyring: i32) -> io::Result<i32> {
    // SAFETY: the strings are NUL-terminated, the payload is `payload.len()` readable bytes, all
    // alive for the call; the kernel copies them.
    let r = unsafe {
        syscall(
            SYS_ADD_KEY,
            kind.as_ptr(),
            desc.map_or(std::ptr::null(), CStr::as_ptr),
            if payload.is_empty() {
                std::ptr::null()
            } else {
                payload.as_ptr()
            },
            payload.len(),
            keyring as c_long,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as i32)
}

/// A new, empty keyring named `name` in this process's keyring; its serial.
pub fn create(name: &CStr) -> io::Result<i32> {
    add_key(c"keyring", Some(name), &[], KEY_SPEC_PROCESS_KEYRING)
}

/// The serial of this user's (root's) user keyring, the one that keeps the loader's keyring
/// alive once the loader is gone (`KEYCTL_GET_KEYRING_ID`, not creating it).
pub fn user_keyring() -> io::Result<i32> {
    // SAFETY: keyctl with integer arguments only.
    let r = unsafe {
        syscall(
            SYS_KEYCTL,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_USER_KEYRING as c_long,
            0 as c_long,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as i32)
}

/// Link `keyring` into root's user keyring: it stays after the loader exits.
pub fn keep(keyring: i32) -> io::Result<()> {
    // SAFETY: keyctl with integer arguments only.
    let r = unsafe {
        syscall(
            SYS_KEYCTL,
            KEYCTL_LINK,
            keyring as c_long,
            KEY_SPEC_USER_KEYRING as c_long,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Add a DER X.509 certificate to `keyring` (the kernel makes its description); the key's
/// serial. EBADMSG: the kernel could not parse it; ENOPKG: an algorithm it lacks.
pub fn add_certificate(keyring: i32, der: &[u8]) -> io::Result<i32> {
    add_key(c"asymmetric", None, der, keyring)
}

/// Close `keyring`: no key can be added or linked to it again, by anyone.
pub fn restrict(keyring: i32) -> io::Result<()> {
    // SAFETY: keyctl with integer arguments and two null pointers (no type, no restriction).
    let r = unsafe {
        syscall(
            SYS_KEYCTL,
            KEYCTL_RESTRICT_KEYRING,
            keyring as c_long,
            std::ptr::null::<c_char>(),
            std::ptr::null::<c_char>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `type;uid;gid;perm;description` of the key with this serial (KEYCTL_DESCRIBE). ENOKEY: no
/// such key (or invalidated); EKEYREVOKED: revoked.
pub fn describe(serial: i32) -> io::Result<String> {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, alive for the call.
        let r = unsafe {
            syscall(
                SYS_KEYCTL,
                KEYCTL_DESCRIBE,
                serial as c_long,
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = r as usize;
        if n > buf.len() {
            buf.resize(n, 0);
            continue;
        }
        buf.truncate(n);
        if buf.last() == Some(&0) {
            buf.pop();
        }
        return Ok(String::from_utf8_lossy(&buf).into_owned());
    }
}

/// The type of the key with this serial: the first field of its description (`keyring`).
pub fn key_type(serial: i32) -> io::Result<String> {
    describe(serial).map(|d| d.split(';').next().unwrap_or_default().to_owned())
}

/// The keyring calls signed-only mode's setup makes (`pipeline::signed`): [`RealKeyrings`]
/// here, a fake in its tests.
pub trait Keyrings {
    /// Does the kernel take BPF signatures? (`Err`: E2BIG, it has no such fields.)
    fn supported(&self) -> io::Result<()>;
    fn create(&self) -> io::Result<i32>;
    fn add(&self, keyring: i32, der: &[u8]) -> io::Result<i32>;
    fn restrict(&self, keyring: i32) -> io::Result<()>;
    /// Keep the (closed) keyring after the loader exits: link it into root's user keyring.
    fn keep(&self, keyring: i32) -> io::Result<()>;
}

/// The real keyrings. Whether the kernel takes BPF signatures is a BPF probe, which is the
/// kernel module's: the boot's wiring (lib.rs) hands it in, so that sys/ imports nothing above it.
pub struct RealKeyrings {
    pub signatures_supported: fn() -> io::Result<()>,
}

impl Keyrings for RealKeyrings {
    fn supported(&self) -> io::Result<()> {
        (self.signatures_supported)()
    }
    fn create(&self) -> io::Result<i32> {
        create(c"bpf-preload")
    }
    fn add(&self, keyring: i32, der: &[u8]) -> io::Result<i32> {
        add_certificate(keyring, der)
    }
    fn restrict(&self, keyring: i32) -> io::Result<()> {
        restrict(keyring)
    }
    fn keep(&self, keyring: i32) -> io::Result<()> {
        keep(keyring)
    }
}
