#!/bin/bash
# An imported OSTree commit (archive and bare-user repos), mounted as composefs, holds exactly
# what `ostree checkout` of the same commit holds (with /usr/etc moved to /etc).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ostree_lib.sh"
need_tool unshare
need_tool fsck.erofs
fsck_quiet() { fsck.erofs "$1" >/dev/null 2>&1; }
cd "$WORK"
make_os_tree src
"$IMGCTL" init --repo store --verity optional >/dev/null || { fail "imgctl init"; finish; exit 1; }
for mode in archive bare-user; do
  ostree init --repo=repo-$mode --mode=$mode
  ostree commit --repo=repo-$mode -b exampleos/x86_64/stable --subject="test $mode" \
    --add-metadata-string=version=42.$mode src >/dev/null
  digest=$("$IMGCTL" pull-ostree --repo store "ostree:$WORK/repo-$mode:exampleos/x86_64/stable" 2>err)
  check "$mode: import succeeds ($(head -c 300 err))" [ ${#digest} -eq 64 ]
  ostree checkout --repo=repo-$mode exampleos/x86_64/stable co-$mode
  mv co-$mode/usr/etc co-$mode/etc
  manifest co-$mode > want-$mode
  mounted_manifest store "$digest" > got-$mode 2>mount-err
  check "$mode: mounted image lists $(wc -l < want-$mode) paths" [ "$(wc -l < got-$mode)" -eq "$(wc -l < want-$mode)" ]
  check "$mode: image equals checkout path by path" diff -u want-$mode got-$mode
  check "$mode: xattrs came through" grep -q 'security.selinux=0x73797374656d5f75' got-$mode
  check "$mode: ref names the image" [ "$(cat "store/refs/ostree/$(ls store/refs/ostree | grep "repo-$mode")/exampleos%2Fx86_64%2Fstable")" = "$digest" ]
  check "$mode: image metadata has the commit" grep -q "\"commit\":\"$(ostree rev-parse --repo=repo-$mode exampleos/x86_64/stable)\"" "store/images/$digest.json"
  check "$mode: image metadata has the version" grep -q "\"version\":\"42.$mode\"" "store/images/$digest.json"
  check "$mode: fsck.erofs accepts the image" fsck_quiet "store/images/$digest"
done
check "both repo modes give the same image" [ "$(cat store/refs/ostree/*repo-archive/*)" = "$(cat store/refs/ostree/*repo-bare-user/*)" ]
# Hardlinks: one inode, two names; every mtime 0 (docs/ostree.md).
unshare -m bash -c 'set -e; mkdir -p m e; mount -t erofs -o ro,loop "store/images/$1" e
  stat -c "%i %h" e/usr/share/hard1 e/usr/share/hard2; find e -printf "%T@\n" | sort -u' _ "$digest" > links
check "hardlinked files share one inode with nlink 2" [ "$(sed -n 1p links | cut -d' ' -f2)" = 2 ] 
check "hardlinked files share one inode" [ "$(sed -n 1p links)" = "$(sed -n 2p links)" ]
check "every mtime is 0" [ "$(sed -n '3,$p' links)" = "0.0000000000" ]
# A commit with both /etc and /usr/etc is refused, and nothing is stored for it.
mkdir src/etc && ostree commit --repo=repo-archive -b both src >/dev/null
images_before=$(ls store/images | wc -l)
"$IMGCTL" pull-ostree --repo store "ostree:$WORK/repo-archive:both" >/dev/null 2>err
check "both /etc and /usr/etc: exit 1" [ $? -eq 1 ]
check "both /etc and /usr/etc: says so" grep -q "both /etc and /usr/etc" err
check "both /etc and /usr/etc: no image" [ "$(ls store/images | wc -l)" -eq "$images_before" ]
"$IMGCTL" pull-ostree --repo store "ostree:$WORK/repo-archive:no/such/ref" >/dev/null 2>err
check "missing ref: exit 1 naming it" grep -q "no/such/ref" err
finish
