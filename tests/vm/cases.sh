# shellcheck shell=bash
# The constants here are for the case files, the fields read here are set by them (run.sh):
# shellcheck disable=SC2034,SC2154
# The VM suite's case library: what a case file (tests/vm/cases/NAME.case) may call, and the
# assertions that judge a case. Sourced by run.sh after lib.sh.
#
# A case file is data, sourced in a subshell with CASE set to its name:
#   kernel=6.12                  a kernel of kernels.conf (or sid, for the package cases)
#   initrd=systemd               how the initramfs is made: systemd, shell (the host's dracut 059),
#                                d13-dracut-systemd, d13-dracut-shell, d13-initramfs-tools,
#                                d13-mkosi-initrd (Debian 13's generators in the Debian 13 root)
#                                d13-uki-dracut-shell: a signed UKI made by Debian 13's `dracut --uefi`
#                                (docs/secure-boot.md route 1): systemd-stub, the bzImage, the
#                                case's whole command line (uki_cmdline) as its .cmdline
#                                d13-uki-ukify-initramfs-tools, d13-uki-ukify-mkosi-initrd: the same
#                                made by `ukify build` with an initramfs-tools initrd (route 2) or
#                                mkosi-initrd's (route 3), signed by ukify (sbsign)
#   bundle=full                  the signed objects, keys and list (run.sh make_bundles)
#   boot=tpm                     boot the bzImage with a software TPM (default: the ELF vmlinux)
#   boot=uefi-sb                 boot the UKI under OVMF with Secure Boot enforced (snakeoil db)
#                                and a software TPM; for expect=boots also: PCR 11 in the real root
#                                (vmtest.pcr11=1) equals systemd-measure's prediction (NAME-pcr11)
#   loader_cmdline="..."         (boot=uefi-sb) the firmware starts the UKI as qemu -kernel with
#                                this as its load options, as a boot loader would pass them
#   build_conf='key="value"'     more generator configuration: dracut's configuration file, or
#                                /etc/bpf-preload/initrd.conf for Debian 13's generators
#   cmdline="rd.bpf_preload..."  what the boot gets on the kernel command line
#   checks="loaded=a,b guard=refused"
#                                what the real root's init (guest/vmcheck.sh) must find; handed to
#                                it as vmtest.KEY=VALUE on the command line
#   expect=boots|refused|build-refused|host|fw-refused
#       boots          the real root is reached and every check made there passes
#       refused        the boot stops before switch_root with "bpf-preload: boot refused", then
#                      the generator's emergency path
#       build-refused  the generator fails and leaves no image
#       host           no boot of its own: the file defines check(), which calls result
#       fw-refused     (boot=uefi-sb) the case's UKI with one byte flipped, and without its
#                      signature: the firmware refuses each (NAME-flipped, NAME-unsigned)
#   console=('regex' ...)        every regex must match the console log (for refused: the reason)
# One image is built per (bundle, kernel, initrd, build_conf) and shared by every case that
# differs only in the command line.

# The example objects every full boot loads (bpf/examples), in list order.
FULL_SET="counter iter maponly xdp_pass lsm_deny fentry_unlink tp_btf_exec kprobe_unlink kprobe_multi_unlink"

# quirk KERNEL -> the objects of FULL_SET that fail alone on KERNEL (kernels.conf), or nothing.
quirk() {
    awk -v k="$1" '$1 == k && $2 != "-" { gsub(",", " ", $2); print $2 }' "$VM_DIR/kernels.conf"
}

# full_list -> FULL_SET as a comma list (for rd.bpf_preload=).
full_list() { local l=$FULL_SET; echo "${l// /,}"; }

# The functions below read the fields of the case being run (kernel, cmdline, checks, console,
# boot, generators): run.sh sets them from the case file.

# full_set [EXTRA] -> "loaded=... failed=..." for $kernel: FULL_SET (after EXTRA, when given)
# without what fails there, and what fails there.
full_set() {
    local all=" $FULL_SET " f failed
    failed=$(quirk "$kernel")
    for f in $failed; do all=${all/ $f / }; done
    all=$(echo ${1:-} $all)
    failed=$(echo $failed)
    echo "loaded=${all// /,}${failed:+ failed=${failed// /,}}"
}

# full_set_console -> a console regex: `bpf-preload status` says FAILED for what fails on
# $kernel (or '.' when nothing does).
full_set_console() {
    local failed
    failed=$(quirk "$kernel")
    [[ -n $failed ]] || { echo .; return; }
    echo "VMSTATUS +(${failed// /|}) +FAILED"
}

# predict_pcr BUNDLE [CMDLINE] -> the PCR 12 value `bpf-preload predict` computes for that bundle
# (and that command line: rd.bpf_preload.iterators=1 adds the built-in iterators' event).
predict_pcr() {
    local b=$VM_BUILD/bundle-$1 c=()
    if [[ -n ${2:-} ]]; then
        printf '%s\n' "$2" > "$VM_BUILD/predict-$1.cmdline"
        c=(--cmdline "$VM_BUILD/predict-$1.cmdline")
    fi
    "$VM_BIN" predict --pcr 12 --bundle "$b/lib" --keys "$b/keys" --preload-list "$b/preload.list" \
        "${c[@]}" | head -n1
}

# What `bpf-preload status` (VMSTATUS lines, from the real root) or the console says about a
# failed object; for the case files.
SIGFAIL='(VMSTATUS|bpf-preload:) .*(error: )?verify: signature does not verify'
SIGFAIL_STATUS='VMSTATUS .*error: verify: signature does not verify'
NOFILE='(VMSTATUS|bpf-preload:) .*ghost.bpf.o: No such file'
VERIFIER='VMSTATUS .*error: load: .*verifier'
# Debian's default lsm= without bpf
NOLSM="lsm=lockdown,capability,yama"

# ------------------------------------------------------------------ judging --
# result NAME ok|fail DETAIL: one result line, "ok NAME DETAIL" or "fail NAME DETAIL", to the
# case's result file (run.sh prints and counts them).
result() {
    printf '%s %s %s\n' "$2" "$1" "$3" >> "$RESULTS"
}

# console_matches LOG: every regex of console=() matches LOG; else prints the first that does not.
console_matches() {
    local re
    for re in "${console[@]}"; do
        grep -qaE -- "$re" "$1" || { echo "$re"; return 1; }
    done
}

# judge_boots NAME LOG: the real root was reached, it made checks, none failed, the console says
# what console=() wants.
judge_boots() {
    local name=$1 log=$2 line miss
    grep -a 'VMCHECK FAIL' "$log" | sed 's/^/    /' >&2 || true
    line=$(grep -a '^VMRESULT ' "$log" | tail -n1 || true)
    if ! [[ $line =~ passed=([0-9]+)\ failed=0 ]] || ((BASH_REMATCH[1] == 0)); then
        if [[ -n $line ]]; then
            result "$name" fail "($line; see $log)"
        else
            result "$name" fail "(real root not reached; see $log)"
        fi
    elif ! miss=$(console_matches "$log"); then
        result "$name" fail "(no /$miss/ in the console log; see $log)"
    else
        result "$name" ok "(${VM_BOOT_MS} ms; $line; $(grep -a '^VMFIG' "$log" | cut -d' ' -f2 | tr '\n' ' '))"
    fi
}

# judge_refused NAME LOG: the boot stopped before the real root, with the policy's refusal line,
# the generator's emergency path (dracut: FATAL; systemd: the unit failed, emergency.target;
# initramfs-tools: panic) and the reason(s) of console=().
REFUSED='bpf-preload: boot refused'
EMERGENCY='dracut: FATAL: bpf-preload|Reached target .*emergency\.target|Failed to start .*bpf-preload|bpf-preload.service: (Main process exited|Failed)|bpf-preload: a required eBPF object could not be loaded'
judge_refused() {
    local name=$1 log=$2 miss
    if grep -qa 'VMCHECK-BEGIN' "$log"; then
        result "$name" fail "(the real root was reached; see $log)"
    elif ! grep -qa "$REFUSED" "$log"; then
        result "$name" fail "(no '$REFUSED' on the console; see $log)"
    elif ! grep -qaE "$EMERGENCY" "$log"; then
        result "$name" fail "(no emergency path /$EMERGENCY/ on the console; see $log)"
    elif ! miss=$(console_matches "$log"); then
        result "$name" fail "(console does not say why: no /$miss/; see $log)"
    else
        result "$name" ok "(${VM_BOOT_MS} ms; $(grep -a "$REFUSED" "$log" | head -n1 | sed 's/^\[[ 0-9.]*\] //' | tr -d '\r'))"
    fi
}

# judge_build_refused NAME LOG IMAGE RC: the generator failed (RC != 0), left no image, and said
# which object is missing.
judge_build_refused() {
    local name=$1 log=$2 out=$3 rc=$4
    if ((rc == 0)); then
        result "$name" fail "(the image was built; see $log)"
    elif [[ -s $out ]]; then
        result "$name" fail "(failed, but left an image $out)"
    elif ! grep -q "object 'ghost' not found" "$log" "$out.log" 2> /dev/null; then
        result "$name" fail "(no \"object 'ghost' not found\"; see $log)"
    else
        result "$name" ok "($(grep -h "object 'ghost' not found" "$log" "$out.log" 2> /dev/null | head -n1))"
    fi
}

# uki_cmdline -> for a UKI (initrd=d13-uki-*): the whole kernel command line it carries (the
# firmware passes none): the base, init, $cmdline and $checks (no vmtest.case: one image serves
# every case that boots it). Nothing for other images.
uki_cmdline() {
    local c out
    [[ ${initrd:-} == d13-uki-* ]] || return 0
    out="$VM_BASE_CMDLINE init=/sbin/vmcheck $cmdline"
    for c in $checks; do out+=" vmtest.$c"; done
    echo "$out"
}

# boot_case NAME KERNELDIR IMAGE LOG: boots IMAGE as $boot says, with $cmdline and $checks.
boot_case() {
    local name=$1 kd=$2 img=$3 log=$4 c extra="vmtest.case=$1 $cmdline"
    for c in $checks; do extra+=" vmtest.$c"; done
    if [[ ${boot:-} == uefi-sb ]]; then
        VM_UEFI_LOADER_CMDLINE=${loader_cmdline:-} vm_boot_uefi_sb "$kd" "$img" "$VM_ROOT_IMG" "$log" tpm
    elif [[ ${boot:-} == tpm ]]; then
        vm_boot_tpm "$kd" "$img" "$VM_ROOT_IMG" "$log" "$extra"
    else
        vm_boot "$kd" "$img" "$VM_ROOT_IMG" "$log" "$extra"
    fi
}

# judge_pcr11 NAME LOG UKI: PCR 11 as the real root read it (VMPCR11) equals systemd-measure's
# prediction from the UKI's sections (UKI.pcr11, lib.sh vm_trixie_uki_dracut).
judge_pcr11() {
    local name=$1-pcr11 log=$2 want got
    want=$(cat "$3.pcr11" 2> /dev/null || true)
    got=$(grep -a '^VMPCR11 ' "$log" | tail -n1 | cut -d' ' -f2 | tr -d '\r' || true)
    if [[ -z $want ]]; then
        result "$name" fail "(no prediction $3.pcr11)"
    elif [[ $got != "$want" ]]; then
        result "$name" fail "(PCR 11 ${got:-not shown}, predicted $want; see $log)"
    else
        result "$name" ok "(PCR 11 $got as systemd-measure predicted)"
    fi
}

# judge_fw_refused NAME KERNELDIR UKI: the signed UKI (booted by another case) with one byte of its
# .initrd flipped, then stripped of its signature (sbattach --remove): the firmware refuses each
# ("Access Denied"), no kernel starts, the real root is never reached.
judge_fw_refused() {
    local name=$1 kd=$2 uki=$3 v log bad off
    for v in flipped unsigned; do
        bad=$VM_BUILD/initrd/$name-$v.efi log=$LOGS/$name-$v.log
        cp "$uki" "$bad"
        if [[ $v == flipped ]]; then
            # a byte in the middle of .initrd (objdump: size, VMA, LMA, file offset)
            off=$(objdump -h "$bad" | awk '$2 == ".initrd" { print strtonum("0x" $6) + int(strtonum("0x" $3) / 2) }')
            python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$bad" "$off"
        else
            sbattach --remove "$bad" > /dev/null
        fi
        if sbverify --cert "$(vm_sb_keys)/db.crt" "$bad" > /dev/null 2>&1; then
            result "$name-$v" fail "($bad still verifies: nothing to refuse)"
            continue
        fi
        vm_boot_uefi_sb "$kd" "$bad" "$VM_ROOT_IMG" "$log"
        if grep -qaE 'VMCHECK-BEGIN|Linux version' "$log"; then
            result "$name-$v" fail "(a kernel started; see $log)"
        elif ! grep -qa 'Access Denied' "$log"; then
            result "$name-$v" fail "(no 'Access Denied' from the firmware; see $log)"
        else
            result "$name-$v" ok "(${VM_BOOT_MS} ms; $(grep -a 'Access Denied' "$log" | head -n1 | tr -d '\r'))"
        fi
    done
}

# ki_uki_check: kernel-install with layout=uki in the Debian 13 root (lib.sh vm_ki_uki_root): the
# first UKI made by `kernel-install add`; then an objects package's files (maponly, signed with the
# same key, and its preload.list.d drop-in) and what its dpkg trigger runs, rebuild.sh's
# bpf_preload_rebuild. The UKI in $BOOT/EFI/Linux must be rebuilt, verify with the certificate
# (sbverify --cert) and carry the new object (inspect-initramfs of its .initrd). Control: the same
# rebuild with its UKI step (bpf_preload_rebuild_uki) replaced by nothing leaves the UKI as it was.
ki_uki_check() {
    local name=$CASE kd kver m log=$LOGS/$CASE.log uki sum0 sum1 insp crt
    kd=$(vm_kernel "$kernel")
    kver=$(cat "$kd/kver")
    : > "$log"
    if ! m=$(VM_KI_UKI_CHECKS="vmtest.loaded=counter,iter,maponly vmtest.path=fast vmtest.guard_status=active vmtest.lockdown=integrity" \
        vm_ki_uki_root "$kd" "$VM_BUILD/bundle-$bundle" 2>> "$log"); then
        result "$name" fail "(set-up failed; see $log)"
        return
    fi
    crt=$(vm_sb_keys)/db.crt
    cp "$VM_TOP/packaging/debian/rebuild.sh" "$m/var/tmp/rebuild.sh"
    uki_inspect() { # UKI -> inspect-initramfs of its .initrd
        objcopy -O binary --only-section=.initrd "$1" "$VM_BUILD/ki-uki/initrd" &&
            "$VM_BIN" inspect-initramfs "$VM_BUILD/ki-uki/initrd"
    }
    vm_in_root "$m" kernel-install add "$kver" "/boot/vmlinuz-$kver" >> "$log" 2>&1 || true
    uki=$(ls "$m"/boot/EFI/Linux/*"$kver".efi 2> /dev/null | head -n1)
    if [[ -z $uki ]] || ! sbverify --cert "$crt" "$uki" >> "$log" 2>&1; then
        result "$name" fail "(kernel-install add made no verifying UKI in /boot/EFI/Linux; see $log)"
        vm_ki_uki_done
        return
    fi
    insp=$(uki_inspect "$uki" 2>&1)
    echo "$insp" >> "$log"
    if echo "$insp" | grep -q 'maponly'; then
        result "$name" fail "(the first UKI already carries maponly: nothing to show)"
        vm_ki_uki_done
        return
    fi
    sum0=$(sha256sum < "$uki")
    # what an objects package installs (docs/objects-package.md)
    cp "$VM_BUILD/bundle-full/lib/maponly.bpf.o" "$m/usr/lib/bpf-preload/"
    mkdir -p "$m/etc/bpf-preload/preload.list.d"
    echo maponly > "$m/etc/bpf-preload/preload.list.d/50-vmtest-objects.list"
    # control: the same rebuild without its UKI step (as before it existed)
    vm_in_root "$m" sh -c '. /var/tmp/rebuild.sh && bpf_preload_rebuild_uki() { :; } && bpf_preload_rebuild' >> "$log" 2>&1 || true
    if [[ $(sha256sum < "$uki") == "$sum0" ]]; then
        result "$name-control" ok "(without the UKI step: the UKI is left as it was, without maponly)"
    else
        result "$name-control" fail "(without the UKI step the UKI changed; see $log)"
    fi
    echo "---- bpf_preload_rebuild" >> "$log"
    vm_in_root "$m" sh -c '. /var/tmp/rebuild.sh && bpf_preload_rebuild' >> "$log" 2>&1 || true
    sum1=$(sha256sum < "$uki")
    insp=$(uki_inspect "$uki" 2>&1)
    echo "$insp" >> "$log"
    if [[ $sum1 == "$sum0" ]]; then
        result "$name" fail "(the UKI was not rebuilt; see $log)"
    elif ! sbverify --cert "$crt" "$uki" >> "$log" 2>&1; then
        result "$name" fail "(the rebuilt UKI does not verify; see $log)"
    elif ! echo "$insp" | grep -qE '^ +maponly: verified'; then
        result "$name" fail "(the rebuilt UKI does not carry maponly verified; see $log)"
    else
        result "$name" ok "(${uki##*/} rebuilt, verifies, $(echo "$insp" | grep -E '^objects:'), maponly verified)"
        # ... and boots under Secure Boot with the new object loaded (OVMF, the snakeoil db)
        cp "$uki" "$VM_BUILD/ki-uki-rebuilt.efi"
        vm_ki_uki_done
        vm_boot_uefi_sb "$kd" "$VM_BUILD/ki-uki-rebuilt.efi" "$VM_ROOT_IMG" "$LOGS/$CASE-boot.log"
        console=('Secure boot enabled' 'Kernel is locked down from EFI Secure Boot' 'VMCHECK ok no-lockdown-refusal')
        judge_boots "$name-boot" "$LOGS/$CASE-boot.log"
        return
    fi
    vm_ki_uki_done
}

# ------------------------------------------------------------ the package --
# deb_package -> the .deb `make deb` builds (once per run: the first caller builds it, under a
# lock, for the others).
deb_package() {
    local d=$VM_BUILD/deb-pkg
    (
        flock 9
        if [[ ! -s $d/built ]]; then
            mkdir -p "$d"
            BPF_PRELOAD_BIN=$VM_BIN BPF_PRELOAD_INITRD_BIN=$VM_INITRD_BIN "$VM_TOP/packaging/debian/build-deb.sh" "$d" > "$d/deb.path" 2> "$d/build.log" ||
                exit 1
            vm_deb_objects_pkg "$d" "$VM_BUILD/bundle-full/lib/counter.bpf.o" "$VM_PUB" > "$d/objects.path" ||
                exit 1
            echo 1 > "$d/built"
        fi
    ) 9> "$VM_BUILD/deb-pkg.lock" || return 1
    cat "$d/deb.path"
}

# deb_suite SUITE: the package cases of one suite ($kernel, $generators from the case file); one
# result per DEBCHECK line, then a boot of each image the trigger made.
deb_suite() {
    local suite=$1 out=$VM_BUILD/deb-test-$1 deb objdeb st name detail fl kd
    if ! deb=$(deb_package); then
        result "deb-$suite" fail "(the package did not build: $VM_BUILD/deb-pkg/build.log)"
        return
    fi
    objdeb=$(cat "$VM_BUILD/deb-pkg/objects.path")
    kd=$(vm_kernel "$kernel")
    vm_deb_case "$suite" "$kernel" "$deb" "$objdeb" "$out" "$generators" > "$LOGS/deb-$suite.checks" 2> "$LOGS/deb-$suite.log" ||
        result "deb-$suite" fail "(see $LOGS/deb-$suite.log)"
    while read -r _ st name detail; do
        result "deb-$name" "$st" "$detail"
    done < <(grep '^DEBCHECK ' "$LOGS/deb-$suite.checks")
    for fl in $generators; do
        name=deb-$suite-$fl-boot
        if [[ ! -s $out/$fl.img ]]; then
            result "$name" fail "(no image: $out/$fl.img)"
            continue
        fi
        # No rd.bpf_preload=: counter is named only by the objects package's preload.list.d
        # drop-in (the generated preload.list leaves it out), so it loads only if the drop-in
        # reached the image and the loader merged it.
        local cmdline="" checks="loaded=counter path=fast"
        local -a console=('bpf-preload: object counter: loaded')
        boot_case "$name" "$kd" "$out/$fl.img" "$LOGS/$name.log"
        judge_boots "$name" "$LOGS/$name.log"
    done
}
