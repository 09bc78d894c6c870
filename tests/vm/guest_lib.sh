# shellcheck shell=sh disable=SC2034
# Sourced by a VM test's test.sh inside the VM (busybox ash, no bash): the checks of
# tests/integration/lib.sh. The host side (vm_lib.sh) copies it into the stage as lib.sh.
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...: prints "ok - ..." or "FAIL - ..."
  desc=$1; shift
  if "$@"; then echo "ok - $desc"; passed=$((passed + 1)); else echo "FAIL - $desc"; failed=$((failed + 1)); fi
}
not() { ! "$@"; }
# run COMMAND...: its exit status in $rc, stdout in /tmp/out, stderr in /tmp/err.
run() { "$@" >/tmp/out 2>/tmp/err; rc=$?; }
says() { grep -q -- "$1" "${2:-/tmp/err}"; }  # says TEXT [FILE]: FILE (default /tmp/err) holds TEXT
err() { tr '\n' ' ' </tmp/err; }
is_overlay() { grep -q " $1 .* - overlay " /proc/self/mountinfo; }  # is_overlay MOUNTPOINT
has_verity_require() { grep " $1 .* - overlay " /proc/self/mountinfo | grep -q "verity=require"; }
nothing_at() { ! grep -q " $1 " /proc/self/mountinfo; }
measure() { fsverity measure "$1" | cut -d' ' -f1; }  # "sha256:HEX" as the kernel measures it
finish() { echo "$passed passed, $failed failed"; }
