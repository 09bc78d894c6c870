#!/bin/bash
# mkinitramfs.sh KROOT KVER OUT BINARY... : a busybox initramfs holding the named dynamic binaries
# with their libraries (from ldd), the kernel modules composefs needs, and tests/vm/init.sh as /init.
set -euo pipefail
KROOT=$(realpath "$1"); KV=$2; OUT=$3; shift 3
HERE=$(dirname "$(realpath "$0")")
MD=$KROOT/lib/modules/$KV
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W"/{bin,sbin,dev,proc,sys,etc,lib/modules,disk,tmp,run,mnt}
cp /bin/busybox "$W/bin/busybox"
for a in sh mount umount mkdir cat echo grep sed head tail ls cp rm mv dd find sync poweroff insmod stat od sha256sum printf seq wc xargs sleep chmod ln tr cut hexdump; do
  ln -sf busybox "$W/bin/$a"
done
copy_with_libs() {
  local f=$1 dst=$2 lib
  mkdir -p "$W/$(dirname "$dst")"
  cp -L "$f" "$W/$dst"
  for lib in $(ldd "$f" | awk '/=>/ {print $3} /^\s*\/lib/ {print $1}'); do
    [ -f "$lib" ] || continue
    mkdir -p "$W/$(dirname "$lib")"
    [ -f "$W/$lib" ] || cp -L "$lib" "$W/$lib"
  done
}
for b in "$@"; do copy_with_libs "$b" "/usr/bin/$(basename "$b")"; done
mkdir -p "$W/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$W/lib64/"
install -m 0755 "$HERE/init.sh" "$W/init"
# Modules in dependency order (modules.dep), decompressed; builtins need nothing.
declare -A seen; order=()
resolve() {
  local m=$1 d
  [ -n "${seen[$m]:-}" ] && return; seen[$m]=1
  for d in $(awk -F': *' -v m="$m" '$1==m{print $2}' "$MD/modules.dep"); do resolve "$d"; done
  order+=("$m")
}
for name in virtio_pci virtio_blk ext4 erofs overlay loop; do
  grep -qE "/${name//_/[_-]}\.ko" "$MD/modules.builtin" && continue
  p=$(grep -E "^([^:]*/)?${name//_/[_-]}\.ko(\.xz|\.zst)?:" "$MD/modules.dep" | cut -d: -f1 | head -1)
  [ -n "$p" ] || { echo "kernel module $name not found in $MD" >&2; exit 1; }
  resolve "$p"
done
: > "$W/etc/modules.order"
for m in "${order[@]}"; do
  b=$(basename "$m"); b=${b%.xz}; b=${b%.zst}
  case $m in *.xz) xz -dc "$MD/$m" > "$W/lib/modules/$b";; *.zst) zstd -qdc "$MD/$m" > "$W/lib/modules/$b";; *) cp "$MD/$m" "$W/lib/modules/$b";; esac
  echo "$b" >> "$W/etc/modules.order"
done
(cd "$W" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$OUT"
