#!/bin/bash
# imgctl mount: fs-verity options on a host without fs-verity give clear errors naming the
# option that works, --verity optional falls back, a writable upper layer works, and umount
# refuses what is not an overlay. Runs in a private mount namespace.
[ -n "${IMGCTL_IN_NS:-}" ] || exec unshare -m --propagation private env IMGCTL_IN_NS=1 "$0" "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_tool fsverity
cd "$WORK"
mkdir -p src/d objs mnt upper work && head -c 5000 /dev/urandom > src/d/file && echo small > src/small
"$IMGCTL" compose --digest-store=objs src img.cfs || fail "compose"
if fsverity enable img.cfs 2>/dev/null; then
  echo "# this kernel has fs-verity: the no-verity error paths are checked in the boot test"
else
  "$IMGCTL" mount img.cfs mnt --basedir objs --verity require 2>err; rc=$?
  check "--verity require fails without fs-verity (exit 1)" [ "$rc" -eq 1 ]
  check "  ... saying so: $(cat err)" grep -q "no fs-verity" err
  check "  ... and naming the option that works" grep -q -- "--verity optional" err
  check "  ... before mounting anything" bash -c "! grep -q ' $PWD/mnt ' /proc/self/mountinfo"
  want=$("$IMGCTL" digest img.cfs | cut -d' ' -f1 | sed 's/^sha256://')
  "$IMGCTL" mount img.cfs mnt --basedir objs --digest "$want" 2>err; rc=$?
  check "--digest fails without fs-verity (exit 1): $(cat err)" [ "$rc" -eq 1 ]
  check "  ... naming what works" grep -q "without --digest" err
fi
"$IMGCTL" mount img.cfs mnt --basedir objs --digest "$(printf '0%.0s' {1..64})" 2>err; rc=$?
check "a wrong --digest is refused (here for lack of fs-verity; the mismatch needs the boot test)" [ "$rc" -eq 1 ]
"$IMGCTL" mount img.cfs mnt --basedir objs --digest nothex 2>err; rc=$?
check "a malformed --digest is a usage error" [ "$rc" -eq 2 ]
"$IMGCTL" mount img.cfs mnt --basedir objs --verity optional 2>err; rc=$?
check "--verity optional falls back and mounts ($(cat err))" [ "$rc" -eq 0 ]
check "  ... with the right content" cmp -s src/d/file mnt/d/file
"$IMGCTL" umount mnt
"$IMGCTL" mount img.cfs mnt --basedir "$PWD/objs" --upperdir upper --workdir work 2>err; rc=$?
check "writable mount with --upperdir/--workdir ($(cat err))" [ "$rc" -eq 0 ]
echo changed > mnt/small && echo new > mnt/d/new
check "  ... writes land in the upper layer" [ "$(cat upper/small upper/d/new)" = "$(printf 'changed\nnew')" ]
"$IMGCTL" umount mnt && "$IMGCTL" mount img.cfs mnt --basedir objs
check "  ... the image is unchanged" [ "$(cat mnt/small)" = small ]
"$IMGCTL" umount mnt
"$IMGCTL" umount "$WORK" 2>err; rc=$?
check "umount refuses a non-overlay directory" [ "$rc" -eq 1 ] && check "  ... saying why" grep -q "not a composefs" err
"$IMGCTL" mount src/small mnt --basedir objs 2>err; rc=$?
check "mounting a non-image fails: $(cat err)" [ "$rc" -eq 1 ]
finish
