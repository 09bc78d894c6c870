#!/bin/bash
# Crash safety: SIGKILL `imgctl import` and `imgctl gc` until 50 runs died mid-way
# (random moments inside the duration of a clean run, adapted as the machine's load changes); after each kill
# fsck is clean, and running the command again gives the same image digest as a clean run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store_lib.sh"
cd "$WORK"
"$IMGCTL" init --repo "$R" >/dev/null
for k in 0 1 2; do make_tree "t$k" 300; done
for k in 0 1 2; do want[$k]=$("$IMGCTL" compose --keep-hardlinks --print-digest-only "t$k"); done
ms() { echo $(($(date +%s%N) / 1000000)); }
# How long a clean import and gc take on this machine now: kills land uniformly inside that.
t=$(ms); "$IMGCTL" import t0 --ref local/probe --repo "$R" >/dev/null; import_ms=$(($(ms) - t))
"$IMGCTL" refs delete local/probe --repo "$R"
t=$(ms); "$IMGCTL" gc --repo "$R" >/dev/null; gc_ms=$(($(ms) - t))
echo "# a clean import takes $import_ms ms, a gc $gc_ms ms"
WANT=${STORE_CRASH_KILLS:-50}
killed=0; staged=0; bad_fsck=0; bad_digest=0; bad_gc=0
i=0
while [ "$killed" -lt "$WANT" ] && [ "$i" -lt $((WANT * 3)) ]; do
  i=$((i + 1))
  k=$((i % 3))
  if [ $((i % 2)) -eq 1 ]; then
    "$IMGCTL" import "t$k" --ref "local/t$k" --repo "$R" >/dev/null 2>&1 &
  else
    "$IMGCTL" refs delete "local/t$k" --repo "$R" 2>/dev/null
    "$IMGCTL" gc --repo "$R" >/dev/null 2>&1 &
  fi
  pid=$!
  span=$((i % 2 ? import_ms : gc_ms)); [ "$span" -gt 1 ] || span=2
  r=$(((RANDOM * 32768 + RANDOM) % span))
  sleep "$(printf '%d.%03d' $((r / 1000)) $((r % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ $? -eq 137 ]; then
    killed=$((killed + 1)); adj="* 11 / 10"
  else
    adj="* 2 / 3"  # the machine got faster (other jobs ended): aim earlier
  fi
  if [ $((i % 2)) -eq 1 ]; then import_ms=$((import_ms $adj)); else gc_ms=$((gc_ms $adj)); fi
  [ -n "$(ls -A "$R/tmp")" ] && staged=$((staged + 1))  # killed with objects staged, not yet linked
  if ! "$IMGCTL" fsck --repo "$R" >"fsck.$i" 2>&1; then bad_fsck=$((bad_fsck + 1)); echo "# round $i: fsck:"; cat "fsck.$i"; fi
  if [ $((i % 2)) -eq 1 ]; then
    got=$("$IMGCTL" import "t$k" --ref "local/t$k" --repo "$R" 2>&1)
    [ "$got" = "${want[$k]}" ] || { bad_digest=$((bad_digest + 1)); echo "# round $i: re-import gave '$got'"; }
  else
    "$IMGCTL" gc --repo "$R" >/dev/null 2>&1 || bad_gc=$((bad_gc + 1))
  fi
done
echo "# $killed of $i runs were killed by SIGKILL (the rest had finished); $staged left staged objects in tmp/"
check "at least $WANT runs killed mid-way" [ "$killed" -ge "$WANT" ]
check "fsck clean after every kill" [ "$bad_fsck" -eq 0 ]
check "every re-import gives the clean digest" [ "$bad_digest" -eq 0 ]
check "every re-run of gc succeeds" [ "$bad_gc" -eq 0 ]
check "final fsck clean" "$IMGCTL" fsck --repo "$R"
check "final gc leaves tmp/ empty" [ -z "$("$IMGCTL" gc --repo "$R" >/dev/null; ls -A "$R/tmp")" ]
mkdir mnt
for k in 0 1 2; do "$IMGCTL" import "t$k" --ref "local/t$k" --repo "$R" >/dev/null; done
check "every tree mounts and matches" unshare -m sh -c "for k in 0 1 2; do '$IMGCTL' mount local/t\$k mnt --repo '$R' && diff -r t\$k mnt && umount mnt || exit 1; done"
finish
