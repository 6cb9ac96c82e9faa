#!/bin/bash
# All tests of bpf-preload, as root on Debian 12: unit tests, root integration tests (private
# mount namespaces, real objects from bpf/), the lints (tests/lint.sh), a short run of every fuzz target
# (loader/fuzz/ci.sh), the VM boot tests (tests/vm/run.sh) and the
# fresh-machine test (tests/fresh-machine.sh: the set-up commands in a minimal Debian 12 root)
# and the reproducibility check (tests/repro.sh).
# Installs what it needs (tests/deps.sh). Ends with one line
# "N passed, M failed, K skipped (<test>: <reason>; ...)".
#
# A test that cannot run on this kernel prints "SKIP <test>: <reason>" (tests/common/mod.rs
# `skip`) and returns: cargo reports it passed, this summary counts it skipped, not passed.
#
#   sudo tests/run-all.sh [--no-vm] [--no-fresh]
set -uo pipefail
cd "$(dirname "$0")/.."
VM=1 FRESH=1
for a in "$@"; do
    case $a in
        --no-vm) VM=0 FRESH=0 ;;
        --no-fresh) FRESH=0 ;;
        *) echo "usage: tests/run-all.sh [--no-vm] [--no-fresh]" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "run-all: needs root (BPF, mounts, chroot, qemu images)" >&2; exit 2; }
T0=$(date +%s)
# part NAME: the wall time since the last part, for the per-part table (tests/vm/README.md).
TP=$T0 PARTS=
part() {
    local now
    now=$(date +%s)
    PARTS+="${PARTS:+, }$1 $((now - TP)) s"
    TP=$now
}

set -e
if ((VM)); then tests/deps.sh vm; else tests/deps.sh build; fi
make -s -C bpf
# A binary with the test key built in, for the built-in keys test: in the tests' profile
# (Cargo.toml release-tests), so its dependencies are the ones `cargo test` below reuses and no
# LTO link is spent on a binary only a test runs. Then the initramfs build (no sign-time code;
# what the generators install, Makefile `build`; the loader and format crates only) and the
# normal one (the VM tests use both; with --no-vm nothing does, and it is not built).
BPF_PRELOAD_BUILTIN_KEYS=$PWD/keys/test-only cargo build --profile release-tests --locked
install -m 0755 target/x86_64-unknown-linux-gnu/release-tests/bpf-preload target/bpf-preload-builtin-keys
export BPF_PRELOAD_BUILTIN_BIN=$PWD/target/bpf-preload-builtin-keys
# Both with the Makefile's flags (its path remapped: the reproducibility check below compares
# this initramfs build with a second checkout's).
make -s build-initrd
export BPF_PRELOAD_INITRD_BIN=$PWD/target/bpf-preload-initrd
if ((VM)); then make -s build; fi
set +e
part "deps and builds"

passed=0 failed=0 skipped=0 reasons=
log=$(mktemp)
# Root tests are #[ignore]d with their reason for non-root runs; here we are root.
cargo test --profile release-tests --locked --workspace -- --include-ignored 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
while read -r p f; do
    passed=$((passed + p)) failed=$((failed + f))
done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$log")
if ((rc != 0)) && ! grep -q '^test result:' "$log"; then
    echo "run-all: cargo test did not run (exit $rc)"
    failed=$((failed + 1))
fi
# Each skip was reported "ok" by cargo: move it from passed to skipped. (With one test thread
# the harness prints "test <name> ... " before running the test: the line starts after it.)
while IFS= read -r line; do
    skipped=$((skipped + 1)) passed=$((passed - 1))
    reasons+="${reasons:+; }$line"
done < <(sed -nE 's/^(test [^ ]+ \.\.\. )?SKIP ([A-Za-z0-9_:]+: .*)/\2/p' "$log")

# The pure crate stays pure: none of its normal dependencies may reach an I/O crate.
if impure=$(cargo tree --locked -p bpf-preload-format -e normal --prefix none |
    grep -E '^(libbpf-[a-z]+|rustix|nix|libc) '); then
    echo "run-all: bpf-preload-format reaches I/O crates: $impure"
    failed=$((failed + 1))
else
    echo "run-all: bpf-preload-format reaches no libbpf-*, rustix, nix or libc"
    passed=$((passed + 1))
fi
# The initramfs build stays small (issue 24: at most 2.5 MiB); BENCHMARKS.md has the figures.
size=$(stat -c %s target/bpf-preload-initrd)
if ((size > 2621440)); then
    echo "run-all: target/bpf-preload-initrd is $size B, over 2.5 MiB (2621440 B)"
    failed=$((failed + 1))
else
    echo "run-all: target/bpf-preload-initrd is $size B, at most 2.5 MiB (2621440 B)"
    passed=$((passed + 1))
fi
part "cargo test"

# suite NAME CMD...: run a script that ends with "N passed, M failed"; add its counts.
suite() {
    local name=$1 rc line p f
    shift
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
    if [[ -n $line ]]; then
        read -r p _ f _ <<<"${line//,/}"
        passed=$((passed + p)) failed=$((failed + f))
    else
        echo "run-all: $name printed no summary (exit $rc)"
        failed=$((failed + 1))
    fi
}
# fmt, clippy (-D warnings) and shellcheck (tests/lint.sh): each finding fails the run.
suite "lints" tests/lint.sh
part lints
# Two checkouts at two paths build the same initramfs binary (tests/repro.sh: its own
# checkouts and target/ directories, kept between runs in /var/cache/bpf-preload-tests/repro).
# A clean checkout (CI's clone) is the first of the two: its initramfs build above is compared
# with one more checkout's, one release build instead of two. It builds commits, so it needs a
# git checkout: a copy without .git (tests/fresh-machine.sh copies the work tree) counts it
# skipped, with the reason.
if git rev-parse --verify -q HEAD > /dev/null 2>&1; then
    if [[ -z $(git status --porcelain) ]]; then
        suite "reproducibility" tests/repro.sh --against "$BPF_PRELOAD_INITRD_BIN"
    else
        suite "reproducibility" tests/repro.sh
    fi
else
    echo "SKIP reproducibility: not a git checkout (tests/repro.sh builds HEAD)"
    skipped=$((skipped + 1))
    reasons+="${reasons:+; }reproducibility: not a git checkout"
fi
part reproducibility
# Every fuzz target for a short bounded time (loader/fuzz/ci.sh): one test, failed by any crash.
if loader/fuzz/ci.sh "${FUZZ_SECONDS:-10}"; then
    passed=$((passed + 1))
else
    echo "run-all: fuzzing found a crash (loader/fuzz/artifacts/)"
    failed=$((failed + 1))
fi
part fuzz
# One after the other: on 2 cores both are CPU-bound. Run at the same time, the boots slowed
# from about 35 s to 100 s and the whole run took as long (tests/vm/README.md "Wall time").
if ((VM)); then
    suite "VM tests" tests/vm/run.sh
    part "VM tests"
fi
if ((FRESH)); then
    suite "fresh-machine test" tests/fresh-machine.sh
    part "fresh machine"
fi
rm -f "$log"
echo "run-all: wall time $(($(date +%s) - T0)) s ($PARTS)"
echo "$passed passed, $failed failed, $skipped skipped${reasons:+ ($reasons)}"
((failed == 0))
