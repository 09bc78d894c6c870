# shellcheck shell=bash
# Sourced by the host side of a VM test: makes the stage directory $S (it becomes /disk in the
# VM, with tests/vm/guest_lib.sh as lib.sh), and run_vm boots the VM on it, prints the output
# and succeeds only when the guest's test.sh reported "N passed, 0 failed" with N > 0.
set -euo pipefail
VM_HERE=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
: "${IMGCTL:?}"
command -v fsverity >/dev/null || { echo "FAIL - fsverity (fsverity-utils) is missing"; exit 1; }
S=$(mktemp -d "${TMPDIR:-/tmp}/imgctl-vmstage.XXXXXX"); trap 'rm -rf "$S"' EXIT
cp "$VM_HERE/guest_lib.sh" "$S/lib.sh"
run_vm() {
  local out
  out=$("$VM_HERE/run-in-vm.sh" "$S")
  echo "$out"
  grep -q '^[1-9][0-9]* passed, 0 failed$' <<<"$out"
}
# The fs-verity digest of a file as fsverity-utils computes it (independent of imgctl): hex only.
fsv_hex() { local d; d=$(fsverity digest "$1"); d=${d%% *}; echo "${d#sha256:}"; }
# The store/basedir path of a file's object: XX/<62 hex>.
obj_of() { local d; d=$(fsv_hex "$1"); echo "${d:0:2}/${d:2}"; }
