#!/bin/bash
# Tampering: one flipped byte in an object and in an image; fsck names exactly those, with the
# image paths that use the object; --repair quarantines; a re-import heals the store.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
make_tree a 20
cp -a a b && head -c 3000 /dev/urandom > b/usr/lib/sub/only-b
ia=$("$IMGCTL" import a --ref local/a --repo "$R")
ib=$("$IMGCTL" import b --ref local/b --repo "$R")
d=$(fsv a/usr/lib/sub/f7); obj="objects/${d:0:2}/${d:2}"
flip_byte "$R/$obj" 50
flip_byte "$R/images/$ib" 2000
"$IMGCTL" fsck --repo "$R" >out 2>err; rc=$?
check "fsck exits 1" [ "$rc" -eq 1 ]
check "exactly two problems" [ "$(grep -vc '^  used by' out)" -eq 2 ]
check "names the object" grep -q "^$obj: content does not match" out
check "names the image" grep -q "^images/$ib: content does not match" out
check "names the image path using the object" grep -qx "  used by images/$ia:/usr/lib/sub/f7" out
mkdir mnt
unshare -m "$IMGCTL" mount local/b mnt --repo "$R" 2>err; rc=$?
check "the damaged image is not mounted" [ "$rc" -eq 1 ] && check "  because it does not match its name" grep -q "does not match its name" err
"$IMGCTL" fsck --repair --repo "$R" >out 2>&1
check "repair moves the object aside" [ -f "$R/tmp/quarantine/${d:0:2}_${d:2}" ] && [ ! -e "$R/$obj" ]
check "repair moves the image aside" [ -f "$R/tmp/quarantine/$ib" ] && [ ! -e "$R/images/$ib" ]
"$IMGCTL" fsck --repo "$R" >out 2>&1; rc=$?
check "after repair: still not clean" [ "$rc" -eq 1 ]
check "  the object is reported missing, with its user" grep -q "^$obj: missing" out && grep -q "used by images/$ia:/usr/lib/sub/f7" out
check "  the ref to the quarantined image is reported" grep -q "^refs/local/b: names image $ib" out
check "re-import of both trees" [ "$("$IMGCTL" import a --ref local/a --repo "$R")" = "$ia" ] && [ "$("$IMGCTL" import b --ref local/b --repo "$R")" = "$ib" ]
check "fsck clean again" "$IMGCTL" fsck --repo "$R"
check "object content restored" cmp "$R/$obj" a/usr/lib/sub/f7
finish
