#!/bin/bash
# imgctl dump on every upstream vector image: `compose --min-version=V --max-version=V` of the
# dump (V from `dump --format-version`) writes the same image, and the published image digest
# (checked with `fsverity digest`) survives; a damaged image is refused with a named error.
. "$(dirname "$0")/lib.sh"
need_tool fsverity
V="${IMGCTL_SHARED:?}/vectors"
[ -f "$V/expected.tsv" ] || { echo "FAIL - no vectors in $V"; exit 1; }
cd "$WORK"
while IFS=$'\t' read -r file opts sha vdigest mode; do
  case "$file" in '#'*|'') continue ;; esac
  [ "$opts" = "-" ] && opts=""
  gzip -dcf "$V/$file" > in.dump
  # shellcheck disable=SC2086
  "$IMGCTL" compose $opts --from-file in.dump a.img || { fail "$file: compose"; continue; }
  "$IMGCTL" dump a.img > a.dump; rc=$?
  check "$file: dump exits 0" [ "$rc" -eq 0 ]
  ver=$("$IMGCTL" dump --format-version a.img)
  "$IMGCTL" compose --min-version="$ver" --max-version="$ver" --from-file a.dump b.img
  check "$file: dump -> compose (v$ver) gives the same bytes" cmp -s a.img b.img
  check "$file: published digest" [ "$(fsverity digest --compact b.img)" = "$vdigest" ]
  "$IMGCTL" dump b.img > b.dump
  check "$file: the dump is stable" cmp -s a.dump b.dump
done < "$V/expected.tsv"
head -c 5000 a.img > cut.img
"$IMGCTL" dump cut.img > /dev/null 2>err; rc=$?
check "a truncated image exits 1" [ "$rc" -eq 1 ]
check "  ... naming the image: $(cat err)" grep -q "image 'cut.img'" err
finish
