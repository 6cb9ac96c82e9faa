#!/bin/sh
# init= of the minimal real root used by tests/vm: runs after switch_root, checks
# what bpf-preload left behind, prints machine-readable lines on the console and
# powers off. Parameters come from the kernel command line:
#   vmtest.case=NAME        label printed in the result line
#   vmtest.loaded=a,b       objects that must be loaded (pins, status, kmsg)
#   vmtest.failed=x,y       objects that must have failed (status names a reason)
#   vmtest.path=fast|libbpf every object of vmtest.loaded was loaded on that path (kmsg path=)
#   vmtest.empty=1          nothing at all may be pinned under /sys/fs/bpf
#   vmtest.demo=1           print the demo view instead of (before) the checks
#   vmtest.guard=refused|allowed  run the guard's attack matrix (guard-attacks.sh)
#   vmtest.attacks22=refused|allowed  issue 22's attacks (guard-attacks.sh issue22_attacks): with
#                           vmtest.guard inside its matrix, alone (signed-only boots) by themselves
#   vmtest.guard_status=REGEX     `bpf-preload status` must match (e.g. unavailable)
#   vmtest.measure_state=ok|unavailable  `bpf-preload status` says "measurement: STATE"
#   vmtest.measure=PCR      measured preload: /sys/class/tpm/tpm0/pcr-sha256/PCR must equal
#                           the replay of the measurement log's records for PCR, and
#   vmtest.measure_expect=HEX   what `bpf-preload predict` computed on the host;
#   vmtest.measured=a,b     the log's object events for PCR, in order (then the closing one)
#   vmtest.signed=refused|allowed signed-only mode's attacks from here (after the seal):
#                           refused with the mode on, allowed in the control boot
#   vmtest.signed_status=REGEX    `bpf-preload status` must match /signed_only: REGEX/
#   vmtest.lockdown=MODE    /sys/kernel/security/lockdown shows [MODE]; `bpf-preload status` says the
#                           kprobes switch is not readable under lockdown; the kernel logged no
#                           "Lockdown: bpf-preload…" refusal (boot, status, all of this run)
#   vmtest.pcr11=1          print PCR 11 (systemd-stub's measurement of the UKI's sections) as
#                           "VMPCR11 HEX"; the host compares it with systemd-measure's prediction
#                           (which cannot be on this command line: the command line is measured)
#   vmtest.cmdline_lacks=WORD  /proc/cmdline has no WORD (a boot loader's command line, ignored)
#   vmtest.iterators=1|0    the built-in iterators: maps.debug, progs.debug, links.debug in the
#                           kernel's format listing every id BPF_*_GET_NEXT_ID gives, the loaded
#                           objects' names on their rows, rm/mv/mount over refused with
#                           vmtest.guard=refused; 0: none of the files, no status line
# Output:  VMCHECK ok|FAIL <check> [detail] ... ;  VMFIG key=value ;
#          VMRESULT case=NAME passed=N failed=M
PATH=/usr/bin:/usr/sbin:/bin:/sbin
export PATH
read -r UPTIME_AT_INIT _ < /proc/uptime 2> /dev/null
exec < /dev/console > /dev/console 2>&1
echo "VMCHECK-BEGIN uptime=$UPTIME_AT_INIT"

[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp

arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -n1 | tr ',' ' '; }
CASE=$(arg vmtest.case)
LOADED=$(arg vmtest.loaded)
FAILED=$(arg vmtest.failed)
DEMO=$(arg vmtest.demo)
EMPTY=$(arg vmtest.empty)
GUARD=$(arg vmtest.guard)
ATTACKS22=$(arg vmtest.attacks22)
GUARD_STATUS=$(arg vmtest.guard_status)
LOAD_PATH=$(arg vmtest.path)
MEASURE=$(arg vmtest.measure)
MEASURE_STATE=$(arg vmtest.measure_state)
MEASURE_EXPECT=$(arg vmtest.measure_expect)
MEASURED=$(arg vmtest.measured)
SIGNED=$(arg vmtest.signed)
SIGNED_STATUS=$(arg vmtest.signed_status)
ITERATORS=$(arg vmtest.iterators)
LOCKDOWN=$(arg vmtest.lockdown)
PCR11=$(arg vmtest.pcr11)
CMDLINE_LACKS=$(arg vmtest.cmdline_lacks)
P=0
F=0
ok() { P=$((P + 1)); echo "VMCHECK ok $*"; }
bad() { F=$((F + 1)); echo "VMCHECK FAIL $*"; }
check() { # check NAME command...
    _n=$1
    shift
    if "$@" > /dev/null 2>&1; then ok "$_n"; else bad "$_n"; fi
}
BPF=/sys/fs/bpf
ST=/run/bpf-preload/status.json
# The online CPUs, and a shell command run on one of them (taskset, util-linux: essential); the
# shell says which CPUs it was allowed, and anything but the one asked for fails.
CPUS=$(seq 0 $(($(nproc) - 1)))
on_cpu() {
    _on=$(taskset -c "$1" sh -c "$2; taskset -cp \$\$" 2>&1)
    case "$_on" in
        *"affinity list: $1") ;;
        *) bad "on-cpu:$1" "$_on" ;;
    esac
}
# grows CHECK MAP N CPU COMMAND: key 0 of the pinned MAP grows by at least N while COMMAND runs
# (on CPU, or anywhere with -). Its own variables: shell functions share the script's.
grows() {
    _a=$(bpfmap get "$2" 0)
    if [ "$4" = - ]; then sh -c "$5"; else on_cpu "$4" "$5"; fi
    _b=$(bpfmap get "$2" 0)
    if [ -n "$_a" ] && [ -n "$_b" ] && [ "$_b" -ge $((_a + $3)) ]; then
        ok "$1" "${2##*/} $_a -> $_b"
    else
        bad "$1" "${2##*/} '$_a' -> '$_b'"
    fi
}

# ---- demo view ------------------------------------------------------------
if [ "$DEMO" = 1 ]; then
    echo "==== DEMO: the real root (init=/sbin/vmcheck, after switch_root) ===="
    echo "---- mount | grep bpf"
    grep -E ' bpf | tracefs ' /proc/mounts
    echo "---- find /sys/fs/bpf"
    find $BPF | sort
    echo "---- bpf-preload status"
    bpf-preload status
    echo "---- dmesg | grep bpf-preload:"
    dmesg | grep 'bpf-preload: '
    if [ -e $BPF/counter/maps/exec_count ]; then
        echo "---- live: counter's exec_count (tracepoint sched_process_exec), 3 readings"
        for _ in 1 2 3; do
            echo "exec_count[0] = $(bpfmap get $BPF/counter/maps/exec_count 0)"
            /bin/true; /bin/true; sleep 1
        done
    fi
    if [ -e $BPF/lsm_deny ]; then
        echo "---- live: lsm_deny (BPF LSM on path_mkdir)"
        mkdir /tmp/bpf-preload-deny-demo && echo "mkdir /tmp/bpf-preload-deny-demo: succeeded (?)" \
            || echo "mkdir /tmp/bpf-preload-deny-demo: refused as expected"
        echo "denied[0] = $(bpfmap get $BPF/lsm_deny/maps/denied 0 2>&1)"
    fi
    if [ -e $BPF/iter/links/dump_task ]; then
        echo "---- cat /sys/fs/bpf/iter/links/dump_task (iter/task), first lines"
        head -n 5 $BPF/iter/links/dump_task
    fi
    echo "==== END DEMO ===="
fi

# ---- checks -----------------------------------------------------------------
n=$(grep -c " $BPF bpf " /proc/mounts)
if [ "$n" = 1 ]; then ok bpffs-mounted-once; else bad bpffs-mounted-once "count=$n"; fi
n=$(grep ' bpf ' /proc/mounts | grep -vc " $BPF bpf ")
if [ "$n" = 0 ]; then ok no-other-bpffs; else bad no-other-bpffs "$(grep ' bpf ' /proc/mounts | tr '\n' ';')"; fi

check status.json-exists test -s $ST
# The record is this boot's, written in the initramfs (issue 27: the loader tells an initramfs
# from a booted system, and a manual run must not pass for the boot).
check status.json-place-initramfs grep -q '"place": "initramfs"' $ST
check status.json-this-boot grep -q "\"boot_id\": \"$(tr -d '-' < /proc/sys/kernel/random/boot_id)\"" $ST
STATUS=$(bpf-preload status 2>&1)
rc=$?
echo "$STATUS" | sed 's/^/VMSTATUS /'
if [ $rc = 0 ]; then ok bpf-preload-status-exit0; else bad bpf-preload-status-exit0 "rc=$rc"; fi
DMESG=$(dmesg | grep 'bpf-preload: ')
echo "$DMESG" | sed 's/^/VMKMSG /'

for o in $LOADED; do
    if [ -d $BPF/$o ] && [ -n "$(ls -A $BPF/$o 2> /dev/null)" ]; then
        ok "pins-dir:$o"
    else
        bad "pins-dir:$o" "$(ls -la $BPF 2>&1 | tr '\n' ';')"
    fi
    check "status.json-names:$o" grep -q "\"$o\"" $ST
    if echo "$STATUS" | grep -qw "$o"; then ok "status-cmd-names:$o"; else bad "status-cmd-names:$o"; fi
    if echo "$DMESG" | grep -qw "$o"; then ok "kmsg:$o"; else bad "kmsg:$o"; fi
    case $o in
        counter)
            check pin:counter/maps/exec_count test -e $BPF/counter/maps/exec_count
            check pin:counter/links/count_exec test -e $BPF/counter/links/count_exec
            # Execs on each CPU in turn (the loader opened the tracepoint's perf event on its
            # own CPU, one of them): all counted.
            for c in $CPUS; do
                grows running:counter:cpu$c $BPF/counter/maps/exec_count 5 $c 'for _ in 1 2 3 4 5; do /bin/true; done'
            done
            ;;
        iter)
            check pin:iter/links/dump_task test -e $BPF/iter/links/dump_task
            n=$(cat $BPF/iter/links/dump_task 2> /dev/null | wc -l)
            if [ "$n" -ge 3 ]; then ok "running:iter" "$n tasks"; else bad "running:iter" "$n lines"; fi
            ;;
        maponly)
            check pin:maponly/maps/config test -e $BPF/maponly/maps/config
            check pin:maponly/maps/stats test -e $BPF/maponly/maps/stats
            if for m in "$BPF"/maponly/maps/*; do echo "${m##*/}"; done | grep -qE 'rodata|bss|data'; then
                bad "maponly-no-internal-maps" "$(ls $BPF/maponly/maps | tr '\n' ' ')"
            else ok "maponly-no-internal-maps"; fi
            ;;
        xdp_pass)
            check pin:xdp_pass/progs/xdp_pass test -e $BPF/xdp_pass/progs/xdp_pass
            ;;
        lsm_deny)
            check pin:lsm_deny/links/deny_marker_mkdir test -e $BPF/lsm_deny/links/deny_marker_mkdir
            a=$(bpfmap get $BPF/lsm_deny/maps/denied 0)
            if mkdir /tmp/bpf-preload-deny-vmtest 2> /tmp/mkdir.err; then
                bad "running:lsm_deny" "mkdir of a bpf-preload-deny* dir succeeded"
            elif grep -qi 'not permitted' /tmp/mkdir.err; then
                ok "running:lsm_deny" "$(cat /tmp/mkdir.err)"
            else
                bad "running:lsm_deny" "$(cat /tmp/mkdir.err)"
            fi
            check "lsm_deny-other-mkdir-allowed" mkdir /tmp/bpf-preload-allowed
            b=$(bpfmap get $BPF/lsm_deny/maps/denied 0)
            if [ -n "$b" ] && [ "$b" -gt "${a:-0}" ]; then ok "lsm_deny-counted" "$a -> $b"; else bad "lsm_deny-counted" "'$a' -> '$b'"; fi
            ;;
        tp_btf_exec)
            check pin:tp_btf_exec/links/seen_exec test -e $BPF/tp_btf_exec/links/seen_exec
            grows running:tp_btf_exec $BPF/tp_btf_exec/maps/exec_seen 5 - 'for _ in 1 2 3 4 5; do /bin/true; done'
            ;;
        kprobe_unlink | kprobe_multi_unlink)
            # Entries to and returns from vfs_unlink, in keys 0 and 1 of the object's map.
            if [ $o = kprobe_unlink ]; then
                set -- unlink_entry unlink_return unlink_probes
            else
                set -- multi_entry multi_return multi_probes
            fi
            check pin:$o/links/$1 test -e $BPF/$o/links/$1
            check pin:$o/links/$2 test -e $BPF/$o/links/$2
            # Unlinks on each CPU in turn (a kprobe's perf event is on the loader's CPU, one of
            # them): all counted.
            for c in $CPUS; do
                a=$(bpfmap get $BPF/$o/maps/$3 0)
                r=$(bpfmap get $BPF/$o/maps/$3 1)
                on_cpu $c 'for _ in 1 2 3; do : > /tmp/unlink-kp; rm /tmp/unlink-kp; done'
                b=$(bpfmap get $BPF/$o/maps/$3 0)
                s=$(bpfmap get $BPF/$o/maps/$3 1)
                if [ -n "$a" ] && [ -n "$b" ] && [ "$b" -ge $((a + 3)) ] && [ -n "$r" ] && [ -n "$s" ] && [ "$s" -ge $((r + 3)) ]; then
                    ok "running:$o:cpu$c" "entries $a -> $b, returns $r -> $s"
                else
                    bad "running:$o:cpu$c" "entries '$a' -> '$b', returns '$r' -> '$s'"
                fi
            done
            ;;
        fentry_unlink)
            check pin:fentry_unlink/links/count_unlink test -e $BPF/fentry_unlink/links/count_unlink
            grows running:fentry_unlink $BPF/fentry_unlink/maps/unlink_count 3 - 'for _ in 1 2 3; do : > /tmp/unlink-me; rm /tmp/unlink-me; done'
            ;;
    esac
done

# The path each object was loaded on, from its kmsg line ("object NAME: loaded ... path=P ...").
if [ -n "$LOAD_PATH" ]; then
    for o in $LOADED; do
        l=$(echo "$DMESG" | grep "object $o: loaded" | tail -n1)
        case "$l" in
            *" path=$LOAD_PATH "*) ok "path:$o" "$LOAD_PATH" ;;
            *) bad "path:$o" "want path=$LOAD_PATH: $l" ;;
        esac
    done
fi

if [ "$EMPTY" = 1 ]; then
    n=$(find $BPF -mindepth 1 2> /dev/null | wc -l)
    if [ "$n" = 0 ]; then ok "nothing-pinned"; else bad "nothing-pinned" "$(find $BPF -mindepth 1 | head -n 5 | tr '\n' ' ')"; fi
fi

for o in $FAILED; do
    if [ -n "$(find $BPF/$o -type f 2> /dev/null | head -n1)" ]; then
        bad "not-loaded:$o" "$(find $BPF/$o | tr '\n' ' ')"
    else ok "not-loaded:$o"; fi
    check "status.json-names:$o" grep -q "\"$o\"" $ST
    # `bpf-preload status` prints the object's row, then "error: REASON" on the next line.
    reason=$(echo "$STATUS" | awk -v o="$o" '$1 == o { if ((getline) > 0 && $1 == "error:") print; exit }')
    if [ -n "$reason" ]; then
        ok "status-reason:$o" "$reason"
    else
        bad "status-reason:$o" "no error line after $o in: $(echo "$STATUS" | tr '\n' ';')"
    fi
    if echo "$DMESG" | grep -qw "$o"; then ok "kmsg:$o"; else bad "kmsg:$o"; fi
done

if [ -n "$GUARD_STATUS" ]; then
    if echo "$STATUS" | grep -qE "guard: $GUARD_STATUS"; then
        ok "guard-status" "$(echo "$STATUS" | grep 'guard:')"
    else
        bad "guard-status" "want /guard: $GUARD_STATUS/: $(echo "$STATUS" | grep 'guard:')"
    fi
fi
if [ -n "$MEASURE_STATE" ]; then
    if echo "$STATUS" | grep -q "measurement: $MEASURE_STATE"; then
        ok "measure-status" "$(echo "$STATUS" | grep 'measurement:')"
    else
        bad "measure-status" "want 'measurement: $MEASURE_STATE': $(echo "$STATUS" | grep 'measurement:')"
    fi
fi
if [ -n "$MEASURE" ]; then
    LOG=/run/log/systemd/tpm2-measure.log
    hex2bin() { printf "$(echo "$1" | sed 's/../\\x&/g')"; }
    # pcr digest string, one line per record of this PCR (our records hold no quotes)
    recs=$(tr '\036' '\n' < $LOG 2> /dev/null | sed -n \
        "s/^{\"pcr\":$MEASURE,\"digests\":\[{\"hashAlg\":\"sha256\",\"digest\":\"\([0-9a-f]*\)\"}\].*\"string\":\"\([^\"]*\)\".*/\1 \2/p")
    replay=0000000000000000000000000000000000000000000000000000000000000000
    for d in $(echo "$recs" | cut -d' ' -f1); do
        replay=$({ hex2bin "$replay"; hex2bin "$d"; } | sha256sum | cut -d' ' -f1)
    done
    pcr=$(tr 'A-F' 'a-f' < /sys/class/tpm/tpm0/pcr-sha256/"$MEASURE" 2> /dev/null)
    echo "VMMEASURE pcr=$pcr replay=$replay expect=$MEASURE_EXPECT"
    echo "$recs" | sed 's/^/VMMEASURE record /'
    if [ -n "$pcr" ] && [ "$pcr" = "$replay" ]; then ok "pcr-equals-log-replay"; else bad "pcr-equals-log-replay" "pcr=$pcr replay=$replay"; fi
    if [ "$pcr" = "$MEASURE_EXPECT" ]; then ok "pcr-equals-predict"; else bad "pcr-equals-predict" "pcr=$pcr predict=$MEASURE_EXPECT"; fi
    order=$(echo "$recs" | sed -n 's/.* bpf-preload object=\([^ ]*\) .*/\1/p' | tr '\n' ' ' | sed 's/ $//')
    if [ "$order" = "$MEASURED" ]; then ok "measured-in-load-order" "$order"; else bad "measured-in-load-order" "log: '$order' want: '$MEASURED'"; fi
    last=$(echo "$recs" | tail -n1 | cut -d' ' -f2-)
    if [ "$ITERATORS" = 1 ]; then
        # the built-in iterators' event, after the objects', before the closing one
        it=$(echo "$recs" | tail -n2 | head -n1 | cut -d' ' -f2-)
        case $it in
            "bpf-preload builtin=iterators sha256="*) ok "iterators-measured" "$it" ;;
            *) bad "iterators-measured" "$it" ;;
        esac
        if echo "$STATUS" | grep -q "iterators: active .*measured=yes"; then
            ok iterators-status-measured
        else
            bad iterators-status-measured "$(echo "$STATUS" | grep 'iterators:')"
        fi
    fi
    case $last in
        "bpf-preload end "*) ok "closing-event-last" "$last" ;;
        *) bad "closing-event-last" "$last" ;;
    esac
    for o in $MEASURED; do
        check "status-measured:$o" grep -q "\"name\": \"$o\"" $ST
    done
    # the objects' (the iterators' record, after them, has its own "measured")
    n=$(sed '/"iterators": {/,$d' $ST | grep -c '"measured": true')
    set -- $MEASURED
    if [ "$n" = "$#" ]; then ok "status-measured-count" "$n"; else bad "status-measured-count" "$n, want $#"; fi
fi
# The built-in iterators (docs/status.md).
iterators_listed() { # KIND HEADER...: every id the kernel has is a row of KIND.debug
    _k=$1
    shift
    _before=$(bpfmap ids "$_k")
    _text=$(cat "$BPF/$_k.debug" 2>&1)
    _after=$(bpfmap ids "$_k")
    _head=$(echo "$_text" | head -n1)
    _hok=
    for _h in "$@"; do [ "$_head" = "$_h" ] && _hok=1; done
    if [ -n "$_hok" ]; then ok "iterators-header:$_k" "$_head"; else bad "iterators-header:$_k" "'$_head'"; fi
    _rows=$(echo "$_text" | tail -n +2 | awk '{print $1}')
    _missing='' _n=0
    for _id in $_before; do
        echo "$_after" | grep -qx "$_id" || continue
        _n=$((_n + 1))
        echo "$_rows" | grep -qx "$_id" || _missing="$_missing $_id"
    done
    if [ "$_n" -gt 0 ] && [ -z "$_missing" ]; then
        ok "iterators-every-id:$_k" "$_n ids"
    else
        bad "iterators-every-id:$_k" "of $_n ids missing:$_missing; file: $(echo "$_text" | tr '\n' ';')"
    fi
}
if [ "$ITERATORS" = 1 ]; then
    for f in maps progs links; do check "iterators-pin:$f.debug" test -e $BPF/$f.debug; done
    iterators_listed maps "  id name             max_entries" "  id name             max_entries  cur_entries"
    iterators_listed progs "  id name             attached"
    iterators_listed links "  id type             prog attached"
    check iterators-own-row grep -q "^ *[0-9]* dump_bpf_prog    bpf_iter_bpf_prog" $BPF/progs.debug
    for o in $LOADED; do
        [ -n "$(ls -A $BPF/$o/links 2> /dev/null)" ] || continue
        check "iterators-object-prog:$o" grep -q " object=$o\$" $BPF/progs.debug
        check "iterators-object-link:$o" grep -q " object=$o\$" $BPF/links.debug
    done
    if echo "$STATUS" | grep -q "^  iterators: active "; then
        ok iterators-status "$(echo "$STATUS" | grep 'iterators:')"
    else
        bad iterators-status "$(echo "$STATUS" | grep 'iterators:')"
    fi
    check iterators-status.json grep -q '"iterators": {' $ST
    if echo "$DMESG" | grep -q "bpf-preload: iterators: active "; then ok iterators-kmsg; else bad iterators-kmsg; fi
    # Loaded as a light skeleton made at boot (every kernel here runs one), unless the command
    # line asked for libbpf's load.
    want=light
    grep -qw 'BPF_PRELOAD_ITERATORS_LOADER=libbpf' /proc/cmdline && want=libbpf
    if echo "$STATUS" | grep -q "^  iterators: active .* path=${want}[ (]"; then
        ok iterators-path "$want"
    else
        bad iterators-path "want path=$want: $(echo "$STATUS" | grep 'iterators:')"
    fi
    if [ "$GUARD" = refused ]; then
        # Protected like the objects' pins: not removed, renamed, replaced or covered.
        for f in maps progs links; do
            if rm -f $BPF/$f.debug 2> /dev/null || [ ! -e $BPF/$f.debug ]; then
                bad "iterators-rm-refused:$f"
            else
                ok "iterators-rm-refused:$f"
            fi
        done
        if mv $BPF/progs.debug $BPF/moved 2> /dev/null; then bad iterators-mv-refused; else ok iterators-mv-refused; fi
        : > /tmp/cover
        if mount --bind /tmp/cover $BPF/maps.debug 2> /dev/null; then
            bad iterators-cover-refused
            umount $BPF/maps.debug
        else
            ok iterators-cover-refused
        fi
        check iterators-still-readable grep -q "^  id name " $BPF/maps.debug
    fi
elif [ "$ITERATORS" = 0 ]; then
    for f in maps progs links; do
        if [ -e $BPF/$f.debug ]; then bad "iterators-absent:$f.debug"; else ok "iterators-absent:$f.debug"; fi
    done
    if echo "$STATUS" | grep -q "iterators:"; then bad iterators-absent-status; else ok iterators-absent-status; fi
fi

if [ -n "$GUARD" ]; then
    . /sbin/guard-attacks
    guard_attacks
elif [ -n "$ATTACKS22" ]; then
    GUARD=$ATTACKS22
    . /sbin/guard-attacks
    issue22_attacks
fi

if [ -n "$SIGNED_STATUS" ]; then
    if echo "$STATUS" | grep -qE "signed_only: $SIGNED_STATUS"; then
        ok "signed-status" "$(echo "$STATUS" | grep 'signed_only:')"
    else
        bad "signed-status" "want /signed_only: $SIGNED_STATUS/: $(echo "$STATUS" | grep 'signed_only:')"
    fi
fi
# Signed-only mode (tests/vm/lib.sh vm_signed_bundle, vm_ksig_files).
if [ -n "$SIGNED" ]; then
    K=/etc/vmtest-ksig
    KR=$(tr -d ' \n' < $ST | grep -o '"signed_only":{[^}]*' | grep -o '"keyring":-*[0-9]*' | cut -d: -f2)
    [ -n "$KR" ] || KR=$(dmesg | sed -n 's/.*bpf-preload: kernel keyring \([0-9]*\):.*/\1/p' | tail -n1)
    if [ -n "$KR" ]; then ok "loader-keyring" "$KR"; else bad "loader-keyring" "no serial"; fi
    # what: allowed (must load), refused (must not), mode (refused with the mode on, allowed
    # in the control boot)
    sgn() { # sgn NAME allowed|refused|mode bpfmap-args...
        _n=$1 _w=$2
        shift 2
        [ "$_w" = mode ] && { [ "$SIGNED" = refused ] && _w=refused || _w=allowed; }
        _r=$(bpfmap "$@" 2>&1)
        case "$_w:$_r" in
            allowed:ok*) ok "signed:$_n" "loads" ;;
            refused:ok*) bad "signed:$_n" "loaded, must be refused" ;;
            refused:*) ok "signed:$_n" "refused: $_r" ;;
            *) bad "signed:$_n" "refused ($_r), must load" ;;
        esac
    }
    grep -q '"kernel_signature": "verified"' $ST && ok "ksig-verified:counter" \
        || bad "ksig-verified:counter" "$(grep kernel_signature $ST | tr -d '\n')"
    echo "$DMESG" | grep -q 'object counter: loaded.* kernel_signature=verified' \
        && ok "kmsg-ksig-verified:counter" || bad "kmsg-ksig-verified:counter" "$(echo "$DMESG" | grep 'object counter')"
    grep -q '"kernel_signature": "refused: no key' $ST && ok "ksig-unknown-cert-refused:iter" \
        || bad "ksig-unknown-cert-refused:iter" "$(grep kernel_signature $ST | tr -d '\n')"
    echo "$STATUS" | grep -q 'kernel certificate skipped: .*noskid.crt: certificate has no subject key identifier' \
        && ok "bad-cert-skipped-by-name" || bad "bad-cert-skipped-by-name" "$(echo "$STATUS" | grep warning)"
    sgn unsigned-kprobe mode load kprobe
    sgn unsigned-raw_tp mode load raw_tp
    # root's own certificate in its session keyring (KEY_SPEC_SESSION_KEYRING, as bpftool
    # does): the kernel verifies such a signature (the control boot shows it), not enough.
    sgn root-signed-session-keyring mode load-own kprobe $K/root.der $K/root.sig
    # The loader's keyring is closed: root's certificate never gets in, its signature fails.
    r=$(bpfmap addkey $K/root.der "$KR" 2>&1) && bad "root-cert-into-loader-keyring" "added: $r" \
        || ok "root-cert-into-loader-keyring" "refused: $r"
    sgn root-signed-loader-keyring refused load kprobe $K/root.sig "$KR"
    sgn trusted-signed-loader-keyring allowed load kprobe $K/trusted.sig "$KR"
    # Interop: a light skeleton signed by `bpftool gen skeleton -S` with the trusted
    # certificate (tests/vm/lib.sh vm_ksig_files), loaded against the loader's keyring.
    if [ -x $K/lskel-load ]; then
        r=$($K/lskel-load "$KR" 2>&1)
        [ "$r" = ok ] && ok "bpftool-signed-lskel" "loads" || bad "bpftool-signed-lskel" "$r"
    fi
    sgn unsigned-socket-filter allowed load socket
    # An unsigned socket filter reading its own task_struct (bpf_get_current_task,
    # bpf_probe_read_kernel: helpers of CAP_PERFMON), run with BPF_PROG_TEST_RUN: with the mode it
    # must not load (the verifier's answer or EPERM); without, it loads and reads this tgid.
    r=$(bpfmap read-task 2>&1)
    echo "$r" | sed 's/^/VMSIGNED-DETAIL read-task /'
    if echo "$r" | grep -qE '^(ok|loaded)'; then
        if [ "$SIGNED" = allowed ] && echo "$r" | grep -q '^ok tgid='; then
            ok "signed:unsigned-kernel-read" "$(echo "$r" | tr '\n' ' ')"
        else
            bad "signed:unsigned-kernel-read" "loaded: $(echo "$r" | tr '\n' ' ')"
        fi
    elif [ "$SIGNED" = refused ]; then
        ok "signed:unsigned-kernel-read" "refused: $(echo "$r" | tr '\n' ' ')"
    else
        bad "signed:unsigned-kernel-read" "refused, must load and read: $(echo "$r" | tr '\n' ' ')"
    fi
    sgn unsigned-cgroup_skb allowed load cgroup_skb
    # Last (the control boot really empties it): clearing the loader's keyring, which the
    # guard refuses in signed-only mode (the kernel's restriction only refuses additions).
    sgn clear-loader-keyring mode keyctl-clear "$KR"
    # Then invalidating it (KEYCTL_INVALIDATE: the key GC removes it at once); after the GC, the
    # status may call the mode active only while the keyring is still there.
    sgn invalidate-loader-keyring mode keyctl-invalidate "$KR"
    sleep 5
    d=$(bpfmap keyctl-describe "$KR" 2>&1)
    st=$(bpf-preload status 2>&1 | grep 'signed_only:')
    case "$d" in
        E[A-Z]*)
            if echo "$st" | grep -q 'signed_only: active'; then
                bad "status-after-keyring-gone" "keyring $KR: $d; status: $st"
            else
                ok "status-after-keyring-gone" "keyring $KR: $d; status: ${st:-no signed_only line}"
            fi
            ;;
        *)
            if [ "$SIGNED" = refused ] && ! echo "$st" | grep -q 'signed_only: active'; then
                bad "status-keyring-kept" "keyring $KR: $d; status: $st"
            else
                ok "status-keyring-kept" "keyring $KR: $d; status: ${st:-no signed_only line}"
            fi
            ;;
    esac
fi

# ---- lockdown (docs/secure-boot.md) -----------------------------------------------
if [ -n "$LOCKDOWN" ]; then
    grep -q ' securityfs ' /proc/mounts || mount -t securityfs securityfs /sys/kernel/security
    l=$(cat /sys/kernel/security/lockdown 2>&1)
    case "$l" in
        *"[$LOCKDOWN]"*) ok "lockdown-$LOCKDOWN" "$l" ;;
        *) bad "lockdown-$LOCKDOWN" "$l" ;;
    esac
    if echo "$STATUS" | grep -q "live: kprobes unknown (not readable under lockdown ($LOCKDOWN)"; then
        ok status-kprobes-lockdown "$(echo "$STATUS" | grep 'live: kprobes')"
    else
        bad status-kprobes-lockdown "$(echo "$STATUS" | grep 'live: kprobes')"
    fi
    # status once more now that securityfs is surely mounted, then: no refusal of ours, ever.
    bpf-preload status > /dev/null 2>&1
    r=$(dmesg | grep 'Lockdown: bpf-preload')
    if [ -z "$r" ]; then ok no-lockdown-refusal; else bad no-lockdown-refusal "$r"; fi
fi

# ---- the command line is the UKI's (docs/secure-boot.md) ------------------------------
for w in $CMDLINE_LACKS; do
    if tr ' ' '\n' < /proc/cmdline | grep -qx "$w"; then bad "cmdline-lacks:$w" "$(cat /proc/cmdline)"; else ok "cmdline-lacks:$w"; fi
done

# ---- PCR 11 (docs/secure-boot.md) ---------------------------------------------------
if [ "$PCR11" = 1 ]; then
    v=$(tr 'A-F' 'a-f' < /sys/class/tpm/tpm0/pcr-sha256/11 2> /dev/null)
    echo "VMPCR11 ${v:-unreadable}"
    case "$v" in
        "" | 0000000000000000000000000000000000000000000000000000000000000000) bad pcr11-extended "${v:-unreadable}" ;;
        *) ok pcr11-extended "$v" ;;
    esac
fi

# ---- figures --------------------------------------------------------------------
echo "VMFIG uptime_at_init=$UPTIME_AT_INIT"
d=$(grep -oE '"[A-Za-z_]*duration[A-Za-z_]*" *: *[0-9.]+' $ST 2> /dev/null | tail -n1 | tr -d ' "')
[ -n "$d" ] && echo "VMFIG loader_$d"
g=$(echo "$STATUS" | grep 'guard: active' | grep -o ' ms=[0-9.]*' | tail -n1 | tr -d ' ')
[ -n "$g" ] && echo "VMFIG guard_$g"
[ -s $ST ] && echo "VMSTATUSJSON $(tr -d '\n' < $ST)"
echo "VMRESULT case=${CASE:-none} passed=$P failed=$F"
sync
poweroff -f
sleep 5
