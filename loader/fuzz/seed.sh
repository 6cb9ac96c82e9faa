#!/bin/bash
# Seed the fuzz corpora (loader/fuzz/corpus/<target>) with real input: the test objects of bpf/
# (signed with the fuzz ring's key, seed [7; 32], so mutants reach the signature check), the
# golden status record, PEM keys, a revocation list and command lines. Needs a release build
# (`cargo build --release`, which also compiles the objects). Adds files; removes nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=target/x86_64-unknown-linux-gnu/release/bpf-preload
OBJ=${1:-$(ls -d target/x86_64-unknown-linux-gnu/release/build/bpf-preload-*/out/bpf 2>/dev/null | head -n1)}
[[ -x $BIN && -d $OBJ ]] || { echo "seed.sh: build first (cargo build --release)" >&2; exit 2; }
C=loader/fuzz/corpus
mkdir -p "$C"/{trailer,signed_object,elf,status_json,pem_keys,revoked,cmdline}
key=$(mktemp)
trap 'rm -f "$key"' EXIT
# PKCS#8 v1 of the Ed25519 seed [7; 32]: the fixed prefix, then the seed.
{
    echo "-----BEGIN PRIVATE KEY-----"
    { printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20'
      head -c 32 /dev/zero | tr '\0' '\7'; } | base64 -w0
    printf '\n-----END PRIVATE KEY-----\n'
} >"$key"
for o in maponly counter xdp_pass optional_prog; do
    "$BIN" sign --key "$key" --output "$C/signed_object/$o.bpf.o" "$OBJ/$o.bpf.o" >/dev/null
    cp "$C/signed_object/$o.bpf.o" "$C/trailer/"
    cp "$OBJ/$o.bpf.o" "$C/elf/"
done
cp format/src/status-v1.golden.json "$C/status_json/"
cp keys/test-only/signing-key.pem keys/test-only/signing-key.pub "$key" "$C/pem_keys/"
printf '# revoked\n0011223344556677\n  8899aabbccddeeff # old\n' >"$C/revoked/list"
printf 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 rd.bpf_preload=a,b,"c" rd.bpf_preload.required=b quiet\n' >"$C/cmdline/a"
printf 'rd.bpf_preload=0 rd.bpf_preload=x\n' >"$C/cmdline/b"
echo "seed.sh: corpora seeded in $C"
