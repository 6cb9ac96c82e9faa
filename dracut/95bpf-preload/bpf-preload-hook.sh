#!/bin/sh
# dracut pre-pivot hook of the bpf-preload module. It is sourced by dracut (shell
# initrd: /init; systemd initrd: dracut-pre-pivot.service), so it must not `exit`.
#
# It runs `bpf-preload run` against the bpffs at /sys/fs/bpf (mounted by systemd in
# the systemd initrd, mounted by the loader itself otherwise). Nothing is mounted
# under $NEWROOT: /sys, and with it /sys/fs/bpf, is moved into the real root at
# switch_root, and so is /run with /run/bpf-preload/status.json.
#
# Exit code policy:
#   0          every required object loaded (optional ones may have failed)
#   3          a required object failed                      -> die (no switch_root)
#   other !=0  the loader itself failed (usage/fatal/crash):
#              -> die when rd.bpf_preload.required= names anything (fail closed),
#                 otherwise warn and go on booting

type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

bpf_preload_hook() {
    local _rc _req _line

    # rd.bpf_preload=, rd.bpf_preload.required= (and =0 to disable) are read by
    # the loader itself from /proc/cmdline.
    /usr/bin/bpf-preload run
    _rc=$?
    [ "$_rc" -eq 0 ] && return 0

    _req=$(getargs rd.bpf_preload.required=)
    [ "$(getarg rd.bpf_preload.guard=)" = required ] && _req="${_req:+$_req, }rd.bpf_preload.guard=required"
    # The build-time policy requires something: fail closed like a required object.
    if [ -s /etc/bpf-preload/policy ] &&
        grep -qE '^[[:space:]]*(required[[:space:]]*=[[:space:]]*[^[:space:]#]|guard[[:space:]]*=[[:space:]]*required)' /etc/bpf-preload/policy; then
        _req="${_req:+$_req, }initramfs policy"
    fi
    if [ "$_rc" -ne 3 ] && [ -z "$_req" ]; then
        warn "bpf-preload: loader exited with status $_rc; no required objects, boot continues"
        return 0
    fi

    # Show what happened on the console before refusing to boot.
    /usr/bin/bpf-preload status 2> /dev/null | while IFS= read -r _line; do
        case "$_line" in
            bpf-preload:*) warn "$_line" ;;
            *) warn "bpf-preload: $_line" ;;
        esac
    done
    if [ "$_rc" -eq 3 ]; then
        die "bpf-preload: a required eBPF object or the required guard ($_req) failed; refusing to switch to the real root"
    else
        die "bpf-preload: loader failed with exit status $_rc while rd.bpf_preload.required=$_req is set; refusing to switch to the real root"
    fi
}

bpf_preload_hook
