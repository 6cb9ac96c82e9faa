//! Boot time: the light skeleton's loader run in the kernel, as libbpf's `skel_internal.h`
//! `bpf_load_and_run` does: its data in a frozen map, the loader loaded (with the kernel's
//! signature when there is one) and run once with a context it fills with the fds it made.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::os::fd::{OwnedFd, RawFd};

use libbpf_sys as sys;

use super::calls::{owned, prog_load_with_signature};
use super::context::ContextLayout;

/// What a loader step returned, with the errno.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}{}", verifier.as_ref().map(|v| format!(" (verifier: {v})")).unwrap_or_default())]
pub struct SkelError {
    pub step: &'static str,
    #[source]
    pub source: io::Error,
    /// The verifier's last line, when the kernel gave a log.
    pub verifier: Option<String>,
}

fn check(step: &'static str, ret: c_int) -> Result<c_int, SkelError> {
    if ret < 0 {
        return Err(SkelError {
            step,
            source: io::Error::from_raw_os_error(-ret),
            verifier: None,
        });
    }
    Ok(ret)
}

/// The loader's outputs: one fd per map and per program, in the loader's order.
pub struct LoaderOut {
    pub maps: Vec<OwnedFd>,
    pub progs: Vec<OwnedFd>,
}

/// A kernel signature for the loader: the CMS bytes and the keyring to check them against.
#[derive(Debug, Clone, Copy)]
pub struct LoaderSignature<'a> {
    pub cms: &'a [u8],
    pub keyring: i32,
}

/// BPF_OBJ_GET_INFO_BY_FD with `hash`: makes the kernel compute the frozen map's SHA-256, which
/// a `gen_hash` loader compares with the one signed into its instructions.
fn map_hash(map_fd: RawFd) -> Result<[u8; 32], SkelError> {
    let mut hash = [0u8; 32];
    let mut info = sys::bpf_map_info {
        hash: hash.as_mut_ptr() as u64,
        hash_size: 32,
        ..Default::default()
    };
    let mut len = std::mem::size_of::<sys::bpf_map_info>() as u32;
    // SAFETY: `info` and `hash` outlive the call; the kernel writes at most `len` bytes into
    // `info` and `hash_size` bytes into `hash`.
    let r = unsafe { sys::bpf_map_get_info_by_fd(map_fd, &mut info, &mut len) };
    check("hash loader map", r)?;
    Ok(hash)
}

/// BPF_PROG_LOAD of the loader with its signature and keyring (libbpf's `bpf_prog_load` has no
/// such options): the attr up to `keyring_id`, as skel_internal.h makes it.
fn load_signed(
    insns: &[sys::bpf_insn],
    fd_array: &[RawFd],
    sig: LoaderSignature<'_>,
) -> Result<OwnedFd, SkelError> {
    // SAFETY: bpf_attr is plain data; all-zero is its empty value.
    let mut attr: sys::bpf_attr = unsafe { std::mem::zeroed() };
    let name = b"__loader.prog\0";
    // SAFETY: writing the BPF_PROG_LOAD member of a zeroed union.
    let p = unsafe { &mut attr.__bindgen_anon_3 };
    p.prog_type = sys::BPF_PROG_TYPE_SYSCALL;
    p.insn_cnt = insns.len() as u32;
    p.insns = insns.as_ptr() as u64;
    p.license = c"Dual BSD/GPL".as_ptr() as u64;
    p.prog_flags = sys::BPF_F_SLEEPABLE;
    for (d, s) in p.prog_name.iter_mut().zip(name.iter()) {
        *d = *s as c_char;
    }
    p.fd_array = fd_array.as_ptr() as u64;
    // The maps of fd_array are bound up front, and their (exclusive, frozen) contents are part
    // of what the kernel verifies the signature over.
    p.fd_array_cnt = fd_array.len() as u32;
    // The verifier's log, for the reason of a refusal (exclusive map, hash check, ...).
    let mut log = vec![0u8; 64 * 1024];
    p.log_level = 1;
    p.log_size = log.len() as u32;
    p.log_buf = log.as_mut_ptr() as u64;
    p.signature = sig.cms.as_ptr() as u64;
    p.signature_size = sig.cms.len() as u32;
    p.keyring_id = sig.keyring;
    // SAFETY: every buffer `attr` points to (insns, license, fd_array, signature, log)
    // outlives the call.
    let r = unsafe { prog_load_with_signature(&mut attr) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(SkelError {
            step: "load signed loader",
            source: e,
            verifier: last_line(&log),
        });
    }
    Ok(owned(r as c_int))
}

/// The verifier's reason for a refusal: the last line of its log with text in it, but for the
/// statistics it ends with.
fn last_line(log: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]);
    let last = text.lines().rev().map(str::trim).find(|l| {
        !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
    });
    last.map(str::to_owned)
}

/// `bpf_load_and_run`: the data in a frozen one-element array, the loader as a sleepable
/// BPF_PROG_TYPE_SYSCALL program with that map in its fd_array, one BPF_PROG_RUN with a context
/// the loader fills with the fds it made. With a signature (a `gen_hash` loader): the map is
/// exclusive to the loader (`excl_prog_hash`) and hashed once frozen (`gen_hash`: the loader
/// compares that hash with its own), and the loader is loaded with its signature and keyring for
/// the kernel to verify.
pub fn run_loader(
    insns: &[u8],
    data: &[u8],
    nr_maps: usize,
    nr_progs: usize,
    gen_hash: bool,
    signature: Option<LoaderSignature<'_>>,
) -> Result<LoaderOut, SkelError> {
    let name = c"__loader.map";
    let value_size = u32::try_from(data.len().max(1)).map_err(|_| SkelError {
        step: "create loader map",
        source: io::Error::other("data too large"),
        verifier: None,
    })?;
    let mut blob = data.to_vec();
    blob.resize(value_size as usize, 0);
    let excl = bpf_preload_format::ksig::insns_hash(insns);
    let map_opts = sys::bpf_map_create_opts {
        sz: std::mem::size_of::<sys::bpf_map_create_opts>() as _,
        excl_prog_hash: excl.as_ptr().cast(),
        excl_prog_hash_size: excl.len() as u32,
        ..Default::default()
    };
    // SAFETY: plain syscall wrapper; the name is NUL-terminated, the options (and the hash they
    // point to) outlive the call; without a signature no options.
    let map = unsafe {
        sys::bpf_map_create(
            sys::BPF_MAP_TYPE_ARRAY,
            name.as_ptr(),
            4,
            value_size,
            1,
            if gen_hash {
                &map_opts
            } else {
                std::ptr::null()
            },
        )
    };
    let map = owned(check("create loader map", map)?);
    let map_fd: RawFd = std::os::fd::AsRawFd::as_raw_fd(&map);
    let key: u32 = 0;
    // SAFETY: key and value point to buffers of the map's key and value sizes.
    let r = unsafe {
        sys::bpf_map_update_elem(map_fd, (&key as *const u32).cast(), blob.as_ptr().cast(), 0)
    };
    check("update loader map", r)?;
    // SAFETY: plain syscall wrapper on our map.
    check("freeze loader map", unsafe { sys::bpf_map_freeze(map_fd) })?;
    if gen_hash {
        map_hash(map_fd)?;
    }
    let fd_array = [map_fd];
    let mut opts = sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
        prog_flags: sys::BPF_F_SLEEPABLE,
        fd_array: fd_array.as_ptr(),
        ..Default::default()
    };
    let insn_cnt = insns.len() / std::mem::size_of::<sys::bpf_insn>();
    // The instructions, aligned as struct bpf_insn.
    let mut aligned = vec![sys::bpf_insn::default(); insn_cnt];
    // SAFETY: `aligned` holds exactly insn_cnt * 8 bytes; bpf_insn is plain data.
    unsafe {
        std::ptr::copy_nonoverlapping(
            insns.as_ptr(),
            aligned.as_mut_ptr().cast::<u8>(),
            insn_cnt * std::mem::size_of::<sys::bpf_insn>(),
        )
    };
    let prog = match signature {
        Some(sig) => load_signed(&aligned, &fd_array, sig)?,
        None => {
            let load = |opts: &mut sys::bpf_prog_load_opts| {
                // SAFETY: every pointer (name, license, insns, opts, fd_array, the log buffer
                // when there is one) outlives the call.
                unsafe {
                    sys::bpf_prog_load(
                        sys::BPF_PROG_TYPE_SYSCALL,
                        c"__loader.prog".as_ptr(),
                        c"Dual BSD/GPL".as_ptr(),
                        aligned.as_ptr(),
                        insn_cnt as _,
                        opts,
                    )
                }
            };
            let prog = load(&mut opts);
            if prog < 0 {
                // Refused: again with the verifier's log, for its reason.
                let mut log = vec![0u8; 256 * 1024];
                opts.log_level = 1;
                opts.log_size = log.len() as u32;
                opts.log_buf = log.as_mut_ptr().cast();
                let again = load(&mut opts);
                if again >= 0 {
                    drop(owned(again));
                }
                return Err(SkelError {
                    step: "load loader",
                    source: io::Error::from_raw_os_error(-prog),
                    verifier: last_line(&log),
                });
            }
            owned(prog)
        }
    };
    let layout = ContextLayout {
        maps: nr_maps,
        progs: nr_progs,
    };
    let ctx_len = layout.len();
    let mut ctx = layout.encode();
    let mut run = sys::bpf_test_run_opts {
        sz: std::mem::size_of::<sys::bpf_test_run_opts>() as _,
        ctx_in: ctx.as_mut_ptr().cast::<c_void>(),
        ctx_size_in: ctx_len as u32,
        ..Default::default()
    };
    // SAFETY: ctx_in points to `ctx`, at least ctx_len bytes, alive for the call; for a syscall
    // program the kernel copies the context back into it (ctx_out must stay null).
    let r =
        unsafe { sys::bpf_prog_test_run_opts(std::os::fd::AsRawFd::as_raw_fd(&prog), &mut run) };
    check("run loader", r)?;
    let retval = run.retval as i32;
    // The loader (a sleepable syscall program) writes the fds into the context it was given: the
    // kernel copies it back. Take each fd only once; a negative one means the loader failed.
    let (maps, progs) = layout.fds(&ctx).ok_or_else(|| SkelError {
        step: "loader",
        source: io::Error::other("context shorter than its layout"),
        verifier: None,
    })?;
    if retval < 0 {
        return Err(SkelError {
            step: "loader",
            source: io::Error::from_raw_os_error(-retval),
            verifier: None,
        });
    }
    let mut all: Vec<c_int> = maps.iter().chain(&progs).copied().collect();
    all.sort_unstable();
    let distinct = all.windows(2).all(|w| w[0] != w[1]);
    if !distinct || all.first().is_some_and(|&fd| fd <= 2) {
        return Err(SkelError {
            step: "loader",
            source: io::Error::other(format!("bad fds from the loader {all:?}")),
            verifier: None,
        });
    }
    Ok(LoaderOut {
        maps: maps.into_iter().map(owned).collect(),
        progs: progs.into_iter().map(owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::last_line;

    /// The reason, not the statistics a log ends with (6.12 prints them at level 1 too).
    #[test]
    fn the_verifier_reason_is_the_last_line_before_the_statistics() {
        let log = b"0: (bf) r6 = r1\n1: (61) r1 = *(u32 *)(r10 +0)\ninvalid read from stack R10 \
off=0 size=4\nprocessed 1500 insns (limit 1000000) max_states_per_insn 0 total_states 72\n\
verification time 75 usec\n\n\0\0\0";
        assert_eq!(
            last_line(log).as_deref(),
            Some("invalid read from stack R10 off=0 size=4")
        );
        assert_eq!(last_line(b"\0"), None);
        assert_eq!(last_line(b"processed 3 insns\n\0"), None);
    }
}
