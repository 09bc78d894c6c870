#!/bin/bash
# In a VM: on an ext4 that has the verity feature but 1 KiB blocks, FS_IOC_ENABLE_VERITY with
# 4 KiB Merkle blocks fails with EINVAL. A default ('optional') store must still work there
# (init, import, mount --repo, fsck: digests recomputed), and 'require' is refused up front.
. "$(dirname "$(realpath "$0")")/vm_lib.sh"
cd "$S"
mkfs.ext4 -q -F -b 1024 -O verity small.img 16M
mkdir -p tree && head -c 5000 /dev/urandom > tree/f1 && head -c 300 /dev/urandom > tree/f2 && echo hi > tree/small
cat > test.sh <<'VM'
. ./lib.sh
D=/tmp/small R=/tmp/small/repo M=/mnt/m; mkdir -p $D $M
check "loop-mount the 1 KiB-block ext4" mount -o loop /disk/small.img $D
head -c 5000 /dev/urandom > $D/probe
run fsverity enable $D/probe
check "control: fsverity-utils cannot enable 4 KiB-block verity there: $(err)" says "Invalid argument"
run imgctl init --verity require --repo $D/strict
check "init --verity require is refused (exit 1)" [ $rc -eq 1 ]
check "  ... saying why: $(err)" says "does not support fs-verity"
check "  ... before anything is written" [ ! -e $D/strict ]
run imgctl init --repo $R
check "init (verity optional) works: $(err)" [ $rc -eq 0 ]
run imgctl import tree --ref local/t --repo $R
check "import works: $(err)" [ $rc -eq 0 ]
run imgctl mount local/t $M --repo $R
check "mount --repo works: $(err)" [ $rc -eq 0 ]
check "  ... without verity=require" eval "is_overlay $M && not has_verity_require $M"
check "  ... and reads" cmp tree/f1 $M/f1
imgctl umount $M
run imgctl fsck --repo $R
check "fsck is clean: $(err)" [ $rc -eq 0 ]
umount $D
finish
VM
run_vm
