#!/bin/bash
# imgctl digest must print exactly what `fsverity digest` prints, at every tree-shape boundary.
. "$(dirname "$0")/lib.sh"
need_tool fsverity
cd "$WORK"
M=$((64 * 1024 * 1024))
i=0
for size in 0 1 4095 4096 4097 $((512 * 1024)) $((M - 1)) $M $((M + 1)); do
  i=$((i + 1))
  head -c "$size" /dev/urandom > "f$i"
  want=$(fsverity digest "f$i")
  got=$("$IMGCTL" digest "f$i")
  check "size $size: '$got'" [ "$want" = "$got" ]
done
truncate -s 1G sparse
printf 'tail' | dd of=sparse bs=1 seek=$((1024 * 1024 * 1024 - 4)) conv=notrunc status=none
check "1 GiB sparse file" [ "$(fsverity digest sparse)" = "$("$IMGCTL" digest sparse)" ]
check "several files, one line each" [ "$(fsverity digest f2 f3)" = "$("$IMGCTL" digest f2 f3)" ]
check "single thread agrees" [ "$(fsverity digest f8)" = "$("$IMGCTL" digest --threads 1 f8)" ]
"$IMGCTL" digest missing-file 2>err >/dev/null
rc=$?
check "missing file exits 1" [ "$rc" -eq 1 ]
check "missing file is named" grep -q "missing-file" err
finish
