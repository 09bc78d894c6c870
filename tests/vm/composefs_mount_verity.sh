#!/bin/bash
# In a VM with fs-verity: `imgctl mount --verity require --digest` of an image composed on the
# host reads correctly; a wrong --digest is refused; a tampered object (other bytes before
# verity was enabled, or another verity file swapped in under its name) and an object without
# verity give EIO; objects without any verity are refused up front and mount with --verity optional.
. "$(dirname "$(realpath "$0")")/vm_lib.sh"
cd "$S"
mkdir -p tree/sub
head -c 5000 /dev/urandom > tree/a.bin   # first external file: the one mount probes for verity
head -c 65 /dev/urandom > tree/b.bin     # just above the 64-byte inline limit
head -c 9000 /dev/urandom > tree/c.bin   # the one we tamper with
head -c 12289 /dev/urandom > tree/sub/d.bin
echo hello > tree/small                  # inline in the image
"$IMGCTL" compose --digest-store=objects tree img.cfs
A=$(obj_of tree/a.bin) C=$(obj_of tree/c.bin)
for f in a.bin b.bin c.bin sub/d.bin; do
  [ -f "objects/$(obj_of "tree/$f")" ] || { echo "FAIL - compose did not store tree/$f as objects/$(obj_of "tree/$f")"; exit 1; }
done
cp -a objects tampered && head -c 9000 /dev/urandom > "tampered/$C"  # same size, other bytes
cp -a objects swapped && cp tree/a.bin "swapped/$C"
cp -a objects noverity && cp -a objects plain && cp img.cfs img-plain.cfs
printf 'DIG=%s\nA=%s\nC=%s\n' "$(fsv_hex img.cfs)" "$A" "$C" > vars
cat > test.sh <<'VM'
. ./lib.sh
. ./vars
M=/mnt/m; mkdir -p $M
enable_all() {  # enable_all DIR [SKIP]: fs-verity on every file below DIR except DIR/SKIP
  for f in $(find "$1" -type f); do [ "$f" = "$1/$2" ] || fsverity enable "$f" || return 1; done
}
reads_all() { for f in a.bin b.bin c.bin small sub/d.bin; do cmp tree/$f $M/$f || return 1; done; }
eio() {  # eio FILE: reading $M/FILE fails with EIO
  dmesg -c >/dev/null
  run cat "$M/$1"; [ $rc -ne 0 ] && says "Input/output error" && return 0
  echo "# cat $M/$1: exit $rc, $(wc -c </tmp/out) bytes, stderr: $(err)"; return 1
}
kernel_says() { dmesg | grep -q "overlayfs: lower file '${C#*/}' $1"; }
mnt() { run imgctl mount "$@"; [ $rc -eq 0 ] || { cat /tmp/err; return 1; }; }
um() { imgctl umount $M; }

check "fs-verity enabled on every object" enable_all objects
check "fs-verity enabled on the image" fsverity enable img.cfs
check "the kernel measures the image as fsverity-utils did on the host" [ "$(measure img.cfs)" = "sha256:$DIG" ]
check "mount --verity require --digest <the image's digest>" mnt img.cfs $M --basedir objects --verity require --digest $DIG
check "  ... an overlay with verity=require" has_verity_require $M
check "  ... every file reads as on the host" reads_all
check "  ... umount" um

case $DIG in 0*) W=1${DIG#?};; *) W=0${DIG#?};; esac
run imgctl mount img.cfs $M --basedir objects --verity require --digest $W
check "a wrong --digest is refused (exit 1)" [ $rc -eq 1 ]
check "  ... naming both digests: $(err)" says "has fs-verity digest $DIG, expected $W"
check "  ... before anything is mounted" nothing_at $M
run imgctl mount img-plain.cfs $M --basedir objects --digest $DIG
check "--digest of an image without fs-verity is refused: $(err)" [ $rc -eq 1 ]
check "  ... saying so" says "has no fs-verity enabled"

check "fs-verity enabled on the objects with other bytes in '$C'" enable_all tampered
check "  ... which the kernel measures as another digest" not [ "$(measure tampered/$C)" = "sha256:${C%%/*}${C#*/}" ]
check "mount over the tampered objects" mnt img.cfs $M --basedir tampered --verity require --digest $DIG
check "  ... reading the tampered file gives EIO" eio c.bin
check "  ... the kernel says why" kernel_says "has the wrong fs-verity digest"
check "  ... intact files still read" cmp tree/a.bin $M/a.bin
um
check "the same through a loop device and legacy overlay options" mnt img.cfs $M --basedir tampered --verity require --loop --legacy-overlay
check "  ... with verity=require" has_verity_require $M
check "  ... reading the tampered file gives EIO" eio c.bin
check "  ... intact files still read" cmp tree/sub/d.bin $M/sub/d.bin
um
check "control: with --verity off the tampered bytes are served" mnt img.cfs $M --basedir tampered --verity off
check "  ... (they are)" cmp tampered/$C $M/c.bin
um

check "fs-verity enabled on the objects where '$C' is a copy of a.bin's" enable_all swapped
check "mount over the swapped objects" mnt img.cfs $M --basedir swapped --verity require
check "  ... reading the swapped file gives EIO" eio c.bin
check "  ... the kernel says why" kernel_says "has the wrong fs-verity digest"
check "  ... intact files still read" cmp tree/sub/d.bin $M/sub/d.bin
um

check "fs-verity enabled on every object but '$C'" enable_all noverity $C
check "  ... which has none" not fsverity measure noverity/$C 2>/dev/null
check "mount --verity require over them" mnt img.cfs $M --basedir noverity --verity require
check "  ... reading the object without verity gives EIO" eio c.bin
check "  ... the kernel says why" kernel_says "has no fs-verity digest"
check "  ... the others read" cmp tree/a.bin $M/a.bin
um

run imgctl mount img.cfs $M --basedir plain --verity require
check "objects without fs-verity: --verity require is refused (exit 1)" [ $rc -eq 1 ]
check "  ... naming the object and --verity optional: $(err)" says "object '$A' in '/disk/plain' has no fs-verity enabled; use --verity optional"
check "  ... before anything is mounted" nothing_at $M
check "--verity optional mounts them" mnt img.cfs $M --basedir plain --verity optional
check "  ... without verity=require" not has_verity_require $M
check "  ... every file reads" reads_all
um
check "--verity optional over verity objects asks for verity=require" mnt img.cfs $M --basedir objects --verity optional
check "  ... (it does)" has_verity_require $M
um
finish
VM
run_vm
