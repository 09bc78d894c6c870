#!/bin/bash
# Benchmark: fs-verity digest throughput of a 1 GiB file next to `openssl speed -evp sha256`,
# measured in the same run. Prints MB/s for each and the ratios (per core used).
# Usage: IMGCTL=build/src/cli/imgctl tests/bench/fsverity_bench.sh [SIZE_MIB]
set -euo pipefail
IMGCTL=${IMGCTL:-$(dirname "$0")/../../build/src/cli/imgctl}
SIZE_MIB=${1:-1024}
RUNS=${RUNS:-3}
CORES=$(nproc)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgctl-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/f"
cat "$WORK/f" > /dev/null   # page cache: measure hashing, not the disk

# OpenSSL's single-core SHA-256 speed on 4096-byte blocks (what the Merkle tree hashes) and 8192.
ossl=$(openssl speed -seconds 3 -bytes 4096 -evp sha256 2>/dev/null | awk '/^sha256/ {sub("k","",$2); print $2/1000}')
ossl8k=$(openssl speed -seconds 3 -bytes 8192 -evp sha256 2>/dev/null | awk '/^sha256/ {sub("k","",$2); print $2/1000}')

best() {  # best wall time of RUNS runs of "$@", in seconds
  local b=999999 t
  for _ in $(seq "$RUNS"); do
    t=$( { /usr/bin/env time -f %e "$@" >/dev/null; } 2>&1 | tail -1)
    b=$(awk -v a="$b" -v c="$t" 'BEGIN{print (c<a)?c:a}')
  done
  echo "$b"
}
command -v time >/dev/null 2>&1 || true
t1=$(best "$IMGCTL" digest --threads 1 "$WORK/f")
tn=$(best "$IMGCTL" digest --threads "$CORES" "$WORK/f")
tf=$(best fsverity digest "$WORK/f")
awk -v mib="$SIZE_MIB" -v t1="$t1" -v tn="$tn" -v tf="$tf" -v o="$ossl" -v o8="$ossl8k" -v n="$CORES" 'BEGIN{
  mb = mib * 1048576 / 1e6
  printf "file: %d MiB, cores: %d\n", mib, n
  printf "openssl speed -evp sha256, 4096-byte blocks (1 core): %8.1f MB/s   (8192: %.1f)\n", o, o8
  printf "imgctl digest --threads 1:                            %8.1f MB/s   ratio %.2f x openssl\n", mb/t1, (mb/t1)/o
  printf "imgctl digest --threads %d:                            %8.1f MB/s   ratio %.2f x openssl per core\n", n, mb/tn, (mb/tn)/(o*n)
  printf "fsverity digest (fsverity-utils, 1 core):             %8.1f MB/s   ratio %.2f x openssl\n", mb/tf, (mb/tf)/o
}'
