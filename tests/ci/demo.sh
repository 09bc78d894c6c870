#!/bin/bash
# The main job on an embedded default: build imgctl, then run it on a small bundled tree.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$ROOT/tests/ci/deps.sh"
BUILD=${IMGCTL_BUILD_DIR:-$ROOT/build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$ROOT" >/dev/null
ninja -C "$BUILD" >/dev/null
IMGCTL=$BUILD/src/cli/imgctl
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgctl-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp -a "$ROOT/tests/data/demo-tree" "$WORK/tree"
echo "== fs-verity digests of the bundled demo tree's files"
find "$WORK/tree" -type f | sort | xargs "$IMGCTL" digest | sed "s|$WORK/||"
