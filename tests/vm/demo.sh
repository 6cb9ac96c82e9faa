#!/bin/bash
# Demo: build the loader and the examples, sign them with the test key, build a
# dracut initramfs with the bpf-preload module, boot Debian's kernel in qemu and
# show what the real root sees after switch_root: the /sys/fs/bpf tree,
# `bpf-preload status`, and live values from running programs.
#
#   tests/vm/demo.sh [--kernel 6.1|6.12] [--flavour systemd|shell] [--full-log]
set -euo pipefail
# One boot, the newcomer's first: a hang limit with room for a slow or busy host (a fresh
# machine's demo took 236 s of lib.sh's default 240 s on a loaded 2-core host); not a timing.
VM_TIMEOUT=${VM_TIMEOUT:-600}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

KERNEL=6.12 FLAVOUR=systemd FULL=0
while (($#)); do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        --flavour|--flavor) FLAVOUR=$2; shift 2 ;;
        --full-log) FULL=1; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

T0=$(date +%s)
vm_install_packages demo
vm_build_project
vm_test_key
K=$(vm_kernel "$KERNEL")
ROOT=$(vm_root)
OBJS="counter iter maponly xdp_pass lsm_deny fentry_unlink"
vlog "signing $OBJS with $VM_KEY"
B=$(vm_bundle demo "$OBJS")
INITRD=$VM_BUILD/initrd/demo-$KERNEL-$FLAVOUR.img
vlog "dracut --add bpf-preload ($FLAVOUR initrd, kernel $(cat "$K/kver"))"
vm_initrd "$K" "$FLAVOUR" "$INITRD" "$B"
LOG=$VM_BUILD/demo.log
vlog "booting in qemu (TCG), console log: $LOG"
vm_boot "$K" "$INITRD" "$ROOT" "$LOG" "vmtest.case=demo vmtest.demo=1 rd.bpf_preload.required=counter vmtest.loaded=${OBJS// /,}"

if ((FULL)); then
    cat "$LOG"
else
    echo
    echo "---- initramfs console (bpf-preload lines)"
    grep -a 'bpf-preload: ' "$LOG" | grep -av '^VM' | sed -n '1,20p'
    echo
    sed -n '/^==== DEMO/,/^==== END DEMO/p' "$LOG" | tr -d '\r'
fi
echo
grep -a '^VMFIG' "$LOG" | tr -d '\r' || true
line=$(grep -a '^VMRESULT' "$LOG" | tr -d '\r' || true)
echo "${line:-VMRESULT missing: the real root was not reached (see $LOG)}"
vlog "demo took $(($(date +%s) - T0)) s"
[[ $line == *" failed=0" ]]
