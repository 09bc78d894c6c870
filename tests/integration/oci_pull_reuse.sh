#!/bin/bash
# imgctl pull keeps what it fetched: refs and metadata name the manifest, an up-to-date ref
# fetches nothing, layers already applied (layer records) are not downloaded again — also
# after gc, where an incomplete record falls back to the download — and image indexes pushed
# with --all select the platform. Images are compared with skopeo copy + umoci unpack.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
registry_fixture
make_image "$WORK/src-gzip" t "$salt-gzip"
push "oci:$WORK/src-gzip:t" "docker://$R/os/gzip:1"
check "first pull" test -n "$(pull "$R/os/gzip:1")"

# The ref and the metadata name the manifest; layers already applied are not downloaded again.
check "ref oci/<escaped reference> is set" same "$(cat "$WORK/repo/refs/oci/127.0.0.1%3A$PORT%2Fos%2Fgzip%3A1")" "$(pull "$R/os/gzip:1")"
grep -q '"manifest":"sha256:' "$WORK/repo/images/$(pull "$R/os/gzip:1").json" && ok "image metadata names the manifest" || fail "image metadata"
free_port PX; proxy_start "$PX" "$PORT"
pull --insecure-registry "127.0.0.1:$PX" --ref local/again "127.0.0.1:$PX/os/gzip:1" >/dev/null
pull --insecure-registry "127.0.0.1:$PX" --ref local/again "127.0.0.1:$PX/os/gzip:1" >/dev/null
# (the first of these two pulls sets a new ref: its layers come from the records of the
# earlier pull, only the config is fetched; the second finds the ref up to date)
check "known layers and an up-to-date ref fetch no layer blob" test "$(grep -c '/blobs/' "$WORK/proxy-$PX.log")" -eq 1
# An image sharing its two lower layers: only the config and the new top layer are fetched,
# and the result still equals skopeo+umoci.
make_image "$WORK/src-gzip" t2 "$salt-gzip" --top-salt "$salt-new"
push "oci:$WORK/src-gzip:t2" "docker://$R/os/gzip:2"
: > "$WORK/proxy-$PX.log"
d=$(pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/os/gzip:2")
check "shared layers are not downloaded again" test "$(grep -c '/blobs/' "$WORK/proxy-$PX.log")" -eq 2
check "image from cached layers equals skopeo+umoci" mount_cmp "$WORK/repo" "$d" "$(reference_tree "docker://$R/os/gzip:2" "$WORK/ref-t2")"
# gc drops the objects of files that later layers deleted (no image uses them): layer 1's record
# is then incomplete, so the next image sharing it downloads layer 1 again (and layer 2 not).
"$IMGCTL" gc --repo "$WORK/repo" >/dev/null
make_image "$WORK/src-gzip" t3 "$salt-gzip" --top-salt "$salt-third"
push "oci:$WORK/src-gzip:t3" "docker://$R/os/gzip:3"
: > "$WORK/proxy-$PX.log"
d=$(pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/os/gzip:3")
check "after gc: config, layer 1 and layer 3 fetched" test "$(grep -c '/blobs/' "$WORK/proxy-$PX.log")" -eq 3
check "after gc: the image equals skopeo+umoci" mount_cmp "$WORK/repo" "$d" "$(reference_tree "docker://$R/os/gzip:3" "$WORK/ref-t3")"

# The same layers recompressed (skopeo --dest-compress-format zstd: other blob digests, the
# same diff_ids): reused by diff_id, which the first pull checked, so only the config is fetched;
# and the image is the one the gzip layers gave.
make_image "$WORK/src-z" tz "$salt-z"
push "oci:$WORK/src-z:tz" "docker://$R/os/z:gzip"
# (to another repository, with an empty private blob-info cache: else skopeo reuses the gzip blobs)
unshare -m sh -c 'mkdir -p /var/lib/containers/cache && mount -t tmpfs tmpfs /var/lib/containers/cache && exec skopeo "$@"' \
  skopeo copy -q --dest-tls-verify=false --dest-compress --dest-compress-format zstd "oci:$WORK/src-z:tz" "docker://$R/os/zz:1"
zl=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/os/zz/manifests/1" | python3 -c 'import json,sys; print(" ".join(l["mediaType"] for l in json.load(sys.stdin)["layers"]))')
[[ $zl == *zstd* ]] && ok "the recompressed image has zstd layers" || fail "recompressed image layers: $zl"
gz=$(pull "$R/os/z:gzip")
: > "$WORK/proxy-$PX.log"
zd=$(pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/os/zz:1")
check "recompressed layers are reused by diff_id: only the config fetched" test "$(grep -c '/blobs/' "$WORK/proxy-$PX.log")" -eq 1
check "recompressed layers: the same image as the gzip one" same "$zd" "$gz"
grep -q '"diff_id":"sha256:' "$WORK/repo/images/$zd.json" && ok "image metadata keeps the checked diff_ids" || fail "no diff_id in the metadata"

# An index with two platforms pushed with --all: the host's by default, --platform for the other.
make_image "$WORK/multi" amd "$salt-m" --arch amd64; make_image "$WORK/multi" arm "$salt-m" --arch arm64
python3 "$HERE/mkimage.py" "$WORK/multi" multi --index amd arm >/dev/null
push "oci:$WORK/multi:multi" "docker://$R/os/multi:1" --all
amd=$(pull "$R/os/multi:1"); arm=$(pull --platform linux/arm64 "$R/os/multi:1")
check "index: host platform = the amd64 image" same "$amd" "$(pull "oci:$WORK/multi:amd")"
check "index: --platform linux/arm64 = the arm64 image" same "$arm" "$(pull "oci:$WORK/multi:arm")"
finish
