#!/bin/bash
# The main job on an embedded default: build imgctl, turn the bundled demo tree into an OCI
# image, serve it from a registry this script starts on 127.0.0.1, pull it into a local sysroot
# directory's store, and show what is there. Everything lives in a temporary directory that is
# removed at the end (IMGCTL_DEMO_KEEP=1 keeps it and prints where).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${IMGCTL:-}" ]; then  # the test suite passes its own build in IMGCTL
  "$ROOT/tests/ci/deps.sh"
  BUILD=${IMGCTL_BUILD_DIR:-$ROOT/build}
  [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$ROOT" >/dev/null
  ninja -C "$BUILD" >/dev/null
  IMGCTL=$BUILD/src/cli/imgctl
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgctl-demo.XXXXXX")
REG_PID=
cleanup() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
  if [ "${IMGCTL_DEMO_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "1. an OCI image of the bundled demo tree (umoci)"
umoci init --layout "$WORK/layout" >/dev/null
umoci new --image "$WORK/layout:demo" >/dev/null
umoci unpack --rootless --image "$WORK/layout:demo" "$WORK/bundle" >/dev/null 2>&1
cp -a "$ROOT/tests/data/demo-tree/." "$WORK/bundle/rootfs/"
umoci repack --image "$WORK/layout:demo" "$WORK/bundle" >/dev/null
umoci config --image "$WORK/layout:demo" --config.label org.opencontainers.image.version=1 >/dev/null
find "$WORK/bundle/rootfs" -mindepth 1 | sed "s|$WORK/bundle/rootfs||" | sort | sed 's/^/   /'

step "2. a registry on 127.0.0.1 (Debian's docker-registry) and a push with skopeo"
# A free port: nobody answers on it (tests running in parallel pick theirs the same way).
while :; do
  PORT=$((20000 + RANDOM % 20000))
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
mkdir -p "$WORK/registry"
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:%s"}\n' \
  "$WORK/registry" "$PORT" > "$WORK/registry.yml"
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.05; done
kill -0 "$REG_PID" 2>/dev/null || { echo "docker-registry did not start:"; cat "$WORK/registry.log"; exit 1; }
skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:demo" "docker://127.0.0.1:$PORT/demo/os:1"
echo "   pushed docker://127.0.0.1:$PORT/demo/os:1"

step "3. imgctl init + pull into the sysroot $WORK/sysroot"
SYSROOT=$WORK/sysroot
mkdir -p "$SYSROOT"
"$IMGCTL" init --sysroot "$SYSROOT" | sed 's/^/   /'
DIGEST=$("$IMGCTL" pull --quiet --sysroot "$SYSROOT" --insecure-registry "127.0.0.1:$PORT" \
  "docker://127.0.0.1:$PORT/demo/os:1")
echo "   image digest: $DIGEST"

step "4. what the store holds"
"$IMGCTL" refs --sysroot "$SYSROOT" | sed 's/^/   /'
"$IMGCTL" images --sysroot "$SYSROOT" | sed 's/^/   /'
echo "   composefs dump of the image:"
"$IMGCTL" dump "$SYSROOT/imgctl/images/$DIGEST" | sed 's/^/     /'
"$IMGCTL" fsck --sysroot "$SYSROOT" 2>&1 | sed 's/^/   /'

if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  step "5. mount the image from the store (EROFS + overlayfs, objects as the data layer)"
  mkdir -p "$WORK/mnt"
  unshare -m sh -c "'$IMGCTL' mount '$DIGEST' '$WORK/mnt' --sysroot '$SYSROOT' --verity optional &&
    echo '   /usr/lib/os-release in the mounted image:' && sed 's/^/     /' '$WORK/mnt/usr/lib/os-release' &&
    echo '   /usr/bin/hello:' && sh '$WORK/mnt/usr/bin/hello' | sed 's/^/     /' &&
    echo '   /usr/share/doc/imgctl-demo/README (content from the object store):' && sed 's/^/     /' '$WORK/mnt/usr/share/doc/imgctl-demo/README'"
fi
step "done: pulled docker://127.0.0.1:$PORT/demo/os:1 as image $DIGEST"
