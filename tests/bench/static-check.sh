#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves the release binary is self-contained: it runs from an otherwise EMPTY
# chroot (no libc, no ld.so, no /proc, no /dev), as it must in an initramfs.
#
#   sudo tests/bench/static-check.sh [BINARY]
#
# Copies only the binary, one signed object (/obj) and the test public key
# (/key.pub) into a fresh directory and runs, chrooted there:
#   /bpf-preload --help
#   /bpf-preload inspect /obj
#   /bpf-preload verify --key /key.pub /obj   (ed25519 check inside the chroot)
# Prints one line per check and exits non-zero if any fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-$ROOT/target/x86_64-unknown-linux-gnu/release/bpf-preload}
OBJ=$ROOT/build/bpf/bench_01.bpf.o
KEY=$ROOT/keys/test-only/signing-key.pem
PUB=$ROOT/keys/test-only/signing-key.pub

[[ $(id -u) -eq 0 ]] || { echo "static-check: must run as root (chroot)" >&2; exit 1; }
[[ -x $BIN ]] || { echo "static-check: no binary at $BIN (cargo build --release)" >&2; exit 1; }
[[ -f $OBJ ]] || { echo "static-check: no $OBJ (make -C bpf)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/bpf-preload-chroot-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cp "$BIN" "$DIR/bpf-preload"
"$BIN" sign --key "$KEY" --output "$DIR/obj" "$OBJ" >/dev/null
cp "$PUB" "$DIR/key.pub"

echo "chroot contents: $(cd "$DIR" && ls | tr '\n' ' ')"
fail=0
check() {
    local what=$1; shift
    local out rc=0
    out=$(chroot "$DIR" "$@" 2>&1) || rc=$?
    if [[ $rc -eq 0 ]]; then
        echo "ok   chroot $what: $(head -n1 <<<"$out")"
    else
        echo "FAIL chroot $what (exit $rc): $out"
        fail=1
    fi
}
check "/bpf-preload --help" /bpf-preload --help
check "/bpf-preload inspect /obj" /bpf-preload inspect /obj
check "/bpf-preload verify --key /key.pub /obj" /bpf-preload verify --key /key.pub /obj
exit $fail
