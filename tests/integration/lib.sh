# Shared helpers for the integration scripts (sourced). Every script ends in "N passed, N failed".
set -u
: "${IMGCTL:?IMGCTL must point to the imgctl binary}"
PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" -eq 0 ]; }
need_tool() { command -v "$1" >/dev/null || { echo "FAIL - required tool '$1' is missing (install it: tests/ci/deps.sh)"; exit 1; }; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgctl-it.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
