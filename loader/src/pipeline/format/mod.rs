//! What is decided from the bytes alone: names, the signature trailer, keys, verification and the
//! ELF description. Pure code; the only I/O is reading a keys directory (`keys`).
#![forbid(unsafe_code)]

pub mod elf;
pub mod fast;
pub mod keys;
pub mod name;
pub mod trailer;
pub mod verify;

#[cfg(test)]
mod known_answer;
