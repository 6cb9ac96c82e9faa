//! libbpf's gen_loader over an object, without touching the kernel: the loader program and its
//! data, and the maps and programs in the loader's order. At sign time over an ELF object in
//! memory ([`generate`]); at boot over the built-in guard, opened and set up for this kernel
//! ([`generate_opened`]).
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr};
use std::io;

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

// Sign time reads every field (its refusals); the guard at boot only names and autoload.
#[cfg_attr(not(feature = "sign"), allow(dead_code))]
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
#[cfg_attr(not(feature = "sign"), allow(dead_code))]
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
#[cfg(feature = "sign")]
pub fn generate<R>(
    elf: &[u8],
    name: &str,
    gen_hash: bool,
    refuse: impl Fn(&[(String, u32, bool)], &[GenProg]) -> Option<R>,
) -> Result<Generated, GenerateError<R>> {
    let cname = std::ffi::CString::new(name).map_err(|_| GenerateError::Name)?;
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
    let (insns, data) = gen_loader(&obj, gen_hash)?;
    Ok(Generated {
        insns,
        data,
        maps,
        progs,
    })
}

/// gen_loader over an object opened (its programs' autoload and its maps' data set) and not yet
/// loaded: the loader program and its data. The object is left loaded in gen_loader mode (good
/// only for closing).
fn gen_loader<R>(obj: &Obj, gen_hash: bool) -> Result<(Vec<u8>, Vec<u8>), GenerateError<R>> {
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
    let out = unsafe {
        (
            std::slice::from_raw_parts(gen.insns.cast::<u8>(), gen.insns_sz as usize).to_vec(),
            if gen.data_sz == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(gen.data.cast::<u8>(), gen.data_sz as usize).to_vec()
            },
        )
    };
    Ok(out)
}

/// [`generate`] over an object the caller opened and set up (libbpf-rs's skeleton of the
/// guard: programs chosen, read-only data written), without a hash check. The caller keeps the
/// object and closes it; it is loaded in gen_loader mode afterwards, good for nothing else.
pub fn generate_opened(
    obj: std::ptr::NonNull<sys::bpf_object>,
) -> Result<Generated, GenerateError<std::convert::Infallible>> {
    let obj = std::mem::ManuallyDrop::new(Obj(obj.as_ptr()));
    let (maps, progs) = describe(&obj);
    let (insns, data) = gen_loader(&obj, false)?;
    Ok(Generated {
        insns,
        data,
        maps,
        progs,
    })
}
