#!/bin/bash
# Benchmark of `imgctl compose` (not part of the default test suite):
#   IMGCTL=build/src/cli/imgctl tests/bench/compose_bench.sh [SRC]      (SRC defaults to /usr)
# 1. copies SRC (cp -a) to a temporary directory, then composes it
#    a) hashing only (no store), b) with --digest-store into a fresh directory,
# 2. composes the tree's dump (--write-dump of run a; >= 100k entries for /usr) without a store,
# 3. composes the largest upstream vector (cs9-x86_64-developer.dump.gz), and that tree
#    twice in one dump (128k entries),
# and prints files/s, MB/s hashed, peak RSS (for the dumps also minus the RSS of
# `imgctl --version`, per entry and relative to the dump size), next to `openssl speed -evp sha256 -bytes 4096`
# on the same machine in the same run (as ratios). Page cache is warm (the copy just ran).
set -euo pipefail
: "${IMGCTL:?IMGCTL must point to the imgctl binary}"
SRC=${1:-/usr}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${IMGCTL_SHARED:-$HERE/../../../shared}
THREADS=${THREADS:-$(nproc)}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package 'time')"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/var/tmp}/imgctl-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

# run NAME CMD...: runs under /usr/bin/time -v, sets SECS and RSS_MB.
run() {
  local name=$1; shift
  /usr/bin/time -v "$@" > "$W/$name.out" 2> "$W/$name.time" || { cat "$W/$name.time"; exit 1; }
  SECS=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$W/$name.time")
  RSS_MB=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$W/$name.time")
}
# mem DUMP: peak RSS of the last run minus that of `imgctl --version` (the shared libraries),
# per dump entry and as a multiple of the dump's size (issue #3: below 2x).
mem() {
  local lines bytes
  lines=$(wc -l < "$1"); bytes=$(stat -c %s "$1")
  awk -v r="$RSS_MB" -v b="$BASE_MB" -v l="$lines" -v s="$bytes" \
    'BEGIN { m = (r - b) * 1048576; printf "compose itself %.1f MB = %.0f bytes/entry = %.2fx the dump (%.1f MB)", m / 1048576, m / l, m / s, s / 1048576 }'
}
cpu() { awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {printf "CPU user %.2f s + sys %.2f s", u, s}' "$W/$1.time"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

/usr/bin/time -f '%M' -o "$W/base.rss" "$IMGCTL" --version > /dev/null
BASE_MB=$(awk '{printf "%.1f", $1 / 1024}' "$W/base.rss")
echo "== machine: $(nproc) CPUs, compose threads: $THREADS, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
SHA_KBS=$(openssl speed -evp sha256 -bytes 4096 -seconds 3 2>/dev/null | awk '/^sha256/ {sub(/k$/, "", $2); print $2}')
SHA_MBS=$(awk -v k="$SHA_KBS" 'BEGIN { printf "%.0f", k * 1000 / 1e6 }')
# The same with one openssl process per thread, all at once: what "x cores" really gives on this
# machine (vCPUs that share a physical core, or a busy neighbour, give less than N times one).
MULTI_KBS=$(openssl speed -multi "$THREADS" -evp sha256 -bytes 4096 -seconds 3 2>/dev/null | awk '/^sha256/ {sub(/k$/, "", $2); print $2}' | tail -1)
MULTI_MBS=$(awk -v k="$MULTI_KBS" 'BEGIN { printf "%.0f", k * 1000 / 1e6 }')
echo "openssl speed -evp sha256 -bytes 4096: $SHA_MBS MB/s per core, x $THREADS = $((SHA_MBS * THREADS)) MB/s;" \
  "measured with -multi $THREADS: $MULTI_MBS MB/s"

echo "== copying $SRC (cp -a) ..."
start=$(date +%s.%N)
cp -a "$SRC" "$W/src"
echo "copy took $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
ENTRIES=$(find "$W/src" | wc -l)
FILES=$(find "$W/src" -type f | wc -l)
HASH_BYTES=$(find "$W/src" -type f -size +64c -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
HASH_MB=$(awk -v b="$HASH_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "$ENTRIES entries, $FILES regular files, $HASH_MB MB in files > 64 bytes (hashed)"

run scan "$IMGCTL" compose --threads="$THREADS" --write-dump="$W/tree.dump" "$W/src" "$W/a.img"
MBS=$(ratio "$HASH_MB" "$SECS")
echo "-- a) compose DIR (hash only): ${SECS} s, $(cpu scan), $(ratio "$FILES" "$SECS") files/s, $MBS MB/s hashed, peak RSS $RSS_MB MB"
echo "   hashing vs openssl sha256 on $THREADS threads: $(ratio "$MBS" "$((SHA_MBS * THREADS))")x of $THREADS x one core," \
  "$(ratio "$MBS" "$MULTI_MBS")x of openssl -multi $THREADS (wall clock)"
CPU_S=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$W/scan.time")
echo "   per CPU-second: $(ratio "$HASH_MB" "$CPU_S") MB/s vs openssl $SHA_MBS MB/s per core: $(ratio "$(ratio "$HASH_MB" "$CPU_S")" "$SHA_MBS")x"

run store "$IMGCTL" compose --threads="$THREADS" --digest-store="$W/store" "$W/src" "$W/b.img"
echo "-- b) compose DIR --digest-store (hash + copy + syncfs): ${SECS} s, $(cpu store), $(ratio "$FILES" "$SECS") files/s, $(ratio "$HASH_MB" "$SECS") MB/s, peak RSS $RSS_MB MB, $(find "$W/store" -type f | wc -l) objects"
CPU_S=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$W/store.time")
echo "   per CPU-second: $(ratio "$HASH_MB" "$CPU_S") MB/s vs openssl $SHA_MBS MB/s per core: $(ratio "$(ratio "$HASH_MB" "$CPU_S")" "$SHA_MBS")x"
cmp -s "$W/a.img" "$W/b.img" || { echo "images of runs a and b differ"; exit 1; }

DUMP_LINES=$(wc -l < "$W/tree.dump")
run dump "$IMGCTL" compose --from-file "$W/tree.dump" "$W/c.img"
echo "-- c) compose --from-file (its dump, $DUMP_LINES entries): ${SECS} s, $(cpu dump), $(ratio "$DUMP_LINES" "$SECS") entries/s, peak RSS $RSS_MB MB, image $(stat -c %s "$W/c.img") bytes"
echo "   $(mem "$W/tree.dump") (imgctl --version: $BASE_MB MB)"
cmp -s "$W/a.img" "$W/c.img" || { echo "the image of the dump differs from the directory's"; exit 1; }

gzip -dc "$SHARED/vectors/cs9-x86_64-developer.dump.gz" > "$W/cs9.dump"
run cs9 "$IMGCTL" compose --print-digest --from-file "$W/cs9.dump" "$W/cs9.img"
echo "-- d) compose --from-file cs9-x86_64-developer ($(wc -l < "$W/cs9.dump") entries): ${SECS} s, $(cpu cs9), peak RSS $RSS_MB MB, digest $(cat "$W/cs9.out")"
echo "   $(mem "$W/cs9.dump")"
# The same tree twice, under /a and /b: a reproducible dump of more than 100k entries.
{ echo "/ 4096 40755 4 0 0 0 0.0 - - -"
  for p in a b; do sed -e "s|^/ |/$p |; t" -e "s|^/|/$p/|" "$W/cs9.dump"; done; } > "$W/twice.dump"
run twice "$IMGCTL" compose --from-file "$W/twice.dump" "$W/twice.img"
echo "-- e) compose --from-file cs9-developer twice ($(wc -l < "$W/twice.dump") entries): ${SECS} s, $(cpu twice), peak RSS $RSS_MB MB"
echo "   $(mem "$W/twice.dump")"
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
