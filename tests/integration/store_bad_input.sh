#!/bin/bash
# Bad input: each gets a clear error and nothing in the store is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
make_tree t 10
img=$("$IMGCTL" import t --ref local/t --repo "$R")
"$IMGCTL" import t --ref ../x --repo "$R" 2>err; rc=$?
check "import --ref with '..': usage error" [ "$rc" -eq 2 ] && check "  naming the ref" grep -q "invalid ref name '../x'" err
"$IMGCTL" refs set ../../escape "$img" --repo "$R" 2>err; rc=$?
check "refs set '../../escape' refused" [ "$rc" -eq 1 ] && check "  nothing outside" [ ! -e "$WORK/escape" ]
mkdir mnt
"$IMGCTL" mount 'zz!not-a-digest' mnt --repo "$R" 2>err; rc=$?
check "mount of a non-digest, non-ref name refused" [ "$rc" -eq 1 ] && check "  clearly" grep -q "neither an image digest" err
echo junk > "$R/images/evil"
"$IMGCTL" mount evil mnt --repo "$R" 2>err; rc=$?
check "a planted images/evil is never mounted" [ "$rc" -eq 1 ] && check "  (no such image or ref)" grep -q "no image or ref 'evil'" err
check "fsck reports images/evil" grep -q "^images/evil: unexpected entry" <<<"$("$IMGCTL" fsck --repo "$R" 2>/dev/null)"
rm "$R/images/evil"
# A symlink planted under an object's name, pointing outside the repository.
head -c 5000 /dev/urandom > t/usr/new; d=$(fsv t/usr/new)
echo "outside" > "$WORK/outside"; mkdir -p "$R/objects/${d:0:2}"; ln -s "$WORK/outside" "$R/objects/${d:0:2}/${d:2}"
"$IMGCTL" import t --ref local/t2 --repo "$R" 2>err; rc=$?
check "import over a planted symlink fails" [ "$rc" -eq 1 ] && check "  clearly" grep -q "is not a regular file" err
check "  the symlink target is untouched" [ "$(cat "$WORK/outside")" = "outside" ]
check "fsck names the symlink" grep -q "^objects/${d:0:2}/${d:2}: is a symlink" <<<"$("$IMGCTL" fsck --repo "$R" 2>/dev/null)"
"$IMGCTL" gc --repo "$R" >/dev/null
check "gc leaves the target alone" [ "$(cat "$WORK/outside")" = "outside" ]
"$IMGCTL" fsck --repair --repo "$R" >/dev/null 2>&1
check "after repair the import works" "$IMGCTL" import t --ref local/t2 --repo "$R" >/dev/null
check "  and the target is still untouched" [ "$(cat "$WORK/outside")" = "outside" ]
check "local/t survived all of it" [ "$("$IMGCTL" refs --repo "$R" | grep ' local/t$' | cut -d' ' -f1)" = "$img" ]
# A read-only store (root ignores mode bits: a read-only bind mount) and a full file system.
export IMGCTL R WORK
unshare -m bash -c '
  mount --bind -o ro "$R" "$R" || exit 9
  "$IMGCTL" import "$WORK/t" --ref local/ro --repo "$R" 2>"$WORK/err-ro"; echo "ro-import $?"
  "$IMGCTL" refs --repo "$R" >/dev/null && echo "ro-read ok"
  "$IMGCTL" fsck --repo "$R" >/dev/null 2>&1 && echo "ro-fsck ok"
' >out
check "read-only store: import exits 1" grep -qx "ro-import 1" out && check "  saying it is not writable" grep -q "not writable" err-ro
check "read-only store: reading still works" grep -qx "ro-read ok" out && check "  fsck too" grep -qx "ro-fsck ok" out
mkdir small big
make_tree small 5; for i in 1 2 3 4; do head -c 800000 /dev/urandom > big/f$i; done
unshare -m bash -c '
  mkdir "$WORK/tiny" && mount -t tmpfs -o size=2m tmpfs "$WORK/tiny" || exit 9
  T="$WORK/tiny/repo"; "$IMGCTL" init --repo "$T" >/dev/null
  s=$("$IMGCTL" import "$WORK/small" --ref local/small --repo "$T")
  "$IMGCTL" import "$WORK/big" --ref local/big --repo "$T" 2>"$WORK/err-full"; echo "full-import $?"
  "$IMGCTL" fsck --repo "$T" >/dev/null 2>&1 && echo "full-fsck ok"
  [ "$("$IMGCTL" refs --repo "$T")" = "$s local/small" ] && echo "full-refs ok"
  "$IMGCTL" gc --repo "$T" >/dev/null && [ -z "$(ls -A "$T/tmp")" ] && echo "full-gc ok"
  "$IMGCTL" mount local/small "$WORK/mnt" --repo "$T" && diff -r "$WORK/small" "$WORK/mnt" && echo "full-mount ok"
' >out
check "full fs: import exits 1" grep -qx "full-import 1" out && check "  with ENOSPC" grep -q "No space left on device" err-full
check "full fs: fsck clean afterwards" grep -qx "full-fsck ok" out
check "full fs: the earlier ref is intact" grep -qx "full-refs ok" out
check "full fs: gc clears the leftovers" grep -qx "full-gc ok" out
check "full fs: the earlier image still mounts and matches" grep -qx "full-mount ok" out
finish
