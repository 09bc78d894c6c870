#!/bin/bash
# Store benchmark (not in the default suite): import a copy of a tree (default: the host /usr)
# twice (the second time through the digest cache, then once more with --no-cache), then three
# versions that each change 5% of the files. Reports import MB/s next to `cp -a` of the same
# tree in the same run, the second/first import time ratio (target: second >= 10x faster),
# and store bytes / unique content bytes (target <= 1.02).
#   tests/bench/store_bench.sh [SRC]      (IMGCTL=path/to/imgctl, BENCH_DIR=where to work)
set -euo pipefail
SRC=${1:-/usr}
IMGCTL=${IMGCTL:-$(dirname "$0")/../../build/src/cli/imgctl}
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/imgctl-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
command -v fsverity >/dev/null || { echo "fsverity (fsverity-utils) is needed" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mbps() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / 1048576 / t }'; }
# Regular files of more than 64 bytes: what becomes objects (smaller ones are inline).
content_files() { find "$1" -type f -size +64c -print0; }

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
echo "== $(nproc) CPUs, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
SHA_KBS=$(openssl speed -evp sha256 -bytes 4096 -seconds 3 2>/dev/null | awk '/^sha256/ {sub(/k$/, "", $2); print $2}')
SHA_MBS=$(awk -v k="$SHA_KBS" 'BEGIN { printf "%.0f", k * 1000 / 1e6 }')
echo "openssl speed -evp sha256 -bytes 4096: $SHA_MBS MB/s per core, $((SHA_MBS * $(nproc))) MB/s on $(nproc) CPUs"
# timed NAME CMD...: runs under /usr/bin/time; CPU NAME prints "CPU user U s + sys S s" and sets CPU_S.
timed() { local n=$1; shift; /usr/bin/time -f '%U %S' -o "$W/$n.time" "$@"; }
cpu() { read -r u s < "$W/$1.time"; echo "CPU user $u s + sys $s s"; }
# rates NAME BYTES WALL: MB/s wall and per CPU-second of run NAME, each next to openssl's rate.
rates() {
  local u s; read -r u s < "$W/$1.time"
  awk -v b="$2" -v t="$3" -v c="$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" -v o="$SHA_MBS" -v n="$(nproc)" 'BEGIN {
    w = b / 1e6 / t; p = b / 1e6 / c
    printf "%.0f MB/s wall (%.2fx openssl on %d CPUs), %.0f MB/s per CPU-second (%.2fx openssl per core)", w, w / (o * n), n, p, p / o }'
}
echo "== copying $SRC to the work directory (setup)"
cp -a "$SRC" "$W/tree"
sync
files=$(find "$W/tree" -type f | wc -l)
bytes=$(find "$W/tree" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')
hashed=$(find "$W/tree" -type f -size +64c -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')
echo "tree: $files files, $bytes bytes ($(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}') MiB)"

"$IMGCTL" init --repo "$W/repo" >/dev/null
t0=$(now); cp -a "$W/tree" "$W/copy"; sync; t1=$(now)
cp_s=$(secs "$t0" "$t1"); rm -rf "$W/copy"; sync
# The digest cache leaves out files changed in the last 3 seconds before an import (racy).
sleep 4
# The import's own count of files read vs. taken from the digest cache (debug log).
counts() { grep -o '[0-9]* files hashed, [0-9]* from cache' "$W/$1.log"; }
t0=$(now); d1=$(IMGCTL_LOG=debug timed imp1 "$IMGCTL" import "$W/tree" --ref bench/v1 --repo "$W/repo" 2>"$W/imp1.log"); t1=$(now)
imp_s=$(secs "$t0" "$t1")
t0=$(now); d1b=$(IMGCTL_LOG=debug timed imp2 "$IMGCTL" import "$W/tree" --ref bench/v1-again --repo "$W/repo" 2>"$W/imp2.log"); t1=$(now)
imp2_s=$(secs "$t0" "$t1")
t0=$(now); d1c=$(IMGCTL_LOG=debug timed imp3 "$IMGCTL" import "$W/tree" --no-cache --ref bench/v1-nocache --repo "$W/repo" 2>"$W/imp3.log"); t1=$(now)
imp3_s=$(secs "$t0" "$t1")
[ "$d1" = "$d1b" ] || { echo "second import gave another digest" >&2; exit 1; }
[ "$d1" = "$d1c" ] || { echo "the --no-cache import gave another digest" >&2; exit 1; }
echo "cp -a + sync:        ${cp_s} s  ($(mbps "$bytes" "$cp_s") MB/s)"
echo "import (first):      ${imp_s} s  ($(mbps "$bytes" "$imp_s") MB/s), $(cpu imp1)"
echo "   hashed files (> 64 bytes): $(rates imp1 "$hashed" "$imp_s")"
echo "   $(counts imp1)"
ratio2=$(awk -v a="$imp_s" -v b="$imp2_s" 'BEGIN{printf "%.1f", a/b}')
echo "import (second, digest cache): ${imp2_s} s  (second/first = $(awk -v a="$imp_s" -v b="$imp2_s" 'BEGIN{printf "%.3f", b/a}'), first/second = ${ratio2}x, target >= 10x), $(cpu imp2)"
echo "   $(counts imp2)"
echo "import (third, --no-cache): ${imp3_s} s  (third/second = $(awk -v a="$imp3_s" -v b="$imp2_s" 'BEGIN{printf "%.1f", a/b}')x), $(cpu imp3)"
echo "   $(counts imp3); hashed files (> 64 bytes): $(rates imp3 "$hashed" "$imp3_s")"

echo "== three versions, 5% of the content files changed each time"
# Unique content, computed with the independent fsverity tool: distinct digests of content files.
content_files "$W/tree" | xargs -0 -r fsverity digest | awk '{print $1}' > "$W/digests"
content_files "$W/tree" | xargs -0 -r stat -c '%s' > "$W/sizes"
paste -d' ' "$W/digests" "$W/sizes" > "$W/content"
prev="$W/tree"
for v in v2 v3; do
  cp -al "$prev" "$W/$v"   # hardlinks: only the changed files take new space
  content_files "$W/$v" | tr '\0' '\n' | awk 'NR % 20 == 7' > "$W/changed-$v"
  while IFS= read -r f; do
    s=$(stat -c %s "$f"); rm -f "$f"; head -c "$s" /dev/urandom > "$f"
    echo "$(fsverity digest "$f" | awk '{print $1}') $s" >> "$W/content"
  done < "$W/changed-$v"
  t0=$(now); "$IMGCTL" import "$W/$v" --ref "bench/$v" --repo "$W/repo" >/dev/null; t1=$(now)
  echo "import $v ($(wc -l < "$W/changed-$v") files changed): $(secs "$t0" "$t1") s"
  prev="$W/$v"
done
unique=$(sort -u -k1,1 "$W/content" | awk '{s+=$2} END {printf "%.0f\n", s}')
objects=$(find "$W/repo/objects" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')
images=$(find "$W/repo/images" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')
echo "unique content bytes:    $unique"
echo "store objects bytes:     $objects  (ratio $(awk -v a="$objects" -v b="$unique" 'BEGIN{printf "%.4f", a/b}'))"
echo "store objects+images:    $((objects + images))  (ratio $(awk -v a="$((objects + images))" -v b="$unique" 'BEGIN{printf "%.4f", a/b}'), target <= 1.02)"
echo "store du -s:             $(du -sb "$W/repo" | cut -f1) bytes on disk ($(du -sh "$W/repo" | cut -f1))"
t0=$(now); "$IMGCTL" fsck --repo "$W/repo" >/dev/null 2>&1; t1=$(now)
echo "fsck of the whole store: $(secs "$t0" "$t1") s"
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
