#!/bin/bash
# imgctl pull through a fault-injecting proxy in front of a real registry: a connection cut
# mid-blob resumes with a Range request, 500/429 are retried, redirects are followed, a blob
# whose stored bytes were tampered with is refused, and a persistent 500 fails clearly.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
export IMGCTL_HTTP_BACKOFF_MS=20 IMGCTL_HTTP_RETRIES=3
free_port P; R=127.0.0.1:$P
reg_start reg "$P" || exit 1
"$IMGCTL" init --repo "$WORK/ref" >/dev/null
make_image "$WORK/src" t "$RANDOM$RANDOM"
want=$("$IMGCTL" pull --repo "$WORK/ref" --quiet "oci:$WORK/src:t")
push "oci:$WORK/src:t" "docker://$R/os/app:1"
n=0
via() {  # via MODE...: a fresh proxy with these faults and a fresh store (so every layer is
  # fetched); sets X (the proxy's address) and LOG
  n=$((n + 1)); "$IMGCTL" init --repo "$WORK/repo$n" >/dev/null
  local port; free_port port; proxy_start "$port" "$P" "$@" || return 1
  X=127.0.0.1:$port; LOG=$WORK/proxy-$port.log
}
pull() { "$IMGCTL" pull --repo "$WORK/repo$n" --quiet --insecure-registry "$X" "$@"; }

via cut=100000
d=$(pull "$X/os/app:1"); check "cut mid-blob: pull succeeds with the right image" test "$d" = "$want"
check "cut mid-blob: resumed with Range: bytes=100000-" grep -q 'range=bytes=100000-' "$LOG"
via cut=100000 norange
d=$(pull "$X/os/app:1"); check "cut, server ignores Range (200): restarted, right image" test "$d" = "$want"
via cut=100000 badrange
d=$(pull "$X/os/app:1"); check "cut, server answers the wrong range (206 bytes 0-): restarted, right image" test "$d" = "$want"
# The download file is append-only (a layer unpacks while it downloads): bytes re-sent from
# byte 0 after a cut must equal those already received; a server that sends other bytes fails.
via cut=100000 norange garble
out=$(pull "$X/os/app:1" 2>&1); [[ $out == *"changed between attempts"* ]] && ok "cut, then other bytes on the retry: refused: $out" || fail "garbled retry: $out"
check "garbled retry: no ref and no image" test -z "$(find "$WORK/repo$n/refs" "$WORK/repo$n/images" -type f)"
via stall=50000
# (2 s: on a loaded machine the proxy, which reads the whole blob before it answers, can be
# silent for a second before the first byte; a resume then starts wherever the bytes stopped.)
d=$(IMGCTL_HTTP_STALL_TIMEOUT=2 pull "$X/os/app:1"); check "stalled mid-blob: timed out and resumed, right image" test "$d" = "$want"
check "stalled mid-blob: resumed with a Range request (bytes=50000- unless the load delayed more)" grep -qE 'range=bytes=[1-9][0-9]*-' "$LOG"
via 500once
d=$(pull "$X/os/app:1"); check "500 once per request: retried" test "$d" = "$want"
via 429once
t0=$(date +%s%N); d=$(pull "$X/os/app:1"); ms=$((($(date +%s%N) - t0) / 1000000))
check "429: retried" test "$d" = "$want"
check "429: Retry-After: 1 honoured (pull took $ms ms)" test "$ms" -ge 1000
via redirect
d=$(pull "$X/os/app:1"); check "blob redirects followed" test "$d" = "$want"
check "redirect target was fetched" grep -q 'GET /r/v2/os/app/blobs/' "$LOG"
via 500always=/blobs/
out=$(pull "$X/os/app:1" 2>&1); [[ $out == *"giving up after 4 attempts (HTTP 500)"* ]] && ok "persistent 500: $out" || fail "persistent 500: $out"
out=$(pull "$X/os/nothere:1" 2>&1); [[ $out == *"not found"* ]] && ok "404: $out" || fail "404: $out"

# Tamper with the registry's stored copy of the biggest layer: the pull must refuse it.
blob=$(ls -S "$WORK/reg/data/docker/registry/v2/blobs/sha256"/*/*/data | head -1)
printf 'XXXX' | dd of="$blob" bs=1 seek=5000 conv=notrunc 2>/dev/null
n=$((n + 1)); "$IMGCTL" init --repo "$WORK/repo$n" >/dev/null; X=$R
out=$(pull "$R/os/app:1" 2>&1); [[ $out == *"does not match its digest"* ]] && ok "tampered blob: $out" || fail "tampered blob: $out"
check "no ref and no image for the refused image" test -z "$(find "$WORK/repo$n/refs" "$WORK/repo$n/images" -type f)"
finish
