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

# best RUNS runs of "$@": prints "wall cpu" in seconds (cpu = user + sys). openssl speed divides by
# CPU user time by default, so the CPU-time ratio is the like-for-like one on a loaded machine.
best() {
  local bw=999999 bc=999999 bu=999999 line w c u
  for _ in $(seq "$RUNS"); do
    line=$( { /usr/bin/time -f '%e %U %S' "$@" >/dev/null; } 2>&1 | tail -1)
    w=$(awk '{print $1}' <<<"$line"); c=$(awk '{print $2 + $3}' <<<"$line"); u=$(awk '{print $2}' <<<"$line")
    bu=$(awk -v a="$bu" -v b="$u" 'BEGIN{print (b<a)?b:a}')
    bw=$(awk -v a="$bw" -v b="$w" 'BEGIN{print (b<a)?b:a}')
    bc=$(awk -v a="$bc" -v b="$c" 'BEGIN{print (b<a)?b:a}')
  done
  echo "$bw $bc $bu"
}
read -r w1 c1 u1 < <(best "$IMGCTL" digest --threads 1 "$WORK/f")
read -r wn cn un < <(best "$IMGCTL" digest --threads "$CORES" "$WORK/f")
read -r wf cf uf < <(best fsverity digest "$WORK/f")
read -r wo co uo < <(best openssl dgst -sha256 "$WORK/f")
awk -v mib="$SIZE_MIB" -v w1="$w1" -v c1="$c1" -v wn="$wn" -v cn="$cn" -v wf="$wf" -v cf="$cf" \
    -v u1="$u1" -v un="$un" -v uf="$uf" -v wo="$wo" -v co="$co" -v uo="$uo" -v o="$ossl" -v o8="$ossl8k" -v n="$CORES" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN{
  mb = mib * 1048576 / 1e6
  printf "file: %d MiB, cores: %d, load average at start: %s\n", mib, n, load
  printf "openssl speed -evp sha256 (1 core, per CPU-second), 4096-byte blocks: %.1f MB/s (8192: %.1f)\n", o, o8
  # user-CPU MB/s is what openssl speed reports; CPU (user+sys) adds reading the file.
  printf "%-34s %9s %9s %9s %14s %16s\n", "", "wall MB/s", "CPU MB/s", "user MB/s", "user/openssl", "wall/(openssl*n)"
  printf "%-34s %9.1f %9.1f %9.1f %13.2fx %15.2fx\n", "imgctl digest --threads 1", mb/w1, mb/c1, mb/u1, (mb/u1)/o, (mb/w1)/o
  printf "%-34s %9.1f %9.1f %9.1f %13.2fx %15.2fx\n", sprintf("imgctl digest --threads %d", n), mb/wn, mb/cn, mb/un, (mb/un)/o, (mb/wn)/(o*n)
  printf "%-34s %9.1f %9.1f %9.1f %13.2fx %15.2fx\n", "fsverity digest (fsverity-utils)", mb/wf, mb/cf, mb/uf, (mb/uf)/o, (mb/wf)/o
  printf "%-34s %9.1f %9.1f %9.1f %13.2fx %15.2fx\n", "openssl dgst -sha256 (same file)", mb/wo, mb/co, mb/uo, (mb/uo)/o, (mb/wo)/o
}'
