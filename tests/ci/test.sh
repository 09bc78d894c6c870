#!/bin/bash
# The whole default test suite: install dependencies, build, run. Ends with meson's summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$ROOT/tests/ci/deps.sh"
BUILD=${IMGCTL_BUILD_DIR:-$ROOT/build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT"
fi
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"
