#!/bin/bash
# Install what building and testing bpf-preload needs on a fresh Debian 12 machine (root).
# Idempotent and quick when everything is already there.
set -euo pipefail
PKGS=(
    # vendored libbpf-sys builds libbpf, libelf and zlib from source
    clang llvm make pkg-config autoconf automake autopoint flex bison gawk
    # BPF C headers (bpf_helpers.h …) for bpf/; never linked
    libbpf-dev
    # tests: openssl-made keys, `file`, bpftool for people poking at pins
    openssl file bpftool ca-certificates
)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
