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
# Tracked shell scripts: *.sh, and files whose first line names sh or bash.
shell_files() {
    git ls-files -z | while IFS= read -r -d '' f; do
        [[ -f $f ]] || continue
        if [[ $f == *.sh ]] || head -n1 "$f" 2> /dev/null | grep -qE '^#!.*\b(ba)?sh\b'; then
            printf '%s\0' "$f"
        fi
    done
}
lint "cargo fmt --check" cargo fmt --all -- --check
lint "cargo clippy --workspace --all-targets -D warnings" \
    cargo clippy --release --locked --workspace --all-targets -- -D warnings
mapfile -d '' SH < <(shell_files)
if ((${#SH[@]} == 0)); then
    failed=$((failed + 1))
    echo "lint: FAIL shellcheck (no shell files found: not a git checkout?)"
else
    lint "shellcheck -S warning (${#SH[@]} files)" shellcheck -S warning "${SH[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
