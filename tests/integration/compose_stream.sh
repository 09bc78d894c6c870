#!/bin/bash
# `compose --from-file` streams: the largest vector read from a file and from a pipe gives the
# published image (sha256 by sha256sum, fs-verity by the fsverity tool), and a write that runs
# out of space (a 1 MiB tmpfs, inside `unshare -m`) fails with the error and leaves no file.
. "$(dirname "$0")/lib.sh"
need_tool fsverity; need_tool sha256sum
V="${IMGCTL_SHARED:?}/vectors"
[ -f "$V/cs9-x86_64-developer.dump.gz" ] || { echo "FAIL - no vectors in $V"; exit 1; }
cd "$WORK"
gzip -dc "$V/cs9-x86_64-developer.dump.gz" > dev.dump
read -r sha verity < <(awk -F'\t' '$1 == "cs9-x86_64-developer.dump.gz" {print $3, $4}' "$V/expected.tsv")
printed=$("$IMGCTL" compose --print-digest --from-file dev.dump file.img)
check "digest printed for the file is the published one" [ "$printed" = "$verity" ]
check "image from the file has the published sha256" [ "$(sha256sum < file.img | cut -d' ' -f1)" = "$sha" ]
check "fsverity agrees with the printed digest" [ "$(fsverity digest file.img | cut -d' ' -f1)" = "sha256:$verity" ]
printed=$(cat dev.dump | "$IMGCTL" compose --print-digest --from-file - pipe.img)
check "digest printed for stdin is the published one" [ "$printed" = "$verity" ]
check "image from stdin is the same file" cmp -s file.img pipe.img
only=$(cat dev.dump | "$IMGCTL" compose --print-digest-only --from-file -)
check "--print-digest-only gives the same digest" [ "$only" = "$verity" ]
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: the out-of-space part mounts a tmpfs (needs root)"; finish; exit; fi
mkdir small
cat > inside.sh <<'INNER'
mount -t tmpfs -o size=1m tmpfs small || exit 99
"$IMGCTL" compose --from-file dev.dump small/img 2> enospc.err
echo $? > enospc.rc
ls -A small > left.txt
INNER
IMGCTL=$IMGCTL unshare -m bash inside.sh
check "running out of space fails with exit 1" [ "$(cat enospc.rc)" = 1 ]
check "the error names the image and says why" grep -q "'small/img'.*No space left on device" enospc.err
check "no file is left behind" [ ! -s left.txt ]
finish
