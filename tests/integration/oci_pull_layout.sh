#!/bin/bash
# imgctl pull from oci: layouts and oci-archive: files: the mounted image equals umoci unpack;
# image indexes pick the platform; tampered blobs and escaping tar entries are refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
"$IMGCTL" init --repo "$WORK/repo" >/dev/null
pull() { "$IMGCTL" pull --repo "$WORK/repo" --quiet "$@"; }
L=$WORK/layout; s=$RANDOM$RANDOM
make_image "$L" amd "$s" --arch amd64
make_image "$L" arm "$s" --arch arm64
make_image "$L" plain "$s-plain" --layer-format none
python3 "$HERE/mkimage.py" "$L" multi --index amd arm >/dev/null

for tag in amd plain; do
  d=$(pull "oci:$L:$tag") && ok "oci:$tag pull" || fail "oci:$tag pull"
  umoci unpack --image "$L:$tag" "$WORK/u-$tag" >/dev/null
  check "oci:$tag: mounted image equals umoci unpack" mount_cmp "$WORK/repo" "$d" "$WORK/u-$tag/rootfs"
done
tar -C "$L" -cf "$WORK/a.tar" .
check "oci-archive: gives the image of the same layout" test "$(pull "oci-archive:$WORK/a.tar:amd")" = "$(pull "oci:$L:amd")"
check "archive staging is cleaned up" test -z "$(ls -A "$WORK/repo/tmp")"

# An index: the host platform by default, --platform for another; an unknown one lists them.
host=$(pull "oci:$L:multi"); arm=$(pull --platform linux/arm64 "oci:$L:multi")
check "index: host platform = the amd64 image" test "$host" = "$(pull "oci:$L:amd")"
check "index: --platform linux/arm64 = the arm64 image" test "$arm" = "$(pull "oci:$L:arm")"
check "index: the two platforms differ" test "$host" != "$arm"
out=$(pull --platform linux/s390x "oci:$L:multi" 2>&1); [[ $out == *"no manifest for platform linux/s390x"*"linux/amd64, linux/arm64"* ]] && ok "unknown platform: $out" || fail "unknown platform: $out"
out=$(pull "oci:$L" 2>&1); [[ $out == *"holds 4 images"* ]] && ok "no tag: $out" || fail "no tag: $out"

# Tampering: a layer blob that no longer matches its digest.
cp -a "$L" "$WORK/bad"
blob=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]+"/index.json")); m=[x for x in i["manifests"] if x["annotations"]["org.opencontainers.image.ref.name"]=="plain"][0]; print(json.load(open(sys.argv[1]+"/blobs/sha256/"+m["digest"][7:]))["layers"][1]["digest"][7:])' "$WORK/bad")
printf 'X' | dd of="$WORK/bad/blobs/sha256/$blob" bs=1 seek=700 conv=notrunc 2>/dev/null
"$IMGCTL" init --repo "$WORK/fresh" >/dev/null  # (the good layers are known to $WORK/repo)
out=$("$IMGCTL" pull --repo "$WORK/fresh" "oci:$WORK/bad:plain" 2>&1); [[ $out == *"layer 2 of 3"*"digest mismatch"* ]] && ok "tampered layer refused: $out" || fail "tampered: $out"

# A config whose diff_id for layer 2 is wrong (the manifest and config digests are right): the
# tar does not hash to it. Refused in a fresh store, and also in a store that already holds the
# layer from the honest image (a layer record is reused only under the diff_id it was checked for).
python3 - "$L" "$WORK/lying" <<'PY'
import hashlib, json, os, shutil, sys
src, dst = sys.argv[1:]
shutil.copytree(src, dst)
blob = lambda d: os.path.join(dst, 'blobs', 'sha256', d.split(':')[1])
def put(b):
    d = 'sha256:' + hashlib.sha256(b).hexdigest(); open(blob(d), 'wb').write(b); return d, len(b)
idx = json.load(open(os.path.join(dst, 'index.json')))
m = [x for x in idx['manifests'] if x['annotations']['org.opencontainers.image.ref.name'] == 'plain'][0]
man = json.load(open(blob(m['digest'])))
cfg = json.load(open(blob(man['config']['digest'])))
cfg['rootfs']['diff_ids'][1] = 'sha256:' + '0' * 64
man['config']['digest'], man['config']['size'] = put(json.dumps(cfg).encode())
m['digest'], m['size'] = put(json.dumps(man).encode())
m['annotations']['org.opencontainers.image.ref.name'] = 'lying'
idx['manifests'] = [m]
json.dump(idx, open(os.path.join(dst, 'index.json'), 'w'))
PY
"$IMGCTL" init --repo "$WORK/lie1" >/dev/null
out=$("$IMGCTL" pull --repo "$WORK/lie1" "oci:$WORK/lying:lying" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"layer 2 of 3"*"diff_id) mismatch"* ]] && ok "wrong diff_id refused: $out" || fail "wrong diff_id ($rc): $out"
check "wrong diff_id: no image, no ref" test -z "$(find "$WORK/lie1/refs" "$WORK/lie1/images" -type f)"
"$IMGCTL" init --repo "$WORK/lie2" >/dev/null
"$IMGCTL" pull --repo "$WORK/lie2" --quiet "oci:$L:plain" >/dev/null
out=$("$IMGCTL" pull --repo "$WORK/lie2" "oci:$WORK/lying:lying" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"layer 2 of 3"*"diff_id) mismatch"* ]] && ok "wrong diff_id refused with the layer already in the store: $out" || fail "wrong diff_id, layer in the store ($rc): $out"

# A full file system: twenty 100 kB files into a store on a 1 MiB tmpfs. The pull fails, names
# the cause, and leaves no image and no ref (the small files are written by the sink's writer
# thread: its error must come back).
python3 "$HERE/mkimage.py" "$WORK/big" big --raw-layer "$(python3 -c 'import json; print(json.dumps([{"name": f"f{i}", "data": str(i), "repeat": 100000} for i in range(20)]))')" >/dev/null
mkdir -p "$WORK/small"
out=$(unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" && "$2" init --repo "$1/repo" >/dev/null &&
  "$2" pull --repo "$1/repo" "oci:$3:big" 2>&1; echo "rc=$?"; ls -A "$1/repo/refs" "$1/repo/images"' sh "$WORK/small" "$IMGCTL" "$WORK/big")
[[ $out == *"No space left on device"*"rc=1"* ]] && ok "full file system: the pull fails and says why" || fail "full file system: $out"
[[ $out != *"rc=1"*[0-9a-f][0-9a-f][0-9a-f][0-9a-f]* ]] && ok "full file system: no image and no ref" || fail "full file system left files: $out"

# Escapes: '..', a write through a symlink, a hardlink out of the tree; nothing lands outside.
i=0
for case in '[{"name":"../escaped","data":"x"}]' \
            '[{"name":"l","type":"symlink","target":"'"$WORK"'"},{"name":"l/escaped","data":"x"}]' \
            '[{"name":"h","type":"hardlink","target":"../../etc/passwd"}]'; do
  i=$((i + 1)); python3 "$HERE/mkimage.py" "$WORK/evil" "e$i" --raw-layer "$case" >/dev/null
  out=$(pull "oci:$WORK/evil:e$i" 2>&1); rc=$?
  [ $rc -eq 1 ] && [[ $out == *"layer 1 of 1"*"'"*"'"* ]] && ok "escape $i refused: $out" || fail "escape $i ($rc): $out"
done
check "nothing written outside the store" test ! -e "$WORK/escaped" -a ! -e "$WORK/../escaped"
finish
