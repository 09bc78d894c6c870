#!/bin/bash
# imgctl compose of a real directory with --digest-store: objects are named by `fsverity digest`
# of the content, fsck.erofs accepts the image, the options change the tree as in mkcomposefs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compose_tree.sh"
need_tool fsck.erofs; need_tool fsverity; need_tool setfattr
cd "$WORK"
S=src
make_source $S
"$IMGCTL" compose --digest-store=store --write-dump=tree.dump --print-digest $S img > digest
check "compose of a directory succeeds" [ -s img ]
check "--print-digest equals fsverity digest" [ "$(cat digest)" = "$(fsverity digest --compact img)" ]
check "fsck.erofs accepts the image" fsck.erofs img
# Every external file (> 64 bytes) is an object named by its fs-verity digest; nothing else is.
want=$(find $S -type f -size +64c -exec fsverity digest --compact {} + | sort -u)
have=$(cd store && find . -type f | sed 's|^\./||; s|/||' | sort)
check "objects are exactly the digests of the files > 64 bytes" [ "$want" = "$have" ]
bad=0
for o in $(cd store && find . -type f); do
  [ "$(fsverity digest --compact store/$o)" = "$(echo "$o" | sed 's|^\./||; s|/||')" ] || bad=1
done
check "each object's content has its name as digest" [ $bad -eq 0 ]
check "the dump shows a 64-byte file inline" grep -q '^/f64 64 100644 1 0 0 0 [0-9.]* - [^-]' tree.dump
check "the dump shows the escaped odd name" grep -q '^/odd\\x20name/a=b\\x20c ' tree.dump
check "no hardlinks by default (nlink 1)" grep -q '^/hardlink-to-f65 65 100644 1 ' tree.dump
# The dump of the tree composes to the same image.
"$IMGCTL" compose --from-file tree.dump again.img
check "dump of the scanned tree gives the same image" cmp -s img again.img
"$IMGCTL" compose --use-epoch --skip-devices --user-xattrs $S epoch.img --write-dump=epoch.dump
check "--use-epoch: every mtime 0" [ -z "$(awk '$8 != "0.0"' epoch.dump)" ]
check "--skip-devices: no devices" [ -z "$(grep -E '^/(chr|blk) ' epoch.dump)" ]
check "--user-xattrs: only user xattrs" [ -z "$(grep -E ' (trusted|security)\.' epoch.dump)" ]
"$IMGCTL" compose --skip-xattrs --user-xattrs $S x.img 2>/dev/null
check "--skip-xattrs with --user-xattrs is a usage error" [ $? -eq 2 ]
"$IMGCTL" compose --threads=1 $S t1.img
check "--threads=1 gives the same image" cmp -s img t1.img
"$IMGCTL" compose --keep-hardlinks --write-dump=hl.dump $S hl.img
check "--keep-hardlinks: the second name is an '@' line" grep -q '^/hardlink-to-f65 65 @100644 2 .* /f65 - -' hl.dump

finish
