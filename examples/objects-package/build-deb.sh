#!/bin/sh
# The minimal objects package of docs/objects-package.md: your signed eBPF objects,
# the public key they verify with, and their place in the load order, as a Debian
# package that depends on bpf-preload. Installing, upgrading or removing it fires
# bpf-preload's dpkg file trigger, which rebuilds the initramfs once per dpkg run.
#
#   OBJECTS="netpol.bpf.o audit.bpf.o" KEY=platform.pub \
#       examples/objects-package/build-deb.sh [OUTDIR]     (default: .)
#
# Settings (environment):
#   OBJECTS     signed objects (bpf-preload sign), NAME.bpf.o each; required
#   KEY         the public key (SPKI PEM, bpf-preload keygen) they verify with; required
#   PKG         package name (default bpf-preload-objects-local)
#   VERSION     package version (default 1)
#   MAINTAINER  "Name <mail>" (default "Platform team <platform@example.invalid>")
#   ARCH        all (default: BPF objects built for little-endian with CO-RE do not
#               depend on the machine's architecture) or the one they were built for
#   ORDER       the objects' names in load order (default: OBJECTS' order), written
#               as the drop-in /etc/bpf-preload/preload.list.d/50-$PKG.list
# Prints the path of the .deb. Needs dpkg-deb only.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-.}
: "${OBJECTS:?set OBJECTS to the signed objects}" "${KEY:?set KEY to their public key}"
PKG=${PKG:-bpf-preload-objects-local}
VERSION=${VERSION:-1}
MAINTAINER=${MAINTAINER:-Platform team <platform@example.invalid>}
ARCH=${ARCH:-all}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/DEBIAN" "$stage/usr/lib/bpf-preload" "$stage/etc/bpf-preload/keys" \
    "$stage/etc/bpf-preload/preload.list.d"
names=
for o in $OBJECTS; do
    case ${o##*/} in
        *.bpf.o) ;;
        *) echo "build-deb.sh: $o: an object is NAME.bpf.o (the name it was signed as)" >&2; exit 1 ;;
    esac
    # Objects go to /usr/lib/bpf-preload exactly: the path dpkg matches the trigger against.
    install -m 0644 "$o" "$stage/usr/lib/bpf-preload/${o##*/}"
    n=${o##*/}
    names="$names ${n%.bpf.o}"
done
# The key and the drop-in are configuration (/etc): conffiles, so an administrator's change
# (a rotated key, another order) survives upgrades.
install -m 0644 "$KEY" "$stage/etc/bpf-preload/keys/$PKG.pub"
for n in ${ORDER:-$names}; do echo "$n"; done > "$stage/etc/bpf-preload/preload.list.d/50-$PKG.list"
printf '%s\n' "/etc/bpf-preload/keys/$PKG.pub" "/etc/bpf-preload/preload.list.d/50-$PKG.list" \
    > "$stage/DEBIAN/conffiles"
sed -e "s|@PKG@|$PKG|g" -e "s|@VERSION@|$VERSION|g" -e "s|@MAINTAINER@|$MAINTAINER|g" \
    -e "s|@ARCH@|$ARCH|g" "$here/control.in" > "$stage/DEBIAN/control"
deb=$out/${PKG}_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group --build "$stage" "$deb" > /dev/null
echo "$deb"
