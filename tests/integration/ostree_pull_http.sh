#!/bin/bash
# Pulling over HTTP gives the same image as reading the repo in place; GPG is verified unless
# --no-gpg-verify; a server dying mid-pull gives a clean error and leaves the store unchanged.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/ostree_lib.sh"
need_tool python3
cd "$WORK"
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$WORK"' EXIT
make_os_tree src
ostree init --repo=repo --mode=archive
ostree commit --repo=repo -b os/stable src >/dev/null
"$IMGCTL" init --repo store --verity optional >/dev/null || { fail "imgctl init"; finish; exit 1; }
local_digest=$("$IMGCTL" pull-ostree --repo store "ostree:$WORK/repo:os/stable")
snapshot() { (cd store && find objects images refs tmp -type f | sort); }

# 1. A server that dies after a few requests: exit 1, the URL in the message, nothing new stored.
python3 "$HERE/ostree_flaky_server.py" repo port 6 & SRV=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { fail "the flaky server did not start"; finish; exit 1; }
url="http://127.0.0.1:$(cat port)/"
snapshot > before
timeout 120 "$IMGCTL" pull-ostree --repo store --no-gpg-verify "ostree:$url:os/stable" >out 2>err
check "interrupted pull exits 1" [ $? -eq 1 ]
check "interrupted pull names the URL ($(head -c 300 err))" grep -qF "$url" err
check "interrupted pull prints no digest" [ ! -s out ]
check "the server answered 6 requests, then died" [ "$(cat port.served 2>/dev/null)" = 6 ]
snapshot > after
check "interrupted pull leaves objects, images, refs and tmp unchanged" diff -u before after
kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=

# 2. The real python3 http.server: default GPG verification refuses the unsigned commit.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory repo "$port" >/dev/null 2>&1 & SRV=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/config" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port"
"$IMGCTL" pull-ostree --repo store "ostree:$url:os/stable" >out 2>err
check "unsigned commit with GPG verification: exit 1" [ $? -eq 1 ]
check "unsigned commit: the error says GPG and the opt-out" grep -q "GPG.*--no-gpg-verify" err
snapshot > after
check "refused pull stores nothing" diff -u before after

# 3. --no-gpg-verify: the same commit gives the same image as the local import, under its own ref.
digest=$("$IMGCTL" pull-ostree --repo store --no-gpg-verify "ostree:$url:os/stable" 2>err)
check "HTTP pull succeeds ($(head -c 300 err))" [ ${#digest} -eq 64 ]
check "HTTP pull gives the same image as the local repo" [ "$digest" = "$local_digest" ]
check "HTTP ref is set" [ "$(cat "store/refs/ostree/http%3A%2F%2F127.0.0.1%3A$port/os%2Fstable")" = "$digest" ]
check "objects were not stored twice" [ "$(snapshot | grep -c ^objects/)" -eq "$(grep -c ^objects/ before)" ]
check "metadata records the URL" grep -qF "\"source\":\"ostree:$url:os/stable\"" "store/images/$digest.json"
finish
