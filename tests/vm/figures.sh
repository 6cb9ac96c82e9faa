#!/bin/bash
# Figures for BENCHMARKS.md: boot time to the real root with and without the
# bpf-preload module, the loader's own duration in the guest (status.json's
# top-level duration_ms), and the initramfs size the module adds.
#   tests/vm/figures.sh [--reps N]      (default 3 boots per configuration)
# Writes tests/vm/FIGURES.md (and prints it).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
REPS=3
while (($#)); do
    case $1 in
        --reps) REPS=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
vm_install_packages
vm_build_project
vm_test_key
ROOT=$(vm_root)
OBJS="counter iter maponly xdp_pass lsm_deny fentry_unlink"
B=$(vm_bundle fig "$OBJS")
# The same objects as version-1 objects (the libbpf path), for the loader's figure on both paths.
BL=$(VM_SIGN_ARGS=--no-fast-path vm_bundle fig-libbpf "$OBJS")
OUT=$VM_BUILD/figures
rm -rf "$OUT" && mkdir -p "$OUT"
RAW=$OUT/raw.tsv
printf 'kernel\tflavour\tmodule\trep\tguest_uptime_s\thost_ms_to_root\tloader_ms\tverify_ms\tload_ms\tpin_ms\n' > "$RAW"
SIZES=$OUT/sizes.tsv
printf 'kernel\tflavour\twithout\twith\twithout_zstd\twith_zstd\n' > "$SIZES"

for k in 6.1 6.12; do
    K=$(vm_kernel $k)
    for fl in systemd shell; do
        base=$VM_BUILD/initrd/fig-base-$k-$fl.img
        mod=$VM_BUILD/initrd/fig-mod-$k-$fl.img
        modl=$VM_BUILD/initrd/fig-modl-$k-$fl.img
        vm_initrd "$K" "$fl" "$base" none
        vm_initrd "$K" "$fl" "$mod" "$B"
        vm_initrd "$K" "$fl" "$modl" "$BL"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' $k $fl "$(stat -c %s "$base")" "$(stat -c %s "$mod")" \
            "$(zstd -q -c "$base" | wc -c)" "$(zstd -q -c "$mod" | wc -c)" >> "$SIZES"
        for rep in $(seq "$REPS"); do
            for m in without with libbpf; do
                img=$base
                [[ $m == with ]] && img=$mod
                [[ $m == libbpf ]] && img=$modl
                log=$OUT/$k-$fl-$m-$rep.log
                vm_boot "$K" "$img" "$ROOT" "$log" "vmtest.case=fig"
                up=$(grep -a '^VMFIG uptime_at_init=' "$log" | head -n1 | cut -d= -f2 | tr -d '\r')
                # total duration_ms and the verify/load/pin phases summed over the objects
                lm=$(grep -a '^VMSTATUSJSON ' "$log" | head -n1 | cut -d' ' -f2- | python3 -c '
import json, sys
s = json.load(sys.stdin)
ph = [round(sum(o["phases"][p] for o in s["objects"]), 1) for p in ("verify_ms", "load_ms", "pin_ms")]
print("\t".join(str(x) for x in [s["duration_ms"]] + ph))' 2> /dev/null || printf -- '-\t-\t-\t-')
                [[ $m == without ]] && lm=$(printf -- '-\t-\t-\t-')
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $k $fl $m $rep "${up:--}" "${VM_REACHED_MS:--}" "$lm" >> "$RAW"
                lm=${lm%%$'\t'*}
                vlog "$k $fl $m #$rep: uptime at init ${up:-?} s, host ${VM_REACHED_MS:-?} ms, loader ${lm} ms"
            done
        done
    done
done

python3 - "$RAW" "$SIZES" "$REPS" "$HERE/FIGURES.md" "$(cat "$VM_BUILD"/kernels/6.1/kver) / $(cat "$VM_BUILD"/kernels/6.12/kver)" "$(($(date +%s) - T0))" "$LOAD0 -> $(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import csv, statistics, sys, datetime, os, platform
raw, sizes, reps, out, kvers, wall, load = sys.argv[1:8]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
sz = {(r["kernel"], r["flavour"]): r for r in csv.DictReader(open(sizes), delimiter="\t")}
def med(vals):
    v = [float(x) for x in vals if x not in ("-", "")]
    return statistics.median(v) if v else float("nan")
L = []
L.append("# VM figures (for BENCHMARKS.md)\n")
L.append("Made by `tests/vm/figures.sh --reps %s` on %s (%s, %d cores, qemu TCG, no KVM; "
         "kernels %s; %s s wall).\n" % (reps, datetime.date.today(), platform.node() or "host", os.cpu_count(), kvers, wall))
L.append("Each configuration was booted %s times with and %s times without the module "
         "(alternating), and as often with the same objects signed --no-fast-path; medians. "
         "Objects: counter iter maponly xdp_pass lsm_deny fentry_unlink, signed with the test key "
         "(with their light skeleton: the fast path), loaded from the generated preload.list. "
         "*Guest uptime* is /proc/uptime read first thing by the real root's init (kernel start to "
         "real root); *host* is the wall time from starting qemu until the real root's first console "
         "line was seen (0.5 s polling). *Loader* is status.json's top-level `duration_ms`. "
         "Host load average (1/5/15 min) at start -> end: %s; qemu TCG boot times on a busy "
         "2-core host vary by +-2 s from boot to boot, so the boot-time difference is only "
         "meaningful with many repetitions on an idle host; the loader's own duration and the "
         "sizes are stable.\n" % (reps, reps, load))
L.append("| kernel | initrd | to real root, without module (guest s / host s) | with module (guest s / host s) | added (guest s) | loader duration_ms | of which verify / load+attach / pin (ms, summed over objects) | loader duration_ms, objects signed --no-fast-path (libbpf path) |")
L.append("|---|---|---|---|---|---|---|---|")
for (k, fl) in sz:
    w = [r for r in rows if r["kernel"] == k and r["flavour"] == fl and r["module"] == "with"]
    wo = [r for r in rows if r["kernel"] == k and r["flavour"] == fl and r["module"] == "without"]
    gw, gwo = med(r["guest_uptime_s"] for r in w), med(r["guest_uptime_s"] for r in wo)
    hw, hwo = med(r["host_ms_to_root"] for r in w) / 1000, med(r["host_ms_to_root"] for r in wo) / 1000
    lm = med(r["loader_ms"] for r in w)
    vm_, lo, pi = (med(r[x] for r in w) for x in ("verify_ms", "load_ms", "pin_ms"))
    ll = med(r["loader_ms"] for r in rows if r["kernel"] == k and r["flavour"] == fl and r["module"] == "libbpf")
    L.append("| %s | %s | %.2f / %.1f | %.2f / %.1f | %+.2f | %.1f | %.1f / %.1f / %.1f | %.1f |" % (k, fl, gwo, hwo, gw, hw, gw - gwo, lm, vm_, lo, pi, ll))
L.append("")
L.append("Initramfs size (dracut `--no-hostonly --compress cat`, same module set with and without `--add bpf-preload`; zstd column: the same cpio piped through `zstd -3`):\n")
L.append("| kernel | initrd | without | with | added | added, zstd |")
L.append("|---|---|---|---|---|---|")
for (k, fl), r in sz.items():
    a, b, az, bz = (int(r[x]) for x in ("without", "with", "without_zstd", "with_zstd"))
    L.append("| %s | %s | %.1f MiB | %.1f MiB | %.2f MiB | %.2f MiB |" % (k, fl, a / 2**20, b / 2**20, (b - a) / 2**20, (bz - az) / 2**20))
L.append("")
L.append("Raw data: every boot (guest uptime s, host ms, loader ms and its phases):\n")
L.append("```")
L.append(open(raw).read().rstrip())
L.append("```")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
