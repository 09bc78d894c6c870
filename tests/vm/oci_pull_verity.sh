#!/bin/bash
# In a VM with fs-verity: `imgctl pull oci:LAYOUT` into a `--verity require` store (the OCI
# pipeline's background object commits) enables fs-verity on every object and the image, and
# the image mounts with verity=require with every regular file equal to `umoci unpack`'s.
. "$(dirname "$(realpath "$0")")/vm_lib.sh"
IT=$(dirname "$(realpath "$0")")/../integration
cd "$S"
python3 "$IT/mkimage.py" layout t --salt "$RANDOM$RANDOM" >/dev/null
umoci unpack --image layout:t ref >/dev/null
(cd ref/rootfs && find . -type f | sed 's|^\./||' | sort) > files
[ "$(wc -l < files)" -gt 5 ] || { echo "FAIL - umoci unpack gave too few files"; exit 1; }
cat > test.sh <<'VM'
. ./lib.sh
R=/disk/repo M=/mnt/m; mkdir -p $M
objects_measure_as_names() {
  n=0
  for f in $(find $R/objects -type f); do
    rel=${f#$R/objects/}; n=$((n + 1))
    [ "$(measure $f)" = "sha256:${rel%%/*}${rel#*/}" ] || { echo "# $f measures $(measure $f)"; return 1; }
  done
  [ $n -gt 0 ]
}
same_files() { while read -r f; do cmp "ref/rootfs/$f" "$M/$f" || return 1; done < files; }
run imgctl init --verity require --repo $R
check "init --verity require: $(err)" [ $rc -eq 0 ]
run imgctl pull --quiet --repo $R oci:/disk/layout:t; D=$(cat /tmp/out)
check "pull oci:layout:t: $(err)" [ $rc -eq 0 ]
check "  ... the kernel measures every object as its name" objects_measure_as_names
check "  ... and the image" [ "$(measure $R/images/$D)" = "sha256:$D" ]
run imgctl mount $D $M --repo $R
check "mount --repo: $(err)" [ $rc -eq 0 ]
check "  ... with verity=require" has_verity_require $M
check "  ... every regular file equals umoci unpack's ($(wc -l < files) files)" same_files
imgctl umount $M
run imgctl fsck --repo $R
check "fsck is clean: $(err)" [ $rc -eq 0 ]
finish
VM
run_vm
