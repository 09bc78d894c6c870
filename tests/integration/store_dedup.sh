#!/bin/bash
# Dedup: three versions of a tree, each changing 5% of the files; objects/ grows by exactly the
# new content (file count and bytes), and the figures are printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
N=200; CHANGED=$((N / 20))
make_tree v1 "$N"
cp -a v1 v2; for i in $(seq 1 "$CHANGED"); do head -c $((3000 + i)) /dev/urandom > v2/usr/lib/sub/f$((i * 7)); done
cp -a v2 v3; for i in $(seq 1 "$CHANGED"); do head -c $((5000 + i)) /dev/urandom > v3/usr/lib/sub/f$((i * 11 + 1)); done
objbytes() { find "$R/objects" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}'; }
objcount() { find "$R/objects" -type f | wc -l; }
prev_b=0; prev_n=0
for v in v1 v2 v3; do
  "$IMGCTL" import "$v" --ref "local/$v" --repo "$R" >/dev/null || fail "import $v"
  # The content that is new in this version: files whose digest no earlier version had.
  new_b=0; new_n=0
  for f in "$v"/usr/lib/sub/*; do
    d=$(fsv "$f")
    if ! grep -qx "$d" seen 2>/dev/null; then new_b=$((new_b + $(stat -c %s "$f"))); new_n=$((new_n + 1)); echo "$d" >> seen; fi
  done
  b=$(objbytes); n=$(objcount)
  echo "# $v: objects/ $n files, $b bytes (+$((n - prev_n)) files, +$((b - prev_b)) bytes; new content $new_n files, $new_b bytes); du: $(du -sh "$R/objects" | cut -f1)"
  check "$v: objects grew by exactly the new files" [ $((n - prev_n)) -eq "$new_n" ]
  check "$v: objects grew by exactly the new bytes" [ $((b - prev_b)) -eq "$new_b" ]
  prev_b=$b; prev_n=$n
done
check "v2 changed 5% of the files" [ "$(diff -rq v1 v2 | wc -l)" -eq "$CHANGED" ]
total=$(($(bytes_of v1/usr/lib/sub) + $(bytes_of v2/usr/lib/sub) + $(bytes_of v3/usr/lib/sub)))
echo "# three versions: $total bytes of files, store objects $(objbytes) bytes ($(awk -v a="$(objbytes)" -v b="$total" 'BEGIN{printf "%.1f%%", 100*a/b}'))"
check "fsck clean" "$IMGCTL" fsck --repo "$R"
finish
