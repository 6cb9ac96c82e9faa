#!/usr/bin/env python3
"""Extract the ELF vmlinux from an x86 bzImage (for qemu's PVH `-kernel vmlinux` boot).

Reads the payload location from the setup header (boot protocol >= 2.08) and
decompresses it (gzip, xz, zstd, lzma, lz4 or bzip2; zstd/lz4 via their CLIs).
Usage: extract-vmlinux.py BZIMAGE OUT
"""
import bz2, io, gzip, lzma, os, shutil, struct, subprocess, sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    d = open(src, "rb").read()
    if d[0x202:0x206] != b"HdrS":
        sys.exit(f"{src}: not a bzImage")
    setup_sects = d[0x1F1] or 4
    off, length = struct.unpack_from("<II", d, 0x248)
    start = (setup_sects + 1) * 512 + off
    p = d[start:start + length]
    if p[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=io.BytesIO(p)).read()
    elif p[:6] == b"\xfd7zXZ\x00":
        raw = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(p)
    elif p[:4] == b"\x28\xb5\x2f\xfd":
        if not shutil.which("zstd"):
            sys.exit("zstd-compressed kernel: install zstd")
        raw = subprocess.run(["zstd", "-dcq"], input=p[:-4], stdout=subprocess.PIPE, check=True).stdout
    elif p[:3] == b"\x5d\x00\x00":
        raw = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(p)
    elif p[:3] == b"BZh":
        raw = bz2.BZ2Decompressor().decompress(p)
    elif p[:2] == b"\x02\x21":
        raw = subprocess.run(["lz4", "-dc"], input=p, stdout=subprocess.PIPE, check=True).stdout
    else:
        sys.exit(f"{src}: unknown payload compression {p[:6].hex()}")
    if raw[:4] != b"\x7fELF":
        sys.exit(f"{src}: payload is not an ELF image")
    with open(out + ".tmp", "wb") as f:
        f.write(raw)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
