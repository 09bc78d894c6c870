#!/bin/bash
# The fallback paths of imgctl mount on the real kernel: the EROFS through a read-only
# autoclear loop device (--loop, what kernels < 6.12 need) and the legacy overlay options
# 'lowerdir=IMG::BASE' through mount(2) (--legacy-overlay, kernels < 6.7), alone and together.
[ -n "${IMGCTL_IN_NS:-}" ] || exec unshare -m --propagation private env IMGCTL_IN_NS=1 "$0" "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_tool losetup
cd "$WORK"
mkdir -p src/d objs mnt && head -c 70000 /dev/urandom > src/d/big && echo small > src/small && ln -s d/big src/link
"$IMGCTL" compose --digest-store=objs src img.cfs || fail "compose"
# autoclear may complete asynchronously after the last user goes: poll up to 2 s
loops_of() { for _ in $(seq 20); do [ "$(losetup -j "$WORK/img.cfs" | wc -l)" -eq 0 ] && break; sleep 0.1; done; losetup -j "$WORK/img.cfs" | wc -l; }
for opts in "--loop" "--legacy-overlay" "--loop --legacy-overlay"; do
  "$IMGCTL" mount img.cfs mnt --basedir "$PWD/objs" $opts 2>err; rc=$?
  check "mount $opts ($(cat err))" [ "$rc" -eq 0 ]
  check "  ... content of an external file" cmp -s src/d/big mnt/d/big
  check "  ... inline file and symlink" [ "$(cat mnt/small):$(readlink mnt/link)" = "small:d/big" ]
  case "$opts" in *--loop*)
    check "  ... the image is on a read-only loop device" [ "$(losetup -j "$WORK/img.cfs" -n -O RO | tr -d ' ')" = 1 ];;
  esac
  case "$opts" in *--legacy*)
    check "  ... legacy data-only lower syntax" grep -q "lowerdir=[^,]*::$PWD/objs" /proc/self/mountinfo;;
  *) check "  ... new API lowerdir+/datadir+" grep -q "lowerdir+=.*datadir+=$PWD/objs" /proc/self/mountinfo;;
  esac
  "$IMGCTL" umount mnt; rc=$?
  check "  ... umount" [ "$rc" -eq 0 ]
  check "  ... no loop device left behind (autoclear)" [ "$(loops_of)" -eq 0 ]
done
finish
