#!/bin/bash
# `imgctl pull ostree:REPO:REF` is the OSTree import (imgctl pull-ostree), options included.
source "$(dirname "$0")/lib.sh"
need_tool ostree
cd "$WORK"
mkdir -p src/usr/bin src/usr/etc
printf 'dispatch test %s\n' "$RANDOM" > src/usr/etc/os-release
head -c 5000 /dev/urandom > src/usr/bin/tool
ostree init --repo=repo --mode=archive
ostree commit --repo=repo -b os/stable --subject=t src >/dev/null
"$IMGCTL" init --repo store >/dev/null
"$IMGCTL" init --repo store2 >/dev/null
a=$("$IMGCTL" pull --repo store "ostree:$WORK/repo:os/stable" 2>err) ; rc=$?
check "pull ostree: succeeds ($(head -c 200 err))" test "$rc" -eq 0 -a "${#a}" -eq 64
b=$("$IMGCTL" pull-ostree --repo store2 "ostree:$WORK/repo:os/stable")
check "same image as pull-ostree" [ "$a" = "$b" ]
check "its options pass through (--json)" grep -q '"commit"' <<<"$("$IMGCTL" pull --json --repo store "ostree:$WORK/repo:os/stable")"
# --quiet and --progress-fd work for ostree: sources too (start and end lines, docs/progress-fd.md).
c=$("$IMGCTL" pull --quiet --repo store --progress-fd 3 "ostree:$WORK/repo:os/stable" 3>"$WORK/ev.jsonl")
python3 -c 'import json,sys; ev=[json.loads(l) for l in open(sys.argv[1])]
assert ev[0]["type"]=="start" and ev[0]["source"]==sys.argv[3], ev
assert ev[-1]["type"]=="end" and ev[-1]["ok"] is True and ev[-1]["image"]==sys.argv[2], ev' "$WORK/ev.jsonl" "$a" "ostree:$WORK/repo:os/stable" &&
  ok "pull --quiet --progress-fd ostree:" || fail "progress events for ostree: '$c' $(cat "$WORK/ev.jsonl")"
"$IMGCTL" pull --repo store --progress-fd 3 "ostree:$WORK/repo:no/such/ref" 3>"$WORK/ev2.jsonl" 2>/dev/null
python3 -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1])][-1]; assert e["ok"] is False and "no/such/ref" in e["error"], e' "$WORK/ev2.jsonl" &&
  ok "failed ostree pull: end event with the error" || fail "failed ostree pull events: $(cat "$WORK/ev2.jsonl")"
finish
