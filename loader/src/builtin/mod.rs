//! BPF programs built into the binary (libbpf-cargo skeletons of `bpf/builtin/*.bpf.c`, made by
//! build.rs): trusted as part of the binary, loaded by `run` itself.
pub mod guard;
