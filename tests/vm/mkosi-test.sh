#!/bin/bash
# Boots the mkosi-built real root (mkosi/, Debian bookworm with full systemd)
# with our initramfs and checks, from a unit of that systemd
# (bpf-preload-vmtest.service, enabled by bpf_preload.vmtest=1), that systemd did
# not mount a second bpffs over /sys/fs/bpf and that the pins are visible and
# live. Called by run.sh; usable alone:
#   tests/vm/mkosi-test.sh [--kernel 6.1|6.12|trixie-bpo] [--flavour systemd|shell]
# On trixie-bpo (7.x) the objects are kernel-signed with the test certificate, which goes into
# the initramfs with the keys (signed-only mode: MKOSI_EXTRA_CMDLINE), and fentry_unlink (whose
# target 7.x renamed) is left out.
# MKOSI_EXTRA_CMDLINE is appended to the kernel command line (run.sh: the guard on).
# Needs mkosi 14 (Debian), systemd-container, debootstrap (installed if missing).
# The mkosi tree is cached in build/vm/mkosi and rebuilt when mkosi/ changes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

KERNEL=6.12 FLAVOUR=systemd
while (($#)); do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        --flavour|--flavor) FLAVOUR=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

vm_install_packages
bp_apt_install mkosi systemd-container debootstrap
[[ -n ${VM_BIN:-} ]] || vm_build_project
[[ -n ${VM_KEY:-} ]] || vm_test_key

M=$VM_BUILD/mkosi
mkosi_tree() { find "$M/out" -mindepth 1 -maxdepth 2 -name image -type d 2> /dev/null | head -n1 || true; }
TREE=$(mkosi_tree)
STAMP=$(cd "$VM_TOP/mkosi" && find . -type f -o -type l | LC_ALL=C sort | xargs -d '\n' sha256sum 2> /dev/null | cat - <(echo "$BP_WEEK") | sha256sum | cut -c1-16)
if [[ -z $TREE || ! -d $TREE/usr || $(cat "$M/stamp" 2> /dev/null) != "$STAMP" ]]; then
    vlog "mkosi build (Debian bookworm, Format=directory) -> $TREE"
    mkdir -p "$M/out" "$M/cache"
    # mkosi 14 runs systemd-nspawn; on these machines it needs a tmpfs at
    # /run/systemd/nspawn and --nspawn-keep-unit (no systemd as PID 1).
    if ! mountpoint -q /run/systemd/nspawn; then
        mkdir -p /run/systemd/nspawn
        mount -t tmpfs tmpfs /run/systemd/nspawn
    fi
    rm -rf "$M/stamp" "$M/out"
    mkdir -p "$M/out"
    (cd "$VM_TOP/mkosi" && mkosi --nspawn-keep-unit --force \
        --output-dir "$M/out" --cache "$M/cache" \
        --extra-tree "$VM_TOP/mkosi/mkosi.extra" build) > "$M/build.log" 2>&1 \
        || { tail -n 30 "$M/build.log" >&2; vdie "mkosi build failed (log: $M/build.log)"; }
    echo "$STAMP" > "$M/stamp"
    TREE=$(mkosi_tree)
    [[ -d $TREE/usr ]] || vdie "mkosi produced no image directory under $M/out"
fi
# The loader goes in after the build, so a new binary needs no mkosi rebuild.
install -D -m 0755 "$VM_BIN" "$TREE/usr/bin/bpf-preload"
# The raw-syscall helper, for issue 22's propagated unmount and mount attacks.
install -D -m 0755 "$VM_BUILD/guest/bpfmap" "$TREE/usr/bin/bpfmap"
IMG=$M/root.img
rm -f "$IMG"
mke2fs -q -t ext4 -L mkosiroot -d "$TREE" "$IMG" 2G >&2

K=$(vm_kernel "$KERNEL")
OBJS="counter iter maponly lsm_deny fentry_unlink" EXPECT="counter,iter,lsm_deny,fentry_unlink"
KC=$VM_TOP/keys/test-only/kernel
if [[ $KERNEL == trixie-bpo ]]; then
    OBJS="counter iter maponly lsm_deny" EXPECT="counter,iter,lsm_deny"
    B=$(VM_SIGN_ARGS="--kernel-key $KC/rsa.key --kernel-cert $KC/rsa.crt" vm_bundle mkosi "$OBJS")
    cp "$KC/rsa.crt" "$B/keys/"
else
    B=$(vm_bundle mkosi "$OBJS")
fi
INITRD=$VM_BUILD/initrd/mkosi-$KERNEL-$FLAVOUR.img
vm_initrd "$K" "$FLAVOUR" "$INITRD" "$B"
LOG=$M/boot.log
vlog "booting the mkosi root ($KERNEL, $FLAVOUR initrd), log: $LOG"
VM_INIT=/sbin/init VM_TIMEOUT=${VM_TIMEOUT_MKOSI:-300} \
    vm_boot "$K" "$INITRD" "$IMG" "$LOG" "bpf_preload.vmtest=1 bpf_preload.vmtest.flavour=$FLAVOUR bpf_preload.vmtest.expect=$EXPECT rd.bpf_preload.required=counter systemd.show_status=error ${MKOSI_EXTRA_CMDLINE:-}"
grep -a 'MKOSI-' "$LOG" | tr -d '\r' | sed 's/^\[[ 0-9.]*\] [^:]*: //' >&2 || true
line=$(grep -a 'MKOSI-RESULT' "$LOG" | tr -d '\r' | tail -n1 | sed 's/.*MKOSI-RESULT/MKOSI-RESULT/')
echo "${line:-MKOSI-RESULT missing}; boot ${VM_BOOT_MS} ms"
[[ $line =~ passed=[1-9][0-9]*\ failed=0 ]]
