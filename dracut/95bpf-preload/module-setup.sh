#!/bin/bash
# dracut module "bpf-preload": verify, load and pin signed eBPF objects from the
# initramfs (pre-pivot hook), so they run before the real root's init starts.
#
# Configuration (dracut.conf / dracut.conf.d/*.conf, all optional):
#   bpf_preload_objects="a b"   objects to put into the initramfs, by NAME
#                               (<bundle>/NAME.bpf.o) or by path; default: every
#                               <bundle>/*.bpf.o. The order is kept in the
#                               generated preload.list.
#   bpf_preload_bundle_dir=DIR  where the signed objects are (/usr/lib/bpf-preload)
#   bpf_preload_keys_dir=DIR    trusted *.pub keys and "revoked" (/etc/bpf-preload/keys)
#   bpf_preload_list=FILE       preload list to install (/etc/bpf-preload/preload.list);
#                               when it does not exist, a list naming the
#                               included objects is generated
#   bpf_preload_binary=FILE     the static loader (/usr/bin/bpf-preload)
#   bpf_preload_required="a b"  build-time policy: objects that must load; the kernel
#                               command line cannot remove them (rd.bpf_preload=0 or a
#                               list omitting them is refused for these)
#   bpf_preload_guard=yes|no|required
#                               the built-in guard (docs/guard.md): yes = on unless
#                               rd.bpf_preload.guard=0; required = always on, and a
#                               guard that cannot be activated stops the boot
# The policy is written to /etc/bpf-preload/policy in the initramfs.

_bpf_preload_defaults() {
    : "${bpf_preload_bundle_dir:=/usr/lib/bpf-preload}"
    : "${bpf_preload_keys_dir:=/etc/bpf-preload/keys}"
    : "${bpf_preload_list:=/etc/bpf-preload/preload.list}"
    : "${bpf_preload_binary:=/usr/bin/bpf-preload}"
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
    local _bundle="$dracutsysrootdir$bpf_preload_bundle_dir"
    local _keys="$dracutsysrootdir$bpf_preload_keys_dir"
    local _list="$dracutsysrootdir$bpf_preload_list"
    local _o _src _name _names=() _f _n=0

    # The loader is fully static: copy it as is (no ldd resolution needed).
    inst_simple "$dracutsysrootdir$bpf_preload_binary" /usr/bin/bpf-preload || return 1

    # The signed objects.
    if [[ -n ${bpf_preload_objects// /} ]]; then
        for _o in $bpf_preload_objects; do
            case "$_o" in
                */*) _src="$_o" ;;
                *.bpf.o) _src="$_bundle/$_o" ;;
                *) _src="$_bundle/$_o.bpf.o" ;;
            esac
            if [[ ! -f $_src ]]; then
                derror "bpf-preload: object '$_o' not found ($_src)"
                return 1
            fi
            _name="${_src##*/}"
            _name="${_name%.bpf.o}"
            inst_simple "$_src" "/usr/lib/bpf-preload/$_name.bpf.o" || return 1
            _names+=("$_name")
        done
    else
        for _src in "$_bundle"/*.bpf.o; do
            [[ -f $_src ]] || continue
            _name="${_src##*/}"
            _name="${_name%.bpf.o}"
            inst_simple "$_src" "/usr/lib/bpf-preload/$_name.bpf.o" || return 1
            _names+=("$_name")
        done
    fi
    if ((${#_names[@]} == 0)); then
        dwarning "bpf-preload: no objects found in $_bundle; the initramfs loads nothing"
    fi

    # Trusted public keys and the revocation list.
    for _f in "$_keys"/*.pub; do
        [[ -f $_f ]] || continue
        inst_simple "$_f" "/etc/bpf-preload/keys/${_f##*/}" && _n=$((_n + 1))
    done
    [[ -f $_keys/revoked ]] && inst_simple "$_keys/revoked" /etc/bpf-preload/keys/revoked
    if ((_n == 0)); then
        dwarning "bpf-preload: no trusted keys (*.pub) in $_keys; every object will be refused"
    fi

    # What to load when the kernel command line has no rd.bpf_preload=.
    if [[ -f $_list ]]; then
        inst_simple "$_list" /etc/bpf-preload/preload.list
        local _l _have
        while read -r _l _; do
            [[ -z $_l || $_l == \#* ]] && continue
            _have=
            for _name in "${_names[@]}"; do [[ $_name == "$_l" ]] && _have=1; done
            [[ -n $_have ]] || dwarning "bpf-preload: $bpf_preload_list names '$_l', which is not in the initramfs"
        done < "$_list"
    elif ((${#_names[@]} > 0)); then
        mkdir -p "$initdir/etc/bpf-preload"
        printf '%s\n' "${_names[@]}" > "$initdir/etc/bpf-preload/preload.list"
    fi

    # The build-time policy, which the command line can add to but never weaken.
    if [[ -n ${bpf_preload_required// /} || -n ${bpf_preload_guard:-} ]]; then
        case "${bpf_preload_guard:-}" in
            '' | yes | no | required) ;;
            *)
                derror "bpf-preload: bpf_preload_guard=$bpf_preload_guard: use yes, no or required"
                return 1
                ;;
        esac
        mkdir -p "$initdir/etc/bpf-preload"
        {
            echo "# bpf-preload build-time policy, written by dracut (module-setup.sh)"
            [[ -n ${bpf_preload_required// /} ]] && echo "required = $bpf_preload_required"
            case "${bpf_preload_guard:-}" in
                yes) echo "guard = on" ;;
                no) echo "guard = off" ;;
                required) echo "guard = required" ;;
            esac
        } > "$initdir/etc/bpf-preload/policy"
    fi

    inst_hook pre-pivot 50 "$moddir/bpf-preload-hook.sh"
    dinfo "bpf-preload: objects: ${_names[*]:-none}; keys: $_n"
}
