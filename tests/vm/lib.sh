# shellcheck shell=bash
# Shared helpers for the VM boot tests (tests/vm/run.sh, demo.sh, figures.sh,
# mkosi-test.sh). Source it; it expects bash with `set -euo pipefail`.
#
# Everything is cached under $VM_BUILD (default: build/vm, git-ignored):
#   dl/K/       downloaded kernel .debs (apt configurations: build/apt/)
#   kernels/K/  unpacked kernel K (see vm_kernel: 6.1 6.12 trixie trixie-bpo):
#               root/ (modules, depmod'ed), vmlinux (ELF, booted as PVH), kver
#   dracut/     private dracut base dir = the host's + our module (symlink)
#   bundle-*/   signed objects + keys + preload.list given to dracut
#   initrd/     initramfs images;  root/ root.img: the minimal real root
VM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../common.sh
source "$VM_TOP/tests/common.sh"
# shellcheck disable=SC2034 # read by bp_log (common.sh)
BP_LOG_TAG=vm
VM_DIR=$VM_TOP/tests/vm
VM_BUILD=${VM_BUILD:-$VM_TOP/build/vm}
VM_TIMEOUT=${VM_TIMEOUT:-240}        # hard limit for one qemu run, seconds
VM_MEM=${VM_MEM:-1024}
VM_SMP=${VM_SMP:-2}
# TCG with one host thread per guest (its vCPUs take turns): multi-threaded TCG (`-accel tcg`,
# qemu 10.0) aborted one boot of 19 with "iotlb_to_section: Assertion `section_index <
# d->map.sections_nb' failed" while the 7.x guest probed PCI (2026-12-06), and two guests of two
# threads each on two cores gain nothing from it (tests/vm/README.md "Wall time").
VM_ACCEL=${VM_ACCEL:-tcg,thread=single}
mkdir -p "$VM_BUILD"
# Downloads (kernels, bpftool), kernels, the Debian roots and mkosi's tree: outside the checkout
# (common.sh BP_CACHE).
for _d in dl kernels roots mkosi; do bp_cached "$VM_BUILD/$_d"; done
unset _d

vlog() { bp_log "$@"; }
vdie() { bp_die "$@"; }

# ---------------------------------------------------------------- packages --
# Everything the VM tests and the demo install comes from tests/deps.sh, the one
# dependency script (private apt configurations for other suites, never a change
# to the machine's apt sources).
vm_install_packages() { # [demo|vm]
    "$VM_TOP/tests/deps.sh" "${1:-vm}"
}

# ----------------------------------------------------------------- kernels --
# Debian's kernels, fetched with a private apt configuration (tests/common.sh):
#   6.1         bookworm (the machine's own sources)
#   6.12        bookworm-backports
#   trixie      Debian 13's kernel (6.12)
#   trixie-bpo  the newest packaged kernel (7.x from trixie-backports): the
#               linux-image meta package depends on linux-binary-VER (vmlinuz at
#               /usr/lib/modules/VER/vmlinuz) and linux-modules-VER (zstd modules)
VM_KERNELS_ALL="6.1 6.12 trixie trixie-bpo"
_vm_kernel_conf() {
    case $1 in
        6.1) bp_apt_conf host --with-host ;;
        6.12) bp_apt_conf bookworm-backports bookworm-backports ;;
        trixie) bp_apt_conf trixie trixie ;;
        trixie-bpo) bp_apt_conf trixie-backports trixie-backports ;;
        sid) bp_apt_conf sid sid ;; # Debian unstable (not in VM_KERNELS_ALL: the package test boots it)
        *) vdie "unknown kernel $1 (one of: $VM_KERNELS_ALL)" ;;
    esac
}

# The packages behind the linux-image-amd64 meta package: follow Depends on
# linux-image-*, linux-binary-* and linux-modules-* (candidate versions only).
_vm_kernel_pkgs() {
    local conf=$1 queue=(linux-image-amd64) seen=" " p d
    while ((${#queue[@]})); do
        p=${queue[0]} queue=("${queue[@]:1}")
        [[ $seen == *" $p "* ]] && continue
        seen+="$p "
        echo "$p"
        for d in $(APT_CONFIG=$conf apt-cache show --no-all-versions "$p" 2> /dev/null |
            sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',|' '\n\n' | sed 's/^ *//; s/[ (].*//' |
            grep -E '^linux-(image|binary|modules)-'); do
            queue+=("$d")
        done
    done
}

# vm_bzimage KERNELDIR [KVER] -> the kernel package's bzImage: /boot/vmlinuz-KVER (bookworm,
# trixie), or beside the modules (merged-/usr trixie-backports). KVER: KERNELDIR/kver by default.
vm_bzimage() {
    local kd=$1 kver=${2:-} img
    [[ -n $kver ]] || kver=$(cat "$kd/kver")
    img=$kd/root/boot/vmlinuz-$kver
    [[ -f $img ]] || img=$kd/root/lib/modules/$kver/vmlinuz
    [[ -f $img ]] || vdie "no bzImage for $kver under $kd/root"
    echo "$img"
}

# vm_kernel NAME -> prints the kernel dir: root/ (the packages unpacked, modules
# depmod'ed under root/lib/modules/VER), vmlinux (ELF, booted as PVH), kver.
# Cached: no network when kernels/NAME/vmlinux exists.
vm_kernel() {
    local name=$1 kd=$VM_BUILD/kernels/$1 dl=$VM_BUILD/dl/$1 conf pkgs deb kver vmlinuz
    # fetched again once a week (common.sh BP_WEEK): Debian's kernel updates reach the tests
    if [[ ! -s $kd/vmlinux || ! -s $kd/kver || $(cat "$kd/week" 2> /dev/null) != "$BP_WEEK" ]]; then
        conf=$(_vm_kernel_conf "$name")
        mapfile -t pkgs < <(_vm_kernel_pkgs "$conf")
        ((${#pkgs[@]} > 1)) || vdie "kernel $name: cannot resolve linux-image-amd64 (apt config $conf)"
        vlog "kernel $name: downloading ${pkgs[*]}"
        rm -rf "$dl" && mkdir -p "$dl"
        (cd "$dl" && APT_CONFIG=$conf apt-get -q download "${pkgs[@]}" > /dev/null) ||
            vdie "kernel $name: apt-get download ${pkgs[*]} failed"
        rm -rf "$kd" && mkdir -p "$kd/root"
        for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" "$kd/root"; done
        # merged-/usr packages (trixie-backports) ship /usr/lib/modules only
        [[ -e $kd/root/lib ]] || ln -s usr/lib "$kd/root/lib"
        kver=$(ls "$kd/root/lib/modules" | head -n1)
        [[ -n $kver ]] || vdie "kernel $name: no modules directory in ${pkgs[*]}"
        vmlinuz=$(vm_bzimage "$kd" "$kver")
        depmod -b "$kd/root" "$kver"
        python3 "$VM_DIR/extract-vmlinux.py" "$vmlinuz" "$kd/vmlinux.tmp"
        mv "$kd/vmlinux.tmp" "$kd/vmlinux"
        echo "$kver" > "$kd/kver"
        echo "$BP_WEEK" > "$kd/week"
        vlog "kernel $name: $kver"
    fi
    echo "$kd"
}

# ----------------------------------------------------- project artefacts --
VM_BIN=${VM_BIN:-} VM_INITRD_BIN=${VM_INITRD_BIN:-}
vm_build_project() {
    vlog "make -C bpf"
    make -s -C "$VM_TOP/bpf" >&2
    VM_BIN=$(bp_build)
    VM_INITRD_BIN=$(bp_initrd_bin)
    mkdir -p "$VM_BUILD/guest"
    if [[ ! -x $VM_BUILD/guest/bpfmap || $VM_DIR/guest/bpfmap.c -nt $VM_BUILD/guest/bpfmap ]]; then
        gcc -O2 -static -pthread -o "$VM_BUILD/guest/bpfmap" "$VM_DIR/guest/bpfmap.c"
    fi
    vm_install_project
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

# vm_profile_root OUT B: the root of the benchmarks that boot into their own init
# (tests/vm/guard-*.sh): the test root copied to OUT/root (OUT made afresh), bundle B's objects
# and keys under /etc/profile-run; the caller writes OUT/root/sbin/profile-run.
vm_profile_root() {
    local out=$1 b=$2
    rm -rf "$out" && mkdir -p "$out"
    cp -a "$VM_BUILD/root" "$out/root"
    mkdir -p "$out/root/etc/profile-run" "$out/root/mnt"
    cp -r "$b/lib" "$out/root/etc/profile-run/bundle"
    cp -r "$b/keys" "$out/root/etc/profile-run/keys"
}

# vm_profile_boots OUT B NAME LAST KERNEL...: OUT/root as an ext4 image, booted once per kernel
# (dracut's shell initrd of bundle B, nothing preloaded at boot) with /sbin/profile-run as init;
# each OUT/KERNEL.log must show the profiling run LAST (PROFRUN LAST).
vm_profile_boots() {
    local out=$1 b=$2 name=$3 last=$4 k K initrd
    shift 4
    chmod 755 "$out/root/sbin/profile-run"
    mke2fs -q -t ext4 -L vmroot -d "$out/root" "$out/root.img" 128M
    for k in "$@"; do
        K=$(vm_kernel "$k")
        initrd=$VM_BUILD/initrd/$name-$k.img
        vm_initrd "$K" shell "$initrd" "$b"
        VM_INIT=/sbin/profile-run vm_boot "$K" "$initrd" "$out/root.img" "$out/$k.log" "rd.bpf_preload=0"
        grep -qa "PROFRUN $last " "$out/$k.log" || vdie "$k: the profiling runs did not finish ($out/$k.log)"
    done
}

# vm_bundle NAME "obj1 obj2 ..." [list...]: signed objects in
# $VM_BUILD/bundle-NAME/{lib,keys}, preload.list = the list (default: objects).
# Signed as users sign them (with the fast path where the object converts);
# VM_SIGN_ARGS=--no-fast-path makes version-1 objects, for the libbpf path.
vm_bundle() {
    local name=$1 objs=$2 list=${3:-$2} d=$VM_BUILD/bundle-$1 o
    rm -rf "$d" && mkdir -p "$d/lib" "$d/keys"
    for o in $objs; do
        # shellcheck disable=SC2086
        "$VM_BIN" sign ${VM_SIGN_ARGS-} --key "$VM_KEY" --name "$o" --output "$d/lib/$o.bpf.o" \
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
# `make install-files` into $VM_BUILD/install (DESTDIR): the tests use what a
# user installs (module, helpers, unit), with the binary under test.
vm_install_project() {
    rm -rf "$VM_BUILD/install"
    make -s -C "$VM_TOP" install-files DESTDIR="$VM_BUILD/install" BIN="$VM_BIN" \
        INITRD_BIN="$VM_INITRD_BIN" >&2
}

# A private dracut base dir: the host's modules plus ours (as installed into
# $VM_BUILD/install), so the host's /usr/lib/dracut is not touched. Made once (run.sh removes it
# at its start): dracut runs at the same time share it.
vm_dracut_base() {
    local b=$VM_BUILD/dracut e
    [[ -L $b/modules.d/50bpf-preload ]] && { echo "$b"; return; }
    [[ -d $VM_BUILD/install ]] || vm_install_project
    rm -rf "$b" && mkdir -p "$b/modules.d"
    for e in /usr/lib/dracut/*; do
        [[ ${e##*/} == modules.d ]] || ln -s "$e" "$b/${e##*/}"
    done
    for e in /usr/lib/dracut/modules.d/*; do ln -s "$e" "$b/modules.d/${e##*/}"; done
    ln -sfn "$VM_BUILD/install/usr/lib/dracut/modules.d/50bpf-preload" "$b/modules.d/50bpf-preload"
    echo "$b"
}

# The dracut arguments of both dracut versions (host 059, Debian 13's 106):
# a small generic image of FLAVOUR (systemd|shell) -> VM_DRACUT_ARGS.
_vm_dracut_args() {
    VM_DRACUT_ARGS=(--no-hostonly --no-hostonly-cmdline --no-early-microcode --compress cat --force --quiet
        --drivers "virtio_pci virtio_blk ext4"
        --omit "plymouth dbus dbus-daemon dbus-broker i18n lvm dm mdraid crypt multipath btrfs nfs iscsi network network-legacy network-manager nvmf resume terminfo rngd")
    if [[ $1 == shell ]]; then
        VM_DRACUT_ARGS+=(--omit "systemd systemd-initrd dracut-systemd systemd-udevd systemd-journald systemd-modules-load systemd-sysctl systemd-tmpfiles systemd-sysusers systemd-ask-password")
    else
        VM_DRACUT_ARGS+=(--add "systemd systemd-initrd dracut-systemd")
    fi
}

# vm_initrd KERNELDIR FLAVOUR(systemd|shell) OUT [BUNDLEDIR|none] [extra dracut args...]
vm_initrd() {
    local kd=$1 flavour=$2 out=$3 bundle=${4:-none} kver conf args=()
    shift 4 || shift $#
    kver=$(cat "$kd/kver")
    conf=$(mktemp -d "$VM_BUILD/conf.XXXXXX")
    _vm_dracut_args "$flavour"
    args=(--conf /dev/null --confdir "$conf" "${VM_DRACUT_ARGS[@]}"
        --kver "$kver" --kmoddir "$kd/root/lib/modules/$kver" --fwdir /nonexistent)
    if [[ $bundle != none ]]; then
        args+=(--add bpf-preload)
        cat > "$conf/bpf-preload.conf" <<EOC
bpf_preload_libexec_dir="$VM_BUILD/install/usr/libexec/bpf-preload"
bpf_preload_bundle_dir="$bundle/lib"
bpf_preload_keys_dir="$bundle/keys"
bpf_preload_list="$bundle/preload.list"
EOC
        # Extra dracut configuration of this bundle (e.g. the build-time policy), and of the
        # case (VM_DRACUT_EXTRA_CONF: run.sh, a case's build_conf).
        [[ -f $bundle/dracut.conf ]] && cat "$bundle/dracut.conf" >> "$conf/bpf-preload.conf"
        [[ -n ${VM_DRACUT_EXTRA_CONF:-} ]] && echo "$VM_DRACUT_EXTRA_CONF" >> "$conf/bpf-preload.conf"
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
    [[ -d $VM_BUILD/guest/ksig ]] && cp -r "$VM_BUILD/guest/ksig" "$r/etc/vmtest-ksig"
    install -m 0755 "$VM_DIR/guest/vmcheck.sh" "$r/sbin/vmcheck"
    install -m 0644 "$VM_DIR/guest/guard-attacks.sh" "$r/sbin/guard-attacks"
    echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
    echo 'vmroot' > "$r/etc/hostname"
    # systemd >= 256 switches root only into a tree with an os-release file
    printf 'ID=vmroot\nNAME="bpf-preload VM test root"\n' > "$r/etc/os-release"
    rm -f "$img"
    mke2fs -q -t ext4 -L vmroot -d "$r" "$img" 64M >&2
    echo "$img"
}

# ------------------------------------------------------------------- boot --
# _vm_watch PID LOG T0 [firmware]: wait for qemu PID while the guest's console LOG grows: sets
# VM_REACHED_MS (T0, date +%s%N, to the real root's first line) and stops qemu once the guest
# halted, powered off or panicked; with "firmware", also after the firmware refused a boot image
# ten times over (Access Denied: it retries its boot entries). Returns qemu's exit status.
_vm_watch() {
    local pid=$1 log=$2 t0=$3 firmware=${4:-} denied=0 rc=0
    while kill -0 "$pid" 2> /dev/null; do
        if [[ -z $VM_REACHED_MS ]] && grep -qa 'VMCHECK-BEGIN' "$log"; then
            VM_REACHED_MS=$((($(date +%s%N) - t0) / 1000000))
        fi
        if grep -qaE 'reboot: System halted|reboot: Power down|Kernel panic - not syncing' "$log"; then
            sleep 1
            kill "$pid" 2> /dev/null || true
            break
        fi
        if [[ -n $firmware ]] && grep -qa 'Access Denied' "$log"; then
            ((denied++ < 10)) || { kill "$pid" 2> /dev/null || true; break; }
        fi
        sleep 0.5
    done
    wait "$pid" || rc=$?
    return "$rc"
}

# vm_boot KERNELDIR INITRD ROOTIMG LOG "extra cmdline"
# Runs qemu (TCG, PVH boot of the ELF vmlinux) under a hard timeout; stops it
# early once the guest halted. Returns 0 when qemu ended by itself.
VM_QEMU_EXTRA=() # more qemu arguments (vm_boot_tpm: the TPM)
# rd.timeout: how long the initrd waits for /dev/vda. Two TCG guests at a time on two cores (run.sh
# --jobs 2) took up to 50 s to probe it in a guarded systemd initrd: 120 s leaves room; a boot
# that fails ends sooner by rd.emergency=poweroff.
# cryptomgr.notests and the two initcalls: the crypto self-tests (hmac/sha256 for encrypted keys,
# KDF108, the deferred tests of crypto_algapi_init) and jitterentropy's timing self-test took 2.0 s
# of the 6.12 guest's 3.2 s before /init under TCG (initcall_debug, 2026-12-06); without them /init
# ran at 2.1 s. Self-tests of the guest's crypto are not what these tests test; the algorithms stay
# (the 7.x cases verify BPF signatures with them). The builtin certificates are loaded as before.
VM_BASE_CMDLINE="console=ttyS0 root=/dev/vda rootfstype=ext4 rw panic=1 rd.shell=0 rd.emergency=poweroff rd.timeout=120 mitigations=off"
VM_BASE_CMDLINE+=" cryptomgr.notests initcall_blacklist=crypto_kdf108_init,jent_mod_init"
vm_boot() {
    local kd=$1 initrd=$2 img=$3 log=$4 extra=${5:-} init=${VM_INIT:-/sbin/vmcheck} pid t0 rc=0
    : > "$log"
    VM_REACHED_MS=
    t0=$(date +%s%N)
    timeout --kill-after=5 "$VM_TIMEOUT" qemu-system-x86_64 \
        -machine q35 -accel "$VM_ACCEL" -cpu max -smp "$VM_SMP" -m "$VM_MEM" \
        -nodefaults -display none -monitor none -serial "file:$log" -no-reboot \
        -kernel "${VM_KERNEL_IMAGE:-$kd/vmlinux}" -initrd "$initrd" "${VM_QEMU_EXTRA[@]}" \
        -append "$VM_BASE_CMDLINE init=$init $extra" \
        -drive "file=$img,if=virtio,format=raw,snapshot=on" \
        -nic none < /dev/null > "$log.qemu" 2>&1 &
    pid=$!
    _vm_watch "$pid" "$log" "$t0" || rc=$?
    VM_BOOT_MS=$((($(date +%s%N) - t0) / 1000000))
    [[ -z $VM_REACHED_MS ]] && grep -qa 'VMCHECK-BEGIN' "$log" && VM_REACHED_MS=$VM_BOOT_MS
    [[ $rc == 124 || $rc == 137 ]] && vlog "qemu hit the ${VM_TIMEOUT}s timeout ($log)"
    return 0
}

# ------------------------------------------------------------ Debian 13 root --
# A Debian 13 (trixie) root made with mmdebstrap, in which the tests run
# Debian 13's own generators: dracut-ng (dracut-core 106) with systemd 257,
# mkinitramfs (initramfs-tools-core) and mkosi 25. Cached in $VM_BUILD/roots/trixie/root
# and rebuilt when the package list changes. The -core packages let both
# generators live in one root (dracut and initramfs-tools conflict).
# The UKI routes (docs/secure-boot.md): systemd-stub, ukify, sbsign, objcopy, systemd-measure.
VM_TRIXIE_UKI_PKGS="systemd-boot-efi systemd-ukify sbsigntool binutils"
VM_TRIXIE_PKGS="dracut-core initramfs-tools-core systemd systemd-sysv udev kmod busybox zstd cpio e2fsprogs mkosi $VM_TRIXIE_UKI_PKGS"
vm_trixie_root() {
    local d=$VM_BUILD/roots/trixie stamp
    stamp=$(echo "$VM_TRIXIE_PKGS $BP_MIRROR $BP_WEEK" | sha256sum | cut -c1-16)
    if [[ ! -x $d/root/usr/bin/dracut || $(cat "$d/stamp" 2> /dev/null) != "$stamp" ]]; then
        vlog "mmdebstrap trixie ($VM_TRIXIE_PKGS) -> $d/root"
        rm -rf "$d" && mkdir -p "$d"
        mmdebstrap --mode=root --variant=apt --include="${VM_TRIXIE_PKGS// /,}" \
            trixie "$d/root" "deb [signed-by=$BP_KEYRING] $BP_MIRROR trixie main" > "$d/mmdebstrap.log" 2>&1 ||
            { tail -n 30 "$d/mmdebstrap.log" >&2; vdie "mmdebstrap failed (log: $d/mmdebstrap.log)"; }
        echo "$stamp" > "$d/stamp"
    fi
    echo "$d/root"
}

# vm_in_root ROOT [VAR=VALUE...] CMD...: run CMD chrooted in ROOT with /proc,
# /sys, /dev and /run mounted, in a private mount namespace (nothing leaks to
# the host), with a clean environment plus the VAR=VALUEs. VM_ROOT_RO_BINDS="SRC=DST ..."
# adds read-only bind mounts (DST inside ROOT).
vm_in_root() {
    local r=$1
    shift
    VM_ROOT_RO_BINDS=${VM_ROOT_RO_BINDS:-} unshare -m --propagation private bash -c '
        r=$1; shift
        # ROOT is a mount point, as / is (mkosi'"'"'s sandbox remounts / as a slave)
        mount --bind "$r" "$r" &&
            mount -t proc proc "$r/proc" && mount --rbind /sys "$r/sys" && mount --rbind /dev "$r/dev" &&
            mount -t tmpfs tmpfs "$r/run" && mount -t tmpfs tmpfs "$r/tmp" || exit 1
        for b in $VM_ROOT_RO_BINDS; do
            mkdir -p "$r${b#*=}" && mount --bind "${b%%=*}" "$r${b#*=}" &&
                mount -o remount,bind,ro "$r${b#*=}" || exit 1
        done
        [[ -f /etc/resolv.conf ]] && cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2> /dev/null
        exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"' \
        vm_in_root "$r" "$@"
}

# vm_trixie_install KERNELDIR BUNDLEDIR -> prints the Debian 13 root, after
# installing there what a user installs: `make install-files DESTDIR=root` (the
# loader built here, dracut module, initramfs-tools hook and script, unit,
# mkosi-initrd drop-in), the bundle's signed objects, keys and preload.list at
# their default places, and the kernel's modules.
vm_trixie_install() {
    local kd=$1 bundle=$2 r kver
    r=$(vm_trixie_root)
    kver=$(cat "$kd/kver")
    make -s -C "$VM_TOP" install-files DESTDIR="$r" BIN="$VM_BIN" INITRD_BIN="$VM_INITRD_BIN" >&2
    rm -rf "$r/usr/lib/bpf-preload" "$r/etc/bpf-preload"
    install -d "$r/usr/lib/bpf-preload" "$r/etc/bpf-preload/keys"
    cp "$bundle"/lib/*.bpf.o "$r/usr/lib/bpf-preload/"
    cp "$bundle"/keys/* "$r/etc/bpf-preload/keys/"
    cp "$bundle/preload.list" "$r/etc/bpf-preload/preload.list"
    # settings of initrd-install for initramfs-tools and others (test: VM_TRIXIE_INITRD_CONF)
    [[ -z ${VM_TRIXIE_INITRD_CONF:-} ]] || echo "$VM_TRIXIE_INITRD_CONF" > "$r/etc/bpf-preload/initrd.conf"
    mkdir -p "$r/usr/lib/firmware" # mkosi-initrd copies it
    if [[ ! -d $r/usr/lib/modules/$kver ]]; then
        mkdir -p "$r/usr/lib/modules"
        cp -a "$kd/root/lib/modules/$kver" "$r/usr/lib/modules/$kver"
    fi
    echo "$r"
}

# _vm_trixie_build KERNELDIR OUT BUNDLEDIR CMD...: install into the Debian 13
# root (vm_trixie_install), run CMD there (@KVER@ becomes the kernel version;
# CMD writes /var/tmp/vmtest-initrd.img), move the image to OUT. CMD's output
# goes to OUT.log.
_vm_trixie_build() {
    local kd=$1 out=$2 bundle=$3 r kver
    shift 3
    r=$(vm_trixie_install "$kd" "$bundle")
    kver=$(cat "$kd/kver")
    mkdir -p "$(dirname "$out")"
    rm -f "$r/var/tmp/vmtest-initrd.img"
    vm_in_root "$r" "${@//@KVER@/$kver}" > "$out.log" 2>&1 ||
        { tail -n 20 "$out.log" >&2; vdie "in the Debian 13 root: $1 failed for $out (log $out.log)"; }
    mv "$r/var/tmp/vmtest-initrd.img" "$out"
}

# vm_trixie_dracut KERNELDIR FLAVOUR OUT BUNDLEDIR: Debian 13's dracut-ng, run in
# the Debian 13 root with its default configuration plus the test's small
# generic image (_vm_dracut_args) and --add bpf-preload.
vm_trixie_dracut() {
    _vm_dracut_args "$2"
    _vm_trixie_build "$1" "$3" "$4" dracut "${VM_DRACUT_ARGS[@]}" --add bpf-preload \
        --kver @KVER@ /var/tmp/vmtest-initrd.img
}

# vm_trixie_mkinitramfs KERNELDIR OUT BUNDLEDIR: Debian 13's mkinitramfs in the
# Debian 13 root, with the installed hook and init-bottom script. MODULES=list
# (virtio and ext4) instead of the default "most" keeps the image small; nothing
# else differs from Debian's configuration.
vm_trixie_mkinitramfs() {
    local r
    r=$(vm_trixie_root)
    mkdir -p "$r/etc/initramfs-tools/conf.d"
    echo 'MODULES=list' > "$r/etc/initramfs-tools/conf.d/vmtest.conf"
    printf '%s\n' virtio_pci virtio_blk ext4 > "$r/etc/initramfs-tools/modules"
    _vm_trixie_build "$1" "$2" "$3" mkinitramfs -o /var/tmp/vmtest-initrd.img @KVER@
}

# vm_trixie_mkosi_initrd KERNELDIR OUT BUNDLEDIR: Debian 13's mkosi-initrd
# (mkosi 25) in the Debian 13 root, with the installed drop-in
# (/usr/lib/mkosi-initrd/mkosi.conf.d/50-bpf-preload.conf). mkosi-initrd builds
# the initrd from Debian 13 packages, with the root's apt lists (refreshed once a
# day) and its package cache; it runs in its own sandbox, which needs the root to
# be a mount point (vm_in_root) and /usr/lib/firmware to exist.
vm_trixie_mkosi_initrd() {
    local r
    r=$(vm_trixie_root)
    if [[ -z $(find "$r/var/lib/apt/lists" -maxdepth 1 -name '*_Packages' -mmin -1440 2> /dev/null) ]]; then
        vm_in_root "$r" apt-get -q update > /dev/null || vdie "apt-get update in the Debian 13 root failed"
    fi
    _vm_trixie_build "$1" "$2" "$3" mkosi-initrd --kernel-version @KVER@ -O /var/tmp -o vmtest-initrd.img
}

# ------------------------------------------------------------ TPM (swtpm) --
# vm_boot_tpm KERNELDIR INITRD ROOTIMG LOG "extra cmdline": vm_boot with a fresh
# software TPM 2.0 (swtpm, qemu -tpmdev emulator + tpm-tis). It boots the
# kernel package's bzImage (boot/vmlinuz-*): the ELF vmlinux's PVH entry has no
# TPM2 ACPI table, so the kernel would not find the TPM. tpm_tis is built in
# (CONFIG_TCG_TIS=y) in Debian's kernels: no module in the initrd.
vm_boot_tpm() {
    local kd=$1 dir pid img
    img=$(vm_bzimage "$kd")
    dir=$(mktemp -d "$VM_BUILD/swtpm.XXXXXX")
    swtpm socket --tpm2 --tpmstate "dir=$dir" --ctrl "type=unixio,path=$dir/sock" \
        > "$dir/swtpm.log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do [[ -S $dir/sock ]] && break; sleep 0.1; done
    [[ -S $dir/sock ]] || { kill "$pid" 2> /dev/null; vdie "swtpm did not start ($dir/swtpm.log)"; }
    # Dynamic scope: vm_boot sees these.
    local VM_KERNEL_IMAGE=$img
    # shellcheck disable=SC2054 # qemu option values hold commas
    local -a VM_QEMU_EXTRA=(-chardev "socket,id=chrtpm,path=$dir/sock"
        -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0)
    vm_boot "$@"
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    rm -rf "$dir"
}

# ------------------------------------------------ UEFI Secure Boot (OVMF) --
# Debian's OVMF (package ovmf, tests/deps.sh) with Secure Boot enforced: the firmware's code with
# the SMM-protected variable store, and a copy of the variables with the snakeoil db enrolled.
# The UKIs are signed with that snakeoil key (PEM, password "snakeoil"; test use only).
# (Debian 12's package puts the images in /usr/share/OVMF, the keys in /usr/share/ovmf.)
_vm_ovmf() { local f; for f in /usr/share/OVMF/"$1" /usr/share/ovmf/"$1"; do [[ -e $f ]] && { echo "$f"; return; }; done; echo "/usr/share/OVMF/$1"; }
VM_OVMF_CODE=${VM_OVMF_CODE:-$(_vm_ovmf OVMF_CODE_4M.secboot.fd)}
VM_OVMF_VARS=${VM_OVMF_VARS:-$(_vm_ovmf OVMF_VARS_4M.snakeoil.fd)}
VM_SB_KEY=${VM_SB_KEY:-/usr/share/ovmf/PkKek-1-snakeoil.key}
VM_SB_CERT=${VM_SB_CERT:-/usr/share/ovmf/PkKek-1-snakeoil.pem}
# The Debian 13 root's UKI tools: the stub, ukify, systemd-measure (systemd), sbsign, objcopy.

# vm_sb_keys -> a directory with db.key (the snakeoil key without its password: sbsign, as
# dracut runs it, cannot ask for one) and db.crt.
vm_sb_keys() {
    local d=$VM_BUILD/uefi-keys
    if [[ ! -s $d/db.key || ! -s $d/db.crt ]]; then
        mkdir -p "$d"
        openssl pkey -in "$VM_SB_KEY" -passin pass:snakeoil -out "$d/db.key" ||
            vdie "cannot read $VM_SB_KEY (package ovmf)"
        cp "$VM_SB_CERT" "$d/db.crt"
    fi
    echo "$d"
}

# vm_trixie_uki_tools: the UKI tools (VM_TRIXIE_UKI_PKGS, part of the Debian 13 root) are there.
vm_trixie_uki_tools() {
    local r
    r=$(vm_trixie_root)
    [[ -e $r/usr/lib/systemd/boot/efi/linuxx64.efi.stub && -x $r/usr/bin/ukify && -x $r/usr/bin/sbsign &&
        -x $r/usr/bin/objcopy && -x $r/usr/lib/systemd/systemd-measure ]] ||
        vdie "the Debian 13 root lacks a UKI tool of $VM_TRIXIE_UKI_PKGS ($r)"
}

# _vm_uki_pcr11 UKI [PHASES]: UKI.pcr11, the PCR 11 value the real root will read: the sections
# systemd-stub measures, cut out of UKI, then the boot phases (default none: a shell initrd;
# `enter-initrd:leave-initrd` for a systemd initrd, whose systemd-pcrphase measures both words),
# predicted by systemd-measure (systemd 257) in the Debian 13 root.
_vm_uki_pcr11() {
    local out=$1 phases=${2:-} r s w=/var/tmp/vmtest-uki-sections args=()
    r=$(vm_trixie_root)
    rm -rf "${r:?}$w" && mkdir -p "$r$w"
    for s in linux osrel cmdline initrd ucode splash dtb uname sbat; do
        objcopy -O binary --only-section=".$s" "$out" "$r$w/$s" 2> /dev/null
        [[ -s $r$w/$s ]] && args+=("--$s=$w/$s")
    done
    vm_in_root "$r" /usr/lib/systemd/systemd-measure calculate --bank=sha256 --phase="${phases:-:}" "${args[@]}" \
        > "$out.measure" 2>&1 || { cat "$out.measure" >&2; vdie "systemd-measure calculate failed"; }
    awk '/11:sha256=/ { sub(/.*11:sha256=/, ""); print; exit }' "$out.measure" > "$out.pcr11"
    rm -rf "${r:?}$w"
    [[ -s $out.pcr11 ]] || vdie "no PCR 11 value in $out.measure"
}

# vm_trixie_uki_ukify GENERATOR KERNELDIR OUT BUNDLEDIR CMDLINE: routes 2 and 3 of
# docs/secure-boot.md with Debian 13's tools in the Debian 13 root: GENERATOR (initramfs-tools:
# mkinitramfs with our hook; mkosi-initrd) makes the initrd, then `ukify build` (systemd 257) the
# UKI from systemd-stub, the kernel package's bzImage, that initrd and CMDLINE as its .cmdline,
# signed by ukify itself (sbsign, the snakeoil db key). OUT is the signed UKI; OUT.pcr11 as for
# the dracut route.
vm_trixie_uki_ukify() {
    local gen=$1 kd=$2 out=$3 bundle=$4 cmdline=$5 r kver keys img w=/var/tmp/vmtest-uki
    vm_trixie_uki_tools
    r=$(vm_trixie_root)
    kver=$(cat "$kd/kver")
    img=$(vm_bzimage "$kd")
    keys=$(vm_sb_keys)
    case $gen in
        initramfs-tools) vm_trixie_mkinitramfs "$kd" "$out.initrd" "$bundle" ;;
        mkosi-initrd) vm_trixie_mkosi_initrd "$kd" "$out.initrd" "$bundle" ;;
        *) vdie "vm_trixie_uki_ukify: unknown generator $gen" ;;
    esac
    rm -rf "${r:?}$w" && mkdir -p "$r$w"
    cp "$img" "$r$w/vmlinuz"
    mv "$out.initrd" "$r$w/initrd.img"
    cp "$keys/db.key" "$keys/db.crt" "$r$w/"
    vm_in_root "$r" ukify build --linux="$w/vmlinuz" --initrd="$w/initrd.img" --cmdline="$cmdline" \
        --uname="$kver" --signtool=sbsign --secureboot-private-key="$w/db.key" \
        --secureboot-certificate="$w/db.crt" --output="$w/uki.efi" >> "$out.log" 2>&1 ||
        { tail -n 20 "$out.log" >&2; vdie "in the Debian 13 root: ukify build failed for $out (log $out.log)"; }
    mv "$r$w/uki.efi" "$out"
    rm -rf "${r:?}$w"
    sbverify --cert "$keys/db.crt" "$out" >&2 || vdie "$out does not verify with $keys/db.crt"
    # mkosi-initrd's is a systemd initrd: systemd-pcrphase extends PCR 11 on entering and leaving it
    if [[ $gen == mkosi-initrd ]]; then _vm_uki_pcr11 "$out" enter-initrd:leave-initrd; else _vm_uki_pcr11 "$out"; fi
}

# vm_trixie_uki_dracut KERNELDIR FLAVOUR OUT BUNDLEDIR CMDLINE: the dracut route of
# docs/secure-boot.md with Debian 13's dracut-ng in the Debian 13 root: `dracut --uefi` with
# systemd-stub, the kernel package's bzImage, CMDLINE as the UKI's .cmdline, signed by dracut
# (uefi_secureboot_key/cert: sbsign, then sbverify) with the snakeoil key. OUT is the signed UKI;
# OUT.pcr11 the PCR 11 value systemd-measure (systemd 257, in the root) predicts from its sections.
vm_trixie_uki_dracut() {
    local kd=$1 flavour=$2 out=$3 bundle=$4 cmdline=$5 r kver keys img
    vm_trixie_uki_tools
    r=$(vm_trixie_root)
    kver=$(cat "$kd/kver")
    img=$(vm_bzimage "$kd")
    keys=$(vm_sb_keys)
    rm -rf "$r/var/tmp/vmtest-uki" && mkdir -p "$r/var/tmp/vmtest-uki/conf"
    cp "$img" "$r/var/tmp/vmtest-uki/vmlinuz"
    cp "$keys/db.key" "$keys/db.crt" "$r/var/tmp/vmtest-uki/"
    cat > "$r/var/tmp/vmtest-uki/conf/90-uki.conf" <<EOC
uefi="yes"
uefi_stub="/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
uefi_secureboot_key="/var/tmp/vmtest-uki/db.key"
uefi_secureboot_cert="/var/tmp/vmtest-uki/db.crt"
EOC
    _vm_dracut_args "$flavour"
    _vm_trixie_build "$kd" "$out" "$bundle" dracut "${VM_DRACUT_ARGS[@]}" --add bpf-preload \
        --add-confdir /var/tmp/vmtest-uki/conf --kernel-image /var/tmp/vmtest-uki/vmlinuz \
        --kernel-cmdline "$cmdline" --kver @KVER@ /var/tmp/vmtest-initrd.img
    sbverify --cert "$keys/db.crt" "$out" >&2 || vdie "$out does not verify with $keys/db.crt"
    _vm_uki_pcr11 "$out"
    rm -rf "$r/var/tmp/vmtest-uki"
}

# vm_boot_uefi_sb KERNELDIR UKI ROOTIMG LOG [tpm]: boot UKI as the firmware's default loader
# (EFI/BOOT/BOOTX64.EFI on a FAT disk qemu makes from a directory, on the q35 AHCI controller)
# under OVMF with Secure Boot enforced, the test root as the only virtio disk (/dev/vda), a
# fresh swtpm with "tpm". The command line is the UKI's own. With VM_UEFI_LOADER_CMDLINE set, the
# firmware starts the UKI as qemu's -kernel instead (verified all the same), with that as its
# load options: what a boot loader passes, which systemd-stub ignores under Secure Boot when the
# UKI has a .cmdline. A boot the firmware refuses ("Access Denied") is stopped a few seconds later.
vm_boot_uefi_sb() {
    local kd=$1 uki=$2 img=$3 log=$4 tpm=${5:-} dir pid=0 qpid t0 rc=0
    dir=$(mktemp -d "$VM_BUILD/uefi.XXXXXX")
    mkdir -p "$dir/esp/EFI/BOOT"
    cp "$uki" "$dir/esp/EFI/BOOT/BOOTX64.EFI"
    cp "$VM_OVMF_VARS" "$dir/vars.fd"
    # shellcheck disable=SC2054 # qemu option values hold commas
    local -a extra=() start=(-drive "file=fat:rw:$dir/esp,if=ide,format=raw")
    [[ -n ${VM_UEFI_LOADER_CMDLINE:-} ]] && start=(-kernel "$uki" -append "$VM_UEFI_LOADER_CMDLINE")
    if [[ $tpm == tpm ]]; then
        swtpm socket --tpm2 --tpmstate "dir=$dir" --ctrl "type=unixio,path=$dir/sock" \
            > "$dir/swtpm.log" 2>&1 &
        pid=$!
        for _ in $(seq 50); do [[ -S $dir/sock ]] && break; sleep 0.1; done
        [[ -S $dir/sock ]] || { kill "$pid" 2> /dev/null; vdie "swtpm did not start ($dir/swtpm.log)"; }
        # shellcheck disable=SC2054
        extra=(-chardev "socket,id=chrtpm,path=$dir/sock" -tpmdev emulator,id=tpm0,chardev=chrtpm
            -device tpm-tis,tpmdev=tpm0)
    fi
    : > "$log"
    VM_REACHED_MS=
    t0=$(date +%s%N)
    # shellcheck disable=SC2054
    timeout --kill-after=5 "$VM_TIMEOUT" qemu-system-x86_64 \
        -machine q35,smm=on -accel "$VM_ACCEL" -cpu max -smp "$VM_SMP" -m "$VM_MEM" \
        -global driver=cfi.pflash01,property=secure,value=on -global ICH9-LPC.disable_s3=1 \
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$VM_OVMF_CODE" \
        -drive "if=pflash,format=raw,unit=1,file=$dir/vars.fd" \
        -nodefaults -display none -monitor none -serial "file:$log" -no-reboot "${extra[@]}" \
        -drive "file=$img,if=virtio,format=raw,snapshot=on" "${start[@]}" \
        -nic none < /dev/null > "$log.qemu" 2>&1 &
    qpid=$!
    _vm_watch "$qpid" "$log" "$t0" firmware || rc=$?
    VM_BOOT_MS=$((($(date +%s%N) - t0) / 1000000))
    [[ -z $VM_REACHED_MS ]] && grep -qa 'VMCHECK-BEGIN' "$log" && VM_REACHED_MS=$VM_BOOT_MS
    [[ $rc == 124 || $rc == 137 ]] && vlog "qemu hit the ${VM_TIMEOUT}s timeout ($log)"
    if ((pid)); then
        kill "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
    fi
    rm -rf "$dir"
    return 0
}

# vm_ki_uki_root KERNELDIR BUNDLEDIR -> a Debian 13 root set up for kernel-install with
# layout=uki (docs/secure-boot.md): an overlay over the Debian 13 root (the shared root is not
# changed; vm_ki_uki_done unmounts it) with `make install-files`, the bundle's objects, keys and
# list, the kernel's bzImage in /boot, /etc/kernel/install.conf (layout=uki, dracut, ukify),
# /etc/kernel/uki.conf (the command line, sbsign with the snakeoil key) and the small generic
# dracut image of the other tests as dracut configuration.
vm_ki_uki_root() {
    local kd=$1 bundle=$2 r d=$VM_BUILD/ki-uki m kver keys omit i
    vm_trixie_uki_tools
    r=$(vm_trixie_root)
    kver=$(cat "$kd/kver")
    mountpoint -q "$d/m" && umount "$d/m"
    rm -rf "$d" && mkdir -p "$d"/{upper,work,m}
    m=$d/m
    mount -t overlay overlay -o "lowerdir=$r,upperdir=$d/upper,workdir=$d/work" "$m" || vdie "overlay over $r"
    make -s -C "$VM_TOP" install-files DESTDIR="$m" BIN="$VM_BIN" INITRD_BIN="$VM_INITRD_BIN" >&2
    rm -rf "$m/usr/lib/bpf-preload" "$m/etc/bpf-preload"
    install -d "$m/usr/lib/bpf-preload" "$m/etc/bpf-preload/keys" "$m/etc/kernel" "$m/boot"
    cp "$bundle"/lib/*.bpf.o "$m/usr/lib/bpf-preload/"
    cp "$bundle"/keys/* "$m/etc/bpf-preload/keys/"
    cp "$bundle/preload.list" "$m/etc/bpf-preload/preload.list"
    [[ -d $m/usr/lib/modules/$kver ]] || cp -a "$kd/root/lib/modules/$kver" "$m/usr/lib/modules/$kver"
    cp "$(vm_bzimage "$kd")" "$m/boot/vmlinuz-$kver"
    keys=$(vm_sb_keys)
    cp "$keys/db.key" "$keys/db.crt" "$m/etc/kernel/"
    printf 'layout=uki\ninitrd_generator=dracut\nuki_generator=ukify\n' > "$m/etc/kernel/install.conf"
    # The UKI's command line boots the test root (cases.sh ki_uki_check boots the rebuilt UKI):
    # the real root's init checks what VM_KI_UKI_CHECKS says (vmtest.KEY=VALUE words).
    # kernel-install hands ukify /etc/kernel/cmdline, or else this machine's /proc/cmdline (which
    # then overrides uki.conf's Cmdline=): the first boot of this UKI had the host's.
    echo "$VM_BASE_CMDLINE init=/sbin/vmcheck rd.bpf_preload.guard=1 ${VM_KI_UKI_CHECKS:-}" > "$m/etc/kernel/cmdline"
    printf '[UKI]\nSecureBootSigningTool=sbsign\nSecureBootPrivateKey=/etc/kernel/db.key\nSecureBootCertificate=/etc/kernel/db.crt\n' \
        > "$m/etc/kernel/uki.conf"
    _vm_dracut_args shell
    omit=
    for ((i = 0; i < ${#VM_DRACUT_ARGS[@]}; i++)); do
        [[ ${VM_DRACUT_ARGS[i]} == --omit ]] && omit+=" ${VM_DRACUT_ARGS[i + 1]}"
    done
    mkdir -p "$m/etc/dracut.conf.d"
    cat > "$m/etc/dracut.conf.d/90-vmtest.conf" << EOC
hostonly="no"
compress="cat"
add_drivers+=" virtio_pci virtio_blk ext4 "
omit_dracutmodules+="$omit "
add_dracutmodules+=" bpf-preload "
EOC
    echo "$m"
}

# vm_ki_uki_done: unmount vm_ki_uki_root's overlay and drop what it wrote.
vm_ki_uki_done() {
    local d=$VM_BUILD/ki-uki
    mountpoint -q "$d/m" && umount "$d/m"
    rm -rf "$d"
}

# ----------------------------------------------------------- Debian package --
# The package built by `make deb`, installed with dpkg into a root of SUITE
# (Debian 13 trixie, unstable sid) in which that distribution's generator builds
# /boot/initrd.img-KVER of that distribution's kernel, installed there with dpkg.
#
# vm_deb_objects_pkg OUTDIR SIGNED-OBJECT PUBKEY: the second package, built with
# the documented recipe (docs/objects-package.md, examples/objects-package/build-deb.sh):
# bpf-preload-vmtest-objects ships the signed object into /usr/lib/bpf-preload, its key
# into /etc/bpf-preload/keys and its load order as a preload.list.d drop-in (conffiles),
# as a platform team's package would: installing it must fire bpf-preload's file trigger.
vm_deb_objects_pkg() {
    OBJECTS=$2 KEY=$3 PKG=bpf-preload-vmtest-objects VERSION=1 \
        MAINTAINER="bpf-preload tests <tests@invalid>" \
        "$VM_TOP/examples/objects-package/build-deb.sh" "$1"
}

# vm_deb_base_root SUITE KERNEL-NAME: cached root of SUITE with initramfs-tools,
# systemd and the kernel's .debs (vm_kernel's downloads) installed with dpkg;
# dracut's .debs wait in /var/tmp/dracut-debs for the switch to dracut. The
# initramfs-tools configuration is the small generic one of vm_trixie_mkinitramfs
# (MODULES=list: virtio, ext4); dracut's is that of _vm_dracut_args, written to
# /etc/dracut.conf.d. Rebuilt when the inputs change.
VM_DEB_PKGS="initramfs-tools systemd systemd-sysv udev kmod busybox zstd cpio e2fsprogs linux-base mount"
vm_deb_base_root() { # SUITE KERNEL-NAME [GENERATORS]
    local suite=$1 kname=$2 gens=${3:-initramfs-tools dracut} d=$VM_BUILD/roots/deb-$1 kd conf stamp deb
    local dl=$VM_BUILD/dl/deb-dracut-$1
    kd=$(vm_kernel "$kname")
    local incl=$VM_DEB_PKGS
    # what dracut needs beyond that, per suite (Debian 12's dracut-core depends on kpartx)
    [[ $suite == bookworm ]] && incl+=" kpartx"
    # the key: the inputs (with both generators, the default, written as before)
    stamp="$incl $BP_MIRROR $(ls "$VM_BUILD/dl/$kname")"
    [[ $gens == "initramfs-tools dracut" ]] || stamp+=" $gens"
    stamp=$(echo "$stamp $BP_WEEK v1" | sha256sum | cut -c1-16)
    if [[ -x $d/root/usr/sbin/update-initramfs && $(cat "$d/stamp" 2> /dev/null) == "$stamp" ]]; then
        echo "$d/root"
        return 0
    fi
    vlog "mmdebstrap $suite ($incl) + kernel $kname -> $d/root"
    rm -rf "$d" && mkdir -p "$d"
    # Check-Valid-Until false: unstable's Release file is only valid for a week and
    # the mirror seen here can be older than that; its signature is still checked.
    mmdebstrap --mode=root --variant=apt --include="${incl// /,}" \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        "$suite" "$d/root" "deb [signed-by=$BP_KEYRING] $BP_MIRROR $suite main" > "$d/mmdebstrap.log" 2>&1 ||
        { tail -n 30 "$d/mmdebstrap.log" >&2; vdie "mmdebstrap $suite failed (log: $d/mmdebstrap.log)"; }
    mkdir -p "$d/root/etc/initramfs-tools/conf.d" "$d/root/etc/dracut.conf.d"
    echo 'MODULES=list' > "$d/root/etc/initramfs-tools/conf.d/vmtest.conf"
    printf '%s\n' virtio_pci virtio_blk ext4 > "$d/root/etc/initramfs-tools/modules"
    _vm_dracut_args systemd
    local i omit=
    for ((i = 0; i < ${#VM_DRACUT_ARGS[@]}; i++)); do
        [[ ${VM_DRACUT_ARGS[i]} == --omit ]] && omit+=" ${VM_DRACUT_ARGS[i + 1]}"
    done
    # the same small generic image as the other dracut tests, as configuration
    cat > "$d/root/etc/dracut.conf.d/90-vmtest.conf" << EOC
hostonly="no"
hostonly_cmdline="no"
early_microcode="no"
compress="cat"
add_drivers+=" virtio_pci virtio_blk ext4 "
omit_dracutmodules+="$omit "
add_dracutmodules+=" systemd systemd-initrd dracut-systemd "
EOC
    grep -q 'plymouth' "$d/root/etc/dracut.conf.d/90-vmtest.conf" || vdie "vm_deb_base_root: dracut omit list not found"
    # dracut and what it needs beyond the root, from SUITE (private apt configuration)
    conf=$(bp_apt_conf "$suite" "$suite")
    mkdir -p "$d/root/var/tmp/kernel-debs" "$d/root/var/tmp/dracut-debs"
    if [[ " $gens " == *" dracut "* ]]; then
        rm -rf "$dl" && mkdir -p "$dl"
        (cd "$dl" && APT_CONFIG=$conf apt-get -q download dracut dracut-core dracut-install > /dev/null 2>&1 ||
            APT_CONFIG=$conf apt-get -q download dracut dracut-core > /dev/null) ||
            vdie "apt-get download dracut ($suite) failed"
        cp "$dl"/*.deb "$d/root/var/tmp/dracut-debs/"
    fi
    cp "$VM_BUILD/dl/$kname"/*.deb "$d/root/var/tmp/kernel-debs/"
    # what vm_kernel does not download because it does not unpack it: the kernel's
    # linux-base-VER packages (unstable splits them out), from SUITE
    local extra
    extra=$(for deb in "$VM_BUILD/dl/$kname"/*.deb; do dpkg-deb -f "$deb" Depends; done | tr ',|' '\n\n' |
        sed 's/^ *//; s/[ (].*//' | grep -E '^linux-base-' | sort -u || true)
    if [[ -n $extra ]]; then
        # shellcheck disable=SC2086
        (cd "$d/root/var/tmp/kernel-debs" && APT_CONFIG=$conf apt-get -q download $extra > /dev/null) ||
            vdie "apt-get download $extra ($suite) failed"
    fi
    vm_in_root "$d/root" sh -c 'dpkg -i /var/tmp/kernel-debs/*.deb && rm -rf /var/tmp/kernel-debs' \
        > "$d/kernel.log" 2>&1 || { tail -n 20 "$d/kernel.log" >&2; vdie "dpkg -i kernel $kname in $suite failed"; }
    echo "$stamp" > "$d/stamp"
    echo "$d/root"
}

# The root's files, one path a line, except what changes without the package
# (dpkg's and apt's state, logs, caches, the _deb_generated images).
_vm_deb_files() {
    (cd "$1" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
        -o -path ./var/tmp -o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache \
        -o -path ./var/log -o -path ./var/lib/initramfs-tools -o -path './boot/initrd.img-*' \
        -o -path ./etc/resolv.conf \) -prune -o -print | LC_ALL=C sort)
}

# vm_deb_case SUITE KERNEL-NAME DEB OBJDEB OUTDIR [GENERATORS]: the package's life
# in a copy of vm_deb_base_root: with initramfs-tools, then with dracut (default;
# GENERATORS="initramfs-tools" stops after the first). Writes OUTDIR/GENERATOR.img
# (the images the trigger rebuilt, for the boots) and prints one
# "DEBCHECK ok|fail NAME DETAIL" line per check.
vm_deb_case() {
    local suite=$1 kname=$2 deb=$3 objdeb=$4 out=$5 gens=${6:-initramfs-tools dracut}
    local base r kver n gen files0 files1 pkgfiles p left
    base=$(vm_deb_base_root "$suite" "$kname" "$gens") || { echo "DEBCHECK fail $suite-root (see the log)"; return 1; }
    kver=$(cat "$VM_BUILD/kernels/$kname/kver")
    r=$out/root
    rm -rf "$out" && mkdir -p "$out"
    cp -a --reflink=auto "$base" "$r"
    mkdir -p "$r/var/tmp/debs" && cp "$deb" "$objdeb" "$r/var/tmp/debs/"
    local D=/var/tmp/debs/${deb##*/} O=/var/tmp/debs/${objdeb##*/}
    _deb_check() { # _deb_check NAME ok|fail DETAIL
        echo "DEBCHECK $2 $suite-$1 $3"
    }
    # _deb_in_root LOG CMD...: run in the root, output to OUTDIR/LOG
    _deb_in_root() { local l=$out/$1; shift; vm_in_root "$r" "$@" > "$l" 2>&1; }
    _deb_generated() { grep -c "$1" "$out/$2" || true; }
    _deb_has_object() { # _deb_has_object LISTER: the image holds the signed object, its key and drop-in
        _deb_in_root list.log "$1" "/boot/initrd.img-$kver" && grep -q 'usr/lib/bpf-preload/counter.bpf.o' "$out/list.log" &&
            grep -q 'etc/bpf-preload/keys/bpf-preload-vmtest-objects.pub' "$out/list.log" &&
            grep -q 'etc/bpf-preload/preload.list.d/50-bpf-preload-vmtest-objects.list' "$out/list.log"
    }

    for gen in $gens; do
        local G="update-initramfs: Generating /boot/initrd.img-$kver" L=lsinitramfs
        if [[ $gen == dracut ]]; then
            G="dracut: Generating /boot/initrd.img-$kver" L=lsinitrd
            # the switch: apt replaces initramfs-tools with dracut (from the .debs, no download)
            _deb_in_root switch.log sh -c 'apt-get install -y -q /var/tmp/dracut-debs/*.deb' ||
                { _deb_check "$gen-switch" fail "(apt-get install dracut; see $out/switch.log)"; return 0; }
        fi
        files0=$(_vm_deb_files "$r")
        # 1. the package alone: one rebuild, by this generator, now with bpf-preload in it
        if ! _deb_in_root "$gen-install.log" dpkg -i "$D"; then
            _deb_check "$gen-install" fail "(dpkg -i; see $out/$gen-install.log)"; continue
        fi
        n=$(_deb_generated "$G" "$gen-install.log")
        if [[ $n == 1 ]] && _deb_in_root list.log "$L" "/boot/initrd.img-$kver" &&
            grep -q 'usr/bin/bpf-preload' "$out/list.log"; then
            _deb_check "$gen-install" ok "(one rebuild; the image has the loader)"
        else
            _deb_check "$gen-install" fail "($n rebuilds, expected 1, or no loader in the image; see $out/$gen-install.log)"
        fi
        # 2. another package ships a signed object and a key: the file trigger rebuilds, once
        _deb_in_root "$gen-trigger.log" dpkg -i "$O" || true
        n=$(_deb_generated "$G" "$gen-trigger.log")
        # initramfs-tools' hook prints initrd-install's summary line, as the dracut module does
        # (its dinfo; Debian's dracut kernel hook runs dracut quietly, so not seen here)
        local summary=ok said=
        if [[ $gen == initramfs-tools ]]; then
            said="; update-initramfs printed the summary"
            grep -q 'bpf-preload: objects: counter; keys: 1; certificates: 0' "$out/$gen-trigger.log" || summary=
        fi
        if [[ $n == 1 && -n $summary ]] && _deb_has_object "$L"; then
            _deb_check "$gen-trigger" ok "(one rebuild; the image has counter.bpf.o, its key and its preload.list.d drop-in$said)"
        else
            _deb_check "$gen-trigger" fail "($n rebuilds, expected 1, or counter.bpf.o, its key or drop-in not in the image, or no summary line; see $out/$gen-trigger.log)"
        fi
        cp "$r/boot/initrd.img-$kver" "$out/$gen.img"
        # the image read back by inspect-initramfs (the generator's own compression): the
        # object verified against the image's key, the drop-in merged
        if "$VM_BIN" inspect-initramfs "$out/$gen.img" > "$out/$gen-inspect.log" 2>&1 &&
            grep -q '^  counter: verified key=' "$out/$gen-inspect.log" &&
            grep -q '^list: .*/etc/bpf-preload/preload.list.d/50-bpf-preload-vmtest-objects.list (merged' "$out/$gen-inspect.log"; then
            _deb_check "$gen-inspect" ok "(inspect-initramfs: $(head -n1 "$out/$gen-inspect.log" | sed 's/^image: [^:]*: //'))"
        else
            _deb_check "$gen-inspect" fail "(see $out/$gen-inspect.log)"
        fi
        # 3. both packages again in one dpkg run (an upgrade of both): still one rebuild
        # (dpkg's trigger handling, the same whatever the generator: checked once)
        if [[ $gen == initramfs-tools ]]; then
            _deb_in_root "$gen-both.log" dpkg -i "$D" "$O" || true
            n=$(_deb_generated "$G" "$gen-both.log")
            if [[ $n == 1 ]]; then
                _deb_check "$gen-one-per-run" ok "(two packages, one rebuild)"
            else
                _deb_check "$gen-one-per-run" fail "($n rebuilds, expected 1; see $out/$gen-both.log)"
            fi
        fi
        # 4. an administrator's key stays; purge both packages: one rebuild each,
        # and nothing of the package is left
        echo "# admin" > "$r/etc/bpf-preload/keys/admin.pub"
        _deb_in_root "$gen-purge.log" dpkg --purge bpf-preload-vmtest-objects bpf-preload || true
        files1=$(_vm_deb_files "$r")
        left=$(diff <(echo "$files0") <(echo "$files1") | sed -n 's/^> //p' | tr '\n' ' ')
        pkgfiles=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$')
        local present=
        for p in $pkgfiles; do
            [[ -e $r$p && ! -d $r$p ]] && present+="$p "
        done
        if [[ $left == "./etc/bpf-preload ./etc/bpf-preload/keys ./etc/bpf-preload/keys/admin.pub " && -z $present ]] &&
            ! _deb_in_root purge-list.log dpkg -s bpf-preload && _deb_in_root list.log "$L" "/boot/initrd.img-$kver" &&
            ! grep -q 'bpf-preload' "$out/list.log"; then
            _deb_check "$gen-purge" ok "(only the administrator's key is left; the rebuilt image has no bpf-preload)"
        else
            _deb_check "$gen-purge" fail "(left: ${left:-nothing}${present:+; package files: $present}; see $out/$gen-purge.log)"
        fi
        rm -rf "$r/etc/bpf-preload"
    done
}

# ------------------------------------------------------ kernel signatures --
# Signed-only mode's attack files for the real root (/etc/vmtest-ksig): the instructions
# "r0 = 0; exit" (what `bpfmap load` loads) signed as bpftool signs (CMS, detached, SHA-256,
# no attributes, signer by subject key identifier) with the trusted test certificate
# (trusted.sig) and with one root makes itself (root.sig, root.der); and the loader's keyring
# serial is read from the status in the guest.
vm_ksig_files() {
    local d=$VM_BUILD/guest/ksig k=$VM_TOP/keys/test-only/kernel
    rm -rf "$d" && mkdir -p "$d"
    printf '\xb7\x00\x00\x00\x00\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00' > "$d/insns.bin"
    openssl cms -sign -binary -noattr -nocerts -keyid -md sha256 -outform DER \
        -signer "$k/rsa.crt" -inkey "$k/rsa.key" -in "$d/insns.bin" -out "$d/trusted.sig"
    openssl cms -sign -binary -noattr -nocerts -keyid -md sha256 -outform DER \
        -signer "$k/other.crt" -inkey "$k/other.key" -in "$d/insns.bin" -out "$d/root.sig"
    openssl x509 -in "$k/other.crt" -outform DER -out "$d/root.der"
    vm_bpftool_lskel "$d/lskel-load"
}

# vm_bpftool_lskel OUT: `bpftool gen skeleton -L -S` (bpftool 7.8 from trixie-backports, run
# with the trixie root's libc: it needs glibc 2.38) signs counter with the trusted test
# certificate; OUT is a static C loader built from that skeleton with libbpf's skel_internal.h
# (the headers vendored by libbpf-sys, the libbpf the loader links).
vm_bpftool_lskel() {
    local out=$1 d=$VM_BUILD/dl/bpftool78 k=$VM_TOP/keys/test-only/kernel tr conf l
    tr=$(vm_trixie_root)
    if [[ ! -x $d/x/usr/sbin/bpftool ]]; then
        conf=$(bp_apt_conf trixie-backports trixie-backports)
        rm -rf "$d" && mkdir -p "$d"
        (cd "$d" && APT_CONFIG=$conf apt-get -q download bpftool/trixie-backports >&2) || vdie "apt-get download bpftool"
        dpkg-deb -x "$d"/bpftool_*.deb "$d/x"
    fi
    "$tr/usr/lib64/ld-linux-x86-64.so.2" --library-path "$tr/usr/lib/x86_64-linux-gnu" \
        "$d/x/usr/sbin/bpftool" gen skeleton -L -S -k "$k/rsa.key" -i "$k/rsa.crt" \
        "$VM_TOP/build/bpf/counter.bpf.o" name counter > "$d/counter.lskel.h" ||
        vdie "bpftool gen skeleton -S failed"
    local libbpf=("${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/libbpf-sys-1.7.0+v1.7.0/libbpf)
    l=${libbpf[0]}
    [[ -d $l ]] || vdie "libbpf-sys 1.7.0's libbpf sources not found under ${CARGO_HOME:-$HOME/.cargo}/registry"
    rm -rf "$d/inc" && mkdir -p "$d/inc/bpf" && cp "$l"/src/*.h "$d/inc/bpf/"
    # libbpf 1.7's bpf_load_and_run predates the 7.x scheme, which binds the loader's map up
    # front (fd_array_cnt = 1, its frozen contents verified with the instructions): one line.
    sed -i 's/^\tattr.keyring_id = opts->keyring_id;$/&\n\tif (opts->signature) attr.fd_array_cnt = 1;/' \
        "$d/inc/bpf/skel_internal.h"
    grep -q 'attr.fd_array_cnt = 1' "$d/inc/bpf/skel_internal.h" || vdie "skel_internal.h: fd_array_cnt patch did not apply"
    gcc -O2 -static -I "$d" -I "$d/inc" -I "$d/inc/bpf" -I "$l/include/uapi" -I "$l/include" \
        -o "$out" "$VM_DIR/guest/lskel-load.c" || vdie "building the bpftool skeleton loader failed"
}

# vm_signed_bundle NAME: counter kernel-signed with the trusted certificate, iter with one
# the keyring never gets (an unknown certificate), maponly with none; the keys dir has the
# trusted rsa.crt and a certificate the kernel cannot use (noskid.crt: skipped by name). For
# issue 22's attacks in these boots: guard_witness and iter again as iter_signed, both
# kernel-signed with the trusted certificate.
vm_signed_bundle() {
    local d=$VM_BUILD/bundle-$1 k=$VM_TOP/keys/test-only/kernel
    rm -rf "$d" && mkdir -p "$d/lib" "$d/keys"
    "$VM_BIN" sign --key "$VM_KEY" --kernel-key "$k/rsa.key" --kernel-cert "$k/rsa.crt" \
        --name counter --output "$d/lib/counter.bpf.o" "$VM_TOP/build/bpf/counter.bpf.o" >&2
    "$VM_BIN" sign --key "$VM_KEY" --kernel-key "$k/other.key" --kernel-cert "$k/other.crt" \
        --name iter --output "$d/lib/iter.bpf.o" "$VM_TOP/build/bpf/iter.bpf.o" >&2
    "$VM_BIN" sign --key "$VM_KEY" --name maponly --output "$d/lib/maponly.bpf.o" \
        "$VM_TOP/build/bpf/maponly.bpf.o" >&2
    "$VM_BIN" sign --key "$VM_KEY" --kernel-key "$k/rsa.key" --kernel-cert "$k/rsa.crt" \
        --name guard_witness --output "$d/lib/guard_witness.bpf.o" "$VM_TOP/build/bpf/guard_witness.bpf.o" >&2
    "$VM_BIN" sign --key "$VM_KEY" --kernel-key "$k/rsa.key" --kernel-cert "$k/rsa.crt" \
        --name iter_signed --output "$d/lib/iter_signed.bpf.o" "$VM_TOP/build/bpf/iter.bpf.o" >&2
    cp "$VM_PUB" "$d/keys/test-only.pub"
    cp "$k/rsa.crt" "$k/noskid.crt" "$d/keys/"
    printf '%s\n' counter iter maponly guard_witness iter_signed > "$d/preload.list"
    echo "$d"
}
