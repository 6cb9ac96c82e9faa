#!/bin/bash
# The README's set-up commands on a fresh Debian 12 machine, whatever this
# machine already has installed. A minimal Debian 12 root (mmdebstrap
# --variant=minbase) holds only what the README promises: gcc, python3,
# qemu-utils (from bookworm-backports, as on the CI machines), ca-certificates,
# the Debian 12 apt sources, and Rust: the host's toolchain, bind-mounted
# read-only (crates come from crates.io; the machine's CA bundle is bind-mounted
# for cargo, for networks that intercept TLS). A copy of this work tree goes to /src.
#
#   tests/fresh-machine.sh [--order demo-first|tests-first|both]
#
#   demo-first   in a fresh root: tests/vm/demo.sh as the very first command:
#                deps (apt inside the root), make -C bpf, cargo build, signing,
#                the kernel download (private apt configuration), the dracut
#                initramfs and one qemu boot whose real-root checks must pass.
#   tests-first  in another fresh root: tests/run-all.sh --no-vm as the very
#                first command (deps, builds, unit and root integration tests, the
#                lints, every fuzz target for 2 s instead of 10: it proves that the
#                fuzzers install, build and run; the VM boots are left out,
#                demo-first covers one).
#   both         (default) the two.
# Not covered here: the benchmark (tests/bench/run.sh uses tests/deps.sh bench
# like the others) and the full VM matrix (tests/vm/run.sh, on the host).
#
# The base root is cached as build/fresh-base/bookworm-base.tar (outside the checkout:
# common.sh BP_CACHE; made again each week); every run unpacks it anew, with no cache. Prints "N passed, M failed" last.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=vm/lib.sh
source "$HERE/vm/lib.sh"
# shellcheck disable=SC2034 # read by bp_log (common.sh)
BP_LOG_TAG=fresh
ORDER=both
while (($#)); do
    case $1 in
        --order) ORDER=$2; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || bp_die "needs root (mmdebstrap, chroot, mounts)"
T0=$(date +%s)
"$BP_TOP/tests/deps.sh" vm # mmdebstrap on the host

F=$BP_BUILD/fresh
mkdir -p "$F"
# the base root's tarball: outside the checkout (common.sh BP_CACHE), made again each week
bp_cached "$BP_BUILD/fresh-base"
BASE=$BP_BUILD/fresh-base/bookworm-base.tar
PKGS="gcc,python3,ca-certificates,qemu-utils/bookworm-backports"
stamp=$(echo "$PKGS $BP_MIRROR $BP_WEEK" | sha256sum | cut -c1-16)
if [[ ! -s $BASE || $(cat "$BASE.stamp" 2> /dev/null) != "$stamp" ]]; then
    mkdir -p "$F"
    bp_log "mmdebstrap bookworm minbase + $PKGS -> $BASE"
    # backports only while installing qemu-utils; the root keeps Debian 12's
    # usual sources (bookworm, bookworm-updates, bookworm-security).
    mmdebstrap --mode=root --variant=minbase --include="$PKGS" \
        --customize-hook='printf "%s\n" \
            "deb http://deb.debian.org/debian bookworm main" \
            "deb http://deb.debian.org/debian bookworm-updates main" \
            "deb http://deb.debian.org/debian-security bookworm-security main" > "$1/etc/apt/sources.list"' \
        --format=tar bookworm "$F/new-base.tar" \
        "deb [signed-by=$BP_KEYRING] $BP_MIRROR bookworm main" \
        "deb [signed-by=$BP_KEYRING] $BP_MIRROR bookworm-backports main" > "$F/mmdebstrap.log" 2>&1 ||
        { tail -n 30 "$F/mmdebstrap.log" >&2; bp_die "mmdebstrap failed (log: $F/mmdebstrap.log)"; }
    mv "$F/new-base.tar" "$BASE"
    echo "$stamp" > "$BASE.stamp"
fi

TOOLCHAIN=$(rustc --print sysroot)
[[ -x $TOOLCHAIN/bin/cargo ]] || bp_die "no cargo in the host's toolchain $TOOLCHAIN"
# The machine's TLS trust goes along with its network: where a CI network
# intercepts TLS with its own CA, cargo in the root needs that CA to reach
# crates.io. (apt uses http and needs nothing.)
CAFILE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}

PASSED=0 FAILED=0
# fresh_run NAME CMD...: unpack the base root, copy the work tree, run CMD in /src.
fresh_run() {
    local name=$1 r=$F/$1 log=$F/$1.log t=$SECONDS rc=0
    shift
    rm -rf "$r" && mkdir -p "$r"
    tar -xf "$BASE" -C "$r"
    mkdir -p "$r/src"
    (cd "$BP_TOP" && git ls-files -z --cached --others --exclude-standard |
        tar --null -T - -c 2> /dev/null) | tar -x -C "$r/src"
    bp_log "$name: $* (log $log)"
    VM_ROOT_RO_BINDS="$TOOLCHAIN=/opt/rust $(dirname "$CAFILE")=/opt/host-ca" vm_in_root "$r" \
        PATH=/opt/rust/bin:/usr/sbin:/usr/bin:/sbin:/bin CARGO_HOME=/root/.cargo \
        CARGO_HTTP_CAINFO="/opt/host-ca/${CAFILE##*/}" FUZZ_SECONDS=2 \
        bash -c 'cd /src && exec "$@"' fresh "$@" > "$log" 2>&1 || rc=$?
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
        bp_log "PASS $name ($((SECONDS - t)) s)"
    else
        FAILED=$((FAILED + 1))
        tail -n 25 "$log" | sed 's/^/    /' >&2
        bp_log "FAIL $name (exit $rc after $((SECONDS - t)) s; log $log)"
    fi
    # the root is big (toolchain output, kernel, images): keep only the log
    rm -rf "$r"
}

case $ORDER in
    demo-first|both) fresh_run fresh-demo-first tests/vm/demo.sh ;;&
    tests-first|both) fresh_run fresh-tests-first tests/run-all.sh --no-vm ;;
    demo-first) ;;
    *) bp_die "unknown --order $ORDER" ;;
esac
bp_log "wall time $(($(date +%s) - T0)) s"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
