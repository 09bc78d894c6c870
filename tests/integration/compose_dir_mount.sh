#!/bin/bash
# imgctl compose of a real directory: objects in --digest-store are named by `fsverity digest`
# of the content, fsck.erofs accepts the image, and the image mounted by the kernel (EROFS +
# overlayfs with the store as data-only layer, inside `unshare -m`) shows the same contents,
# modes, owners, times, symlinks, devices and xattrs as the source.
. "$(dirname "$0")/lib.sh"
need_tool fsck.erofs; need_tool fsverity; need_tool setfattr; need_tool getfattr
cd "$WORK"
S=src
mkdir -p $S/dir/sub $S/empty "$S/odd name" $S/deep/a/b/c
head -c 64 /dev/urandom > $S/f64; head -c 65 /dev/urandom > $S/f65
head -c 1 /dev/urandom > $S/f1; : > $S/f0
head -c 4096 /dev/urandom > $S/dir/f4096; head -c 1048577 /dev/urandom > $S/dir/sub/big
cp $S/f65 $S/dir/same-as-f65       # identical content: one object
printf 'x=y\n' > "$S/odd name/a=b c"
printf 'deep\n' > $S/deep/a/b/c/file
ln -s f64 $S/link; ln -s "$(head -c 3000 /dev/zero | tr '\0' 'l')" $S/longlink
ln -s /nonexistent/target $S/dangling
ln $S/f65 $S/hardlink-to-f65
mkfifo $S/fifo
mknod $S/chr c 1 3; mknod $S/blk b 8 1
chown 1234:5678 $S/dir/f4096; chmod 4751 $S/dir/sub/big; chmod 1777 $S/empty; chmod 0600 $S/f1
setfattr -n user.color -v blue $S/f65
setfattr -n user.empty $S/dir
setfattr -n trusted.overlay.opaque -v y $S/dir/sub   # a user overlay xattr: escaped in the image
setfattr -n trusted.test -v t $S/f64
touch -h -d '2001-02-03 04:05:06.123456789' $S/link
touch -d '1999-12-31 23:59:59.5' $S/f0
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
check "the dump shows the escaped odd name" grep -q '^/odd\\x20name/a\\x3db\\x20c\|^/odd\\x20name/a=b\\x20c' tree.dump
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

if [ "$(id -u)" -ne 0 ]; then echo "SKIP mount part: needs root (kernel EROFS/overlay mounts)"; finish; exit; fi
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
check "no mount leaked out of the namespace" [ -z "$(grep "$WORK" /proc/mounts)" ]
finish
