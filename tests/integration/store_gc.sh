#!/bin/bash
# gc: refs → images → objects; --dry-run removes nothing; the bytes freed are exact; what a ref
# reaches survives (and still mounts); stale tmp/ entries go.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
make_tree a 20
cp -a a b; for i in 1 2 3; do head -c 4000 /dev/urandom > b/usr/only-b$i; done
ia=$("$IMGCTL" import a --ref local/a --repo "$R")
ib=$("$IMGCTL" import b --ref local/b --repo "$R")
echo stale > "$R/tmp/stale.1"
check "gc with every image referenced removes only tmp/" [ "$("$IMGCTL" gc --repo "$R" | grep -c '^removed ')" -eq 1 ]
echo stale > "$R/tmp/stale.2"
"$IMGCTL" refs delete local/b --repo "$R"
want=(images/$ib images/$ib.json tmp/stale.2)
for i in 1 2 3; do d=$(fsv b/usr/only-b$i); want+=("objects/${d:0:2}/${d:2}"); done
want_bytes=0; for p in "${want[@]}"; do want_bytes=$((want_bytes + $(stat -c %s "$R/$p"))); done
"$IMGCTL" gc --dry-run --repo "$R" >dry
check "dry run lists exactly the unreachable files" [ "$(grep '^would remove ' dry | cut -d' ' -f3 | sort)" = "$(printf '%s\n' "${want[@]}" | sort)" ]
check "dry run removes nothing" [ -f "$R/images/$ib" ] && [ -f "$R/tmp/stale.2" ]
check "dry run reports the bytes" grep -q "^would free $want_bytes bytes (.*): 1 images, 3 objects, 0 blobs, 1 tmp entries" dry
"$IMGCTL" gc --repo "$R" >real
check "gc removes the same list" [ "$(grep '^removed ' real | cut -d' ' -f2 | sort)" = "$(printf '%s\n' "${want[@]}" | sort)" ]
check "gc reports the bytes freed" grep -q "^freed $want_bytes bytes (.*): 1 images, 3 objects, 0 blobs, 1 tmp entries" real
for p in "${want[@]}"; do check "gone: $p" [ ! -e "$R/$p" ]; done
check "objects of local/a are all there" [ "$(find "$R/objects" -type f | wc -l)" -eq 20 ]
check "fsck clean" "$IMGCTL" fsck --repo "$R"
mkdir mnt
check "local/a still mounts and matches" unshare -m sh -c "'$IMGCTL' mount local/a mnt --repo '$R' && diff -r a mnt"
check "a second gc removes nothing" grep -q "^freed 0 bytes (0 B): 0 images, 0 objects, 0 blobs, 0 tmp entries" <<<"$("$IMGCTL" gc --repo "$R")"
check "import of b again gives the same digest" [ "$("$IMGCTL" import b --ref local/b --repo "$R")" = "$ib" ]
finish
