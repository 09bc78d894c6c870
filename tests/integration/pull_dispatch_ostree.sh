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
finish
