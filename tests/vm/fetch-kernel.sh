#!/bin/bash
# fetch-kernel.sh CACHE_DIR: puts Debian bookworm-backports' cloud kernel (6.12: file-backed EROFS,
# overlayfs data-only layers and verity=, fs-verity) into CACHE_DIR/kroot, without touching the
# host's apt configuration (an isolated APT_CONFIG). Prints the kernel version. Cached: a second
# call does nothing. Debian 12's own 6.1 kernel cannot mount composefs with verity (TESTING.md).
set -euo pipefail
C=$(realpath -m "${1:?cache dir}")
mkdir -p "$C"
if [ -f "$C/kroot/.complete" ]; then ls "$C/kroot/lib/modules"; exit 0; fi
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
mkdir -p "$C/apt/lists/partial" "$C/apt/cache/archives/partial" "$C/apt/src"
printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$MIRROR" > "$C/apt/src/bpo.sources"
printf 'Dir::Etc::SourceList "/dev/null";\nDir::Etc::SourceParts "%s/apt/src";\nDir::State::Lists "%s/apt/lists";\nDir::Cache "%s/apt/cache";\n' "$C" "$C" "$C" > "$C/apt/apt.conf"
export APT_CONFIG=$C/apt/apt.conf
apt-get update -qq >&2
PKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$PKG" ] || { echo "no linux-image-cloud-amd64 in bookworm-backports" >&2; exit 1; }
(cd "$C" && apt-get download -qq "$PKG" >&2)
unset APT_CONFIG
rm -rf "$C/kroot"
dpkg-deb -x "$C/$PKG"_*.deb "$C/kroot"
KV=$(ls "$C/kroot/lib/modules")
/sbin/depmod -b "$C/kroot" "$KV"
touch "$C/kroot/.complete"
echo "$KV"
