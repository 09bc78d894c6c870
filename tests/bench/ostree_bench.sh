#!/bin/bash
# Benchmark (standalone, not part of `meson test`): commit a directory (default: the host's
# /usr) into an OSTree repository, then time `imgctl pull-ostree` of that commit next to
# `ostree checkout` of the same commit, in the same run, on the same disk.
#   usage: tests/bench/ostree_bench.sh [IMGCTL] [SRC]      env: MODE=archive|bare-user|bare (default bare-user)
#          WORKDIR (default: a fresh dir under /var/tmp; needs about 2x SRC free)
set -euo pipefail
IMGCTL=${1:-${IMGCTL:-build/src/cli/imgctl}}
SRC=${2:-/usr}
MODE=${MODE:-bare-user}
IMGCTL=$(realpath "$IMGCTL")
W=$(mktemp -d "${WORKDIR:-/var/tmp}/imgctl-ostree-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }'; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

echo "source: $SRC ($(du -sh "$SRC" 2>/dev/null | cut -f1), $(find "$SRC" -xdev | wc -l) entries); repo mode: $MODE; $(nproc) CPUs"
ostree init --repo="$W/repo" --mode="$MODE"
c=$(t ostree commit --repo="$W/repo" -b bench/usr "$SRC")
commit=$(ostree rev-parse --repo="$W/repo" bench/usr)
echo "ostree commit:                $c s  ($commit)"

drop
co=$(t ostree checkout --repo="$W/repo" bench/usr "$W/checkout")
echo "ostree checkout:              $co s"
rm -rf "$W/checkout"

"$IMGCTL" init --repo "$W/store" --verity optional >/dev/null
drop
p1=$(t "$IMGCTL" pull-ostree --repo "$W/store" "ostree:$W/repo:bench/usr")
echo "imgctl pull-ostree (cold):    $p1 s  ($(find "$W/store/objects" -type f | wc -l) objects, $(du -sh "$W/store/objects" | cut -f1))"
rm -rf "$W/store/images" "$W/store/refs" && mkdir "$W/store/images" "$W/store/refs"
drop
p2=$(t "$IMGCTL" pull-ostree --repo "$W/store" "ostree:$W/repo:bench/usr")
echo "imgctl pull-ostree (objects already stored): $p2 s"
echo "image size: $(du -b "$W"/store/images/* | grep -v json | cut -f1 | head -1) bytes"
