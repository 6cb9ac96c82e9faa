//! Light skeletons at the C boundary: libbpf's gen_loader at sign time ([`generate`]), and at
//! boot the loader run in the kernel ([`run_loader`], as libbpf's `skel_internal.h`
//! `bpf_load_and_run` does) and the kernel's own attach and pin calls. Every call into C is
//! here; `kernel::fast` decides what to call.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_long, c_void, CStr, CString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libbpf_sys as sys;

/// What libbpf made of an object in gen_loader mode.
#[derive(Debug)]
pub struct Generated {
    pub insns: Vec<u8>,
    pub data: Vec<u8>,
    /// (libbpf name, map type, pin path set) in the loader's order.
    pub maps: Vec<(String, u32, bool)>,
    pub progs: Vec<GenProg>,
}

#[derive(Debug)]
pub struct GenProg {
    pub name: String,
    pub section: String,
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub autoload: bool,
}

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: libbpf returns NUL-terminated strings that live as long as the object.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// An open `bpf_object`, closed on drop.
struct Obj(*mut sys::bpf_object);

impl Drop for Obj {
    fn drop(&mut self) {
        // SAFETY: the pointer came from bpf_object__open_mem and is closed once.
        unsafe { sys::bpf_object__close(self.0) };
    }
}

/// The maps and programs of an open object, in libbpf's order.
fn describe(obj: &Obj) -> (Vec<(String, u32, bool)>, Vec<GenProg>) {
    let mut maps = Vec::new();
    // SAFETY: iterating an open object with libbpf's own iterators; a null start means "first".
    let mut m = unsafe { sys::bpf_object__next_map(obj.0, std::ptr::null()) };
    while !m.is_null() {
        // SAFETY: `m` is a map of the open object.
        let (name, ty, pinned) = unsafe {
            (
                cstr(sys::bpf_map__name(m)),
                sys::bpf_map__type(m),
                !sys::bpf_map__pin_path(m).is_null(),
            )
        };
        maps.push((name, ty, pinned));
        // SAFETY: as above.
        m = unsafe { sys::bpf_object__next_map(obj.0, m) };
    }
    let mut progs = Vec::new();
    // SAFETY: as for maps.
    let mut p = unsafe { sys::bpf_object__next_program(obj.0, std::ptr::null_mut()) };
    while !p.is_null() {
        // SAFETY: `p` is a program of the open object.
        let prog = unsafe {
            GenProg {
                name: cstr(sys::bpf_program__name(p)),
                section: cstr(sys::bpf_program__section_name(p)),
                prog_type: sys::bpf_program__type(p),
                expected_attach_type: sys::bpf_program__expected_attach_type(p),
                autoload: sys::bpf_program__autoload(p),
            }
        };
        progs.push(prog);
        // SAFETY: as above.
        p = unsafe { sys::bpf_object__next_program(obj.0, p) };
    }
    (maps, progs)
}

/// Why [`generate`] made no loader: `refuse` said why, or libbpf failed (its errno).
#[derive(Debug, thiserror::Error)]
pub enum GenerateError<R> {
    #[error("{0}")]
    Refused(R),
    #[error("object name has a NUL")]
    Name,
    #[error("open: {0}")]
    Open(#[source] io::Error),
    #[error("gen_loader: {0}")]
    GenLoader(#[source] io::Error),
    #[error("generate: {0}")]
    Generate(#[source] io::Error),
    #[error("generate: no loader")]
    NoLoader,
}

/// Run libbpf in gen_loader mode over an ELF object opened as `name`: the loader program and its
/// data, without touching the kernel. `refuse` sees the maps and programs first and may say why
/// the object cannot be converted. `gen_hash`: the loader checks the SHA-256 of its data map
/// itself (libbpf's `gen_hash`, for a kernel-signed loader).
pub fn generate<R>(
    elf: &[u8],
    name: &str,
    gen_hash: bool,
    refuse: impl Fn(&[(String, u32, bool)], &[GenProg]) -> Option<R>,
) -> Result<Generated, GenerateError<R>> {
    let cname = CString::new(name).map_err(|_| GenerateError::Name)?;
    let opts = sys::bpf_object_open_opts {
        sz: std::mem::size_of::<sys::bpf_object_open_opts>() as _,
        object_name: cname.as_ptr(),
        ..Default::default()
    };
    // SAFETY: `elf` and `opts` outlive the call; libbpf copies the buffer.
    let raw = unsafe { sys::bpf_object__open_mem(elf.as_ptr().cast(), elf.len() as _, &opts) };
    if raw.is_null() {
        return Err(GenerateError::Open(io::Error::last_os_error()));
    }
    let obj = Obj(raw);
    let (maps, progs) = describe(&obj);
    if let Some(why) = refuse(&maps, &progs) {
        return Err(GenerateError::Refused(why));
    }
    let mut gen = sys::gen_loader_opts {
        sz: std::mem::size_of::<sys::gen_loader_opts>() as _,
        gen_hash,
        ..Default::default()
    };
    // SAFETY: an open, not yet loaded object; `gen` outlives the object (libbpf writes the
    // results into it at load).
    let err = unsafe { sys::bpf_object__gen_loader(obj.0, &mut gen) };
    if err != 0 {
        return Err(GenerateError::GenLoader(io::Error::from_raw_os_error(-err)));
    }
    // SAFETY: as above; in gen_loader mode load records, it does not load.
    let err = unsafe { sys::bpf_object__load(obj.0) };
    if err != 0 {
        return Err(GenerateError::Generate(io::Error::from_raw_os_error(-err)));
    }
    if gen.insns.is_null() || gen.data.is_null() && gen.data_sz != 0 {
        return Err(GenerateError::NoLoader);
    }
    // SAFETY: libbpf set these to buffers of the given sizes, owned by the object (still open).
    let (insns, data) = unsafe {
        (
            std::slice::from_raw_parts(gen.insns.cast::<u8>(), gen.insns_sz as usize).to_vec(),
            if gen.data_sz == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(gen.data.cast::<u8>(), gen.data_sz as usize).to_vec()
            },
        )
    };
    Ok(Generated {
        insns,
        data,
        maps,
        progs,
    })
}

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

fn einval() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::INVAL.raw_os_error())
}

fn owned(fd: c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned to us by the kernel and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// struct bpf_loader_ctx (skel_internal.h): sz, flags, log_level, log_size, log_buf.
const CTX_HEADER: usize = 24;
/// struct bpf_map_desc: map_fd, max_entries, initial_value.
const MAP_DESC: usize = 16;
/// struct bpf_prog_desc: prog_fd.
const PROG_DESC: usize = 4;

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
) -> Result<OwnedFd, (io::Error, Option<String>)> {
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
        let text = String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)])
            .into_owned();
        let last = text.lines().rev().find(|l| !l.trim().is_empty());
        return Err((e, last.map(str::to_owned)));
    }
    Ok(owned(r as c_int))
}

/// `BPF_PROG_LOAD` with the attribute size up to `keyring_id` (offsetofend(union bpf_attr,
/// keyring_id): the prog-load member is the union's start), so the kernel reads the signature
/// fields. Returns the raw result: a program fd, or -1 with errno set.
///
/// # Safety
/// Every pointer in `attr`'s prog-load member must be valid for the kernel to read (and the log
/// buffer to write) for the duration of the call.
unsafe fn prog_load_with_signature(attr: &mut sys::bpf_attr) -> c_long {
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
    let excl = crate::ksig::insns_hash(insns);
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
        Some(sig) => {
            load_signed(&aligned, &fd_array, sig).map_err(|(source, verifier)| SkelError {
                step: "load signed loader",
                source,
                verifier,
            })?
        }
        None => {
            // SAFETY: every pointer (name, license, insns, opts, fd_array) outlives the call.
            let prog = unsafe {
                sys::bpf_prog_load(
                    sys::BPF_PROG_TYPE_SYSCALL,
                    c"__loader.prog".as_ptr(),
                    c"Dual BSD/GPL".as_ptr(),
                    aligned.as_ptr(),
                    insn_cnt as _,
                    &mut opts,
                )
            };
            owned(check("load loader", prog)?)
        }
    };
    let ctx_len = CTX_HEADER + MAP_DESC * nr_maps + PROG_DESC * nr_progs;
    let mut ctx = vec![0u8; ctx_len.next_multiple_of(8)];
    ctx[0..4].copy_from_slice(&(ctx_len as u32).to_le_bytes());
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
    let fd_at =
        |off: usize| i32::from_le_bytes([ctx[off], ctx[off + 1], ctx[off + 2], ctx[off + 3]]);
    let maps: Vec<c_int> = (0..nr_maps)
        .map(|i| fd_at(CTX_HEADER + MAP_DESC * i))
        .collect();
    let progs: Vec<c_int> = (0..nr_progs)
        .map(|i| fd_at(CTX_HEADER + MAP_DESC * nr_maps + PROG_DESC * i))
        .collect();
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

/// perf_event_open(attr, all processes, CPU 0, no group), as libbpf opens probes.
fn perf_event_open(attr: &PerfEventAttr) -> io::Result<OwnedFd> {
    // SAFETY: `attr` (and whatever its config1 points to, kept alive by the caller) outlives the
    // call; the kernel reads at most `attr.size` bytes.
    let r = unsafe {
        syscall(
            SYS_PERF_EVENT_OPEN,
            attr as *const PerfEventAttr,
            -1 as c_int,
            0 as c_int,
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

/// A perf event on tracepoint `id` (all processes, CPU 0), as libbpf opens it.
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
