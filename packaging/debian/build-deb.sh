#!/bin/bash
# Builds build/bpf-preload_<version>_<arch>.deb with plain dpkg-deb (make deb).
#
#   packaging/debian/build-deb.sh [OUTDIR]     (default: build/)
#
# Why dpkg-deb and not debhelper: the package is one static binary built by
# cargo (vendored libbpf, libelf, zlib) plus shell scripts and text, and its
# layout is already described once, by `make install-files DESTDIR=`. debhelper
# would add a debian/rules build driving cargo, a source package and helpers
# that have nothing to do here (dh_shlibdeps finds no shared library, dh_strip
# finds a stripped binary, no services are enabled in the real root); dpkg-deb
# needs only dpkg-dev, which every Debian machine building this already has.
# The maintainer scripts are ours (packaging/debian/postinst, postrm, with
# rebuild.sh inlined), so what they do is visible in one place.
#
# Uses the release binaries (the host build and the initramfs build, through
# bp_build; BPF_PRELOAD_BIN=FILE and BPF_PRELOAD_INITRD_BIN=FILE use those). Runs lintian when it is installed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../tests/common.sh
source "$HERE/../../tests/common.sh"
# shellcheck disable=SC2034 # read by bp_log (common.sh)
BP_LOG_TAG=deb
TOP=$BP_TOP
OUT=${1:-$BP_BUILD}

BIN=$(bp_build --reproducible)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$TOP/Cargo.toml" | head -n1)
CHANGELOG_VERSION=$(sed -n '1s/^bpf-preload (\([^)]*\)).*/\1/p' "$HERE/changelog")
[[ $VERSION == "$CHANGELOG_VERSION" ]] ||
    bp_die "Cargo.toml version $VERSION differs from packaging/debian/changelog's $CHANGELOG_VERSION"
ARCH=$(dpkg --print-architecture)
MAINTAINER=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$HERE/changelog" | head -n1)
# Reproducible: every file dated by the last commit (or now, outside git).
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$TOP" log -1 --format=%ct 2> /dev/null || date +%s)}

STAGE=$OUT/deb/root
rm -rf "$OUT/deb" && mkdir -p "$STAGE/DEBIAN"
make -s -C "$TOP" install-files DESTDIR="$STAGE" BIN="$BIN" INITRD_BIN="$(bp_initrd_bin)" PREFIX=/usr >&2
# dracut: its check() includes the module only on request
# (install-files put packaging/debian/dracut.conf at /usr/lib/dracut/dracut.conf.d/50-bpf-preload.conf)
gzip -9n "$STAGE/usr/share/man/man8/bpf-preload.8" # installed by install-files
DOC=$STAGE/usr/share/doc/bpf-preload
install -d "$DOC"
install -m 0644 "$HERE/copyright" "$DOC/copyright"
gzip -9n < "$HERE/changelog" > "$DOC/changelog.gz"
install -m 0644 "$TOP/README.md" "$TOP"/docs/*.md "$DOC/"
for g in dracut initramfs-tools systemd mkosi keys; do
    install -m 0644 "$TOP/$g/README.md" "$DOC/README.$g.md"
done
# like dh_compress: documentation over 4 KiB is compressed
find "$DOC" -name '*.md' -size +4k -exec gzip -9n {} +
# The objects-package recipe of docs/objects-package.md, as dh_installexamples would ship it:
# uncompressed and not executable (run it with `sh`; it finds control.in beside itself).
install -d "$DOC/examples/objects-package"
install -m 0644 "$TOP"/examples/objects-package/* "$DOC/examples/objects-package/"

for s in postinst postrm; do
    awk -v f="$HERE/rebuild.sh" '$0 == "@REBUILD@" { while ((getline l < f) > 0) print l; next } { print }' \
        "$HERE/$s" > "$STAGE/DEBIAN/$s"
    chmod 0755 "$STAGE/DEBIAN/$s"
done
install -m 0644 "$HERE/triggers" "$STAGE/DEBIAN/triggers"
# Two overrides, each justified in the file (static-pie binaries are not shared libraries).
install -D -m 0644 "$HERE/lintian-overrides" "$STAGE/usr/share/lintian/overrides/bpf-preload"
SIZE=$(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" -e "s|@MAINTAINER@|$MAINTAINER|" -e "s|@SIZE@|$SIZE|" \
    "$HERE/control.in" > "$STAGE/DEBIAN/control"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
    xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$STAGE/DEBIAN/md5sums" "$STAGE/DEBIAN/control"
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -exec touch -h -d "@$EPOCH" {} +

DEB=$OUT/bpf-preload_${VERSION}_$ARCH.deb
SOURCE_DATE_EPOCH=$EPOCH dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" > /dev/null
bp_log "built $DEB"
if command -v lintian > /dev/null; then
    # errors fail the build; the warnings left, and why: packaging/debian/README.md
    lintian --fail-on error "$DEB" >&2 ||
        bp_die "lintian reports errors for $DEB"
fi
echo "$DEB"
