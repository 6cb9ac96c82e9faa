#!/bin/bash
# shellcheck disable=SC2154 # dracutsysrootdir, initdir, moddir: set by dracut for its modules
# dracut module "bpf-preload": verify, load and pin signed eBPF objects from the
# initramfs, so they run before the real root's init starts.
#
# systemd initrd (dracut's systemd modules included): bpf-preload.service runs
# the loader early (Before=sysinit.target; see the unit). Shell initrd: a
# pre-pivot hook runs it after the root is mounted, before switch_root.
# Both go through the same fail-closed policy (/usr/libexec/bpf-preload/initrd-run).
#
# Configuration (dracut.conf / dracut.conf.d/*.conf, all optional; initrd-install also reads
# /etc/bpf-preload/initrd.conf, whose values these override). Switches take the words of
# docs/bpf-preload.8's SETTINGS table: 1/yes/on, 0/no/off, and required where it applies.
#   bpf_preload_objects="a b"   objects to put into the initramfs, by NAME
#                               (<bundle>/NAME.bpf.o) or by path; default: every
#                               <bundle>/*.bpf.o. The order is kept in the
#                               generated preload.list.
#   bpf_preload_bundle_dir=DIR  where the signed objects are (/usr/lib/bpf-preload)
#   bpf_preload_keys_dir=DIR    trusted *.pub keys and "revoked" (/etc/bpf-preload/keys)
#   bpf_preload_list=FILE       preload list to install (/etc/bpf-preload/preload.list);
#                               when it does not exist, a list naming the
#                               included objects is generated
#   bpf_preload_binary=FILE     the static loader (bpf-preload-initrd in the libexec
#                               dir below: its initramfs build)
#   bpf_preload_required="a b"  build-time policy: objects the command line cannot drop
#   bpf_preload_guard=on|off|required   the built-in guard (docs/guard.md)
#                               (both written to /etc/bpf-preload/policy by initrd-install)
#   bpf_preload_strict_shared=on    refuse shared maps that were there before the run
#   bpf_preload_iterators=on    maps.debug, progs.debug, links.debug in the bpffs
#                               (docs/status.md); rd.bpf_preload.iterators=0 cannot drop them
#   bpf_preload_measure_pcr=N   measure every verified object into PCR N (docs/measure.md)
#   bpf_preload_measure=required    with it: no TPM or a failed extend stops the boot
#   bpf_preload_signed_only=on|off|required  signed-only mode (docs/guard.md; implies the
#                               guard); *.crt in the keys dir fill the loader's kernel keyring
#   bpf_preload_libexec_dir=DIR initrd-install and initrd-run (@LIBEXECDIR@)
# The files are copied by initrd-install, shared with the initramfs-tools hook
# and the mkosi-initrd drop-in.

_bpf_preload_defaults() {
    : "${bpf_preload_libexec_dir:=@LIBEXECDIR@}"
    : "${bpf_preload_binary:=$bpf_preload_libexec_dir/bpf-preload-initrd}"
}

# Only included on request (--add bpf-preload or add_dracutmodules+=" bpf-preload "):
# returning 255 keeps it out of host-only images that did not ask for it.
check() {
    _bpf_preload_defaults
    if [[ ! -x $dracutsysrootdir$bpf_preload_binary ]]; then
        dinfo "bpf-preload: $bpf_preload_binary not found or not executable"
        return 1
    fi
    return 255
}

depends() {
    return 0
}

install() {
    _bpf_preload_defaults
    local _systemd=() _out _v _env=()
    dracut_module_included systemd && _systemd=(--systemd)
    # Every bpf_preload_* variable of dracut's configuration, known or not: initrd-install
    # warns about a misspelt one (an error when the image gets a build-time policy).
    for _v in $(compgen -v bpf_preload_); do
        _env+=("$_v=${!_v}")
    done
    _out=$(env "${_env[@]}" "$dracutsysrootdir$bpf_preload_libexec_dir/initrd-install" \
        "${_systemd[@]}" ${dracutsysrootdir:+--sysroot "$dracutsysrootdir"} "$initdir" 2>&1) || {
        # Asked for (--add) but not installable: an image without it would boot
        # without the objects it was built to enforce. Stop dracut.
        dfatal "$_out"
        dfatal "bpf-preload: cannot add bpf-preload to the initramfs"
        exit 1
    }
    while IFS= read -r _v; do
        case $_v in
            *warning:*) dwarning "$_v" ;;
            *) dinfo "bpf-preload: $_v" ;;
        esac
    done <<< "$_out"
    # The shell initrd has no units: the pre-pivot hook runs the same policy.
    ((${#_systemd[@]})) || inst_hook pre-pivot 50 "$moddir/bpf-preload-hook.sh"
}
