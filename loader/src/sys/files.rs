//! Plain filesystem calls for the modules outside `sys/` that must look at files: `/proc` and
//! sysfs for the libbpf boundary, the guard's stat of what it protects, the status record's
//! directory. Thin wrappers with std's behaviour, so that `std::fs` is named under `sys/` only
//! (clippy's `disallowed-methods`, `loader/clippy.toml`, enforces it for the rest).
#![forbid(unsafe_code)]
// This module is where they are allowed.
#![allow(clippy::disallowed_methods)]

use std::fs::{Metadata, ReadDir};
use std::io;
use std::path::{Path, PathBuf};

pub fn metadata(path: &Path) -> io::Result<Metadata> {
    std::fs::metadata(path)
}

pub fn symlink_metadata(path: &Path) -> io::Result<Metadata> {
    std::fs::symlink_metadata(path)
}

pub fn read_dir(path: &Path) -> io::Result<ReadDir> {
    std::fs::read_dir(path)
}

pub fn read_link(path: &Path) -> io::Result<PathBuf> {
    std::fs::read_link(path)
}

/// A small kernel file (sysfs, /proc) as text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
}

pub fn create_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir(path)
}

pub fn remove_dir(path: &Path) -> io::Result<()> {
    std::fs::remove_dir(path)
}

pub fn remove_dir_all(path: &Path) -> io::Result<()> {
    std::fs::remove_dir_all(path)
}
