#!/bin/sh
# PID 1 of the test VM: load modules, mount the test disk at /disk, run /disk/test.sh, power off.
export PATH=/usr/bin:/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null; done < /etc/modules.order
echo "VM: kernel $(cat /proc/sys/kernel/osrelease)"
if mount -t ext4 /dev/vda /disk; then
  cd /disk && sh /disk/test.sh 2>&1 | sed 's/^/VM| /'
  cd /; sync; umount /disk
else
  echo "VM| FAIL - cannot mount the test disk"
fi
echo "VM: done"
poweroff -f
