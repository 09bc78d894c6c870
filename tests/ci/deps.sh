#!/bin/bash
# Installs what imgctl needs to build and test, from Debian 12's archive, only when missing.
set -euo pipefail
PACKAGES=(
  # build
  meson ninja-build pkg-config g++ clang
  libgtest-dev libgmock-dev libfmt-dev libssl-dev libsystemd-dev libcurl4-openssl-dev
  libostree-dev libglib2.0-dev libarchive-dev libzstd-dev zlib1g-dev libisal-dev nlohmann-json3-dev libxxhash-dev
  # real components the tests run against
  erofs-utils fsverity docker-registry skopeo umoci apache2-utils ostree openssl curl golang-docker-credential-helpers pass gnupg
  python3 e2fsprogs util-linux attr acl kmod cpio xz-utils time
  qemu-system-x86 busybox-static zstd
  strace  # store_import_cache.sh proves a cached import reads no file content
  debootstrap  # tests/bench/pull_bench.sh builds a minbase root
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
