#!/bin/bash
# The import digest cache: a re-import reads no content (strace) and gives the same digest; a
# file rewritten with its mtime reset, a garbage cache, a removed object, a racy file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
need_tool strace
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
make_tree t 30
ln t/usr/lib/sub/f2 t/usr/bin/hard
sleep 4  # older than the racy margin (3 s), so the first import may record every file
# imp NAME [ARGS]: imports t under strace; sets D (digest), LOG (the debug log), READS (how many
# reads of the content of t/usr/ files, all > 64 bytes: read, pread64, copy_file_range, FICLONE
# or mmap on their descriptors). TRACE=0: no strace (quick, for the racy case).
T=$(realpath t)
imp() {
  local n=$1; shift
  local tracer=(strace -f -y -qq -o "$n.strace" -e trace=read,pread64,copy_file_range,mmap,ioctl)
  [ "${TRACE:-1}" = 1 ] || { tracer=(); : > "$n.strace"; }
  D=$(IMGCTL_LOG=debug "${tracer[@]}" "$IMGCTL" import t --ref "local/$n" --repo "$R" "$@" 2>"$n.log")
  LOG=$(grep -o '[0-9]* files hashed, [0-9]* from cache' "$n.log")
  READS=$(grep -cE "^[0-9]+ +(read|pread64|copy_file_range|ioctl)\([0-9]+<$T/usr/|mmap\(.*[0-9]+<$T/usr/" "$n.strace")
}
want=$("$IMGCTL" compose --keep-hardlinks --print-digest-only t)
imp first
check "first import: digest = compose" [ "$D" = "$want" ]
check "first import hashes every file ($LOG)" [ "$LOG" = "30 files hashed, 0 from cache" ]
check "first import: strace sees content reads ($READS)" [ "$READS" -gt 30 ]
check "cache file written" [ -s "$R/cache/digests" ]
imp second
check "second import: same digest" [ "$D" = "$want" ]
check "second import: all from cache ($LOG)" [ "$LOG" = "0 files hashed, 30 from cache" ]
check "second import reads no file content ($READS reads)" [ "$READS" -eq 0 ]

# Same size, new content, mtime put back: ctime still changes, so the file is read again.
f=t/usr/lib/sub/f7
mt=$(stat -c %y "$f")
old=$(fsv "$f")
head -c "$(stat -c %s "$f")" /dev/urandom > new && cat new > "$f" && touch -d "$mt" "$f"
check "  (the test kept size and mtime)" [ "$(stat -c %y "$f")" = "$mt" ]
new=$(fsv "$f")
imp rewritten
check "rewritten file is hashed again ($LOG)" [ "$LOG" = "1 files hashed, 29 from cache" ]
check "  digest = compose of the changed tree" [ "$D" = "$("$IMGCTL" compose --keep-hardlinks --print-digest-only t)" ]
check "  and differs from before" [ "$D" != "$want" ]
check "  new content stored under its 'fsverity digest' name" cmp "$f" "$R/objects/${new:0:2}/${new:2}"
check "  the image names the new object" grep -q "${new:0:2}/${new:2}" <("$IMGCTL" dump "$R/images/$D")
check "  not the old one" not grep -q "${old:0:2}/${old:2}" <("$IMGCTL" dump "$R/images/$D")
want=$D
TRACE=0 imp racy
check "a file changed just before an import is not remembered ($LOG)" [ "$LOG" = "1 files hashed, 29 from cache" ]
sleep 4  # f7 is no longer racy

head -c 5000 /dev/urandom > "$R/cache/digests"
imp garbage
check "garbage cache: import succeeds, same digest" [ "$D" = "$want" ]
check "  every file hashed ($LOG)" [ "$LOG" = "30 files hashed, 0 from cache" ]
check "  and says it ignored the cache" grep -q "ignoring the unreadable digest cache" garbage.log
head -c 1000 "$R/cache/digests" > cut && cat cut > "$R/cache/digests"
imp truncated
check "truncated cache ignored too ($LOG)" [ "$LOG" = "30 files hashed, 0 from cache" ]
imp rewritten2
check "the cache was rewritten ($LOG)" [ "$LOG" = "0 files hashed, 30 from cache" ]

d=$(fsv t/usr/lib/sub/f3)
rm "$R/objects/${d:0:2}/${d:2}"
imp removed
check "object removed from the store: file hashed again ($LOG)" [ "$LOG" = "1 files hashed, 29 from cache" ]
check "  and stored again" cmp t/usr/lib/sub/f3 "$R/objects/${d:0:2}/${d:2}"
check "  fsck is clean" "$IMGCTL" fsck --repo "$R"

cp "$R/cache/digests" before
imp nocache --no-cache
check "--no-cache hashes every file ($LOG)" [ "$LOG" = "30 files hashed, 0 from cache" ]
check "  same digest" [ "$D" = "$want" ]
check "  leaves the cache as it was" cmp before "$R/cache/digests"
"$IMGCTL" gc --repo "$R" >/dev/null
check "gc leaves the cache" cmp before "$R/cache/digests"
finish
