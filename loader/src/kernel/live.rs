//! The live status's probe of the running system ([`LiveProbe`]): pins through BPF_OBJ_GET (the
//! same probe `run` uses on an object already loaded), link ids through BPF_LINK_GET_FD_BY_ID,
//! and small bounded reads of kernel text files. It decides nothing: `pipeline::live` does.
#![forbid(unsafe_code)]

use std::io;
use std::path::Path;

use super::Libbpf;
use crate::pipeline::live::LiveProbe;
use crate::pipeline::load::Kernel;
use crate::pipeline::object::Probe;
use crate::sys::{self, skel};

/// Largest kernel text file read (the mount table of a busy machine included).
const MAX_TEXT: u64 = 1 << 20;

impl LiveProbe for Libbpf {
    fn pin(&self, path: &Path) -> io::Result<Probe> {
        // Nothing at the path is "not pinned"; a directory or a symlink there is no pin (pins
        // are files of the bpffs); for the rest, BPF_OBJ_GET says what it is, or why not.
        if !sys::files::symlink_metadata(path)?.is_file() {
            return Ok(Probe::Other);
        }
        self.probe(path)
    }

    fn link_exists(&self, id: u32) -> io::Result<bool> {
        match skel::link_fd_by_id(id) {
            // Closing the descriptor only closes it: the link stays as it is.
            Ok(_fd) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match sys::files::symlink_metadata(path) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in sys::files::read_dir(dir)? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn read_text(&self, path: &Path) -> io::Result<String> {
        sys::read_bounded(path, MAX_TEXT).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}
