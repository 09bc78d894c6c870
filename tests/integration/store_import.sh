#!/bin/bash
# init + import: layout, digests checked by independent tools, same digest as compose, mountable.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
need_tool fsck.erofs
cd "$WORK"
check "init prints the store path" [ "$("$IMGCTL" init --repo "$R")" = "$R" ]
check "repo.json as documented" grep -q '"version":1,"digest":"fsverity-sha256-12","verity":"optional"' "$R/repo.json"
for d in objects images refs oci/blobs/sha256 tmp; do check "layout has $d/" [ -d "$R/$d" ]; done
make_tree t 40
ln t/usr/lib/sub/f2 t/usr/bin/hard
cp t/usr/lib/sub/f3 t/usr/bin/dup
img=$("$IMGCTL" import t --ref local/t --repo "$R"); rc=$?
check "import exits 0" [ "$rc" -eq 0 ]
check "import digest = compose --keep-hardlinks" [ "$img" = "$("$IMGCTL" compose --keep-hardlinks --print-digest-only t)" ]
img2=$("$IMGCTL" import t --ref local/nohl --no-hardlinks --repo "$R")
check "--no-hardlinks digest = compose" [ "$img2" = "$("$IMGCTL" compose --print-digest-only t)" ]
check "image named by its fs-verity digest (fsverity tool)" [ "$(fsv "$R/images/$img")" = "$img" ]
check "fsck.erofs accepts the stored image" fsck.erofs "$R/images/$img"
bad=0
for f in t/usr/lib/sub/*; do d=$(fsv "$f"); [ -f "$R/objects/${d:0:2}/${d:2}" ] && cmp -s "$f" "$R/objects/${d:0:2}/${d:2}" || bad=1; done
check "every file is an object named by 'fsverity digest'" [ "$bad" -eq 0 ]
check "duplicate content stored once" [ "$(find "$R/objects" -type f | wc -l)" -eq 40 ]
check "small files are not objects" [ ! -e "$R/objects/$(fsv t/etc/small | cut -c1-2)/$(fsv t/etc/small | cut -c3-)" ]
check "tmp/ is empty after import" [ -z "$(ls -A "$R/tmp")" ]
check "refs lists the ref" grep -qx "$img local/t" <<<"$("$IMGCTL" refs --repo "$R")"
check "refs --json parses" python3 -c "import json,sys; r=json.load(sys.stdin); assert {'name':'local/t','display':'local/t','image':'$img'} in r" <<<"$("$IMGCTL" refs --json --repo "$R")"
check "images --json lists both" python3 -c "import json,sys; r=json.load(sys.stdin); assert sorted(i['digest'] for i in r)==sorted(['$img','$img2']); assert all(i['meta']['source'].startswith('dir:') for i in r)" <<<"$("$IMGCTL" images --json --repo "$R")"
check "fsck is clean" "$IMGCTL" fsck --repo "$R"
mkdir mnt
unshare -m sh -c "'$IMGCTL' mount local/t mnt --repo '$R' && diff -r t mnt && [ \$(stat -c %h mnt/usr/bin/hard) -eq 2 ]" >out 2>&1
check "mounted by ref: same tree, hardlink kept" [ $? -eq 0 ]
unshare -m sh -c "'$IMGCTL' mount $img2 mnt --repo '$R' && cmp t/usr/lib/sub/f5 mnt/usr/lib/sub/f5" >out 2>&1
check "mounted by digest" [ $? -eq 0 ]
"$IMGCTL" init --repo "$WORK/req" --verity require 2>err; rc=$?
check "init --verity require refused without fs-verity" [ "$rc" -eq 1 ] && check "  and says why" grep -q "fs-verity" err
check "  and writes nothing" [ ! -e "$WORK/req" ]
sed -i 's/"version":1/"version":7/' "$R/repo.json"
"$IMGCTL" refs --repo "$R" 2>err; rc=$?
check "unknown version refused" [ "$rc" -eq 1 ] && check "  clearly" grep -q "unsupported store format version 7" err
echo garbage > "$R/repo.json"
"$IMGCTL" images --repo "$R" 2>err; rc=$?
check "garbled repo.json refused, naming it" [ "$rc" -eq 1 ] && grep -q "repo.json" err
finish
