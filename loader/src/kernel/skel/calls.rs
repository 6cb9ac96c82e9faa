//! The kernel's own BPF and perf calls the fast path and the guard make directly (libbpf's plain
//! syscall wrappers, or `syscall(2)` where libbpf has no wrapper for the attribute we need):
//! attach, pin, links by id, and two probes of what this kernel accepts.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_long, CString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libbpf_sys as sys;

pub(super) fn einval() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::INVAL.raw_os_error())
}

pub(super) fn owned(fd: c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned to us by the kernel and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `BPF_PROG_LOAD` with the attribute size up to `keyring_id` (offsetofend(union bpf_attr,
/// keyring_id): the prog-load member is the union's start), so the kernel reads the signature
/// fields. Returns the raw result: a program fd, or -1 with errno set.
///
/// # Safety
/// Every pointer in `attr`'s prog-load member must be valid for the kernel to read (and the log
/// buffer to write) for the duration of the call.
pub(super) unsafe fn prog_load_with_signature(attr: &mut sys::bpf_attr) -> c_long {
    let size = std::mem::size_of::<sys::bpf_attr__bindgen_ty_4>();
    // SAFETY: `attr` is a valid bpf_attr of at least `size` bytes; the caller vouches for the
    // buffers it points to.
    unsafe {
        syscall(
            SYS_BPF,
            sys::BPF_PROG_LOAD as c_long,
            attr as *mut sys::bpf_attr,
            size as c_long,
        )
    }
}

/// Does this kernel take BPF_PROG_LOAD's signature fields? A socket filter `r0 = 0; exit` with a
/// one-byte signature and no keyring: a kernel without them refuses the larger attr (E2BIG);
/// one with them looks at the signature and refuses it otherwise; one built without signature
/// verification answers EOPNOTSUPP. `Err`: E2BIG or EOPNOTSUPP.
pub fn signatures_supported() -> io::Result<()> {
    let insns = [
        sys::bpf_insn {
            code: (sys::BPF_ALU64 | sys::BPF_MOV | sys::BPF_K) as u8,
            ..Default::default()
        },
        sys::bpf_insn {
            code: (sys::BPF_JMP | sys::BPF_EXIT) as u8,
            ..Default::default()
        },
    ];
    // SAFETY: bpf_attr is plain data; all-zero is its empty value.
    let mut attr: sys::bpf_attr = unsafe { std::mem::zeroed() };
    let junk = [0x30u8];
    // SAFETY: writing the BPF_PROG_LOAD member of a zeroed union.
    let p = unsafe { &mut attr.__bindgen_anon_3 };
    p.prog_type = sys::BPF_PROG_TYPE_SOCKET_FILTER;
    p.insn_cnt = insns.len() as u32;
    p.insns = insns.as_ptr() as u64;
    p.license = c"GPL".as_ptr() as u64;
    p.signature = junk.as_ptr() as u64;
    p.signature_size = 1;
    // SAFETY: the instructions, the license and the signature outlive the call.
    let r = unsafe { prog_load_with_signature(&mut attr) };
    if r >= 0 {
        // A kernel that ignored the signature: take the program's fd and close it.
        drop(owned(r as c_int));
        return Ok(());
    }
    let e = io::Error::last_os_error();
    let unsupported = [rustix::io::Errno::TOOBIG, rustix::io::Errno::OPNOTSUPP];
    if unsupported
        .iter()
        .any(|u| e.raw_os_error() == Some(u.raw_os_error()))
    {
        return Err(e);
    }
    Ok(())
}

/// BPF_LINK_CREATE with no target fd and no options (fentry, fexit, lsm, tp_btf, iter).
pub fn link_create(prog: RawFd, target: RawFd, attach_type: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall wrapper, no options.
    let r = unsafe { sys::bpf_link_create(prog, target, attach_type, std::ptr::null()) };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok(owned(r))
}

/// BPF_LINK_CREATE of a kprobe.multi link (BPF_TRACE_KPROBE_MULTI) on the one function `func`;
/// `retprobe`: on its returns (BPF_F_KPROBE_MULTI_RETURN). EOPNOTSUPP without fprobe.
pub fn kprobe_multi_link(prog: RawFd, func: &str, retprobe: bool) -> io::Result<OwnedFd> {
    let func = CString::new(func).map_err(|_| einval())?;
    let mut syms = [func.as_ptr()];
    let mut opts = sys::bpf_link_create_opts {
        sz: std::mem::size_of::<sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.__bindgen_anon_1.kprobe_multi = sys::bpf_link_create_opts__bindgen_ty_1__bindgen_ty_2 {
        flags: if retprobe {
            sys::BPF_F_KPROBE_MULTI_RETURN
        } else {
            0
        },
        cnt: 1,
        syms: syms.as_mut_ptr(),
        addrs: std::ptr::null(),
        cookies: std::ptr::null(),
    };
    // SAFETY: `opts`, the symbol array and the name it points to outlive the call.
    let r = unsafe { sys::bpf_link_create(prog, 0, sys::BPF_TRACE_KPROBE_MULTI, &opts) };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok(owned(r))
}

/// BPF_RAW_TRACEPOINT_OPEN: a link on the raw tracepoint `name`.
pub fn raw_tracepoint_open(name: &str, prog: RawFd) -> io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| einval())?;
    // SAFETY: the name is NUL-terminated and outlives the call.
    let r = unsafe { sys::bpf_raw_tracepoint_open(name.as_ptr(), prog) };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok(owned(r))
}

/// perf_event_attr up to PERF_ATTR_SIZE_VER4 (104 bytes); only type, size, config, config1 and
/// config2 are set (`rest[5]` and `rest[6]`: offsets 56 and 64).
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    rest: [u64; 11],
}

impl PerfEventAttr {
    fn new(kind: u32, config: u64) -> Self {
        Self {
            kind,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config,
            rest: [0; 11],
        }
    }
}

/// perf_event_open(attr, all processes, this thread's CPU, no group). The program attached to
/// the event runs wherever its tracepoint or kprobe fires, whichever CPU the event is on (the
/// kernel runs a tracepoint's or kprobe's BPF programs before it looks at its events); libbpf
/// opens it on CPU 0, which costs an interrupt to that CPU (and, in a VM, waking a halted vCPU)
/// whenever this thread runs on another. The root test
/// `a_tracepoint_program_counts_on_every_cpu_whichever_cpu_attached_it` checks the first part.
fn perf_event_open(attr: &PerfEventAttr) -> io::Result<OwnedFd> {
    let cpu = c_int::try_from(rustix::thread::sched_getcpu()).unwrap_or(0);
    // SAFETY: `attr` (and whatever its config1 points to, kept alive by the caller) outlives the
    // call; the kernel reads at most `attr.size` bytes.
    let r = unsafe {
        syscall(
            SYS_PERF_EVENT_OPEN,
            attr as *const PerfEventAttr,
            -1 as c_int,
            cpu,
            -1 as c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(r as c_int))
}

/// A perf event of the kprobe PMU `pmu` on `func`+`offset` (`config`: the retprobe bit or 0).
pub fn perf_kprobe_open(pmu: u32, config: u64, func: &str, offset: u64) -> io::Result<OwnedFd> {
    let func = CString::new(func).map_err(|_| einval())?;
    let mut attr = PerfEventAttr::new(pmu, config);
    attr.rest[5] = func.as_ptr() as u64; // config1: kprobe_func
    attr.rest[6] = offset; // config2: probe_offset
    perf_event_open(&attr)
}

const PERF_TYPE_TRACEPOINT: u32 = sys::PERF_TYPE_TRACEPOINT;
const PERF_FLAG_FD_CLOEXEC: c_long = sys::PERF_FLAG_FD_CLOEXEC as c_long;
const SYS_PERF_EVENT_OPEN: c_long = linux_raw_sys::general::__NR_perf_event_open as c_long;
const SYS_BPF: c_long = linux_raw_sys::general::__NR_bpf as c_long;

unsafe extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
}

/// A perf event on tracepoint `id` (all processes, this thread's CPU).
pub fn perf_tracepoint_open(id: u64) -> io::Result<OwnedFd> {
    perf_event_open(&PerfEventAttr::new(PERF_TYPE_TRACEPOINT, id))
}

/// BPF_OBJ_PIN.
pub fn obj_pin(fd: RawFd, path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| einval())?;
    // SAFETY: the path is NUL-terminated and outlives the call.
    let r = unsafe { sys::bpf_obj_pin(fd, path.as_ptr()) };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok(())
}

/// Load `r0 = 1; exit` as a BPF LSM program on the hook whose `bpf_lsm_*` BTF id is `btf_id`,
/// and close it: `Ok` when this kernel's verifier lets LSM programs return positive values.
pub fn lsm_returns_one(btf_id: u32) -> io::Result<()> {
    let insns = [
        sys::bpf_insn {
            code: (sys::BPF_ALU64 | sys::BPF_MOV | sys::BPF_K) as u8,
            imm: 1,
            ..Default::default()
        },
        sys::bpf_insn {
            code: (sys::BPF_JMP | sys::BPF_EXIT) as u8,
            ..Default::default()
        },
    ];
    let mut opts = sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
        expected_attach_type: sys::BPF_LSM_MAC,
        attach_btf_id: btf_id,
        ..Default::default()
    };
    // SAFETY: the name and license are NUL-terminated literals; `insns` and `opts` outlive the
    // call and `opts.sz` is its size.
    let r = unsafe {
        sys::bpf_prog_load(
            sys::BPF_PROG_TYPE_LSM,
            c"guard_probe".as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        )
    };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    drop(owned(r));
    Ok(())
}

/// BPF_LINK_GET_FD_BY_ID: a descriptor of the link with this id (ENOENT: no such link).
pub fn link_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall wrapper taking a number; the descriptor returned is ours alone.
    let r = unsafe { sys::bpf_link_get_fd_by_id(id) };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok(owned(r))
}

/// BPF_OBJ_GET_INFO_BY_FD of a link: its id and its program's (0: none). Only the fields every
/// link type has (`type`, `id`, `prog_id`): the kernel copies no more than the length asked
/// for, and writes nothing through pointers the type-specific part would hold.
pub fn link_ids(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    use std::os::fd::AsRawFd;
    // struct bpf_link_info's first three u32 (and the padding to the union's alignment).
    let mut info = [0u32; 4];
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: `info` is writable for `len` bytes and outlives the call.
    let r =
        unsafe { sys::bpf_obj_get_info_by_fd(fd.as_raw_fd(), info.as_mut_ptr().cast(), &mut len) };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok((info[1], info[2]))
}

/// The instructions the verifier processed for a loaded program (`verified_insns` of
/// bpf_prog_info: the count its log's "processed N insns" gives; 0 before 5.16).
pub fn prog_verified_insns(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    let mut info = sys::bpf_prog_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: `info` is writable for `len` bytes and outlives the call; its pointer fields are
    // all null, so the kernel writes through none of them.
    let r = unsafe {
        sys::bpf_obj_get_info_by_fd(
            fd.as_raw_fd(),
            (&mut info as *mut sys::bpf_prog_info).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok(u64::from(info.verified_insns))
}

/// Fault a fresh buffer's pages in with one call before the kernel writes it (MADV_POPULATE_WRITE,
/// 5.14 and later; without it each of its pages faults on the kernel's copy). Best effort.
fn prefault(buf: &mut [u8]) {
    // 4 KiB: x86-64's page (on a larger one the start is misaligned and madvise refuses: no harm).
    let page = 4096;
    let start = buf.as_mut_ptr() as usize;
    let aligned = start & !(page - 1);
    // SAFETY: the range [aligned, start + len) is this process's own memory: `buf` and the rest
    // of the page it starts in, which belongs to the same allocation's mapping (the allocator
    // maps a buffer of megabytes on its own). POPULATE_WRITE only faults pages in, writable,
    // as a write would; it changes no byte.
    let _ = unsafe {
        rustix::mm::madvise(
            aligned as *mut std::ffi::c_void,
            start + buf.len() - aligned,
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    };
}

/// BPF_OBJ_GET_INFO_BY_FD of a BTF object, with `info`'s buffers (null: none).
fn btf_info(fd: RawFd, info: &mut sys::bpf_btf_info) -> io::Result<()> {
    let mut len = std::mem::size_of::<sys::bpf_btf_info>() as u32;
    // SAFETY: `info` is writable for `len` bytes; the buffers it points to (when not null) are
    // the caller's, of the sizes it gives, and outlive the call.
    let r = unsafe { sys::bpf_btf_get_info_by_fd(fd, info, &mut len) };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    Ok(())
}

/// The kernel's own BTF (`vmlinux`, the bytes of /sys/kernel/btf/vmlinux), copied whole by one
/// BPF_OBJ_GET_INFO_BY_FD of its BTF object (which the kernel finds by id: BPF_BTF_GET_NEXT_ID,
/// the object named `vmlinux` of the kernel's own). sysfs hands the file out one page per read,
/// about 1 500 system calls for a distribution kernel. At most `max` bytes; NotFound when no BTF
/// object is the kernel's.
pub fn vmlinux_btf(max: u32) -> io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut id = 0u32;
    loop {
        // SAFETY: plain syscall wrapper writing the next id into `id`.
        let r = unsafe { sys::bpf_btf_get_next_id(id, &mut id) };
        if r < 0 {
            let e = io::Error::from_raw_os_error(-r);
            return Err(match e.kind() {
                io::ErrorKind::NotFound => io::Error::new(e.kind(), "no vmlinux BTF object"),
                _ => e,
            });
        }
        // SAFETY: plain syscall wrapper; a BTF object can go between the two calls (ENOENT).
        let fd = unsafe { sys::bpf_btf_get_fd_by_id(id) };
        if fd < 0 {
            continue;
        }
        let fd = owned(fd);
        // A module's name can be 55 bytes: room for any, so that no object's info fails.
        let mut name = [0u8; 64];
        let mut info = sys::bpf_btf_info {
            name: name.as_mut_ptr() as u64,
            name_len: name.len() as u32,
            ..Default::default()
        };
        if btf_info(fd.as_raw_fd(), &mut info).is_err()
            || info.kernel_btf == 0
            || !name.starts_with(b"vmlinux\0")
        {
            continue;
        }
        if info.btf_size > max {
            return Err(io::Error::other(format!(
                "vmlinux BTF of {} bytes, over {max}",
                info.btf_size
            )));
        }
        let mut btf = vec![0u8; info.btf_size as usize];
        prefault(&mut btf);
        let mut info = sys::bpf_btf_info {
            btf: btf.as_mut_ptr() as u64,
            btf_size: btf.len() as u32,
            ..Default::default()
        };
        btf_info(fd.as_raw_fd(), &mut info)?;
        if info.btf_size as usize != btf.len() {
            return Err(io::Error::other("vmlinux BTF changed size"));
        }
        return Ok(btf);
    }
}
