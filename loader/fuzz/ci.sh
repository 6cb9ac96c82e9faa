#!/bin/bash
# Run every fuzz target for a short, bounded time (default 25 s each): a crash, a panic or a
# timeout of any target makes this exit non-zero. For CI (tests/run-all.sh) and by hand:
#
#   loader/fuzz/ci.sh [SECONDS_PER_TARGET]
#
# The targets are cargo-fuzz targets (fuzz/Cargo.toml; `cargo fuzz run` works as README.md
# says), but this script does not install cargo-fuzz (about 1.5 min of compiling it on every
# fresh machine, twice in CI with the fresh-machine test): it builds every target in one
# `cargo build` with the instrumentation flags cargo-fuzz 0.12 passes (its src/project.rs
# `cargo()`: sancov-module, inline 8-bit counters, pc-table, trace-compares, stack-depth,
# branch folding off, `--cfg fuzzing`, debug assertions, dead code linked), except its single
# codegen unit (faster execution for long runs; here the build is most of the time), and runs
# each binary with libFuzzer's own options. Two targets at a time: libFuzzer uses one core.
#
# FUZZ_SANITIZER=address adds AddressSanitizer (default: none). Every parser fuzzed is in the pure
# crate, which forbids `unsafe`: ASan watches for memory errors safe Rust cannot make, and its
# instrumentation made the build of the targets ~35 % more CPU (236 s against 172 s of CPU for
# a cold build). Out-of-bounds indexing, overflow (debug assertions are on) and every panic are
# caught without it. The long recorded runs (README.md) use ASan. `-Z` flags need nightly;
# RUSTC_BOOTSTRAP=1 lets the one stable toolchain accept them. Runs at the lowest CPU priority.
# The corpus grows in loader/fuzz/corpus/<target> (not committed); crashes land in
# loader/fuzz/artifacts/<target>/ and are named in the output.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-25}
TARGETS=(trailer signed_object cmdline elf status_json pem_keys revoked fast_section btf)
export RUSTC_BOOTSTRAP=1
# .cargo/config.toml names a target for the static build; the fuzzers build for the host,
# named explicitly so that RUSTFLAGS reach the targets and not the build scripts.
TRIPLE=x86_64-unknown-linux-gnu
SANITIZER=${FUZZ_SANITIZER:-none}

flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags+=" -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares"
flags+=" -Cllvm-args=-simplifycfg-branch-fold-threshold=0 --cfg fuzzing -Clink-dead-code"
flags+=" -Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions"
case $SANITIZER in
    none) ;;
    address) flags+=" -Zsanitizer=address"; export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0 ;;
    *) echo "fuzz/ci.sh: FUZZ_SANITIZER=$SANITIZER: only none or address" >&2; exit 2 ;;
esac
# Its own target directory per sanitizer: the flags differ, and a normal build must not reuse
# instrumented artefacts (nor the other way round).
TARGET_DIR=target/ci-$SANITIZER
echo "== fuzz build (${#TARGETS[@]} targets, sanitizer $SANITIZER)"
RUSTFLAGS="$flags ${RUSTFLAGS:-}" nice -n 19 cargo build --release --bins \
    --config profile.release.debug=true --target "$TRIPLE" --target-dir "$TARGET_DIR"
BIN=$TARGET_DIR/$TRIPLE/release

# run TARGET: fuzz it for SECONDS_PER_TARGET; the log in artifacts/TARGET.log.
# Committed seeds (seeds/TARGET, read only) join the corpus: without one, `btf` spent its
# seconds on the header's checks.
run() {
    local t=$1 seeds=()
    mkdir -p "corpus/$t" "artifacts/$t"
    [[ -d seeds/$t ]] && seeds=("seeds/$t")
    nice -n 19 "$BIN/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$SECONDS_PER_TARGET" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "corpus/$t" "${seeds[@]}" \
        > "artifacts/$t.log" 2>&1
}
failed=()
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
    pair=("${TARGETS[@]:i:2}")
    echo "== fuzz ${pair[*]} (${SECONDS_PER_TARGET}s)"
    pids=()
    for t in "${pair[@]}"; do
        run "$t" &
        pids+=($!)
    done
    for j in "${!pair[@]}"; do
        t=${pair[j]}
        if ! wait "${pids[j]}"; then
            failed+=("$t")
            tail -n 40 "artifacts/$t.log" >&2
        fi
        grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "artifacts/$t.log" | sed "s/^/$t: /" || true
    done
done
if ((${#failed[@]})); then
    echo "fuzz/ci.sh: FAILED: ${failed[*]} (see loader/fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz/ci.sh: ${#TARGETS[@]} targets, no crash"
