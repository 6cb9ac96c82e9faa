# shellcheck shell=sh
# Sourced by vmcheck.sh (the real root's init, as root) when vmtest.guard= is set:
#   vmtest.guard=refused   every attack below must fail with EPERM (the guard is on)
#   vmtest.guard=allowed   control run without the guard: the same attacks must not be
#                          refused by EPERM (most succeed; link detach of tracing links is
#                          EOPNOTSUPP in the kernel itself), so the test can fail; the
#                          switches and hook programs (judge_ok) must succeed outright, and
#                          `bpf-preload status` must then call what they removed `removed`
#   vmtest.attacks22=refused|allowed  also issue 22's attacks (issue22_attacks below: fd races,
#                          propagated unmounts and mounts, pins moved to a fresh bpffs); alone
#                          (without vmtest.guard, the signed-only boots) only those
# Each attack prints "VMGUARD <name> <result>" (ok / EPERM / other: message) and one
# VMCHECK line judged against the expectation. Uses ok/bad from vmcheck.sh.
B=/sys/fs/bpf

attempt() { # attempt NAME command... -> $R = ok | EPERM | other:...
    _an=$1
    shift
    _out=$("$@" 2>&1)
    _rc=$?
    if [ $_rc = 0 ] && ! echo "$_out" | grep -q '^E[A-Z]*$'; then
        R=ok
    elif echo "$_out" | grep -qE 'Operation not permitted|^EPERM$'; then
        R=EPERM
    else
        R="other:$(echo "$_out" | tr '\n' ' ' | cut -c1-100)"
    fi
    echo "VMGUARD $_an $R"
    # a helper's further lines (steps, race counts, the verifier's reason) go to the log
    [ "$(echo "$_out" | wc -l)" -gt 1 ] && echo "$_out" | sed "s/^/VMGUARD-DETAIL $_an /"
    return 0
}

judge() { # judge NAME command...
    _name=$1
    shift
    attempt "$_name" "$@"
    if [ "$GUARD" = refused ]; then
        if [ "$R" = EPERM ]; then ok "guard-refuses:$_name"; else bad "guard-refuses:$_name" "$R"; fi
    else
        if [ "$R" != EPERM ]; then ok "control-not-refused:$_name" "$R"; else bad "control-not-refused:$_name" "$R"; fi
    fi
}

# judge_ok NAME command...: as judge, but the control run must succeed outright (the attack
# works without the guard).
judge_ok() {
    _name=$1
    shift
    attempt "$_name" "$@"
    if [ "$GUARD" = refused ]; then
        if [ "$R" = EPERM ]; then ok "guard-refuses:$_name"; else bad "guard-refuses:$_name" "$R"; fi
    else
        if [ "$R" = ok ]; then ok "control-succeeds:$_name"; else bad "control-succeeds:$_name" "$R"; fi
    fi
}

# witness N: counts[N] of guard_witness (0: execs by raw tracepoint, 1: vfs_unlink by fentry)
witness() { bpfmap get $B/guard_witness/maps/counts "$1" 2> /dev/null; }
# counting NAME N: the witness's counter N still moves (3 execs, 3 unlinks)
counting() {
    _a=$(witness "$2")
    for _i in 1 2 3; do /bin/true; : > /tmp/witness-unlink; rm -f /tmp/witness-unlink; done
    _b=$(witness "$2")
    if [ -n "$_a" ] && [ -n "$_b" ] && [ "$_b" -ge $((_a + 3)) ]; then
        ok "$1" "counts[$2] $_a -> $_b"
    else
        bad "$1" "counts[$2] '$_a' -> '$_b'"
    fi
}

# Put the switches back on (control run; in the guarded run they never went off).
switches_on() {
    [ "$GUARD" = allowed ] || return 0
    echo 1 > /proc/sys/kernel/ftrace_enabled 2> /dev/null
    echo 1 > $DBG/kprobes/enabled 2> /dev/null
}

# The switches that disarm every trampoline and kprobe, through every way to reach them.
switch_attacks() {
    DBG=/sys/kernel/debug
    grep -q " $DBG debugfs " /proc/mounts || mount -t debugfs debugfs $DBG
    mkdir -p /tmp/proc2 /tmp/dbg2
    mount -t proc proc /tmp/proc2
    mount -t debugfs debugfs /tmp/dbg2
    if [ "$GUARD" = allowed ]; then
        # what the attack does: the fentry witness stops, and the live status sees it
        echo 0 > /proc/sys/kernel/ftrace_enabled
        _a=$(witness 1)
        for _i in 1 2 3; do : > /tmp/witness-unlink; rm -f /tmp/witness-unlink; done
        _b=$(witness 1)
        if [ -n "$_a" ] && [ "$_a" = "$_b" ]; then
            ok control-ftrace-off-disarms-fentry "counts[1] $_a -> $_b"
        else
            bad control-ftrace-off-disarms-fentry "counts[1] '$_a' -> '$_b'"
        fi
        st=$(bpf-preload status 2>&1)
        if echo "$st" | grep -q '^  live: ftrace disabled'; then
            ok control-status-sees-ftrace-off "$(echo "$st" | grep 'live: ftrace')"
        else
            bad control-status-sees-ftrace-off "$(echo "$st" | tr '\n' ';')"
        fi
        switches_on
        echo 0 > $DBG/kprobes/enabled
        st=$(bpf-preload status 2>&1)
        if echo "$st" | grep -q '^  live: kprobes disabled'; then
            ok control-status-sees-kprobes-off "$(echo "$st" | grep 'live: kprobes')"
        else
            bad control-status-sees-kprobes-off "$(echo "$st" | tr '\n' ';')"
        fi
        switches_on
    fi
    judge_ok ftrace-off sh -c 'echo 0 > /proc/sys/kernel/ftrace_enabled'
    switches_on
    judge_ok ftrace-off-sysctl sysctl -w kernel.ftrace_enabled=0
    switches_on
    judge_ok ftrace-off-second-procfs sh -c 'echo 0 > /tmp/proc2/sys/kernel/ftrace_enabled'
    switches_on
    judge_ok kprobes-off sh -c "echo 0 > $DBG/kprobes/enabled"
    switches_on
    judge_ok kprobes-off-second-debugfs sh -c 'echo 0 > /tmp/dbg2/kprobes/enabled'
    switches_on
    # reading them stays possible (lockdown itself refuses opening kprobes/enabled at all: a
    # debugfs file with write permission)
    _f=$(cat /proc/sys/kernel/ftrace_enabled)
    _k=$(cat $DBG/kprobes/enabled 2> /dev/null)
    if [ -z "$_k" ] && grep -q 'lockdown=integrity' /proc/cmdline; then _k="1 (unreadable under lockdown)"; fi
    case "$_f:$_k" in
        1:1*) ok switches-readable-and-on "ftrace_enabled=$_f kprobes=$_k" ;;
        *) bad switches-readable-and-on "ftrace_enabled=$_f kprobes=$_k" ;;
    esac
    umount /tmp/proc2 /tmp/dbg2 2> /dev/null
}

# Programs that would skip or replace the LSM hooks (the guard's among them).
hook_attacks() {
    for f in security_bpf security_bpf_map security_bpf_prog security_inode_unlink; do
        judge_ok "fmodret-$f" bpfmap fmodret $f
    done
    # the kernel itself refuses fmod_ret on bpf_lsm_* (not security_*, not error-injectable):
    # the guard refuses it first, the control sees the kernel's EINVAL
    judge fmodret-bpf_lsm_bpf bpfmap fmodret bpf_lsm_bpf
    judge_ok fentry-on-preloaded-prog bpfmap fentry-prog $B/guard_witness/links/raw_exec
    if [ "$GUARD" = refused ]; then
        judge fentry-on-guard-prog bpfmap fentry-prog $B/+guard/links/guard_bpf
    fi
    # A BPF LSM program on the bpf hook returning 1: where the verifier allows it (6.1) the
    # guard refuses it (EPERM); later kernels' verifiers refuse it themselves (EINVAL).
    attempt lsm-ret1-bpf bpfmap lsm-ret1 bpf
    if [ "$GUARD" = refused ]; then
        case $R in
            ok) bad guard-refuses:lsm-ret1-bpf "$R" ;;
            *) ok guard-refuses:lsm-ret1-bpf "$R" ;;
        esac
    fi
    # No kernel of the matrix has bpf_override_return (CONFIG_BPF_KPROBE_OVERRIDE): the
    # verifier refuses the helper, guard or not.
    attempt override-return bpfmap override-return
    if [ "$R" != ok ]; then ok kernel-lacks-override-return "$R"; else bad kernel-lacks-override-return "$R"; fi
}

# In the control run a successful mount attack is undone, so the next attack has a target.
restore_bpffs() {
    [ "$GUARD" = allowed ] || return 0
    grep -q " $B bpf " /proc/mounts || mount -t bpf bpf $B 2> /dev/null
}

# ---- issue 22 ------------------------------------------------------------------------------
# The preloaded iter link: iter in the full bundle, iter_signed (trusted-signed) in the signed one.
ITER=$B/iter/links/dump_task
[ -e $ITER ] || [ ! -e $B/iter_signed/links/dump_task ] || ITER=$B/iter_signed/links/dump_task
ITER_OBJ=${ITER#$B/}
ITER_OBJ=${ITER_OBJ%%/*}

# The top mount at PATH (its file system type), from this process's mount table.
top_mount() { awk -v p="$1" '$2 == p { t = $3 } END { print t }' /proc/self/mounts; }
mounts_near() { grep -E ' (/sys|/sys/fs|/sys/fs/bpf|/mnt[^ ]*|/tmp/keep|/tmp/newbpf) ' /proc/self/mounts | cut -d' ' -f2,3 | tr '\n' ' '; }

# The real root sees the preloaded instance: a bpffs on top at $B, counter's link pinned in it.
instance_visible() { [ "$(top_mount $B)" = bpf ] && [ -e $B/counter/links/count_exec ]; }

# status_block OBJ STATUS: OBJ's row of `bpf-preload status` and its detail lines
status_block() { echo "$2" | awk -v o="$1" '$1 == o && /^  [^ ]/ { p = 1; print; next } p && /^  [^ ]/ { exit } p { print }'; }

# intact NAME: in the guard run, after attack NAME: the witness's raw tracepoint and fentry still
# count, the iter link still runs its own program (iter.bpf.c: one "PID COMM" line per task, init
# is pid 1), the pins are there, the instance is what the real root sees, and the status calls
# nothing replaced, removed, moved, unknown or unprotected.
intact() {
    [ "$GUARD" = refused ] || return 0
    _n=$1
    if instance_visible; then ok "intact-instance:$_n"; else bad "intact-instance:$_n" "$(mounts_near)"; fi
    counting "intact-raw-tracepoint:$_n" 0
    counting "intact-fentry:$_n" 1
    _l=$(cat "$ITER" 2> /dev/null)
    if [ "$(echo "$_l" | grep -c .)" -ge 3 ] && echo "$_l" | grep -q '^1 '; then
        ok "intact-iter-own-program:$_n" "$(echo "$_l" | grep -c .) tasks"
    else
        bad "intact-iter-own-program:$_n" "'$(echo "$_l" | head -n 2 | tr '\n' ';')'"
    fi
    _miss=
    for _p in counter/links/count_exec guard_witness/links/raw_exec "$ITER_OBJ/links/dump_task" +guard/links/guard_bpf; do
        [ -e "$B/$_p" ] || _miss="$_miss $_p"
    done
    if [ -z "$_miss" ]; then ok "intact-pins:$_n"; else bad "intact-pins:$_n" "missing:$_miss"; fi
    _st=$(bpf-preload status 2>&1)
    # (the live states of docs/status.md: removed, replaced, moved, unknown; the guard's gone,
    # not protecting, not verified)
    if echo "$_st" | grep -qE 'removed|replaced|moved|not.protecting|not.verified|guard: gone|^  [^ ]+ +unknown '; then
        bad "intact-status:$_n" "$(echo "$_st" | tr '\n' ';')"
    else
        ok "intact-status:$_n"
    fi
}

# status_not_loaded NAME OBJ...: after an attack that got through, `bpf-preload status` must call
# none of OBJ `loaded` (whatever else it says: replaced, removed, not protecting) and the guard
# not `active`.
status_not_loaded() {
    _n=$1
    shift
    _st=$(bpf-preload status 2>&1)
    echo "$_st" | sed "s/^/VMSTATUS-AFTER-$_n /"
    for _o in "$@"; do
        _r=$(status_block "$_o" "$_st" | tr '\n' ' ')
        if [ -z "$_r" ]; then
            bad "status-says-what-happened:$_n:$_o" "no row for $_o"
        elif echo "$_r" | grep -qE "^  $_o +(loaded|already)"; then
            bad "status-says-what-happened:$_n:$_o" "$_r"
        else
            ok "status-says-what-happened:$_n:$_o" "$_r"
        fi
    done
    if echo "$_st" | grep -q 'guard: active'; then
        bad "status-says-what-happened:$_n:guard" "$(echo "$_st" | grep 'guard:')"
    fi
}

# Control run: a private bind mount of the instance, to put it back after each attack that took
# it away (a new bpffs would be empty: every mount of bpffs is a new instance).
keep_instance() {
    [ "$GUARD" = allowed ] || return 0
    mkdir -p /tmp/keep
    bpfmap steps bind:$B:/tmp/keep private:/tmp/keep > /dev/null 2>&1 || bad control-keep-instance "$(mounts_near)"
}
restore_instance() {
    [ "$GUARD" = allowed ] || return 0
    grep -q ' /sys sysfs ' /proc/self/mounts || mount -t sysfs sysfs /sys
    # what the attack put on top of the instance or of /sys/fs, and what it left under /mnt
    while [ -n "$(top_mount $B)" ] && [ "$(top_mount $B)" != bpf ]; do umount $B || break; done
    while [ "$(top_mount /sys/fs)" = tmpfs ]; do umount /sys/fs || break; done
    for _m in $(awk '$2 ~ /^\/mnt/ { print $2 }' /proc/self/mounts | sort -r); do umount -l "$_m"; done
    instance_visible || mount --bind /tmp/keep $B
    if instance_visible; then ok "control-restored:$1"; else bad "control-restored:$1" "$(mounts_near)"; fi
}

# judge_effect NAME command...: judge_ok; then in the control run the instance must be gone from
# (or hidden in) the real root, in the guard run intact.
judge_effect() {
    _e=$1
    judge_ok "$@"
    if [ "$GUARD" = allowed ]; then
        if instance_visible; then
            bad "control-reaches-real-root:$_e" "the instance is still visible: $(mounts_near)"
        else
            ok "control-reaches-real-root:$_e" "$(mounts_near)"
        fi
    else
        intact "$_e"
    fi
}

# Threads racing dup2 against the guard's reading of an fd number (bpfmap race-*): the guard must
# refuse every attempt that reaches a protected object, whatever the fd number held when it looked.
race_attacks() {
    for _v in fd objget byid; do
        judge_ok "race-link-update-$_v" bpfmap race-update $_v "$ITER" 3
        intact "race-link-update-$_v"
    done
    if [ "$GUARD" = allowed ]; then
        # the iter link now runs the attacker's program (it prints nothing); the status says so
        _st=$(bpf-preload status 2>&1)
        echo "$_st" | sed 's/^/VMSTATUS-AFTER-race-link-update /'
        _r=$(status_block "$ITER_OBJ" "$_st" | tr '\n' ' ')
        if echo "$_r" | grep -q replaced && ! echo "$_r" | grep -qE "^  $ITER_OBJ +loaded"; then
            ok "control-status-replaced:$ITER_OBJ" "$_r"
        else
            bad "control-status-replaced:$ITER_OBJ" "$_r"
        fi
        _n=$(cat "$ITER" 2> /dev/null | grep -c .)
        if [ "$_n" = 0 ]; then ok control-iter-runs-attacker-program; else bad control-iter-runs-attacker-program "$_n lines"; fi
    fi
    judge_ok race-attach-preloaded-prog bpfmap race-attach $B/guard_witness/links/raw_exec 3
    intact race-attach-preloaded-prog
    # (no guard program in the control run)
    if [ "$GUARD" = refused ]; then
        judge race-attach-guard-prog bpfmap race-attach $B/+guard/links/guard_bpf 3
        intact race-attach-guard-prog
    fi
}

# A child mount namespace made by unshare(CLONE_NEWNS) alone keeps the propagation: what it
# unmounts or mounts under a shared /sys lands in the real root too. The busybox root's / and
# /sys are private after a shell initrd, so the attacker first makes them shared (systemd as
# init has already made / rshared; the mkosi root's check runs these without that step).
propagation_attacks() {
    keep_instance
    judge_effect prop-umount-instance bpfmap steps shared:/sys unshare lazy:$B
    [ "$GUARD" = allowed ] && status_not_loaded prop-umount-instance counter guard_witness
    restore_instance prop-umount-instance
    judge_effect prop-umount-sys bpfmap steps shared:/ shared:/sys unshare lazy:/sys
    restore_instance prop-umount-sys
    judge_effect prop-tmpfs-over-instance bpfmap steps rshared:/sys unshare tmpfs:$B
    restore_instance prop-tmpfs-over-instance
    judge_effect prop-tmpfs-over-sys-fs bpfmap steps shared:/sys unshare tmpfs:/sys/fs
    restore_instance prop-tmpfs-over-sys-fs
    judge_effect prop-rbind-umount-copy bpfmap steps shared:/sys mkdir:/mnt/x unshare rbind:/sys:/mnt/x lazy:/mnt/x
    restore_instance prop-rbind-umount-copy
    judge_effect prop-rbind-umount-parent bpfmap steps shared:/sys unshare tmpfs:/mnt mkdir:/mnt/x rbind:/sys:/mnt/x lazy:/mnt
    restore_instance prop-rbind-umount-parent
    [ "$GUARD" = allowed ] && umount /tmp/keep
}

# Every pin taken (BPF_OBJ_GET) and pinned again in a fresh bpffs, the instance taken out of the
# real root by a propagated unmount, the fresh bpffs mounted in its place: the same objects live
# at the same paths, in another instance. The guard must refuse a step; if it does not, the
# status must not call the objects loaded nor the guard active.
migrate() {
    mkdir -p /tmp/newbpf
    bpfmap steps bpffs:/tmp/newbpf repin:$B:/tmp/newbpf || return 1
    bpfmap steps shared:/sys unshare lazy:$B || return 1
    # (a bind, not MS_MOVE: the kernel refuses moving a mount whose parent is shared)
    bpfmap steps bind:/tmp/newbpf:$B
}
migrate_attack() {
    judge_ok migrate-to-fresh-bpffs migrate
    if [ "$R" = ok ]; then
        status_not_loaded migrate-to-fresh-bpffs counter guard_witness
    fi
    if [ "$GUARD" = refused ]; then
        umount /tmp/newbpf 2> /dev/null
        intact migrate-to-fresh-bpffs
    fi
}

# Issue 22's attacks. The guard run makes them after its own matrix, each followed by `intact`.
# The control run makes the races before the attacks on the directories (which move iter away)
# and the mount-namespace ones after the status check that follows those (the migration would
# make the untouched counter not `loaded` there), before the mount attacks take the instance.
issue22_attacks() {
    echo "---- issue 22 attacks (expect: $GUARD; iter link: $ITER)"
    race_attacks
    mount_ns_attacks
}
mount_ns_attacks() {
    echo "---- issue 22 attacks from child mount namespaces (expect: $GUARD)"
    propagation_attacks
    migrate_attack
}

guard_attacks() {
    echo "---- guard attacks (expect: $GUARD)"
    [ -e $B/counter/maps/exec_count ] || bad "guard-attacks-setup" "counter is not loaded"
    [ -e $B/guard_witness/maps/counts ] || bad "guard-attacks-setup" "guard_witness is not loaded"
    c0=$(bpfmap get $B/counter/maps/exec_count 0)

    switch_attacks
    hook_attacks

    # control: issue 22's fd races while iter is still where it was loaded
    if [ "$GUARD" = allowed ] && [ -n "$ATTACKS22" ]; then
        echo "---- issue 22 attacks: fd races (expect: $GUARD; iter link: $ITER)"
        race_attacks
    fi
    # the protected directories
    judge rm-pin rm $B/maponly/maps/config
    # io_uring's worker unlinks without an unlink system call (the control: it succeeds)
    judge uring-unlink-pin bpfmap uring unlink "$(ls -d $B/xdp_pass/*/* | head -n1)"
    judge rm-rf-object rm -rf $B/xdp_pass
    judge mv-object-dir mv $B/iter $B/iter-moved
    judge mv-pin-out mv $B/maponly/maps/stats $B/stolen-stats
    judge rmdir-shared rmdir $B/+shared
    judge mkdir-inside mkdir $B/counter/evil
    judge chmod-dir chmod 777 $B/counter
    judge chown-pin chown 1 $B/counter/links/count_exec
    judge touch-pin touch $B/counter/maps/last_pid
    judge hardlink-out ln $B/counter/maps/last_pid $B/hardlink-out
    rm -f $B/hardlink-out 2> /dev/null
    judge symlink-inside ln -s /tmp $B/counter/symlink-inside
    # below the object's directory, by every way of making an entry (pins: vfs_mkobj; a file:
    # open O_CREAT, which bpffs itself refuses with EACCES without the guard)
    judge mkdir-in-subdir mkdir $B/maponly/maps/evil
    judge pin-inside bpfmap pin-into $B/counter/maps/exec_count $B/maponly/maps/evil-pin
    judge create-inside sh -c ": > $B/maponly/maps/evil-file"
    judge uring-mkdir-inside bpfmap uring mkdir $B/maponly/uring-evil
    mkdir $B/outsider 2> /dev/null
    judge rename-into mv $B/outsider $B/counter/outsider
    rmdir $B/outsider $B/counter/outsider 2> /dev/null
    # links: through the pin and by id (tracing links: the kernel itself says EOPNOTSUPP
    # without the guard; the guard refuses before that)
    judge link-detach-pin bpfmap detach $B/lsm_deny/links/deny_marker_mkdir
    judge link-detach-id bpfmap detach-id $B/iter/links/dump_task
    judge link-update bpfmap update-link $B/counter/links/count_exec
    if [ "$GUARD" = refused ]; then
        judge guard-map-write bpfmap open-rw $B/+guard/info
        judge rm-rf-guard rm -rf $B/+guard
        judge mkdir-guard-links mkdir $B/+guard/links/evil
        judge detach-guard bpfmap detach $B/+guard/links/guard_unlink
        attempt guard-map-read bpfmap open-ro $B/+guard/info
        if [ "$R" = ok ]; then ok guard-info-readable; else bad guard-info-readable "$R"; fi
    fi
    # The control, before the mount attacks take the whole instance away: what the attacks on
    # the directories removed, the live status calls removed, with the missing pins.
    if [ "$GUARD" = allowed ]; then
        st=$(bpf-preload status 2>&1)
        echo "$st" | sed 's/^/VMSTATUS-AFTER /'
        for o in xdp_pass maponly; do
            if echo "$st" | grep -qE "^  $o +removed"; then
                ok "control-status-removed:$o" "$(echo "$st" | grep -A1 -E "^  $o " | tr '\n' ' ')"
            else
                bad "control-status-removed:$o" "$(echo "$st" | tr '\n' ';')"
            fi
        done
        if echo "$st" | grep -A1 -E '^  maponly +removed' | grep -q '^      missing: .*maps/config'; then
            ok control-status-names-missing-pin
        else
            bad control-status-names-missing-pin "$(echo "$st" | tr '\n' ';')"
        fi
        if echo "$st" | grep -qE '^  counter +loaded'; then
            ok control-status-untouched-still-loaded
        else
            bad control-status-untouched-still-loaded "$(echo "$st" | tr '\n' ';')"
        fi
    fi
    # issue 22's attacks, in the control before the mount attacks below take the instance away
    [ "$GUARD" = allowed ] && [ -n "$ATTACKS22" ] && mount_ns_attacks
    # the mount (raw syscalls through the helper, so each prints its errno)
    judge remount bpfmap mount none $B bpf remount mode=0777
    restore_bpffs
    judge mount-over-instance bpfmap mount tmpfs $B tmpfs new
    [ "$GUARD" = allowed ] && umount $B
    judge mount-over-sys-fs bpfmap mount tmpfs /sys/fs tmpfs new
    [ "$GUARD" = allowed ] && umount /sys/fs
    judge bind-over-sys bpfmap mount /tmp /sys none bind
    [ "$GUARD" = allowed ] && umount /sys
    judge mount-move bpfmap mount $B /mnt none move
    [ "$GUARD" = allowed ] && mount --move /mnt $B
    judge move-mount-sys bpfmap move-mount /sys /mnt
    [ "$GUARD" = allowed ] && mount --move /mnt /sys
    judge umount bpfmap umount $B plain
    restore_bpffs
    judge umount-lazy bpfmap umount $B lazy
    restore_bpffs
    judge umount-force bpfmap umount $B force
    restore_bpffs

    if [ "$GUARD" = refused ]; then
        # still running, still there
        for _ in 1 2 3 4 5; do /bin/true; done
        c1=$(bpfmap get $B/counter/maps/exec_count 0)
        if [ -n "$c0" ] && [ -n "$c1" ] && [ "$c1" -ge $((c0 + 5)) ]; then
            ok guard-counter-still-counts "exec_count $c0 -> $c1"
        else
            bad guard-counter-still-counts "exec_count '$c0' -> '$c1'"
        fi
        counting guard-raw-tracepoint-still-counts 0
        counting guard-fentry-still-counts 1
        if mkdir /tmp/bpf-preload-deny-guard 2> /dev/null; then
            bad guard-lsm_deny-still-attached
        else ok guard-lsm_deny-still-attached; fi
        for p in maponly/maps/config maponly/maps/stats xdp_pass/progs/xdp_pass iter/links/dump_task; do
            check "guard-pin-still-there:$p" test -e $B/$p
        done
        # what stays usable: top-level siblings and a second bpffs instance
        check guard-sibling-mkdir mkdir $B/sibling
        check guard-sibling-rename mv $B/sibling $B/sibling2
        check guard-sibling-rmdir rmdir $B/sibling2
        mkdir -p /tmp/bpf2
        check guard-second-bpffs-mount mount -t bpf bpf /tmp/bpf2
        check guard-second-bpffs-mkdir mkdir /tmp/bpf2/x
        check guard-second-bpffs-rmdir rmdir /tmp/bpf2/x
        check guard-second-bpffs-umount umount /tmp/bpf2
        st=$(bpf-preload status 2>&1)
        if echo "$st" | grep -q 'guard: active.* sealed=yes'; then
            ok guard-status-active-sealed "$(echo "$st" | grep 'guard:')"
        else
            bad guard-status-active-sealed "$(echo "$st" | grep 'guard:')"
        fi
        if echo "$st" | grep -q 'guard: active.* switches=kernel.ftrace_enabled:refused,kprobes/enabled:refused'; then
            ok guard-status-switches-refused
        else
            bad guard-status-switches-refused "$(echo "$st" | grep 'guard:')"
        fi
        # after every attack, nothing is reported gone, removed or disarmed
        if echo "$st" | grep -qE 'removed|guard: gone|live: (ftrace|kprobes) disabled'; then
            bad guard-live-status-intact "$(echo "$st" | tr '\n' ';')"
        else
            ok guard-live-status-intact
        fi
        # issue 22's attacks, each followed by its own intact checks
        [ -n "$ATTACKS22" ] && issue22_attacks
        # the last: unmounting /sys takes the instance with it
        judge umount-lazy-sys bpfmap umount /sys lazy
    else
        judge umount-lazy-sys bpfmap umount /sys lazy
        mount -t sysfs sysfs /sys 2> /dev/null
    fi
}
