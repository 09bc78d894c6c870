#!/bin/bash
# compose a tree with every kind of file, mount it (EROFS + overlayfs, real kernel, inside a
# private mount namespace) and compare every path, type, mode, owner, size, mtime, xattr,
# symlink target and content with the source; then umount.
[ -n "${IMGCTL_IN_NS:-}" ] || exec unshare -m --propagation private env IMGCTL_IN_NS=1 "$0" "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_tool setfattr; need_tool python3
cd "$WORK"
mkdir -p src/sub/deeper src/empty objs mnt && cd src
head -c 100000 /dev/urandom > big; printf 'sixty-four bytes or less\n' > small; : > empty-file
head -c 64 /dev/urandom > exactly64; head -c 65 /dev/urandom > just65; cp big sub/same-content
ln -s small link; ln -s /nonexistent/"$(printf 'x%.0s' {1..300})" long-link; mkfifo fifo
mknod chr c 1 3; mknod blk b 8 1; ln small hard-a; ln small sub/hard-b
printf 'odd' > "a b"; printf 'odd' > $'tab\tnew\nline'; printf 'odd' > 'q=\x5c"é'; printf x > -; printf x > +plus
setfattr -n user.comment -v "hello" small; setfattr -n trusted.test -v 0x00ff01 big
setfattr -n security.x -v "label" sub; setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\0' v)" sub/deeper
setfattr -h -n trusted.onlink -v yes link; setfattr -n trusted.overlay.custom -v esc exactly64
chown 1234:5678 small; chown 70000:70001 big; chmod 4755 big; chmod 1777 sub; chmod 0400 just65
find . -exec touch -h -d @1700000000.123456789 {} +; touch -h -d @1000000000 link; cd ..
"$IMGCTL" compose --digest-store=objs src img.cfs; rc=$?
check "compose --digest-store" [ "$rc" -eq 0 ]
check "objects were stored" [ -n "$(find objs -type f | head -1)" ]
"$IMGCTL" mount img.cfs mnt --basedir "$PWD/objs" 2>err; rc=$?
check "mount exits 0 ($(cat err))" [ "$rc" -eq 0 ]
check "the mount is an overlay" grep -q " $PWD/mnt .* - overlay composefs " /proc/self/mountinfo
check "no EROFS mount stays visible" bash -c "! grep -q ' - erofs ' /proc/self/mountinfo"
check "no temporary mount directory is left" bash -c "! ls -d /run/.imgctl-erofs-* /tmp/.imgctl-erofs-* 2>/dev/null"
python3 "$HERE/compare_trees.py" src mnt > cmp.txt; rc=$?
tail -5 cmp.txt
check "mounted tree equals the source tree" [ "$rc" -eq 0 ]
check "comparison covered every path" grep -q "compared 22 paths" cmp.txt
cp -a src copy && setfattr -n user.comment -v other copy/small && touch -h -d @5 copy/link
check "the comparison sees a changed xattr and mtime" bash -c "! python3 '$HERE/compare_trees.py' src copy >/dev/null"
"$IMGCTL" umount mnt; rc=$?
check "umount exits 0" [ "$rc" -eq 0 ]
check "nothing mounted after umount" bash -c "! grep -q ' $PWD/mnt ' /proc/self/mountinfo"
"$IMGCTL" compose --keep-hardlinks --digest-store=objs src hl.cfs && "$IMGCTL" mount hl.cfs mnt --basedir objs
check "--keep-hardlinks: one inode under three names" [ "$(stat -c %i mnt/small mnt/hard-a mnt/sub/hard-b | sort -u | wc -l)" -eq 1 ]
check "  ... with nlink 3" [ "$(stat -c %h mnt/small)" -eq 3 ]
python3 "$HERE/compare_trees.py" src mnt >/dev/null
check "  ... and the same tree" [ $? -eq 0 ]
"$IMGCTL" umount mnt
finish
