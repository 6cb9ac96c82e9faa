# shellcheck shell=sh
# bpf_preload_rebuild: rebuild the initramfs of every installed kernel with the
# generator this system uses (the package providing linux-initramfs-tool):
# initramfs-tools' update-initramfs, or dracut through its kernel hook, as
# Debian's dracut package does itself. Other generators (mkosi-initrd, a
# systemd initrd made elsewhere) are not run from here: a note says so.
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
    else
        echo "bpf-preload: neither initramfs-tools nor dracut is installed:" \
            "rebuild the initramfs yourself (see /usr/share/doc/bpf-preload/README.md)"
    fi
}
