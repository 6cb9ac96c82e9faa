# shellcheck shell=sh
# bpf_preload_rebuild: rebuild the initramfs of every installed kernel with the
# generator this system uses (the package providing linux-initramfs-tool):
# initramfs-tools' update-initramfs, or dracut through its kernel hook, as
# Debian's dracut package does itself. Other generators (mkosi-initrd, a
# systemd initrd made elsewhere) are not run from here: a note says so.
# With systemd's kernel-install configured for unified kernel images
# (layout=uki in /etc/kernel/install.conf, else /usr/lib/kernel/install.conf),
# `kernel-install add` then rebuilds each kernel's UKI too (its initrd
# generator, ukify, the signing of /etc/kernel/uki.conf): docs/secure-boot.md.
bpf_preload_installed() {
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2> /dev/null | grep -q '^ii'
}
bpf_preload_kernels() {
    if command -v linux-version > /dev/null 2>&1; then
        linux-version list
    else
        for k in /boot/vmlinuz-*; do [ -e "$k" ] && echo "${k#/boot/vmlinuz-}"; done
    fi
}
# kernel-install's layout setting: the first install.conf found wins, as in
# kernel-install itself ($KERNEL_INSTALL_CONF_ROOT replaces /etc/kernel).
bpf_preload_ki_layout() {
    for f in "${KERNEL_INSTALL_CONF_ROOT:-/etc/kernel}/install.conf" /usr/lib/kernel/install.conf; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*layout[[:space:]]*=[[:space:]]*//p' "$f" | tail -n 1 | tr -d "\"' "
        return 0
    done
}
bpf_preload_rebuild_uki() {
    [ "$(bpf_preload_ki_layout)" = uki ] || return 0
    if ! command -v kernel-install > /dev/null 2>&1; then
        echo "bpf-preload: layout=uki but no kernel-install: rebuild the UKI yourself (docs/secure-boot.md)"
        return 0
    fi
    echo "bpf-preload: kernel-install layout=uki: rebuilding the UKI of: $1"
    for k in $1; do
        img=/boot/vmlinuz-$k
        [ -e "$img" ] || img=/usr/lib/modules/$k/vmlinuz
        kernel-install add "$k" "$img" ||
            echo "bpf-preload: kernel-install add $k failed: its UKI still carries the previous objects" >&2
    done
}
bpf_preload_rebuild() {
    kernels=$(bpf_preload_kernels | tr '\n' ' ')
    if [ -z "${kernels% }" ]; then
        echo "bpf-preload: no installed kernel: no initramfs to rebuild"
        return 0
    fi
    if bpf_preload_installed initramfs-tools && command -v update-initramfs > /dev/null; then
        echo "bpf-preload: rebuilding the initramfs (update-initramfs) of: $kernels"
        # -k all: every kernel with an initramfs; set DPKG_MAINTSCRIPT_PACKAGE
        # empty so that it runs now, not through its own deferred trigger
        # (which would rebuild only the newest kernel).
        DPKG_MAINTSCRIPT_PACKAGE='' update-initramfs -u -k all
    elif bpf_preload_installed dracut && [ -x /etc/kernel/postinst.d/dracut ]; then
        echo "bpf-preload: rebuilding the initramfs (dracut) of: $kernels"
        for k in $kernels; do
            DEB_MAINT_PARAMS='' /etc/kernel/postinst.d/dracut "$k"
        done
    elif [ "$(bpf_preload_ki_layout)" != uki ]; then
        echo "bpf-preload: neither initramfs-tools nor dracut is installed:" \
            "rebuild the initramfs yourself (see /usr/share/doc/bpf-preload/README.md)"
    fi
    bpf_preload_rebuild_uki "$kernels"
}
