#!/bin/bash
# The README's main command (tests/ci/demo.sh) works: it pulls the demo image from the registry it
# starts, and the mounted image shows the bundled tree's content.
. "$(dirname "$0")/lib.sh"
out=$("$IMGCTL_SOURCE_ROOT/tests/ci/demo.sh" 2>&1); rc=$?
echo "$out" | tail -5
check "demo exits 0" [ "$rc" -eq 0 ]
check "demo pulled an image" grep -Eq '^== done: pulled docker://127.0.0.1:[0-9]+/demo/os:1 as image [0-9a-f]{64}$' <<<"$out"
check "fsck of the demo store is clean" grep -q '0 problem(s)' <<<"$out"
check "an inline file reads back from the mount" grep -q 'hello from the imgctl demo image' <<<"$out"
check "an object-backed file reads back from the mount" grep -q 'Smaller files are kept inline' <<<"$out"
finish
