#!/bin/bash
# The guard's cost as issue 24 measures it: the loader's whole duration (status.json's top-level
# duration_ms) with the guard on against the same objects without it, in the same run, on
# Debian 13's 6.12 kernel with a shell initrd and on 7.x (trixie-backports) with a systemd initrd
# (the host's dracut 059, both flavours). Three small objects (counter iter maponly), the same
# image for both: only rd.bpf_preload.guard=1 differs. Boots alternate off/on, REPS pairs.
#
#   tests/vm/guard-ratio.sh [--reps N] [--accel tcg|tcg,thread=single]   (default 3 pairs)
#
# Prints, per kernel: the medians of the loader's duration without and with the guard, the
# guard's own duration_ms and its steps (docs/status.md guard.steps), and two ratios: the median
# of with/without over the pairs (two boots), and the median of duration / (duration - guard)
# within the guarded boots (one boot: the objects' part of the same run). A benchmark, not a test:
# it asserts nothing about time. TCG on a shared 2-core host varies by tens of percent from boot to
# boot; run it on an idle host and read the pairs too (the raw lines).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
REPS=3
while (($#)); do
    case $1 in
        --reps) REPS=$2; shift 2 ;;
        --accel) VM_ACCEL=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || vdie "--reps takes a positive number"
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
vm_install_packages
vm_build_project
vm_test_key
ROOT=$(vm_root)
vm_dracut_base > /dev/null
OBJS="counter iter maponly"
B=$(vm_bundle guard-ratio "$OBJS")
OUT=$VM_BUILD/guard-ratio
rm -rf "$OUT" && mkdir -p "$OUT"
RAW=$OUT/raw.tsv
printf 'kernel\tinitrd\tguard\trep\tloader_ms\tguard_ms\tsteps\n' > "$RAW"

for kf in trixie:shell trixie-bpo:systemd; do
    k=${kf%%:*} fl=${kf#*:}
    K=$(vm_kernel "$k")
    img=$VM_BUILD/initrd/guard-ratio-$k-$fl.img
    vm_initrd "$K" "$fl" "$img" "$B"
    for rep in $(seq "$REPS"); do
        for g in off on; do
            log=$OUT/$k-$fl-$g-$rep.log
            extra="vmtest.case=guard-ratio rd.bpf_preload=${OBJS// /,}"
            [[ $g == on ]] && extra+=" rd.bpf_preload.guard=1"
            vm_boot "$K" "$img" "$ROOT" "$log" "$extra"
            row=$(grep -a '^VMSTATUSJSON ' "$log" | head -n1 | cut -d' ' -f2- | python3 -c '
import json, sys
s = json.load(sys.stdin)
g = s.get("guard") or {}
steps = ",".join("%s=%.1f" % (k, v) for k, v in (g.get("steps") or {}).items() if isinstance(v, (int, float)))
print("%.1f\t%s\t%s" % (s["duration_ms"], g.get("duration_ms", "-") if g.get("state") == "active" else "-", steps or "-"))' 2> /dev/null) ||
                row=$(printf -- '-\t-\t-')
            if [[ $g == on && $row == *$'\t-\t'* ]]; then
                vdie "$k $fl: the guard is not active in a guarded boot ($log)"
            fi
            printf '%s\t%s\t%s\t%s\t%s\n' "$k" "$fl" "$g" "$rep" "$row" >> "$RAW"
            vlog "$k $fl guard=$g #$rep: $(cut -f1,2 <<< "$row" | tr '\t' ' ') (loader_ms guard_ms)"
        done
    done
done

python3 - "$RAW" "$REPS" "$(($(date +%s) - T0))" "$LOAD0 -> $(cut -d' ' -f1-3 /proc/loadavg)" "$VM_ACCEL" <<'PY'
import csv, statistics, sys
raw, reps, wall, load, accel = sys.argv[1:6]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
def f(x):
    return float(x) if x not in ("-", "") else None
print("guard-ratio: %s pairs per kernel, qemu -accel %s, %s s wall, load %s" % (reps, accel, wall, load))
print("| kernel | initrd | loader without (ms) | loader with (ms) | guard (ms) | with / without (pairs) | duration / (duration - guard) (one boot) |")
print("|---|---|---|---|---|---|---|")
for k, fl in sorted({(r["kernel"], r["initrd"]) for r in rows}):
    sel = [r for r in rows if r["kernel"] == k and r["initrd"] == fl]
    off = {r["rep"]: f(r["loader_ms"]) for r in sel if r["guard"] == "off"}
    on = {r["rep"]: (f(r["loader_ms"]), f(r["guard_ms"])) for r in sel if r["guard"] == "on"}
    pairs = [on[x][0] / off[x] for x in on if on[x][0] and off.get(x)]
    inboot = [d / (d - g) for d, g in on.values() if d and g is not None and d > g]
    med = lambda v: statistics.median(v) if v else float("nan")
    print("| %s | %s | %.1f | %.1f | %.1f | %.2fx | %.2fx |" % (
        k, fl, med([v for v in off.values() if v]), med([d for d, _ in on.values() if d]),
        med([g for _, g in on.values() if g is not None]), med(pairs), med(inboot)))
print("\nraw (loader_ms, guard_ms, guard steps):")
print(open(raw).read().rstrip())
PY
