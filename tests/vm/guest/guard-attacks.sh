# shellcheck shell=sh
# Sourced by vmcheck.sh (the real root's init, as root) when vmtest.guard= is set:
#   vmtest.guard=refused   every attack below must fail with EPERM (the guard is on)
#   vmtest.guard=allowed   control run without the guard: the same attacks must not be
#                          refused by EPERM (most succeed; link detach of tracing links is
#                          EOPNOTSUPP in the kernel itself), so the test can fail
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

# In the control run a successful mount attack is undone, so the next attack has a target.
restore_bpffs() {
    [ "$GUARD" = allowed ] || return 0
    grep -q " $B bpf " /proc/mounts || mount -t bpf bpf $B 2> /dev/null
}

guard_attacks() {
    echo "---- guard attacks (expect: $GUARD)"
    [ -e $B/counter/maps/exec_count ] || bad "guard-attacks-setup" "counter is not loaded"
    c0=$(bpfmap get $B/counter/maps/exec_count 0)

    # the protected directories
    judge rm-pin rm $B/maponly/maps/config
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
        judge detach-guard bpfmap detach $B/+guard/links/guard_unlink
        attempt guard-map-read bpfmap open-ro $B/+guard/info
        if [ "$R" = ok ]; then ok guard-info-readable; else bad guard-info-readable "$R"; fi
    fi
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
        for i in 1 2 3 4 5; do /bin/true; done
        c1=$(bpfmap get $B/counter/maps/exec_count 0)
        if [ -n "$c0" ] && [ -n "$c1" ] && [ "$c1" -ge $((c0 + 5)) ]; then
            ok guard-counter-still-counts "exec_count $c0 -> $c1"
        else
            bad guard-counter-still-counts "exec_count '$c0' -> '$c1'"
        fi
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
        # the last: unmounting /sys takes the instance with it
        judge umount-lazy-sys bpfmap umount /sys lazy
    else
        judge umount-lazy-sys bpfmap umount /sys lazy
        mount -t sysfs sysfs /sys 2> /dev/null
    fi
}
