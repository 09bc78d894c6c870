#!/bin/bash
# Locking: a writer waits for a held lock with a message naming the holder, or fails at once
# with --no-wait; readers share the lock. The holder is util-linux flock(1), not imgctl.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
need_tool flock
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
make_tree t 5
flock "$R/lock" sh -c 'echo $$ > "$0/lock"; exec sleep 3' "$R" &
holder=$!
sleep 0.5
start=$(date +%s.%N)
"$IMGCTL" import t --ref local/t --no-wait --repo "$R" 2>err; rc=$?
sleeper=$(cat "$R/lock")
check "--no-wait fails at once" [ "$rc" -eq 1 ] && check "  naming the holder" grep -q "locked by pid $sleeper (sleep)" err
check "  in well under a second" awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { exit !(e - s < 1) }'
"$IMGCTL" import t --ref local/t --repo "$R" >out 2>err; rc=$?
check "a waiting writer succeeds once the lock is free" [ "$rc" -eq 0 ]
check "  after saying who it waited for" grep -q "waiting for the lock on '.*/lock' held by pid $sleeper (sleep)" err
check "  and the holder had really finished" not kill -0 "$holder" 2>/dev/null
wait
flock -s "$R/lock" sleep 2 &
sleep 0.3
check "a reader runs while another reader holds the lock" "$IMGCTL" refs --no-wait --repo "$R" >/dev/null
"$IMGCTL" gc --no-wait --repo "$R" >/dev/null 2>err; rc=$?
check "gc (a writer) does not" [ "$rc" -eq 1 ] && check "  clearly" grep -q "is locked by" err
wait
check "the holder hint is cleared when a writer ends" [ ! -s "$R/lock" ]
check "fsck clean" "$IMGCTL" fsck --repo "$R"
finish
