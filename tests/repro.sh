#!/bin/bash
# Reproducibility check: the committed tree (HEAD) checked out at two paths of different
# lengths, `make build-initrd` in each (the initramfs build the generators install: release,
# --no-default-features, with the Makefile's --remap-path-prefix), and the two binaries
# compared byte for byte; the sha256 of both is printed. tests/run-all.sh runs it.
#
#   tests/repro.sh [--fresh] [--against FILE] [MAKE-VARIABLE=VALUE ...]
#       last line "N passed, M failed"; exit 0 when the binaries are equal
#   --against FILE   FILE is the first binary: `make build-initrd` of this checkout, which must
#                    be HEAD with nothing changed (tests/run-all.sh builds it anyway and passes
#                    it when `git status` is clean); only the second checkout is built. Neither
#                    binary may name this checkout's path either.
#
# The two checkouts and their target/ directories persist in $BP_REPRO_DIR (default
# /var/cache/bpf-preload-tests/repro), updated to HEAD on each run, so that a run rebuilds
# what the commit changed instead of every dependency twice. Measured on the 2-core test
# machine (2026-12-06): after a commit that changed both crates of the workspace, 28 s for
# both builds (each: format, loader, the LTO link); from nothing (the first run, or --fresh,
# or a Cargo.lock or toolchain change), 16 min wall while three other sessions shared the
# cores (4.6 CPU-minutes in all). --fresh uses new temporary checkouts: the full builds.
# The control, by hand and not in CI: `tests/repro.sh --fresh REPRO_CONFIG=` builds without
# the remap flags and fails: the checkout's path is in the binary through the skeletons
# included from OUT_DIR (`.../target/.../build/bpf-preload-HASH/out/guard.skel.rs`, the same
# HASH in both checkouts).
#
# What this proves, and what it does not:
# - Each checkout builds in its own target/ inside the checkout (CARGO_TARGET_DIR is unset on
#   purpose). One shared target directory would hide the leaks this is about: the build
#   scripts' OUT_DIR (loader/build.rs's skeletons and BPF objects; libbpf-sys's C build of
#   libbpf, libelf and zlib) would be the same path for both builds, and cargo could reuse the
#   first build's outputs for the second (its unit hashes do not depend on the checkout path).
# - No byte of either binary may contain the directory the checkouts are under: an absolute
#   path that leaked would show there even where it is the same in both.
# - Not proven: with the persistent directories, cargo's fingerprints decide what is rebuilt
#   (a dependency is rebuilt when Cargo.lock, the flags or the toolchain change; --fresh
#   rebuilds everything). Shared between the two builds, so not varied: CARGO_HOME (the
#   registry sources, one path for both, as on any builder), the toolchain, the system's clang
#   and libraries, the time and the user. Only the initramfs binary is compared; the host
#   binary (`make build`, default features) is built with the same flags but not compared
#   here (it would double the time). Uncommitted changes are not built (HEAD is).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
base=${BP_REPRO_DIR:-/var/cache/bpf-preload-tests/repro}
against=
while (($#)); do
    case $1 in
        --fresh)
            shift
            base=$(mktemp -d /tmp/bpf-preload-repro.XXXXXX)
            trap 'rm -rf "$base"' EXIT
            ;;
        --against) against=$2; shift 2 ;;
        *) break ;;
    esac
done
if [[ -n $against ]]; then
    [[ -s $against ]] || { echo "repro: --against $against: no such binary"; echo "0 passed, 1 failed"; exit 1; }
    if [[ -n $(git -C "$top" status --porcelain) ]]; then
        echo "repro: --against: $top has changes; HEAD is what the second checkout builds"
        echo "0 passed, 1 failed"
        exit 1
    fi
fi
mkdir -p "$base" || { echo "repro: cannot make $base"; exit 2; }
# Exactly the Makefile's build: no flags from the environment (RUSTFLAGS would replace the
# configuration's rustflags, the remap included), no built-in keys, no shared target/.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS \
    CARGO_BUILD_RUSTFLAGS BPF_PRELOAD_BUILTIN_KEYS
commit=$(git -C "$top" rev-parse HEAD) || { echo "repro: $top is not a git checkout"; exit 2; }
start=$(date +%s)
bins=() dirs=("$base/a" "$base/second-checkout-with-a-longer-path")
if [[ -n $against ]]; then
    bins=("$against") dirs=("${dirs[1]}")
fi
for d in "${dirs[@]}"; do
    if [[ -d $d/.git ]]; then
        # The build's own output (target/) stays; everything else is HEAD's.
        git -C "$d" fetch -q "$top" "$commit" && git -C "$d" checkout -q --force --detach "$commit" &&
            git -C "$d" clean -qffdx -e /target
    else
        rm -rf "$d" && git clone -q --no-hardlinks "$top" "$d" && git -C "$d" checkout -q --detach "$commit"
    fi || { echo "repro: cannot check out $commit in $d"; echo "0 passed, 1 failed"; exit 1; }
    if ! make -s -C "$d" build-initrd "$@" > "$d.log" 2>&1; then
        tail -n 20 "$d.log"
        echo "repro: FAIL make build-initrd in $d"
        echo "0 passed, 1 failed"
        exit 1
    fi
    bins+=("$d/target/bpf-preload-initrd")
done
took=$(($(date +%s) - start))
a=$(sha256sum < "${bins[0]}") b=$(sha256sum < "${bins[1]}")
echo "repro: sha256 ${a%% *} ${bins[0]}"
echo "repro: sha256 ${b%% *} ${bins[1]}"
if [[ $a == "$b" ]] && ! grep -q -F -a -e "$base" -e "$top" "${bins[@]}"; then
    echo "repro: PASS two checkouts of ${commit:0:12}, one initramfs binary (${took}s for the builds)"
    echo "1 passed, 0 failed"
else
    echo "repro: FAIL two checkouts of ${commit:0:12} built different bytes or name their path (${took}s); the path in them:"
    strings "${bins[@]}" | grep -F -e "$base" -e "$top" | sort -u | head -n 10
    echo "0 passed, 1 failed"
    exit 1
fi
