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
#   bundle=full                  the signed objects, keys and list (run.sh make_bundles)
#   boot=tpm                     boot the bzImage with a software TPM (default: the ELF vmlinux)
#   build_conf='key="value"'     more generator configuration: dracut's configuration file, or
#                                /etc/bpf-preload/initrd.conf for Debian 13's generators
#   cmdline="rd.bpf_preload..."  what the boot gets on the kernel command line
#   checks="loaded=a,b guard=refused"
#                                what the real root's init (guest/vmcheck.sh) must find; handed to
#                                it as vmtest.KEY=VALUE on the command line
#   expect=boots|refused|build-refused|host
#       boots          the real root is reached and every check made there passes
#       refused        the boot stops before switch_root with "bpf-preload: boot refused", then
#                      the generator's emergency path
#       build-refused  the generator fails and leaves no image
#       host           no boot of its own: the file defines check(), which calls result
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

# boot_case NAME KERNELDIR IMAGE LOG: boots IMAGE as $boot says, with $cmdline and $checks.
boot_case() {
    local name=$1 kd=$2 img=$3 log=$4 c extra="vmtest.case=$1 $cmdline"
    for c in $checks; do extra+=" vmtest.$c"; done
    if [[ ${boot:-} == tpm ]]; then
        vm_boot_tpm "$kd" "$img" "$VM_ROOT_IMG" "$log" "$extra"
    else
        vm_boot "$kd" "$img" "$VM_ROOT_IMG" "$log" "$extra"
    fi
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
