#!/bin/bash
# Benchmark (standalone, not in the default suite): `imgctl pull` of a debootstrap minbase image
# from a local docker-registry, pushed as one gzip layer and as one zstd layer, against
#  - the classic pipeline `skopeo copy` + `umoci unpack` + `imgctl compose --digest-store` (gzip),
#  - `skopeo copy docker://… oci:DIR` alone (download only; gzip and zstd),
# and an update: v2 = the same base layer + one layer holding 2 % of the files changed, pulled into
# a store that has v1 (bytes downloaded, counted by imgctl and by the registry's access log, per
# byte changed; peak RSS). Every step runs RUNS times (default 3), each imgctl pull into a fresh
# store and each skopeo copy into a fresh directory with an empty blob-info cache; the table shows
# medians, the range, peak RSS (/usr/bin/time) and the ratios against the targets of docs/oci.md.
# With IMGCTL_BASE=another/imgctl, that binary's pulls (gzip, zstd) are measured in the same runs
# too (before/after comparisons under the same load).
# Nothing is deleted until the end (about 1.2 GB per run in $TMPDIR): on ext4 without a journal
# (this VM's root) every file creation within a minute or more of a mass deletion scans the
# recently freed inodes of its group (ext4 recently_deleted()), which made every measured step
# that creates thousands of files (imgctl pull, umoci unpack) up to 2x slower depending on what
# the previous step deleted. KEEP=0 deletes between steps as before.
# Usage: IMGCTL=build/src/cli/imgctl [RUNS=5] [IMGCTL_BASE=…] tests/bench/pull_bench.sh   (root; needs debootstrap)
set -euo pipefail
IMGCTL=$(realpath "${IMGCTL:-$(dirname "$0")/../../build/src/cli/imgctl}")
RUNS=${RUNS:-3}
KEEP=${KEEP:-1}
BASE=${IMGCTL_BASE:+$(realpath "$IMGCTL_BASE")}
later_rm() { if [ "$KEEP" = 1 ]; then mv "$@" trash/ 2>/dev/null || rm -rf "$@"; else rm -rf "$@"; fi; }
CACHE=${IMGCTL_BENCH_CACHE:-/var/cache/imgctl-tests}
MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)}
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/imgctl-pull-bench.XXXXXX")
REG_PID=
cleanup() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
for t in debootstrap docker-registry skopeo umoci unshare curl python3; do command -v $t >/dev/null || { echo "missing $t (tests/ci/deps.sh)"; exit 1; }; done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (package time)"; exit 1; }
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; RUNS=$RUNS"

# skopeo 1.9 reuses blobs its blob-info cache (/var/lib/containers/cache) knows of, also across
# repositories: run it with a private, empty cache (a tmpfs in its own mount namespace), so the
# zstd push really recompresses, downloads fetch everything, and the host's cache is untouched.
skopeo_nc=(unshare -m sh -c 'mkdir -p /var/lib/containers/cache && mount -t tmpfs tmpfs /var/lib/containers/cache && exec skopeo "$@"' skopeo)

# 1. A minbase root, cached by suite+variant (about 30 s the first time).
ROOT=$CACHE/debootstrap-bookworm-minbase
if [ ! -f "$ROOT/.complete" ]; then
  rm -rf "$ROOT"; mkdir -p "$CACHE"
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 || { tail "$WORK/debootstrap.log"; exit 1; }
  touch "$ROOT/.complete"
fi

# 2. v1: one gzip layer (umoci). v2: v1's layer + one layer with 2 % of the files changed (every
#    50th regular file in sorted order gets a line appended), as a real update would ship.
cd "$WORK"
mkdir trash
umoci init --layout layout >/dev/null; umoci new --image layout:v1 >/dev/null
umoci unpack --image layout:v1 bundle >/dev/null
tar -C "$ROOT" --exclude=./.complete -cf - . | tar -C bundle/rootfs -xf -
umoci repack --image layout:v1 bundle >/dev/null
later_rm bundle
umoci unpack --image layout:v1 b2 >/dev/null
(cd b2/rootfs && find . -type f | LC_ALL=C sort | awk 'NR % 50 == 0') > changed.txt
while IFS= read -r f; do echo "imgctl v2" >> "b2/rootfs/$f"; done < changed.txt
changed_bytes=$(cd b2/rootfs && tr '\n' '\0' < ../../changed.txt | du -cb --files0-from=- | tail -1 | cut -f1)
umoci repack --image layout:v2 b2 >/dev/null
later_rm b2

# 3. A registry (access log on: it counts the bytes served) with os:1 and os:2 (gzip) and os-zstd:1.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s/reg}}\nhttp: {addr: 127.0.0.1:%s, secret: x}\n' "$WORK" "$PORT" > reg.yml
docker-registry serve reg.yml > reg.log 2>&1 & REG_PID=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/"; do sleep 0.05; done
R=127.0.0.1:$PORT
"${skopeo_nc[@]}" copy -q --dest-tls-verify=false oci:layout:v1 "docker://$R/os:1"
"${skopeo_nc[@]}" copy -q --dest-tls-verify=false oci:layout:v2 "docker://$R/os:2"
"${skopeo_nc[@]}" copy -q --dest-tls-verify=false --dest-compress --dest-compress-format zstd oci:layout:v1 "docker://$R/os-zstd:1"
layers() {  # layers NAME TAG: "mediaType size" of each layer of the pushed manifest
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/$1/manifests/$2" |
    python3 -c 'import json,sys; [print(l["mediaType"], l["size"]) for l in json.load(sys.stdin)["layers"]]'
}
layers os 1 > l1; layers os 2 > l2; layers os-zstd 1 > lz
grep -q '+gzip ' l1 && [ "$(wc -l < l1)" -eq 1 ] || { echo "os:1 is not one gzip layer:"; cat l1; exit 1; }
[ "$(wc -l < l2)" -eq 2 ] && [ "$(head -1 l2)" = "$(cat l1)" ] || { echo "os:2 is not os:1's layer + one:"; cat l2; exit 1; }
grep -q 'tar+zstd ' lz && [ "$(wc -l < lz)" -eq 1 ] || { echo "os-zstd:1 is not one zstd layer (blob reused?):"; cat lz; exit 1; }
files=$(find "$ROOT" -type f | wc -l); size=$(du -sm "$ROOT" | cut -f1)
mib() { python3 -c "print(f'{$1/1048576:.1f}')"; }
echo "image: debootstrap minbase bookworm, $files files, ${size} MiB; gzip layer $(mib "$(cut -d' ' -f2 l1)") MiB," \
  "zstd layer $(mib "$(cut -d' ' -f2 lz)") MiB; v2 adds a $(mib "$(tail -1 l2 | cut -d' ' -f2)") MiB layer with" \
  "$(wc -l < changed.txt) changed files ($(mib "$changed_bytes") MiB)"

# 4. The runs. measure KEY CMD...: appends "wall_s rss_kib user_s sys_s" to t/KEY; stderr goes to t/KEY.err.
mkdir t
measure() {
  local key=$1 t0 t1; shift
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o rss.tmp "$@" > /dev/null 2> "t/$key.err" || { echo "failed: $*"; cat "t/$key.err"; exit 1; }
  t1=$(date +%s.%N)
  echo "$(python3 -c "print($t1 - $t0)") $(tail -1 rss.tmp)" >> "t/$key"
}
registry_bytes_since() {  # bytes of 200/206 blob answers in the access log after line $1
  tail -n +"$(( $1 + 1 ))" reg.log | python3 -c '
import re, sys
print(sum(int(m.group(1)) for l in sys.stdin
          if (m := re.search(r"\"GET /v2/[^ ]*/blobs/[^ ]* HTTP/[0-9.]+\" 20[06] ([0-9]+)", l))))'
}
# With IMGCTL_BASE, each of its pulls runs right next to the same pull of IMGCTL, in alternating
# order (the VM's page cache and file system state drift over a run: neighbours see the same).
base_pull() {  # base_pull KEY REPO IMAGE
  "$BASE" init --repo "$2" >/dev/null
  measure "$1" "$BASE" pull --quiet --repo "$2" --insecure-registry "$R" "$R/$3"
}
for i in $(seq "$RUNS"); do
  "$IMGCTL" init --repo "repo$i" >/dev/null
  [ -n "$BASE" ] && [ $((i % 2)) = 0 ] && base_pull base_gzip "base$i" os:1
  measure pull_gzip "$IMGCTL" pull --quiet --repo "repo$i" --insecure-registry "$R" "$R/os:1"
  [ -n "$BASE" ] && [ $((i % 2)) = 1 ] && base_pull base_gzip "base$i" os:1
  measure skopeo_gzip "${skopeo_nc[@]}" copy -q --src-tls-verify=false "docker://$R/os:1" "oci:s$i:1"
  measure umoci_unpack umoci unpack --image "s$i:1" "u$i"
  mkdir "ds$i"
  measure compose "$IMGCTL" compose --digest-store="ds$i" "u$i/rootfs" "c$i.img"
  later_rm "s$i" "u$i" "ds$i" "c$i.img"
  # The update, into the store that holds v1.
  before=$(wc -l < reg.log)
  measure pull_v2 "$IMGCTL" -v pull --quiet --repo "repo$i" --insecure-registry "$R" "$R/os:2"
  sed -n 's/.* \([0-9]*\) compressed bytes read.*/\1/p' t/pull_v2.err >> t/v2_counted
  registry_bytes_since "$before" >> t/v2_served
  "$IMGCTL" init --repo "repoz$i" >/dev/null
  [ -n "$BASE" ] && [ $((i % 2)) = 0 ] && base_pull base_zstd "basez$i" os-zstd:1
  measure pull_zstd "$IMGCTL" pull --quiet --repo "repoz$i" --insecure-registry "$R" "$R/os-zstd:1"
  [ -n "$BASE" ] && [ $((i % 2)) = 1 ] && base_pull base_zstd "basez$i" os-zstd:1
  measure skopeo_zstd "${skopeo_nc[@]}" copy -q --src-tls-verify=false "docker://$R/os-zstd:1" "oci:z$i:1"
  later_rm "repo$i" "repoz$i" "z$i" "base$i" "basez$i"
done

# 5. The table.
python3 - "$changed_bytes" "$(cut -d' ' -f1-3 /proc/loadavg)" "$KEEP" <<'EOF'
import os, statistics as st, sys
changed, load, keep = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def rows(k): return [tuple(map(float, l.split())) for l in open(f"t/{k}")]
def col(k, i): return [r[i] for r in rows(k)]
med = lambda k: st.median(col(k, 0))
cpu = lambda k: [u + s for u, s in zip(col(k, 2), col(k, 3))]
def line(label, walls, rss, cpus):
    print(f"{label:<40} {st.median(walls):6.2f} s ({min(walls):5.2f}..{max(walls):5.2f}) {st.median(cpus):6.2f} s"
          f" {max(rss)/1024:5.0f} MiB")
def step(label, k): line(label, col(k, 0), col(k, 1), cpu(k))
print(f"{'step (%d runs)' % len(col('pull_gzip', 0)):<40} {'median wall (range)':>23} {'CPU':>8} {'peak RSS':>9}")
step("imgctl pull os:1 (gzip)", "pull_gzip")
step("  skopeo copy docker:// -> oci: (gzip)", "skopeo_gzip")
step("  umoci unpack", "umoci_unpack")
step("  imgctl compose --digest-store", "compose")
keys = ("skopeo_gzip", "umoci_unpack", "compose")
pipe = [sum(t) for t in zip(*(col(k, 0) for k in keys))]
line("  skopeo + umoci + compose, total", pipe, sum((col(k, 1) for k in keys), []), [sum(t) for t in zip(*(cpu(k) for k in keys))])
step("imgctl pull os-zstd:1 (zstd)", "pull_zstd")
step("  skopeo copy docker:// -> oci: (zstd)", "skopeo_zstd")
step("imgctl pull os:2 (store has os:1)", "pull_v2")
if os.path.exists("t/base_gzip"):
    step("IMGCTL_BASE pull os:1 (gzip)", "base_gzip")
    step("IMGCTL_BASE pull os-zstd:1 (zstd)", "base_zstd")
counted = [int(l) for l in open("t/v2_counted")]
served = [int(l) for l in open("t/v2_served")]
print(f"update: downloaded {st.median(counted)} bytes (imgctl), {st.median(served)} bytes served (registry log);"
      f" changed {changed} bytes: {st.median(served)/changed:.2f} downloaded per byte changed")
def ratio(label, a, b, target):
    r = a / b
    print(f"{label:<40} {r:6.2f}   target <= {target}  {'met' if r <= target else 'MISSED'}")
ratio("pull / (skopeo+umoci+compose), gzip", med("pull_gzip"), st.median(pipe), 0.4)
ratio("pull / skopeo copy, gzip", med("pull_gzip"), med("skopeo_gzip"), 2.0)
ratio("pull / skopeo copy, zstd", med("pull_zstd"), med("skopeo_zstd"), 1.3)
if os.path.exists("t/base_gzip"):
    print(f"{'IMGCTL / IMGCTL_BASE, gzip':<40} {med('pull_gzip') / med('base_gzip'):6.2f}")
    print(f"{'IMGCTL / IMGCTL_BASE, zstd':<40} {med('pull_zstd') / med('base_zstd'):6.2f}")
print(f"load average at end: {load}; deletions {'deferred to the end' if keep == '1' else 'between steps (KEEP=0)'}")
EOF
