# bash completion for bpf-preload(8): subcommands, each subcommand's options, and files or
# directories for the options that take them. Installed by `make install` (and the Debian
# package) as $(PREFIX)/share/bash-completion/completions/bpf-preload. tests/cli.rs checks that
# each subcommand's options here are exactly those its parser takes.
# shellcheck shell=bash

_bpf_preload() {
    local cur prev words cword
    if declare -F _init_completion > /dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local commands="run status sign verify inspect inspect-initramfs keygen predict"
    if [ "$cword" -eq 1 ]; then
        mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
        return
    fi
    local opts
    case ${words[1]} in
        run) opts="--cmdline --preload-list --bundle --keys --bpffs --status --policy --tpm-device --measure-log --verbose --boot --dry-run --sequential --help" ;;
        status) opts="--status --json --check --help" ;;
        sign) opts="--key --public-key --message-out --signature --name --output --no-fast-path --kernel-key --kernel-cert --help" ;;
        verify) opts="--key --keys --help" ;;
        inspect) opts="--json --help" ;;
        inspect-initramfs) opts="--cmdline --json --help" ;;
        keygen) opts="--private --public --help" ;;
        predict) opts="--pcr --bundle --keys --preload-list --cmdline --policy --pcrlock --json --allow-unmeasured --help" ;;
        *) return ;;
    esac
    case $prev in
        --bundle | --keys | --bpffs)
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return
            ;;
        --pcr | --name) return ;;
        --cmdline | --preload-list | --status | --policy | --tpm-device | --measure-log | --key | \
            --output | --kernel-key | --kernel-cert | --private | --public | --pcrlock | \
            --public-key | --message-out | --signature)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return
            ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    else
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
}
complete -F _bpf_preload bpf-preload
