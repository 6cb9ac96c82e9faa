#!/bin/bash
# All tests of bpf-preload, as root on Debian 12: unit tests, root integration tests (private
# mount namespaces, real objects from bpf/), and the VM boot tests (tests/vm/run.sh).
# Installs what it needs. Ends with one line "N passed, M failed".
#
#   sudo tests/run-all.sh [--no-vm]
set -uo pipefail
cd "$(dirname "$0")/.."
VM=1
[[ ${1:-} == --no-vm ]] && VM=0
[[ $(id -u) == 0 ]] || { echo "run-all: needs root (BPF, mounts, chroot, qemu images)" >&2; exit 2; }

set -e
tests/deps.sh
make -s -C bpf
# A binary with the test key built in (for the built-in keys test), then the normal one.
BPF_PRELOAD_BUILTIN_KEYS=$PWD/keys/test-only cargo build --release --locked
install -m 0755 target/x86_64-unknown-linux-gnu/release/bpf-preload target/bpf-preload-builtin-keys
export BPF_PRELOAD_BUILTIN_BIN=$PWD/target/bpf-preload-builtin-keys
cargo build --release --locked
set +e

passed=0 failed=0
log=$(mktemp)
# Root tests are #[ignore]d with their reason for non-root runs; here we are root.
cargo test --release --locked --workspace -- --include-ignored 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
while read -r p f; do
    passed=$((passed + p)) failed=$((failed + f))
done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$log")
if ((rc != 0)) && ! grep -q '^test result:' "$log"; then
    echo "run-all: cargo test did not run (exit $rc)"
    failed=$((failed + 1))
fi

if ((VM)); then
    tests/vm/run.sh 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
    if [[ -n $line ]]; then
        read -r p _ f _ <<<"${line//,/}"
        passed=$((passed + p)) failed=$((failed + f))
    else
        echo "run-all: VM tests printed no summary (exit $rc)"
        failed=$((failed + 1))
    fi
    ((rc == 0)) || [[ -n $line ]] || failed=$((failed + 1))
fi
rm -f "$log"
echo "$passed passed, $failed failed"
((failed == 0))
