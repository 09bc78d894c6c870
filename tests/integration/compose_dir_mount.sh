#!/bin/bash
# A directory composed by imgctl, mounted by the kernel (EROFS + overlayfs with the digest store
# as data-only layer, inside `unshare -m`), shows the same contents, modes, owners, times,
# symlinks, devices and xattrs as the source; --keep-hardlinks gives one inode for two names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compose_tree.sh"
need_tool setfattr; need_tool getfattr
cd "$WORK"
S=src
make_source $S
"$IMGCTL" compose --digest-store=store $S img
check "compose of the directory succeeds" [ -s img ]
"$IMGCTL" compose --keep-hardlinks $S hl.img
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: mounting needs root (kernel EROFS/overlay mounts)"; finish; exit; fi
mkdir m ovl
cat > inside.sh <<'INNER'
set -e
mount -t erofs -o ro,loop img m
mount -t overlay overlay -o ro,lowerdir+=m,datadir+=store,metacopy=on,redirect_dir=on ovl
diff -r --no-dereference -x fifo -x chr -x blk src ovl > diff.out 2>&1 && echo same > diff.rc || echo differ > diff.rc
# Directory sizes differ by nature (ext4 blocks vs EROFS dirents): left out.
describe() {
  find . -mindepth 1 | sort | while read -r p; do
    stat -c '%F|%n|%f|%u|%g|%s|%t|%T|%.9Y|%N' "$p" | awk -F'|' -v OFS='|' '$1 == "directory" {$6 = "-"} 1'
    getfattr -h -d -m '^(user|trusted\.test)' "$p" 2>/dev/null | grep -v '^#' || true
  done
}
(cd src && describe) > stat.src
(cd ovl && describe) > stat.ovl
getfattr -h -n trusted.overlay.opaque --only-values ovl/dir/sub > opaque.ovl 2>/dev/null || true
ls m | grep -c '^[0-9a-f][0-9a-f]$' > stubs.m || true
mkdir hlm
mount -t erofs -o ro,loop hl.img hlm
stat -c '%i %h' hlm/f65 hlm/hardlink-to-f65 > hl.stat
INNER
if ! unshare -m bash inside.sh 2>mount.err; then
  if grep -qiE 'unknown filesystem|not supported|unrecognized mount option' mount.err; then
    echo "SKIP mount part: kernel lacks EROFS or data-only overlay layers: $(cat mount.err)"; finish; exit
  fi
  fail "mounting the image: $(cat mount.err)"; finish; exit
fi
check "diff -r: mounted image has the source's contents" [ "$(cat diff.rc)" = same ]
[ "$(cat diff.rc)" = same ] || head -20 diff.out
check "stat and getfattr: type, mode, owner, file size, rdev, mtime (ns), symlink targets, xattrs" cmp -s stat.src stat.ovl
cmp -s stat.src stat.ovl || diff stat.src stat.ovl | head -10
check "an escaped trusted.overlay xattr reads back as the user set it" [ "$(cat opaque.ovl)" = y ]
check "the EROFS root holds the 256 whiteout stubs" [ "$(cat stubs.m)" = 256 ]
check "--keep-hardlinks: one inode, nlink 2, in the mounted image" [ "$(sort -u hl.stat)" = "$(head -1 hl.stat)" -a "$(wc -l < hl.stat)" = 2 -a "$(cut -d' ' -f2 hl.stat | sort -u)" = 2 ]
check "no mount leaked out of the namespace" [ -z "$(grep "$WORK" /proc/mounts)" ]
finish
