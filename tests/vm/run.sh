#!/bin/bash
# VM boot tests for bpf-preload: real Debian kernels in qemu (TCG), a dracut
# initramfs with the project's module, checks made from the real root's init.
#
#   tests/vm/run.sh [--only REGEX] [--no-mkosi] [--keep-going]
#
# Builds what it needs (make -C bpf, cargo build --release, apt packages, kernel
# .debs unpacked under build/vm). Prints "N passed, M failed" last and exits
# non-zero when M > 0. Environment: VM_BUILD (cache dir, default build/vm),
# VM_TIMEOUT (per qemu run, default 240 s), BPF_PRELOAD_BIN (skip cargo build).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

ONLY=. MKOSI=1
while (($#)); do
    case $1 in
        --only) ONLY=$2; shift 2 ;;
        --no-mkosi) MKOSI=0; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

T0=$(date +%s)
vm_install_packages
vm_build_project
# Signed-only mode's attack files for the real root (bpftool 7.8 runs in the Debian 13 root:
# here, not in vm_build_project, which the demo shares and whose set-up has no mmdebstrap).
vm_ksig_files
vm_test_key
declare -A KD
for k in $VM_KERNELS_ALL; do KD[$k]=$(vm_kernel "$k"); done
ROOT=$(vm_root)
LOGS=$VM_BUILD/logs
rm -rf "$LOGS" && mkdir -p "$LOGS"

ALL="counter iter maponly xdp_pass lsm_deny fentry_unlink tp_btf_exec kprobe_unlink kprobe_multi_unlink"
# guard_witness is signed into the bundles but not listed: the guard's boots name it.
vm_bundle full "$ALL rejected guard_witness" "$ALL" > /dev/null
# The same objects as version-1 objects: the libbpf path.
VM_SIGN_ARGS=--no-fast-path vm_bundle full-libbpf "$ALL rejected" "$ALL" > /dev/null
TAMP=$(vm_bundle tampered "counter iter maponly")
vm_tamper "$TAMP/lib/maponly.bpf.o"
# The same, with rd.bpf_preload.required=maponly built into the initramfs (dracut
# --kernel-cmdline, i.e. kernel_cmdline= in its configuration: /etc/cmdline.d).
BUILTIN=$(vm_bundle builtin-cmdline "counter iter maponly")
vm_tamper "$BUILTIN/lib/maponly.bpf.o"
echo 'kernel_cmdline="rd.bpf_preload.required=maponly"' > "$BUILTIN/dracut.conf"
# Revocation: iter is signed by a second trusted key whose id is in keys/revoked.
REV=$(vm_bundle revoked "counter iter")
K2=$VM_BUILD/key/second-key.pem
if [[ ! -s $K2 ]]; then
    mkdir -p "$VM_BUILD/key"
    openssl genpkey -algorithm ed25519 -out "$K2"
    openssl pkey -in "$K2" -pubout -out "${K2%.pem}.pub"
fi
# shellcheck disable=SC2086
K2ID=$("$VM_BIN" sign ${VM_SIGN_ARGS-} --key "$K2" --name iter --output "$REV/lib/iter.bpf.o" "$VM_TOP/build/bpf/iter.bpf.o" 2>&1 |
    sed -n 's/.* with key \([0-9a-f]\{16\}\).*/\1/p')
[[ -n $K2ID ]] || vdie "could not read the second key's id from 'bpf-preload sign'"
cp "${K2%.pem}.pub" "$REV/keys/second-key.pub"
printf '# revoked for the VM test\n%s\n' "$K2ID" > "$REV/keys/revoked"

declare -A BUILT
# initrd BUNDLE-NAME KERNEL FLAVOUR -> $INITRD (built once per run). FLAVOUR:
#   systemd, shell         the host's dracut (059), private base dir
#   d13-dracut-systemd, d13-dracut-shell
#                          Debian 13's dracut-ng (106, systemd 257) in the trixie root
#   d13-initramfs-tools    Debian 13's mkinitramfs in the trixie root
#   d13-mkosi-initrd       Debian 13's mkosi-initrd (mkosi 25) in the trixie root
initrd() {
    INITRD=$VM_BUILD/initrd/$1-$2-$3.img
    if [[ -z ${BUILT[$INITRD]:-} ]]; then
        case $3 in
            systemd|shell) vm_initrd "${KD[$2]}" "$3" "$INITRD" "$VM_BUILD/bundle-$1" ;;
            d13-dracut-*) vm_trixie_dracut "${KD[$2]}" "${3#d13-dracut-}" "$INITRD" "$VM_BUILD/bundle-$1" ;;
            d13-initramfs-tools) vm_trixie_mkinitramfs "${KD[$2]}" "$INITRD" "$VM_BUILD/bundle-$1" ;;
            d13-mkosi-initrd) vm_trixie_mkosi_initrd "${KD[$2]}" "$INITRD" "$VM_BUILD/bundle-$1" ;;
            *) vdie "unknown initrd flavour $3" ;;
        esac
        BUILT[$INITRD]=1
    fi
}

PASSED=0 FAILED=0 FAILED_NAMES=()
result() { # result NAME ok|fail DETAIL
    if [[ $2 == ok ]]; then
        PASSED=$((PASSED + 1)); vlog "PASS $1 $3"
    else
        FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); vlog "FAIL $1 $3"
    fi
}

# boot_ok NAME KERNEL FLAVOUR BUNDLE "cmdline" [REGEX]: the real root must be
# reached, every check made there must pass, and the console log must match
# REGEX (e.g. the failure reason `bpf-preload status` gives for an object).
boot_ok() {
    local name=$1 k=$2 fl=$3 b=$4 cmd=$5 want=${6:-.} log=$LOGS/$1.log line
    [[ $name =~ $ONLY ]] || return 0
    initrd "$b" "$k" "$fl"
    "${VM_BOOT_FN:-vm_boot}" "${KD[$k]}" "$INITRD" "$ROOT" "$log" "vmtest.case=$name $cmd"
    grep -a 'VMCHECK FAIL' "$log" | sed 's/^/    /' >&2 || true
    line=$(grep -a '^VMRESULT ' "$log" | tail -n1 || true)
    if [[ $line =~ passed=([0-9]+)\ failed=0 ]] && ((BASH_REMATCH[1] > 0)) && ! grep -qaE "$want" "$log"; then
        result "$name" fail "(no /$want/ in the console log; see $log)"
    elif [[ $line =~ passed=([0-9]+)\ failed=0 ]] && ((BASH_REMATCH[1] > 0)); then
        result "$name" ok "(${VM_BOOT_MS} ms; $line; $(grep -a '^VMFIG' "$log" | cut -d' ' -f2 | tr '\n' ' '))"
    elif [[ -n $line ]]; then
        result "$name" fail "($line; see $log)"
    else
        result "$name" fail "(real root not reached; see $log)"
    fi
}

# boot_refused NAME KERNEL FLAVOUR BUNDLE "cmdline" REGEX: the boot must stop
# before switch_root, with the policy's "bpf-preload: boot refused" line on the
# console, then the generator's emergency path (dracut: FATAL; systemd:
# emergency.target; initramfs-tools: panic), and the console must match REGEX
# (the reason).
REFUSED='bpf-preload: boot refused'
EMERGENCY='dracut: FATAL: bpf-preload|Reached target .*emergency\.target|Failed to start .*bpf-preload|bpf-preload.service: (Main process exited|Failed)|bpf-preload: a required eBPF object could not be loaded'
boot_refused() {
    local name=$1 k=$2 fl=$3 b=$4 cmd=$5 why=$6 log=$LOGS/$1.log
    [[ $name =~ $ONLY ]] || return 0
    initrd "$b" "$k" "$fl"
    refused_check "$name" "$log" "$why" "${KD[$k]}" "$INITRD" "$ROOT" "vmtest.case=$name $cmd"
}
# refused_check NAME LOG WHY KERNELDIR INITRD ROOTIMG CMDLINE (boots, then judges)
refused_check() {
    local name=$1 log=$2 why=$3
    vm_boot "$4" "$5" "$6" "$log" "$7"
    if grep -qa 'VMCHECK-BEGIN' "$log"; then
        result "$name" fail "(the real root was reached; see $log)"
    elif ! grep -qa "$REFUSED" "$log"; then
        result "$name" fail "(no '$REFUSED' on the console; see $log)"
    elif ! grep -qaE "$EMERGENCY" "$log"; then
        result "$name" fail "(no emergency path /$EMERGENCY/ on the console; see $log)"
    elif ! grep -qaE "$why" "$log"; then
        result "$name" fail "(console does not say why: no /$why/; see $log)"
    else
        result "$name" ok "(${VM_BOOT_MS} ms; $(grep -a "$REFUSED" "$log" | head -n1 | sed 's/^\[[ 0-9.]*\] //' | tr -d '\r'))"
    fi
}

# What loads where (vmtest.loaded / vmtest.failed for kernel $1): everything, except that
# Debian's 6.1 has no fprobe (kprobe_multi_unlink's attach is refused with EOPNOTSUPP: it fails
# alone) and 7.x renamed do_unlinkat (fentry_unlink's target) to filename_unlinkat.
loaded() {
    local all=" $ALL " failed=
    case $1 in
        6.1) failed=kprobe_multi_unlink ;;
        trixie-bpo) failed=fentry_unlink ;;
    esac
    [[ -n $failed ]] && all=${all/ $failed / }
    all=$(echo $all)
    echo "vmtest.loaded=${all// /,}${failed:+ vmtest.failed=$failed}"
}
LOADED=$(loaded 6.12)
# The matrix: both kernels x both initrd flavours, every example loaded from the
# generated preload.list, counter and the LSM program required.
# Kernel 7.x renamed do_unlinkat (fentry_unlink's attach target) to
# filename_unlinkat: there fentry_unlink must fail alone (optional), the others load.
LOADED_7=$(loaded trixie-bpo)
# Signed as users sign them, every example takes the fast path (issue 10): its light
# skeleton runs in the kernel, then the programs attach by tracepoint, raw tracepoint,
# iterator, BTF id (lsm, fentry, tp_btf) and kprobe PMU (kprobe, kretprobe). vmtest.path
# checks each object's kmsg line.
FAST=vmtest.path=fast
for k in $VM_KERNELS_ALL; do
    for fl in systemd shell; do
        if [[ $k == trixie-bpo ]]; then
            boot_ok "boot-$k-$fl" "$k" "$fl" full "rd.bpf_preload.required=counter,lsm_deny $LOADED_7 $FAST" \
                'VMSTATUS +fentry_unlink +FAILED'
        else
            boot_ok "boot-$k-$fl" "$k" "$fl" full "rd.bpf_preload.required=counter,lsm_deny $(loaded "$k") $FAST"
        fi
    done
done
# The same objects signed without the fast path load through libbpf, with the same
# pins and the same behaviour (same checks), on every kernel.
for k in $VM_KERNELS_ALL; do
    fl=systemd
    [[ $k == 6.12 || $k == trixie ]] && fl=shell
    if [[ $k == trixie-bpo ]]; then
        boot_ok "libbpf-path-$k-$fl" "$k" "$fl" full-libbpf \
            "rd.bpf_preload.required=counter,lsm_deny $LOADED_7 vmtest.path=libbpf" 'VMSTATUS +fentry_unlink +FAILED'
    else
        boot_ok "libbpf-path-$k-$fl" "$k" "$fl" full-libbpf \
            "rd.bpf_preload.required=counter,lsm_deny $(loaded "$k") vmtest.path=libbpf"
    fi
done
# What `bpf-preload status` (VMSTATUS lines, from the real root) or the console
# must say about the failed object.
SIGFAIL='(VMSTATUS|bpf-preload:) .*(error: )?verify: signature does not verify'
NOFILE='(VMSTATUS|bpf-preload:) .*ghost.bpf.o: No such file'
VERIFIER='VMSTATUS .*error: load: .*verifier'
SIGFAIL_STATUS='VMSTATUS .*error: verify: signature does not verify'
# A tampered optional object: boot goes on, the others are loaded.
# Required only by dracut's built-in command line: the loader sees it as dracut's tools
# do, in both flavours, and the boot stops (tampered-optional-* is the control: the
# same objects without the built-in option boot).
for fl in systemd shell; do
    boot_refused "builtin-cmdline-required-6.12-$fl" 6.12 "$fl" builtin-cmdline "" "$SIGFAIL"
done
boot_ok tampered-optional-6.12-systemd 6.12 systemd tampered \
    "vmtest.loaded=counter,iter vmtest.failed=maponly" "$SIGFAIL_STATUS"
boot_ok tampered-optional-6.1-shell 6.1 shell tampered \
    "vmtest.loaded=counter,iter vmtest.failed=maponly" "$SIGFAIL_STATUS"
# A tampered required object: no switch_root.
boot_refused tampered-required-6.12-systemd 6.12 systemd tampered \
    "rd.bpf_preload.required=maponly" "$SIGFAIL"
boot_refused tampered-required-6.1-shell 6.1 shell tampered \
    "rd.bpf_preload.required=maponly" "$SIGFAIL"
# A required object that is not in the initramfs at all.
boot_refused missing-required-6.1-systemd 6.1 systemd full \
    "rd.bpf_preload=counter,ghost rd.bpf_preload.required=ghost" "$NOFILE"
boot_refused missing-required-6.12-shell 6.12 shell full \
    "rd.bpf_preload=counter,ghost rd.bpf_preload.required=ghost" "$NOFILE"
# An object the verifier rejects: the others still load.
boot_ok verifier-rejected-6.1-systemd 6.1 systemd full \
    "rd.bpf_preload=counter,rejected,iter vmtest.loaded=counter,iter vmtest.failed=rejected" "$VERIFIER"
boot_ok verifier-rejected-6.12-shell 6.12 shell full \
    "rd.bpf_preload=counter,rejected,iter vmtest.loaded=counter,iter vmtest.failed=rejected" "$VERIFIER"
# A revoked signing key (the module carries keys/revoked into the initramfs).
boot_ok revoked-key-6.12-systemd 6.12 systemd revoked \
    "vmtest.loaded=counter vmtest.failed=iter" "VMSTATUS .*error: .*$K2ID is revoked"
# rd.bpf_preload=0: nothing is loaded, the boot goes on.
boot_ok disabled-6.1-systemd 6.1 systemd full \
    "rd.bpf_preload=0 vmtest.empty=1" 'VMSTATUS .*loading disabled by rd.bpf_preload=0'

# Build time fails closed too: a named object that is missing stops dracut (no
# image without bpf-preload) and mkinitramfs.
build_refused() { # build_refused NAME FLAVOUR
    local name=$1 log=$LOGS/$1.log out=$VM_BUILD/initrd/ghost-$2.img
    [[ $name =~ $ONLY ]] || return 0
    rm -f "$out"
    # dracut reads it from its configuration (here: the environment); the
    # initramfs-tools hook from /etc/bpf-preload/initrd.conf
    if (export bpf_preload_objects="counter ghost" VM_TRIXIE_INITRD_CONF='bpf_preload_objects="counter ghost"'
        case $2 in
            systemd) vm_initrd "${KD[6.12]}" systemd "$out" "$VM_BUILD/bundle-full" ;;
            d13-initramfs-tools) vm_trixie_mkinitramfs "${KD[trixie]}" "$out" "$VM_BUILD/bundle-full" ;;
        esac) > "$log" 2>&1; then
        result "$name" fail "(the image was built; see $log)"
    elif [[ -s $out ]]; then
        result "$name" fail "(failed, but left an image $out)"
    elif ! grep -q "object 'ghost' not found" "$log" "$out.log" 2> /dev/null; then
        result "$name" fail "(no \"object 'ghost' not found\"; see $log)"
    else
        result "$name" ok "($(grep -h "object 'ghost' not found" "$log" "$out.log" 2> /dev/null | head -n1))"
    fi
}
build_refused build-refused-missing-object-dracut systemd
build_refused build-refused-missing-object-d13-initramfs-tools d13-initramfs-tools

# Debian 13's own generators, run in a trixie root (mmdebstrap) where the project
# was installed with `make install-files DESTDIR=root`: dracut-ng 106 with
# systemd 257 (bpf-preload.service) and its shell flavour (pre-pivot hook),
# mkinitramfs (hook + init-bottom script) and mkosi-initrd (drop-in, unit).
# Same real-root checks.
for fl in d13-dracut-systemd d13-dracut-shell d13-initramfs-tools d13-mkosi-initrd; do
    boot_ok "$fl-trixie" trixie "$fl" full "rd.bpf_preload.required=counter,lsm_deny $LOADED $FAST"
done
boot_ok d13-initramfs-tools-trixie-bpo trixie-bpo d13-initramfs-tools full \
    "rd.bpf_preload.required=counter,lsm_deny $LOADED_7 $FAST" 'VMSTATUS +fentry_unlink +FAILED'
# Fail closed with Debian 13's generators: the unit's emergency path, and
# initramfs-tools' panic.
boot_refused tampered-required-d13-dracut-systemd trixie d13-dracut-systemd tampered \
    "rd.bpf_preload.required=maponly" "$SIGFAIL"
boot_refused tampered-required-d13-initramfs-tools trixie d13-initramfs-tools tampered \
    "rd.bpf_preload.required=maponly" "$SIGFAIL"

# The guard (docs/guard.md): the attack matrix from the real root's init, as root, on
# both kernels and both initrd flavours; each attack must fail with EPERM, and
# afterwards the preloaded programs still run. The control run boots without the
# guard and the same attacks must not be refused, so this test can fail.
# Every guard boot also loads guard_witness (a raw tracepoint and an fentry program): the
# attacks on the switches (kernel.ftrace_enabled, kprobes/enabled) and on the hooks (fmod_ret,
# programs aimed at protected ones) must leave both counting.
GUARD_ON="rd.bpf_preload.guard=1 vmtest.guard=refused"
with_witness() { # with_witness KERNEL -> the list and expectations with guard_witness
    local l
    l=$(loaded "$1")
    echo "rd.bpf_preload=${ALL// /,},guard_witness ${l/vmtest.loaded=/vmtest.loaded=guard_witness,}"
}
# Issue 22's attacks (fd races, propagated unmounts and mounts, pins moved to a fresh bpffs) run in
# guard-6.1-systemd, guard-6.12-shell, guard-trixie-bpo-systemd, signed-only-trixie-bpo-shell and
# the controls (A22): not in every guard boot, each costs about 15 s of races.
A22=vmtest.attacks22=refused
# guard-trixie-bpo-d13-dracut-systemd too: there switch_root copied /sys and the guard re-anchored
# on the copy (mount=copy), so the chain it walks is the copy's.
a22() {
    case $1 in
        guard-6.1-systemd | guard-6.12-shell | guard-trixie-bpo-systemd | guard-trixie-bpo-d13-dracut-systemd) echo " $A22" ;;
    esac
}
for k in 6.1 6.12; do
    for fl in systemd shell; do
        boot_ok "guard-$k-$fl" "$k" "$fl" full \
            "rd.bpf_preload.required=counter $(with_witness "$k") $GUARD_ON $FAST$(a22 "guard-$k-$fl")" \
            'VMSTATUS +guard: active'
    done
done
# 7.x, the newest packaged kernel (trixie-backports), with the host's dracut (both
# flavours) and with Debian 13's dracut-ng + systemd 257, whose switch_root pivots.
# fentry_unlink's target (do_unlinkat) is gone in 7.x: that example fails there
# (optional) whatever the guard does; the guard protects the other seven.
for fl in systemd shell d13-dracut-systemd d13-initramfs-tools; do
    boot_ok "guard-trixie-bpo-$fl" trixie-bpo "$fl" full \
        "rd.bpf_preload.required=counter $(with_witness trixie-bpo) $GUARD_ON $FAST$(a22 "guard-trixie-bpo-$fl")" \
        'VMSTATUS +guard: active'
done
# With lockdown=integrity (what Secure Boot turns on): the same attacks, the same outcome.
boot_ok guard-lockdown-trixie-bpo-shell trixie-bpo shell full \
    "lockdown=integrity rd.bpf_preload.required=counter $(with_witness trixie-bpo) $GUARD_ON $FAST" \
    'Kernel is locked down from command line; see man kernel_lockdown'
# The controls: no guard, the same attacks succeed (the switches go off, the hook programs
# attach) and `bpf-preload status` calls what they removed `removed`.
boot_ok guard-control-6.12-shell 6.12 shell full "$(with_witness 6.12) vmtest.guard=allowed vmtest.attacks22=allowed" \
    'VMGUARD rm-pin ok'
boot_ok guard-control-6.1-systemd 6.1 systemd full "$(with_witness 6.1) vmtest.guard=allowed vmtest.attacks22=allowed" \
    'VMGUARD fmodret-security_bpf ok'
# No BPF LSM (lsm= without bpf): the guard says so; required, it stops the boot.
NOLSM="lsm=lockdown,capability,yama"
boot_ok guard-nolsm-6.1-shell 6.1 shell full \
    "$NOLSM rd.bpf_preload=counter rd.bpf_preload.guard=1 vmtest.loaded=counter vmtest.guard_status=unavailable" \
    'guard: unavailable: BPF LSM is not active .*boot with lsm=.*,bpf'
boot_refused guard-nolsm-required-6.12-systemd 6.12 systemd full \
    "$NOLSM rd.bpf_preload=counter rd.bpf_preload.guard=required" \
    'guard: unavailable: BPF LSM is not active'
# ... and the refusal names what required it.
if [[ guard-nolsm-required-6.12-systemd =~ $ONLY ]] &&
    ! grep -qa 'boot refused: .*required by rd.bpf_preload.guard=required' "$LOGS/guard-nolsm-required-6.12-systemd.log"; then
    result guard-nolsm-required-names-it fail "(no 'required by rd.bpf_preload.guard=required' on the console)"
fi
# Build-time policy (dracut: bpf_preload_required, bpf_preload_guard=required): the
# command line cannot take either away.
POL=$(vm_bundle policy "counter iter")
printf 'bpf_preload_required="counter"\nbpf_preload_guard=required\n' > "$POL/dracut.conf"
boot_ok policy-6.12-systemd 6.12 systemd policy \
    "rd.bpf_preload=0 rd.bpf_preload.guard=0 vmtest.loaded=counter vmtest.guard_status=active" \
    'VMSTATUS +policy: rd.bpf_preload=0 refused for counter'

# Measured preload (docs/measure.md), with a software TPM (swtpm; the bzImage, see
# vm_boot_tpm). In the real root: the PCR the kernel shows equals the replay of the
# measurement log's records for it and what `bpf-preload predict` computed here from the
# same bundle and list; the objects' events are in load order, then the closing event.
# PCR 12: SeaBIOS measures into 0-7, nothing else in these boots touches 12.
MA=$(vm_bundle measure-a "counter iter")
MB=$(vm_bundle measure-b "counter maponly")
# The build-time policy path (dracut bpf_preload_measure_pcr): no command-line option.
printf 'bpf_preload_measure_pcr=12\n' > "$MB/dracut.conf"
predict() { "$VM_BIN" predict --pcr 12 --bundle "$1/lib" --keys "$1/keys" --preload-list "$1/preload.list" | head -n1; }
PA=$(predict "$MA") PB=$(predict "$MB")
if [[ measure-predict-differs =~ $ONLY ]]; then
    # Another object, another value (what a verifier relies on).
    if [[ -n $PA && -n $PB && $PA != "$PB" ]]; then
        result measure-predict-differs ok "($PA != $PB)"
    else
        result measure-predict-differs fail "(predict: '$PA' '$PB')"
    fi
fi
# The component `predict --pcrlock` writes holds, for each event, the record Debian 13's
# systemd-pcrlock (systemd 257) writes for that event text itself (`lock-raw`): same PCR,
# same SHA-256 digest.
if [[ measure-pcrlock-interop =~ $ONLY ]]; then
    TR=$(vm_trixie_root)
    "$VM_BIN" predict --pcr 12 --bundle "$MA/lib" --keys "$MA/keys" --preload-list "$MA/preload.list" \
        --pcrlock "$TR/var/tmp/ours.pcrlock" > "$TR/var/tmp/predict.out"
    ours=$(grep -o '"digest": "[0-9a-f]*"' "$TR/var/tmp/ours.pcrlock" | cut -d'"' -f4 | tr '\n' ' ')
    theirs='' i=0
    while IFS= read -r ev; do
        i=$((i + 1))
        printf '%s' "$ev" > "$TR/var/tmp/ev$i"
        vm_in_root "$TR" /usr/lib/systemd/systemd-pcrlock lock-raw --pcr=12 \
            --pcrlock="/var/tmp/sd$i.pcrlock" "/var/tmp/ev$i" > /dev/null 2>&1 || theirs+="(lock-raw failed) "
        theirs+="$(grep -o '"pcr":12,"digests":\[.*"hashAlg":"sha256","digest":"[0-9a-f]*"' "$TR/var/tmp/sd$i.pcrlock" |
            sed 's/.*"hashAlg":"sha256","digest":"\([0-9a-f]*\)"/\1/') "
    done < <(sed -n 's/^# pcr 12 event //p' "$TR/var/tmp/predict.out")
    if ((i == 3)) && [[ $ours == "$theirs" ]]; then
        result measure-pcrlock-interop ok "($i records)"
    else
        result measure-pcrlock-interop fail "(ours: $ours; systemd-pcrlock: $theirs)"
    fi
    rm -f "$TR"/var/tmp/{ours.pcrlock,predict.out,ev*,sd*.pcrlock}
fi
MCHK="vmtest.measure=12 vmtest.measure_state=ok"
VM_BOOT_FN=vm_boot_tpm boot_ok measure-tpm-6.12-systemd 6.12 systemd measure-a \
    "rd.bpf_preload.measure=12 $MCHK vmtest.measure_expect=$PA vmtest.measured=counter,iter vmtest.loaded=counter,iter" \
    'VMCHECK ok pcr-equals-predict'
VM_BOOT_FN=vm_boot_tpm boot_ok measure-tpm-6.1-shell 6.1 shell measure-b \
    "$MCHK vmtest.measure_expect=$PB vmtest.measured=counter,maponly vmtest.loaded=counter,maponly" \
    'VMCHECK ok pcr-equals-predict'
# Debian 13's initramfs-tools, the build-time PCR from /etc/bpf-preload/initrd.conf.
VM_TRIXIE_INITRD_CONF='bpf_preload_measure_pcr=12' VM_BOOT_FN=vm_boot_tpm \
    boot_ok measure-tpm-d13-initramfs-tools trixie d13-initramfs-tools measure-a \
    "$MCHK vmtest.measure_expect=$PA vmtest.measured=counter,iter vmtest.loaded=counter,iter" \
    'VMCHECK ok pcr-equals-predict'
# No TPM (the PVH boot has none): the status says unavailable, with the reason, and the
# objects load; required, the boot stops before switch_root.
boot_ok measure-notpm-6.12-shell 6.12 shell measure-a \
    "rd.bpf_preload.measure=12 vmtest.measure_state=unavailable vmtest.loaded=counter,iter" \
    'measurement: unavailable pcr=12 events=0 reason: no TPM: open /dev/tpmrm0'
boot_refused measure-notpm-required-6.1-systemd 6.1 systemd measure-a \
    "rd.bpf_preload.measure=12,required" \
    'not loaded: measurement required and unavailable: no TPM'

# The Debian package (make deb, packaging/debian/): built (lintian: no error), then,
# for each suite below, installed with dpkg into a root of that suite with
# initramfs-tools and that distribution's kernel (its .debs, installed with dpkg): one rebuild by
# update-initramfs on install; a second package shipping a signed object and its key
# fires the file trigger (one rebuild, the object in the image), both in one dpkg run
# rebuild once, purge leaves nothing but an administrator's key. The same again
# after apt replaced initramfs-tools with dracut (dracut.conf.d entry, systemd
# initrd). The images the trigger rebuilt boot with the object loaded.
deb_suite() { # deb_suite SUITE KERNEL GENERATORS
    local suite=$1 k=$2 gens=$3 out=$VM_BUILD/deb-test-$1 st name detail fl
    vm_deb_case "$suite" "$k" "$DEB" "$OBJDEB" "$out" "$gens" > "$LOGS/deb-$suite.checks" 2> "$LOGS/deb-$suite.log" ||
        result "deb-$suite" fail "(see $LOGS/deb-$suite.log)"
    while read -r _ st name detail; do
        result "deb-$name" "$st" "$detail"
    done < <(grep '^DEBCHECK ' "$LOGS/deb-$suite.checks")
    for fl in $gens; do
        [[ -s $out/$fl.img ]] || { result "deb-$suite-$fl-boot" fail "(no image: $out/$fl.img)"; continue; }
        # boot_ok boots $VM_BUILD/initrd/BUNDLE-KERNEL-FLAVOUR.img; marked built, it is
        # the image the package's trigger made
        cp "$out/$fl.img" "$VM_BUILD/initrd/deb-$k-pkg-$fl.img"
        BUILT[$VM_BUILD/initrd/deb-$k-pkg-$fl.img]=1
        boot_ok "deb-$suite-$fl-boot" "$k" "pkg-$fl" deb \
            "rd.bpf_preload.required=counter vmtest.loaded=counter $FAST" 'bpf-preload: object counter: loaded'
    done
}
# Debian 13 (trixie: dracut-ng 106, initramfs-tools 0.148, systemd 257, its 6.12 kernel) and
# unstable (sid: dracut-ng 112, initramfs-tools 0.151, systemd 262, its 7.2 kernel).
# Debian 12 (bookworm: initramfs-tools 0.142, dracut 059, its 6.1 kernel): dracut too.
# SUITE:KERNEL:GENERATORS
DEB_SUITES=${VM_DEB_SUITES:-"trixie:trixie:initramfs-tools,dracut sid:sid:initramfs-tools,dracut bookworm:6.1:initramfs-tools,dracut"}
if [[ deb-build =~ $ONLY || deb-trixie-dracut-boot =~ $ONLY || deb-sid-dracut-boot =~ $ONLY ||
    deb-bookworm-initramfs-tools-boot =~ $ONLY ]]; then
    if DEB=$(BPF_PRELOAD_BIN=$VM_BIN "$VM_TOP/packaging/debian/build-deb.sh" "$VM_BUILD/deb-pkg" 2> "$LOGS/deb-build.log"); then
        result deb-build ok "(${DEB##*/}; lintian: no error, $(grep -c "^W: " "$LOGS/deb-build.log") warnings: packaging/debian/README.md)"
        OBJDEB=$(vm_deb_objects_pkg "$VM_BUILD/deb-pkg" "$VM_BUILD/bundle-full/lib/counter.bpf.o" "$VM_PUB")
        for s in $DEB_SUITES; do
            IFS=: read -r suite k gens <<< "$s"
            [[ deb-$suite-${gens%%,*}-boot =~ $ONLY ]] || continue
            KD[$k]=${KD[$k]:-$(vm_kernel "$k")}
            deb_suite "$suite" "$k" "${gens//,/ }"
        done
    else
        result deb-build fail "(see $LOGS/deb-build.log)"
    fi
fi

# Signed-only mode (issue 16; tests/vm/lib.sh vm_signed_bundle): counter kernel-signed with
# the trusted certificate loads `verified`, iter kernel-signed with an unknown one is refused
# by the kernel (with the mode: failed, no libbpf fallback), maponly is unsigned. From the real
# root, after the seal: unsigned kprobe and raw tracepoint loads, and loads signed with root's
# own certificate (in its session keyring; it cannot get into the loader's closed keyring) are
# refused; a trusted-signed kprobe and unsigned socket filter / cgroup_skb programs load. The
# control boot (no mode) lets every one of them through but the loader-keyring ones.
vm_signed_bundle signed > /dev/null
SIGNED_ON="rd.bpf_preload.signed_only=1 vmtest.signed=refused vmtest.signed_status=active"
SIGNED_LOADED=counter,maponly,guard_witness,iter_signed
for fl in systemd shell; do
    a=
    [[ $fl == shell ]] && a=" $A22"
    boot_ok "signed-only-trixie-bpo-$fl" trixie-bpo "$fl" signed \
        "$SIGNED_ON vmtest.loaded=$SIGNED_LOADED vmtest.failed=iter vmtest.path=fast$a" \
        'kernel signature: refused: no key'
done
boot_ok signed-control-trixie-bpo-shell trixie-bpo shell signed \
    "vmtest.signed=allowed vmtest.loaded=$SIGNED_LOADED,iter vmtest.attacks22=allowed"
# 6.12 has no BPF signatures: unavailable, the boot goes on; required, it stops with the reason.
boot_ok signed-only-unavailable-6.12-shell 6.12 shell signed \
    "rd.bpf_preload.signed_only=1 vmtest.loaded=$SIGNED_LOADED,iter vmtest.signed_status=unavailable" \
    'signed_only: unavailable: this kernel has no BPF signatures'
boot_refused signed-only-required-6.12-systemd 6.12 systemd signed \
    "rd.bpf_preload.signed_only=required" \
    'signed_only: unavailable: this kernel has no BPF signatures'

# mkosi-built real root with full systemd (see tests/vm/mkosi-test.sh).
if ((MKOSI)) && [[ mkosi-systemd-root =~ $ONLY ]]; then
    export VM_BIN VM_KEY VM_PUB
    # with the guard on: systemd, its units and its own BPF LSM are unaffected; on 7.x with
    # signed-only mode on (issue 16), the kernel-signed objects verified
    export MKOSI_EXTRA_CMDLINE="rd.bpf_preload.guard=1 rd.bpf_preload.signed_only=1"
    if out=$(bash "$HERE/mkosi-test.sh" --kernel trixie-bpo 2>&1 | tee "$LOGS/mkosi-test.out" | tail -n 20); then
        result mkosi-systemd-root ok "($(grep -a '^MKOSI-RESULT' "$LOGS/mkosi-test.out" | tail -n1))"
    else
        echo "$out" | sed 's/^/    /' >&2
        result mkosi-systemd-root fail "(see $LOGS/mkosi-test.out)"
    fi
fi

vlog "wall time $(($(date +%s) - T0)) s; logs in $LOGS"
((FAILED)) && vlog "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
