#!/bin/bash
# Benchmark (standalone, not in the default suite): `imgctl pull` of a debootstrap minbase image
# from a local docker-registry, against the classic pipeline `skopeo copy` + `umoci unpack` +
# `imgctl compose --digest-store`. Also times a repeat pull of an image that shares the base
# layer (layer records). Prints wall seconds and peak RSS of each step.
# Usage: IMGCTL=build/src/cli/imgctl tests/bench/pull_bench.sh   (root; needs debootstrap)
set -euo pipefail
IMGCTL=$(realpath "${IMGCTL:-$(dirname "$0")/../../build/src/cli/imgctl}")
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${IMGCTL_BENCH_CACHE:-/var/cache/imgctl-tests}
MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)}
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/imgctl-pull-bench.XXXXXX")
REG_PID=
cleanup() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
for t in debootstrap docker-registry skopeo umoci; do command -v $t >/dev/null || { echo "missing $t (tests/ci/deps.sh)"; exit 1; }; done

# 1. A minbase root, cached by suite+variant (about 30 s the first time).
ROOT=$CACHE/debootstrap-bookworm-minbase
if [ ! -f "$ROOT/.complete" ]; then
  rm -rf "$ROOT"; mkdir -p "$CACHE"
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 || { tail "$WORK/debootstrap.log"; exit 1; }
  touch "$ROOT/.complete"
fi

# 2. An OCI image of it (umoci: one gzip layer), plus a second version adding one small layer.
cd "$WORK"
umoci init --layout layout >/dev/null; umoci new --image layout:v1 >/dev/null
umoci unpack --image layout:v1 bundle >/dev/null
tar -C "$ROOT" --exclude=./.complete -cf - . | tar -C bundle/rootfs -xf -
umoci repack --image layout:v1 bundle >/dev/null
cp -a layout layout2 && umoci unpack --image layout2:v1 b2 >/dev/null && echo "version 2" > b2/rootfs/etc/imgctl-version &&
  umoci repack --image layout2:v1 b2 >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: warn, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s/reg}}\nhttp: {addr: 127.0.0.1:%s, secret: x}\n' "$WORK" "$PORT" > reg.yml
docker-registry serve reg.yml > reg.log 2>&1 & REG_PID=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/"; do sleep 0.05; done
R=127.0.0.1:$PORT
skopeo copy -q --dest-tls-verify=false oci:layout:v1 "docker://$R/os:1"
skopeo copy -q --dest-tls-verify=false oci:layout2:v1 "docker://$R/os:2"
files=$(find "$ROOT" -type f | wc -l); size=$(du -sm "$ROOT" | cut -f1)
layer=$(find layout/blobs -type f -size +1M -exec du -m {} + | sort -n | tail -1 | cut -f1)
echo "image: debootstrap minbase bookworm, $files files, ${size} MiB, gzip layer ${layer} MiB; $(nproc) cores"

step() {  # step LABEL CMD...: wall time and peak RSS
  local label=$1 t0 t1; shift
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$@" > /dev/null
  t1=$(date +%s.%N)
  printf '%-44s %7.2f s  %6d MiB peak RSS\n' "$label" "$(python3 -c "print($t1 - $t0)")" "$(( $(cat "$WORK/rss") / 1024 ))"
}
"$IMGCTL" init --repo "$WORK/repo" >/dev/null
"$IMGCTL" init --repo "$WORK/repo-b" >/dev/null
step "imgctl pull os:1" "$IMGCTL" pull --quiet --repo "$WORK/repo" --insecure-registry "$R" "$R/os:1"
t0=$(date +%s.%N)
step "  skopeo copy docker:// -> oci:" skopeo copy -q --src-tls-verify=false "docker://$R/os:1" oci:pulled:1
step "  umoci unpack" umoci unpack --image pulled:1 unpacked
step "  imgctl compose --digest-store" "$IMGCTL" compose --digest-store="$WORK/repo-b/objects" unpacked/rootfs "$WORK/b.img"
printf '%-44s %7.2f s\n' "skopeo + umoci + compose, total" "$(python3 -c "print($(date +%s.%N) - $t0)")"
step "imgctl pull os:2 (shares the base layer)" "$IMGCTL" pull --quiet --repo "$WORK/repo" --insecure-registry "$R" "$R/os:2"
