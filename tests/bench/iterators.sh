#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark: the built-in iterators' step (rd.bpf_preload.iterators=1: load, fill the name
# table, attach, pin maps.debug, progs.debug, links.debug) as a light skeleton made at boot
# (the default) against libbpf's own load (BPF_PRELOAD_ITERATORS_LOADER=libbpf), in the same
# run: N rounds, the order reversed every round, each run on a fresh bpffs in a private mount
# namespace. Figures are the status record's `iterators.duration_ms` (the step) and
# `duration_ms` (the whole run); medians, minimums and the ratio light / libbpf. No objects:
# the step alone. Prints figures, asserts nothing about them; fails only if a run does not
# leave the iterators active on the path asked for.
#
#   sudo tests/bench/iterators.sh [-n ROUNDS]      (default 20)
#
# On a kernel built with CONFIG_BPF_PRELOAD (the kernel's own maps.debug and progs.debug in
# every new bpffs), the run's root is a directory of the bpffs, as the root tests do.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../common.sh
source "$ROOT/tests/common.sh"
ROUNDS=20
[[ ${1:-} == -n ]] && ROUNDS=${2:?-n ROUNDS}

die() { echo "bench-iterators: ERROR: $*" >&2; exit 1; }

if [[ ${1:-} == --inner ]]; then
    BIN=$2 W=$3 ROUNDS=$4
    mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
    mkdir -p "$W/fs" "$W/run" "$W/keys" "$W/bundle"
    mount -t tmpfs tmpfs "$W/run"
    echo 'rd.bpf_preload.iterators=1' > "$W/cmdline"
    one() { # one light|libbpf -> "step_ms run_ms"
        mount -t bpf bpf "$W/fs"
        mkdir "$W/fs/root"
        local env=()
        [[ $1 == libbpf ]] && env=(BPF_PRELOAD_ITERATORS_LOADER=libbpf)
        env "${env[@]}" "$BIN" run --cmdline "$W/cmdline" --bundle "$W/bundle" --keys "$W/keys" \
            --bpffs "$W/fs/root" --status "$W/run/status.json" > "$W/out" 2>&1 ||
            { cat "$W/out" >&2; die "run ($1) failed"; }
        umount "$W/fs"
        python3 - "$W/run/status.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
i = d.get("iterators") or {}
if i.get("state") != "active" or i.get("load_path") != sys.argv[2]:
    sys.exit(f"iterators not active on {sys.argv[2]}: {i}")
print(i["duration_ms"], d["duration_ms"])
PY
    }
    one light > /dev/null
    one libbpf > /dev/null
    for r in $(seq "$ROUNDS"); do
        if ((r % 2)); then order=(light libbpf); else order=(libbpf light); fi
        for p in "${order[@]}"; do
            echo "$p $(one "$p")"
            sleep 0.3
        done
    done > "$W/results"
    umount "$W/run"
    python3 - "$W/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for p in ("light", "libbpf"):
    step = [float(r[1]) for r in rows if r[0] == p]
    run = [float(r[2]) for r in rows if r[0] == p]
    med[p] = (statistics.median(step), statistics.median(run))
    print(f"  iterators {p:<7} step median {med[p][0]:7.1f} ms  min {min(step):7.1f}"
          f"   whole run median {med[p][1]:7.1f} ms  min {min(run):7.1f}   ({len(step)} runs)")
print(f"  ratio light / libbpf: step {med['light'][0] / med['libbpf'][0]:.2f}x,"
      f" whole run {med['light'][1] / med['libbpf'][1]:.2f}x")
PY
    exit 0
fi

[[ $(id -u) == 0 ]] || die "needs root (BPF, mounts)"
BIN=$(bp_build | tail -n1)
W=$(mktemp -d /tmp/bench-iterators.XXXXXX)
trap 'rm -rf "$W"' EXIT
echo "bench-iterators: $BIN, $ROUNDS rounds, $(uname -r)"
unshare -m --propagation private "$0" --inner "$BIN" "$W" "$ROUNDS"
