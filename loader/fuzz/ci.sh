#!/bin/bash
# Run every fuzz target for a short, bounded time (default 25 s each): a crash, a panic or a
# timeout of any target makes this exit non-zero. For CI (tests/run-all.sh) and by hand:
#
#   loader/fuzz/ci.sh [SECONDS_PER_TARGET]
#
# FUZZ_SANITIZER=address adds AddressSanitizer (default: none). Every parser fuzzed is in the pure
# crate, which forbids `unsafe`: ASan watches for memory errors safe Rust cannot make, and its
# instrumentation made the build of the targets ~35 % more CPU (236 s against 172 s of CPU for
# a cold build). Out-of-bounds indexing, overflow (debug assertions are on) and every panic are
# caught without it. The long recorded runs (README.md) use ASan.
#
# Installs cargo-fuzz from crates.io when it is missing. cargo-fuzz needs nightly-only flags;
# RUSTC_BOOTSTRAP=1 lets the one stable toolchain accept them. Runs at the lowest CPU priority.
# The corpus grows in loader/fuzz/corpus/<target> (not committed); crashes land in
# loader/fuzz/artifacts/<target> and are named in the output.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-25}
TARGETS=(trailer signed_object cmdline elf status_json pem_keys revoked fast_section)
export RUSTC_BOOTSTRAP=1
# .cargo/config.toml names a target for the static build; the fuzzers build for the host.
TRIPLE=x86_64-unknown-linux-gnu
SANITIZER=${FUZZ_SANITIZER:-none}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/ci.sh: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" fuzz/artifacts
    echo "== fuzz $t (${SECONDS_PER_TARGET}s)"
    if ! nice -n 19 cargo fuzz run "$t" --sanitizer "$SANITIZER" --target "$TRIPLE" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>"fuzz/artifacts/$t.log"; then
        failed+=("$t")
        tail -n 40 "fuzz/artifacts/$t.log" >&2
    fi
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "fuzz/artifacts/$t.log" || true
done
if ((${#failed[@]})); then
    echo "fuzz/ci.sh: FAILED: ${failed[*]} (see loader/fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz/ci.sh: ${#TARGETS[@]} targets, no crash"
