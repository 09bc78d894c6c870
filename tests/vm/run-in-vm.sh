#!/bin/bash
# run-in-vm.sh STAGE_DIR : boots Debian's bookworm-backports kernel under QEMU (TCG: this host's
# KVM runs paravirtualised guests only) with imgctl in the initramfs and STAGE_DIR as an ext4
# disk with fs-verity (mounted at /disk), runs STAGE_DIR/test.sh there and copies its output.
# The test script's lines are printed with their "ok -"/"FAIL -" prefixes; the caller judges.
# Env: IMGCTL (binary), IMGCTL_VM_CACHE (kernel cache, default /var/cache/imgctl-tests).
set -euo pipefail
STAGE=$(realpath "${1:?stage dir}")
HERE=$(dirname "$(realpath "$0")")
CACHE=${IMGCTL_VM_CACHE:-/var/cache/imgctl-tests}
KV=$("$HERE/fetch-kernel.sh" "$CACHE" | tail -1)
W=$(mktemp -d "${TMPDIR:-/tmp}/imgctl-vm.XXXXXX"); trap 'rm -rf "$W"' EXIT
"$HERE/mkinitramfs.sh" "$CACHE/kroot" "$KV" "$W/initrd.img" "$IMGCTL" "$(command -v fsverity)"
# -b 4096: with 1 KiB blocks FS_IOC_ENABLE_VERITY fails with EINVAL (TESTING.md).
mkfs.ext4 -q -F -E root_owner=0:0 -b 4096 -O verity -d "$STAGE" "$W/disk.img" "${VM_DISK_SIZE:-256M}"
timeout "${VM_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg -cpu max,-cx16 -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$CACHE/kroot/boot/vmlinuz-$KV" -initrd "$W/initrd.img" \
  -drive "file=$W/disk.img,if=virtio,format=raw,cache=unsafe" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" > "$W/serial.log" 2>&1 || true
if ! grep -aq '^VM: done' "$W/serial.log"; then
  echo "FAIL - the VM did not finish; serial log:"; tail -40 "$W/serial.log"; exit 1
fi
grep -a '^VM' "$W/serial.log" | sed 's/^VM| //' | tr -d '\r'
