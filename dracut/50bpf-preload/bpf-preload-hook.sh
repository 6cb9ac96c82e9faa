#!/bin/sh
# dracut pre-pivot hook of the bpf-preload module, shell initrd only (the
# systemd initrd runs bpf-preload.service instead). Sourced by dracut's /init,
# so it must not `exit`.
#
# initrd-run runs `bpf-preload run` against the bpffs at /sys/fs/bpf (the loader
# mounts it) and applies the fail-closed policy (see /usr/libexec/bpf-preload/initrd-run):
# it returns non-zero when the boot must stop, after printing the reason. Nothing
# is mounted under $NEWROOT: /sys, and with it /sys/fs/bpf, moves into the real
# root at switch_root, and so does /run with /run/bpf-preload/status.json.

type die > /dev/null 2>&1 || . /lib/dracut-lib.sh

/usr/libexec/bpf-preload/initrd-run ||
    die "bpf-preload: a required eBPF object could not be loaded; refusing to switch to the real root"
