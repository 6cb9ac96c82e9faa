#!/bin/bash
# The lints CI enforces (tests/run-all.sh runs this): `cargo fmt --check`, `cargo clippy` on
# every target of the workspace with warnings as errors, and `shellcheck -S warning` on every
# shell script in the repository (found by extension or by shebang, so the initrd scripts,
# the maintainer scripts and .ci/run count too). One PASS/FAIL line per lint with what it
# found, then "N passed, M failed". Needs cargo with rustfmt and clippy, and shellcheck
# (tests/deps.sh build installs it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
passed=0 failed=0
lint() { # lint NAME COMMAND...: passes when COMMAND exits 0
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        passed=$((passed + 1))
        echo "lint: PASS $name"
    else
        failed=$((failed + 1))
        echo "lint: FAIL $name"
        echo "$out" | tail -n 40 | sed 's/^/    /'
    fi
}
# Shell scripts: *.sh, and files whose first line names sh or bash. In a git checkout the files
# git knows (tracked, or new and not ignored); elsewhere (tests/fresh-machine.sh copies the
# work tree without .git) every file outside target/, build/ and the fuzz outputs.
list_files() {
    if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard
    else
        find . \( -path ./target -o -path ./build -o -path ./.git -o -path ./loader/fuzz/target \
            -o -path ./loader/fuzz/corpus -o -path ./loader/fuzz/artifacts \) -prune \
            -o -type f -printf '%P\0'
    fi
}
shell_files() {
    list_files | while IFS= read -r -d '' f; do
        [[ -f $f ]] || continue
        if [[ $f == *.sh ]] || head -n1 "$f" 2> /dev/null | grep -qE '^#!.*\b(ba)?sh\b'; then
            printf '%s\0' "$f"
        fi
    done
}
lint "cargo fmt --check" cargo fmt --all -- --check
lint "cargo clippy --workspace --all-targets -D warnings" \
    cargo clippy --release --locked --workspace --all-targets -- -D warnings
# The initramfs build (no feature `sign`) is shipped too: its own dead code and lints.
lint "cargo clippy -p bpf-preload --no-default-features -D warnings" \
    cargo clippy --release --locked -p bpf-preload --no-default-features -- -D warnings
mapfile -d '' SH < <(shell_files)
if ((${#SH[@]} == 0)); then
    failed=$((failed + 1))
    echo "lint: FAIL shellcheck (no shell files found)"
else
    lint "shellcheck -S warning (${#SH[@]} files)" shellcheck -S warning "${SH[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
