# Helpers for the store integration scripts (sourced after lib.sh).
need_tool fsverity
R="$WORK/repo"
# make_tree DIR N: N files of 100..8000 random bytes in a few directories, a symlink, a small file.
make_tree() {
  local dir=$1 n=$2 i
  mkdir -p "$dir/etc" "$dir/usr/bin" "$dir/usr/lib/sub"
  for i in $(seq 1 "$n"); do
    head -c $((100 + (i * 7919) % 7900)) /dev/urandom > "$dir/usr/lib/sub/f$i"
  done
  echo "small" > "$dir/etc/small"
  ln -sf ../lib/sub/f1 "$dir/usr/bin/link"
}
# The fs-verity digest of a file as the independent tool prints it (hex only).
fsv() { fsverity digest "$1" | cut -d' ' -f1 | cut -d: -f2; }
# Byte count of all regular files below a directory.
bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}'; }
# Flips one byte of a file at an offset (default 0) without changing its size.
flip_byte() {
  local f=$1 off=${2:-0} b
  b=$(dd if="$f" bs=1 skip="$off" count=1 status=none | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
# `check "x" not CMD...`: succeeds when CMD fails ("!" is not a command inside "$@").
not() { ! "$@"; }
