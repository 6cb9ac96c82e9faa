#!/bin/bash
# Reproducibility check: the committed tree (HEAD) cloned to two paths of different lengths,
# `make build` in each (its own target/, so two full release builds: minutes, which is why
# tests/run-all.sh does not run this), and the two loaders compared byte for byte. The
# Makefile remaps the checkout's path out of the binary (--remap-path-prefix) and
# loader/build.rs out of the built-in BPF object (-ffile-prefix-map); without them the
# binaries differ (the path is in panic locations and in the guard's BTF).
#
#   tests/repro.sh            last line "N passed, M failed"; exit 0 when they match
#
# CARGO_HOME is shared (the registry's paths are the same for both); the build dirs are
# removed afterwards.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
base=$(mktemp -d /tmp/bpf-preload-repro.XXXXXX)
trap 'rm -rf "$base"' EXIT
start=$(date +%s)
bins=()
for d in "$base/a" "$base/second-checkout-with-a-longer-path"; do
    git clone -q --no-hardlinks "$top" "$d" || { echo "repro: git clone failed"; exit 2; }
    if ! make -s -C "$d" build > "$d.log" 2>&1; then
        tail -n 20 "$d.log"
        echo "repro: FAIL make build in $d"
        echo "0 passed, 1 failed"
        exit 1
    fi
    bins+=("$d/target/x86_64-unknown-linux-gnu/release/bpf-preload")
done
took=$(($(date +%s) - start))
a=$(sha256sum < "${bins[0]}") b=$(sha256sum < "${bins[1]}")
if [[ $a == "$b" ]] && ! grep -q "$base" "${bins[0]}" "${bins[1]}"; then
    echo "repro: PASS two checkouts, one binary (sha256 ${a%% *}; ${took}s for both builds)"
    echo "1 passed, 0 failed"
else
    echo "repro: FAIL the binaries differ (${a%% *} vs ${b%% *}); checkout paths in them:"
    strings "${bins[@]}" | grep -F "$base" | sort -u | head -n 10
    echo "0 passed, 1 failed"
    exit 1
fi
