#!/bin/bash
# In a VM whose kernel has fs-verity: the kernel's own measurement (FS_IOC_MEASURE_VERITY, via
# `fsverity measure`) of files must equal `imgctl digest` computed before verity was enabled.
set -euo pipefail
HERE=$(dirname "$(realpath "$0")")
: "${IMGCTL:?}"
S=$(mktemp -d "${TMPDIR:-/tmp}/imgctl-vmstage.XXXXXX"); trap 'rm -rf "$S"' EXIT
mkdir "$S/files"
for size in 0 1 4095 4096 4097 524288 $((8 * 1024 * 1024 + 1)); do
  head -c "$size" /dev/urandom > "$S/files/f$size"
done
(cd "$S" && "$IMGCTL" digest files/* > expected)
cat > "$S/test.sh" <<'VM'
n=0; bad=0
while read -r digest name; do
  fsverity enable "$name" || { echo "FAIL - fsverity enable $name"; bad=$((bad+1)); continue; }
  got=$(fsverity measure "$name")
  if [ "$got" = "$digest $name" ]; then echo "ok - kernel measures $name as imgctl computed"; n=$((n+1));
  else echo "FAIL - $name: kernel '$got', imgctl '$digest'"; bad=$((bad+1)); fi
  again=$(imgctl digest "$name")
  [ "$again" = "$digest $name" ] && n=$((n+1)) || { echo "FAIL - imgctl digest of verity file $name"; bad=$((bad+1)); }
done < expected
echo "$n passed, $bad failed"
VM
out=$("$HERE/run-in-vm.sh" "$S")
echo "$out"
grep -q '^[1-9][0-9]* passed, 0 failed$' <<<"$out"
