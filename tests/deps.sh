#!/bin/bash
# Install what building, testing, the demo and the benchmark need on a fresh
# Debian 12 machine (root). The one dependency script of every entry point:
#   tests/deps.sh build   the loader and the objects (make, cargo build)
#   tests/deps.sh demo    build + what tests/vm/demo.sh needs (dracut, busybox,
#                         qemu-system-x86 ...)
#   tests/deps.sh vm      demo + what the VM tests need (mmdebstrap for the
#                         Debian 13 root and the fresh-machine test)
#   tests/deps.sh deb     build + lintian (make deb; dpkg-deb is dpkg's own)
#   tests/deps.sh bench   build + the benchmark (bpftool with autoattach, time, and
#                         what its light-skeleton reference is built with)
#   tests/deps.sh all     everything (default)
# Idempotent, and quick when everything is there. Rust (cargo) is expected on
# the machine already; packages from bookworm-backports come through a private
# apt configuration (tests/common.sh): the machine's apt sources are not changed.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck disable=SC2034 # read by bp_log (common.sh)
BP_LOG_TAG=deps

BUILD=(
    # vendored libbpf-sys builds libbpf, libelf and zlib from source
    gcc libc6-dev clang llvm make pkg-config autoconf automake autopoint flex bison gawk
    # BPF C headers (bpf_helpers.h, linux/bpf.h) for bpf/; never linked
    libbpf-dev linux-libc-dev
    # signing keys made with openssl in the tests, `file`, TLS for crates.io
    openssl file ca-certificates python3
    # libFuzzer (C++) for the fuzz targets run by tests/run-all.sh (loader/fuzz/ci.sh)
    g++
    # tests/lint.sh: every shell script the project ships or runs
    shellcheck
)
DEMO=(
    # initramfs images (dracut's systemd and shell flavours) and the test root
    dracut-core systemd udev busybox-static e2fsprogs cpio zstd xz-utils kmod
    # poweroff, reboot, halt for dracut's shutdown/emergency code (a minimal root lacks them)
    systemd-sysv
)
# Debian 13 roots (dracut-ng, initramfs-tools, mkosi) and fresh Debian 12 roots;
# swtpm: the software TPM the measured-preload VM tests boot with (qemu -tpmdev emulator);
# lintian checks the package (make deb) the package tests install;
# ovmf (OVMF_CODE_4M.secboot.fd, OVMF_VARS_4M.snakeoil.fd and the snakeoil key) and sbsigntool
# (sbsign, sbverify): the Secure Boot cases (docs/secure-boot.md)
VM=(mmdebstrap swtpm swtpm-tools lintian ovmf sbsigntool)
DEB=(lintian)
# time for peak RSS; the light-skeleton reference of tests/bench/run.sh is built with
# `bpftool gen skeleton -L` (install_bpftool), gcc -static (libc6-dev's libc.a) and
# libbpf-dev's skel_internal.h over linux-libc-dev's linux/bpf.h
BENCH=(time util-linux gcc libc6-dev libbpf-dev linux-libc-dev)

# qemu-system-x86 must match qemu-utils when that came from bookworm-backports
# (it does on the CI machines): then it comes from there too.
install_qemu() {
    bp_have_pkg qemu-system-x86 && return 0
    if bp_installed_from_backports qemu-utils; then
        local v
        v=$(dpkg-query -W -f='${Version}' qemu-utils)
        bp_apt_install_from bookworm-backports "qemu-system-x86=$v" ||
            bp_apt_install_from bookworm-backports qemu-system-x86 qemu-utils ||
            bp_die "cannot install qemu-system-x86 from bookworm-backports"
    else
        bp_apt_install qemu-system-x86
    fi
}

# The benchmark compares with `bpftool prog loadall ... autoattach`: bookworm's
# bpftool 7.1 lacks it, bookworm-backports has 7.5.
install_bpftool() {
    bp_apt_install bpftool
    bpftool prog help 2>&1 | grep -q autoattach && return 0
    if grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
        bp_apt_install_from bookworm-backports bpftool || bp_die "cannot install bpftool from bookworm-backports"
    fi
}

check_rust() {
    command -v cargo > /dev/null ||
        bp_die "cargo not found: install Rust (https://rustup.rs) first; the rest is installed from apt"
}

what=${1:-all}
case $what in
    build) check_rust; bp_apt_install "${BUILD[@]}" ;;
    demo) check_rust; bp_apt_install "${BUILD[@]}" "${DEMO[@]}"; install_qemu ;;
    vm) check_rust; bp_apt_install "${BUILD[@]}" "${DEMO[@]}" "${VM[@]}"; install_qemu ;;
    deb) check_rust; bp_apt_install "${BUILD[@]}" "${DEB[@]}" ;;
    bench) check_rust; bp_apt_install "${BUILD[@]}" "${BENCH[@]}"; install_bpftool ;;
    all) check_rust; bp_apt_install "${BUILD[@]}" "${DEMO[@]}" "${VM[@]}" "${BENCH[@]}"; install_qemu; install_bpftool ;;
    *) echo "usage: tests/deps.sh [build|demo|vm|deb|bench|all]" >&2; exit 2 ;;
esac
