#!/bin/sh
# Install the bpf-preload dracut module and the loader binary.
#   dracut/install.sh [DESTDIR]
# Environment: BPF_PRELOAD_BIN (default: target/x86_64-unknown-linux-gnu/release/bpf-preload,
#              then target/release/bpf-preload), PREFIX_DRACUT (default /usr/lib/dracut)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
destdir=${1:-${DESTDIR:-}}
moddir=$destdir${PREFIX_DRACUT:-/usr/lib/dracut}/modules.d/95bpf-preload

bin=${BPF_PRELOAD_BIN:-}
if [ -z "$bin" ]; then
    for c in "$top/target/x86_64-unknown-linux-gnu/release/bpf-preload" "$top/target/release/bpf-preload"; do
        if [ -x "$c" ]; then bin=$c; break; fi
    done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "install.sh: bpf-preload binary not found; run 'cargo build --release' or set BPF_PRELOAD_BIN" >&2
    exit 1
fi

install -d "$moddir" "$destdir/usr/bin" "$destdir/usr/lib/bpf-preload" "$destdir/etc/bpf-preload/keys"
install -m 0755 "$here/95bpf-preload/module-setup.sh" "$moddir/module-setup.sh"
install -m 0755 "$here/95bpf-preload/bpf-preload-hook.sh" "$moddir/bpf-preload-hook.sh"
install -m 0755 "$bin" "$destdir/usr/bin/bpf-preload"
echo "installed $moddir and $destdir/usr/bin/bpf-preload"
