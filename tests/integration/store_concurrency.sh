#!/bin/bash
# Concurrency: two imports and a gc at the same time, repeated; every command succeeds, the
# refs name the right digests and fsck is clean after each round.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
make_tree a 150; make_tree b 150
cp a/usr/lib/sub/f1 b/usr/shared-with-a   # some content both imports store at once
wa=$("$IMGCTL" compose --keep-hardlinks --print-digest-only a)
wb=$("$IMGCTL" compose --keep-hardlinks --print-digest-only b)
failed=0; unclean=0; wrong=0
for i in $(seq 1 8); do
  "$IMGCTL" refs delete local/a --repo "$R" 2>/dev/null
  "$IMGCTL" import a --ref local/a --repo "$R" >"a.$i" 2>"a-err.$i" & p1=$!
  "$IMGCTL" import b --ref local/b --repo "$R" >"b.$i" 2>"b-err.$i" & p2=$!
  "$IMGCTL" gc --repo "$R" >"gc.$i" 2>&1 & p3=$!
  for p in $p1 $p2 $p3; do wait "$p" || failed=$((failed + 1)); done
  "$IMGCTL" fsck --repo "$R" >"fsck.$i" 2>&1 || { unclean=$((unclean + 1)); cat "fsck.$i"; }
  [ "$(cat "a.$i")" = "$wa" ] && [ "$(cat "b.$i")" = "$wb" ] || wrong=$((wrong + 1))
  [ "$("$IMGCTL" refs --repo "$R" | sort)" = "$(printf '%s local/a\n%s local/b\n' "$wa" "$wb" | sort)" ] || wrong=$((wrong + 1))
done
check "every import and gc succeeded" [ "$failed" -eq 0 ]
check "fsck clean after every round" [ "$unclean" -eq 0 ]
check "digests and refs right every round" [ "$wrong" -eq 0 ]
check "some runs waited for the lock" grep -lq "waiting for the lock" a-err.* b-err.* gc.*
check "objects: exactly the union of both trees" [ "$(find "$R/objects" -type f | wc -l)" -eq 300 ]
finish
