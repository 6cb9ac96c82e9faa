#!/bin/bash
# VM boot tests for bpf-preload: real Debian kernels in qemu (TCG), initramfs images made by the
# generators users run (dracut, initramfs-tools, mkosi-initrd, the Debian package's trigger),
# checks made from the real root's init.
#
#   tests/vm/run.sh [--only REGEX] [--jobs N] [--no-mkosi] [--list]
#
# The cases are data: one file per case in tests/vm/cases/ (what it boots, the command line, what
# must happen; cases.sh documents the fields and holds the assertions), kernel quirks in
# kernels.conf. --only runs the cases whose name matches REGEX; --jobs N boots N cases at a time
# (default 2: one per core; images are built one at a time, beside the boots); --list prints the
# cases. Builds what it needs (make -C bpf, cargo build --release, apt packages, kernel .debs
# unpacked under build/vm). Prints "N passed, M failed" last and exits non-zero when M > 0.
# Environment: VM_BUILD (cache dir, default build/vm), VM_TIMEOUT (per qemu run, default 240 s),
# BPF_PRELOAD_BIN (skip cargo build).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=cases.sh
source "$HERE/cases.sh"

ONLY=. MKOSI=1 JOBS=${VM_JOBS:-2} LIST=0
while (($#)); do
    case $1 in
        --only) ONLY=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --no-mkosi) MKOSI=0; shift ;;
        --list) LIST=1; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || vdie "--jobs takes a positive number"

CASES=()
for f in "$HERE"/cases/*.case; do
    n=${f##*/} n=${n%.case}
    [[ $n =~ $ONLY ]] || continue
    [[ $n == mkosi-systemd-root ]] && ((!MKOSI)) && { vlog "not run: $n (--no-mkosi)"; continue; }
    CASES+=("$n")
done
((LIST)) && { printf '%s\n' "${CASES[@]}"; exit 0; }
((${#CASES[@]})) || vdie "no case matches /$ONLY/ (tests/vm/run.sh --list)"

T0=$(date +%s)
vm_install_packages
vm_build_project
# Signed-only mode's attack files for the real root (bpftool 7.8 runs in the Debian 13 root:
# here, not in vm_build_project, which the demo shares and whose set-up has no mmdebstrap).
vm_ksig_files
vm_test_key
LOGS=$VM_BUILD/logs
rm -rf "$LOGS" "$VM_BUILD/results" "$VM_BUILD/dracut" "$VM_BUILD/deb-pkg"
mkdir -p "$LOGS" "$VM_BUILD/results" "$VM_BUILD/initrd"
# shellcheck disable=SC2034 # booted by cases.sh boot_case
VM_ROOT_IMG=$(vm_root)
vm_dracut_base > /dev/null # once per run: the cases' dracut runs share it

# ---------------------------------------------------------------- bundles --
# The signed objects the cases name (bundle=NAME: $VM_BUILD/bundle-NAME).
# guard_witness is signed into the full bundles but not listed: the guard's cases name it.
vm_bundle full "$FULL_SET rejected guard_witness" "$FULL_SET" > /dev/null
# The same objects as version-1 objects: the libbpf path.
VM_SIGN_ARGS=--no-fast-path vm_bundle full-libbpf "$FULL_SET rejected" "$FULL_SET" > /dev/null
vm_tamper "$(vm_bundle tampered "counter iter maponly")/lib/maponly.bpf.o"
# The same, with rd.bpf_preload.required=maponly built into the initramfs (dracut
# --kernel-cmdline, i.e. kernel_cmdline= in its configuration: /etc/cmdline.d).
B=$(vm_bundle builtin-cmdline "counter iter maponly")
vm_tamper "$B/lib/maponly.bpf.o"
echo 'kernel_cmdline="rd.bpf_preload.required=maponly"' > "$B/dracut.conf"
# Revocation: iter is signed by a second trusted key whose id is in keys/revoked.
B=$(vm_bundle revoked "counter iter")
K2=$VM_BUILD/key/second-key.pem
if [[ ! -s $K2 ]]; then
    mkdir -p "$VM_BUILD/key"
    openssl genpkey -algorithm ed25519 -out "$K2"
    openssl pkey -in "$K2" -pubout -out "${K2%.pem}.pub"
fi
# shellcheck disable=SC2086
K2ID=$("$VM_BIN" sign ${VM_SIGN_ARGS-} --key "$K2" --name iter --output "$B/lib/iter.bpf.o" "$VM_TOP/build/bpf/iter.bpf.o" 2>&1 |
    sed -n 's/.* with key \([0-9a-f]\{16\}\).*/\1/p')
[[ -n $K2ID ]] || vdie "could not read the second key's id from 'bpf-preload sign'"
cp "${K2%.pem}.pub" "$B/keys/second-key.pub"
printf '# revoked for the VM test\n%s\n' "$K2ID" > "$B/keys/revoked"
echo "$K2ID" > "$B/second-key.id"
# Build-time policy (dracut: bpf_preload_required, bpf_preload_guard=required,
# bpf_preload_iterators=yes).
B=$(vm_bundle policy "counter iter")
printf 'bpf_preload_required="counter"\nbpf_preload_guard=required\nbpf_preload_iterators=yes\n' > "$B/dracut.conf"
# Measured preload: two bundles, two PCR values; measure-b takes the PCR from dracut's
# configuration (bpf_preload_measure_pcr), not the command line.
vm_bundle measure-a "counter iter" > /dev/null
B=$(vm_bundle measure-b "counter maponly")
printf 'bpf_preload_measure_pcr=12\n' > "$B/dracut.conf"
# Signed-only mode (lib.sh vm_signed_bundle).
vm_signed_bundle signed > /dev/null

# ------------------------------------------------------------------ cases --
# case_get NAME FIELD...: a case file's fields, as shell assignments (the file is sourced in a
# subshell: its $(...) see the bundles and kernels.conf).
case_get() {
    (
        # shellcheck disable=SC2034 # the fields a case file may set; declare -p prints those asked for
        CASE=$1 kernel='' initrd='' bundle='' boot='' build_conf='' cmdline='' checks='' expect=boots generators='' loader_cmdline=''
        # shellcheck disable=SC2034
        console=()
        # shellcheck disable=SC1090
        source "$HERE/cases/$1.case"
        shift
        declare -p "$@"
    )
}
# image_of KERNEL INITRD BUNDLE BUILD_CONF -> the image a booting case boots (shared by every
# case that differs only in the command line).
# A UKI (initrd d13-uki-*) carries its command line: UKI_CMDLINE (cases.sh uki_cmdline) is part of
# the key.
image_of() {
    local key=$3-$1-$2
    [[ -n $4 ]] && key+=-$(printf '%s' "$4" | sha256sum | cut -c1-8)
    [[ -n ${5:-} ]] && key+=-$(printf '%s' "$5" | sha256sum | cut -c1-8)
    echo "$VM_BUILD/initrd/$key.img"
}
# build_image KERNEL INITRD BUNDLE BUILD_CONF OUT [UKI_CMDLINE]: run the generator (the caller holds the build
# lock: the generators share the dracut base dir and the Debian 13 root).
build_image() {
    local kd b=$VM_BUILD/bundle-$3
    kd=$(vm_kernel "$1")
    case $2 in
        systemd|shell) VM_DRACUT_EXTRA_CONF=$4 vm_initrd "$kd" "$2" "$5" "$b" ;;
        d13-uki-dracut-*) VM_TRIXIE_INITRD_CONF=$4 vm_trixie_uki_dracut "$kd" "${2#d13-uki-dracut-}" "$5" "$b" "$6" ;;
        d13-uki-ukify-*) VM_TRIXIE_INITRD_CONF=$4 vm_trixie_uki_ukify "${2#d13-uki-ukify-}" "$kd" "$5" "$b" "$6" ;;
        d13-dracut-*) VM_TRIXIE_INITRD_CONF=$4 vm_trixie_dracut "$kd" "${2#d13-dracut-}" "$5" "$b" ;;
        d13-initramfs-tools) VM_TRIXIE_INITRD_CONF=$4 vm_trixie_mkinitramfs "$kd" "$5" "$b" ;;
        d13-mkosi-initrd) VM_TRIXIE_INITRD_CONF=$4 vm_trixie_mkosi_initrd "$kd" "$5" "$b" ;;
        *) vdie "unknown initrd $2" ;;
    esac
}
BUILD_LOCK=$VM_BUILD/build.lock

# The kernels the cases boot, fetched before any case runs.
declare -A NEED_KERNEL=() IMAGES=() IMAGE_CONF=() IMAGE_UKI=()
IMAGE_ORDER=()
for n in "${CASES[@]}"; do
    eval "$(case_get "$n" kernel initrd bundle build_conf expect cmdline checks)"
    [[ -n $kernel ]] && NEED_KERNEL[$kernel]=1
    if [[ $expect == boots || $expect == refused || $expect == fw-refused ]]; then
        uki=$(uki_cmdline)
        img=$(image_of "$kernel" "$initrd" "$bundle" "$build_conf" "$uki")
        if [[ -z ${IMAGES[$img]:-} ]]; then
            IMAGES[$img]="$kernel $initrd $bundle"
            IMAGE_ORDER+=("$img")
            IMAGE_CONF[$img]=$build_conf
            IMAGE_UKI[$img]=$uki
        fi
    fi
done
for k in "${!NEED_KERNEL[@]}"; do vm_kernel "$k" > /dev/null; done

# The builder: every image once, in case order, one at a time, beside the boots; IMG.ready or
# IMG.failed says how it went.
for img in "${IMAGE_ORDER[@]}"; do rm -f "$img" "$img.ready" "$img.failed"; done
(
    for img in "${IMAGE_ORDER[@]}"; do
        read -r k fl b <<< "${IMAGES[$img]}"
        if (flock 9; build_image "$k" "$fl" "$b" "${IMAGE_CONF[$img]}" "$img" "${IMAGE_UKI[$img]}") 9> "$BUILD_LOCK" > "$img.build.log" 2>&1; then
            touch "$img.ready"
        else
            touch "$img.failed"
        fi
    done
) &
BUILDER=$!

# run_case NAME: one case, its results to $VM_BUILD/results/NAME (cases.sh result).
run_case() {
    local n=$1 img rc=0 out
    export CASE=$n RESULTS=$VM_BUILD/results/$n
    eval "$(case_get "$n" kernel initrd bundle boot build_conf cmdline checks expect console generators loader_cmdline)"
    case $expect in
        boots|refused|fw-refused)
            img=$(image_of "$kernel" "$initrd" "$bundle" "$build_conf" "$(uki_cmdline)")
            while [[ ! -e $img.ready && ! -e $img.failed ]]; do sleep 1; done
            if [[ -e $img.failed ]]; then
                result "$n" fail "(the image did not build: $img.build.log)"
                return
            fi
            if [[ $expect == fw-refused ]]; then
                judge_fw_refused "$n" "$(vm_kernel "$kernel")" "$img"
                return
            fi
            boot_case "$n" "$(vm_kernel "$kernel")" "$img" "$LOGS/$n.log"
            "judge_$expect" "$n" "$LOGS/$n.log"
            [[ $boot == uefi-sb && $expect == boots ]] && judge_pcr11 "$n" "$LOGS/$n.log" "$img"
            ;;
        build-refused)
            out=$VM_BUILD/initrd/refused-$n.img
            rm -f "$out" "$out.log"
            (flock 9; build_image "$kernel" "$initrd" "$bundle" "$build_conf" "$out") 9> "$BUILD_LOCK" > "$LOGS/$n.log" 2>&1 || rc=$?
            judge_build_refused "$n" "$LOGS/$n.log" "$out" "$rc"
            ;;
        host)
            # shellcheck disable=SC1090
            source "$HERE/cases/$n.case"
            check
            ;;
        *) result "$n" fail "(unknown expect=$expect in tests/vm/cases/$n.case)" ;;
    esac
    [[ -s $RESULTS ]] || result "$n" fail "(the case judged nothing; see $LOGS/$n.run)"
}

PASSED=0 FAILED=0 FAILED_NAMES=()
# report NAME: prints and counts a finished case's results.
report() {
    local st name detail
    [[ -s $VM_BUILD/results/$1 ]] || { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); vlog "FAIL $1 (no result; see $LOGS/$1.run)"; return; }
    while read -r st name detail; do
        if [[ $st == ok ]]; then
            PASSED=$((PASSED + 1)); vlog "PASS $name $detail"
        else
            FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name"); vlog "FAIL $name $detail"
        fi
    done < "$VM_BUILD/results/$1"
}

# JOBS cases at a time; each one's output (generators, qemu's own messages) goes to its .run log.
declare -A RUNNING=()
for n in "${CASES[@]}"; do
    while ((${#RUNNING[@]} >= JOBS)); do
        wait -n -p done_pid "${!RUNNING[@]}" || true
        report "${RUNNING[$done_pid]}"
        unset "RUNNING[$done_pid]"
    done
    run_case "$n" > "$LOGS/$n.run" 2>&1 &
    RUNNING[$!]=$n
done
while ((${#RUNNING[@]})); do
    wait -n -p done_pid "${!RUNNING[@]}" || true
    report "${RUNNING[$done_pid]}"
    unset "RUNNING[$done_pid]"
done
wait "$BUILDER" || true

vlog "wall time $(($(date +%s) - T0)) s (${#CASES[@]} cases, $JOBS at a time); logs in $LOGS"
((FAILED)) && vlog "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
