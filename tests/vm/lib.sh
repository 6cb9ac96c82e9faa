# shellcheck shell=bash
# Shared helpers for the VM boot tests (tests/vm/run.sh, demo.sh, figures.sh,
# mkosi-test.sh). Source it; it expects bash with `set -euo pipefail`.
#
# Everything is cached under $VM_BUILD (default: build/vm, git-ignored):
#   dl/         downloaded kernel .debs
#   kernels/K/  unpacked kernel K (6.1 = bookworm, 6.12 = bookworm-backports):
#               root/ (modules, depmod'ed), vmlinux (ELF, booted as PVH), kver
#   dracut/     private dracut base dir = the host's + our module (symlink)
#   bundle-*/   signed objects + keys + preload.list given to dracut
#   initrd/     initramfs images;  root/ root.img: the minimal real root
VM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_DIR=$VM_TOP/tests/vm
VM_BUILD=${VM_BUILD:-$VM_TOP/build/vm}
VM_TIMEOUT=${VM_TIMEOUT:-240}        # hard limit for one qemu run, seconds
VM_MEM=${VM_MEM:-1024}
VM_SMP=${VM_SMP:-2}
APT=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
mkdir -p "$VM_BUILD"

vlog() { printf '[vm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
vdie() { vlog "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- packages --
_vm_apt_updated=
_vm_apt_update() {
    [[ -n $_vm_apt_updated ]] && return 0
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        vlog "adding bookworm-backports to apt sources"
        echo 'deb http://deb.debian.org/debian bookworm-backports main' \
            > /etc/apt/sources.list.d/bookworm-backports.list
    fi
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    _vm_apt_updated=1
}

vm_install_packages() {
    local want=() p
    export DEBIAN_FRONTEND=noninteractive
    command -v dracut > /dev/null || want+=(dracut-core)
    [[ -x /usr/lib/systemd/systemd ]] || want+=(systemd)
    command -v udevadm > /dev/null || want+=(udev)
    dpkg -s busybox-static > /dev/null 2>&1 || want+=(busybox-static)
    command -v mke2fs > /dev/null || want+=(e2fsprogs)
    command -v cpio > /dev/null || want+=(cpio)
    command -v zstd > /dev/null || want+=(zstd)
    command -v xz > /dev/null || want+=(xz-utils)
    command -v depmod > /dev/null || want+=(kmod)
    command -v clang > /dev/null || want+=(clang)
    command -v openssl > /dev/null || want+=(openssl)
    [[ -f /usr/include/bpf/bpf_helpers.h ]] || want+=(libbpf-dev)
    [[ -f /usr/include/linux/bpf.h ]] || want+=(linux-libc-dev)
    [[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || want+=(libc6-dev)
    if ((${#want[@]})); then
        _vm_apt_update
        vlog "apt-get install ${want[*]}"
        "${APT[@]}" install "${want[@]}" >&2
    fi
    if ! command -v qemu-system-x86_64 > /dev/null; then
        _vm_apt_update
        vlog "apt-get install qemu-system-x86"
        # qemu-utils may already come from bookworm-backports (it does on these
        # machines); qemu-system-x86 must then come from there too.
        if ! "${APT[@]}" install qemu-system-x86 >&2; then
            p=bookworm-backports
            "${APT[@]}" install qemu-system-x86/$p qemu-system-common/$p \
                qemu-system-data/$p seabios/$p >&2 ||
                "${APT[@]}" install -t $p qemu-system-x86 >&2
        fi
    fi
}

# ----------------------------------------------------------------- kernels --
# vm_kernel NAME -> prints the kernel dir; NAME is 6.1 (bookworm) or 6.12
# (bookworm-backports). Cached: no network when kernels/NAME/vmlinux exists.
vm_kernel() {
    local name=$1 kd=$VM_BUILD/kernels/$1 meta pkg deb kver
    if [[ ! -s $kd/vmlinux || ! -s $kd/kver ]]; then
        _vm_apt_update
        case $name in
            6.1) meta=linux-image-amd64/bookworm-security
                 apt-cache show "$meta" > /dev/null 2>&1 || meta=linux-image-amd64/bookworm ;;
            6.12) meta=linux-image-amd64/bookworm-backports ;;
            *) vdie "unknown kernel $name" ;;
        esac
        pkg=$(apt-cache show "$meta" | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n1)
        [[ -n $pkg ]] || vdie "cannot resolve $meta"
        mkdir -p "$VM_BUILD/dl"
        vlog "downloading $pkg"
        (cd "$VM_BUILD/dl" && apt-get download "$pkg" >&2 2> /dev/null) || (cd "$VM_BUILD/dl" && apt-get download "$pkg" >&2)
        deb=$(ls -t "$VM_BUILD/dl/${pkg}"_*.deb | head -n1)
        rm -rf "$kd" && mkdir -p "$kd/root"
        dpkg-deb -x "$deb" "$kd/root"
        kver=$(ls "$kd/root/lib/modules")
        depmod -b "$kd/root" "$kver"
        python3 "$VM_DIR/extract-vmlinux.py" "$kd/root/boot/vmlinuz-$kver" "$kd/vmlinux.tmp"
        mv "$kd/vmlinux.tmp" "$kd/vmlinux"
        echo "$kver" > "$kd/kver"
    fi
    echo "$kd"
}

# ----------------------------------------------------- project artefacts --
VM_BIN=${VM_BIN:-}
vm_build_project() {
    vlog "make -C bpf"
    make -s -C "$VM_TOP/bpf" >&2
    if [[ -z ${BPF_PRELOAD_BIN:-} ]]; then
        vlog "cargo build --release"
        local locked=(); [[ -f $VM_TOP/Cargo.lock ]] && locked=(--locked)
        (cd "$VM_TOP" && cargo build --release -q "${locked[@]}" >&2)
    fi
    local c
    for c in "${BPF_PRELOAD_BIN:-}" "$VM_TOP/target/x86_64-unknown-linux-gnu/release/bpf-preload" \
        "$VM_TOP/target/release/bpf-preload"; do
        [[ -n $c && -x $c ]] && { VM_BIN=$c; break; }
    done
    [[ -n $VM_BIN ]] || vdie "bpf-preload binary not found after cargo build"
    mkdir -p "$VM_BUILD/guest"
    if [[ ! -x $VM_BUILD/guest/bpfmap || $VM_DIR/guest/bpfmap.c -nt $VM_BUILD/guest/bpfmap ]]; then
        gcc -O2 -static -o "$VM_BUILD/guest/bpfmap" "$VM_DIR/guest/bpfmap.c"
    fi
}

# The test signing key: keys/test-only/ when present, else a throw-away one.
VM_KEY=${VM_KEY:-} VM_PUB=${VM_PUB:-}
vm_test_key() {
    if [[ -f $VM_TOP/keys/test-only/signing-key.pem && -f $VM_TOP/keys/test-only/signing-key.pub ]]; then
        VM_KEY=$VM_TOP/keys/test-only/signing-key.pem
        VM_PUB=$VM_TOP/keys/test-only/signing-key.pub
    else
        mkdir -p "$VM_BUILD/key"
        VM_KEY=$VM_BUILD/key/signing-key.pem VM_PUB=$VM_BUILD/key/signing-key.pub
        if [[ ! -s $VM_KEY ]]; then
            vlog "keys/test-only missing: generating a throw-away key in $VM_BUILD/key"
            openssl genpkey -algorithm ed25519 -out "$VM_KEY"
            openssl pkey -in "$VM_KEY" -pubout -out "$VM_PUB"
        fi
    fi
}

# vm_bundle NAME "obj1 obj2 ..." [list...]: signed objects in
# $VM_BUILD/bundle-NAME/{lib,keys}, preload.list = the list (default: objects).
vm_bundle() {
    local name=$1 objs=$2 list=${3:-$2} d=$VM_BUILD/bundle-$1 o
    rm -rf "$d" && mkdir -p "$d/lib" "$d/keys"
    for o in $objs; do
        "$VM_BIN" sign --key "$VM_KEY" --name "$o" --output "$d/lib/$o.bpf.o" \
            "$VM_TOP/build/bpf/$o.bpf.o" >&2
    done
    cp "$VM_PUB" "$d/keys/test-only.pub"
    printf '%s\n' $list > "$d/preload.list"
    echo "$d"
}

# Flip one byte in the middle of a signed object (keeps its signature trailer).
vm_tamper() {
    local f=$1 size off
    size=$(stat -c %s "$f")
    off=$((size / 3))
    printf '\x5a' | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# ------------------------------------------------------------------ dracut --
# A private dracut base dir: the host's modules plus ours, so the host's
# /usr/lib/dracut is not touched.
vm_dracut_base() {
    local b=$VM_BUILD/dracut e
    rm -rf "$b" && mkdir -p "$b/modules.d"
    for e in /usr/lib/dracut/*; do
        [[ ${e##*/} == modules.d ]] || ln -s "$e" "$b/${e##*/}"
    done
    for e in /usr/lib/dracut/modules.d/*; do ln -s "$e" "$b/modules.d/${e##*/}"; done
    ln -sfn "$VM_TOP/dracut/95bpf-preload" "$b/modules.d/95bpf-preload"
    echo "$b"
}

# vm_initrd KERNELDIR FLAVOUR(systemd|shell) OUT [BUNDLEDIR|none] [extra dracut args...]
vm_initrd() {
    local kd=$1 flavour=$2 out=$3 bundle=${4:-none} kver conf args=()
    shift 4 || shift $#
    kver=$(cat "$kd/kver")
    conf=$(mktemp -d "$VM_BUILD/conf.XXXXXX")
    args=(--conf /dev/null --confdir "$conf" --no-hostonly --no-hostonly-cmdline
        --kver "$kver" --kmoddir "$kd/root/lib/modules/$kver" --fwdir /nonexistent
        --no-early-microcode --compress cat --force --quiet
        --drivers "virtio_pci virtio_blk ext4"
        --omit "plymouth dbus dbus-daemon dbus-broker i18n lvm dm mdraid crypt multipath btrfs nfs iscsi network network-legacy network-manager nvmf resume terminfo rngd")
    if [[ $flavour == shell ]]; then
        args+=(--omit "systemd systemd-initrd dracut-systemd systemd-udevd systemd-journald systemd-modules-load systemd-sysctl systemd-tmpfiles systemd-sysusers systemd-ask-password")
    else
        args+=(--add "systemd systemd-initrd dracut-systemd")
    fi
    if [[ $bundle != none ]]; then
        args+=(--add bpf-preload)
        cat > "$conf/bpf-preload.conf" <<EOC
bpf_preload_binary="$VM_BIN"
bpf_preload_bundle_dir="$bundle/lib"
bpf_preload_keys_dir="$bundle/keys"
bpf_preload_list="$bundle/preload.list"
EOC
    fi
    mkdir -p "$(dirname "$out")"
    dracutbasedir=$(vm_dracut_base) dracut "${args[@]}" "$@" "$out" >&2 \
        || { rm -rf "$conf"; vdie "dracut failed for $out"; }
    rm -rf "$conf"
}

# -------------------------------------------------------------------- root --
# The minimal real root: busybox, the loader (for `bpf-preload status`), the
# bpfmap helper and the check script as init. Image: ext4 made with mke2fs -d.
vm_root() {
    local r=$VM_BUILD/root img=$VM_BUILD/root.img a
    rm -rf "$r" && mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,var,mnt}
    cp /bin/busybox "$r/bin/busybox"
    for a in $("$r/bin/busybox" --list); do
        [[ -e $r/bin/$a ]] || ln -s busybox "$r/bin/$a"
    done
    cp "$VM_BIN" "$r/usr/bin/bpf-preload"
    cp "$VM_BUILD/guest/bpfmap" "$r/usr/bin/bpfmap"
    install -m 0755 "$VM_DIR/guest/vmcheck.sh" "$r/sbin/vmcheck"
    echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
    echo 'vmroot' > "$r/etc/hostname"
    rm -f "$img"
    mke2fs -q -t ext4 -L vmroot -d "$r" "$img" 64M >&2
    echo "$img"
}

# ------------------------------------------------------------------- boot --
# vm_boot KERNELDIR INITRD ROOTIMG LOG "extra cmdline"
# Runs qemu (TCG, PVH boot of the ELF vmlinux) under a hard timeout; stops it
# early once the guest halted. Returns 0 when qemu ended by itself.
VM_BASE_CMDLINE="console=ttyS0 root=/dev/vda rootfstype=ext4 rw panic=1 rd.shell=0 rd.emergency=poweroff rd.timeout=30 mitigations=off"
vm_boot() {
    local kd=$1 initrd=$2 img=$3 log=$4 extra=${5:-} init=${VM_INIT:-/sbin/vmcheck} pid t0 rc=0
    : > "$log"
    VM_REACHED_MS=
    t0=$(date +%s%N)
    timeout --kill-after=5 "$VM_TIMEOUT" qemu-system-x86_64 \
        -machine q35 -accel tcg -cpu max -smp "$VM_SMP" -m "$VM_MEM" \
        -display none -monitor none -serial "file:$log" -no-reboot \
        -kernel "$kd/vmlinux" -initrd "$initrd" \
        -append "$VM_BASE_CMDLINE init=$init $extra" \
        -drive "file=$img,if=virtio,format=raw,snapshot=on" \
        -nic none < /dev/null > "$log.qemu" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2> /dev/null; do
        if [[ -z $VM_REACHED_MS ]] && grep -qa 'VMCHECK-BEGIN' "$log"; then
            VM_REACHED_MS=$((($(date +%s%N) - t0) / 1000000))
        fi
        if grep -qaE 'reboot: System halted|reboot: Power down|Kernel panic - not syncing' "$log"; then
            sleep 1
            kill "$pid" 2> /dev/null || true
            break
        fi
        sleep 0.5
    done
    wait "$pid" || rc=$?
    VM_BOOT_MS=$((($(date +%s%N) - t0) / 1000000))
    [[ -z $VM_REACHED_MS ]] && grep -qa 'VMCHECK-BEGIN' "$log" && VM_REACHED_MS=$VM_BOOT_MS
    [[ $rc == 124 || $rc == 137 ]] && vlog "qemu hit the ${VM_TIMEOUT}s timeout ($log)"
    return 0
}
