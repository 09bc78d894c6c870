#!/bin/bash
# imgctl compose --from-file on every upstream vector: the published sha256 and fs-verity digest
# (checked with sha256sum and `fsverity digest`), fsck.erofs accepts the image, strict parsing
# accepts exactly the strict vectors, should-fail vectors exit 1 and leave no file.
. "$(dirname "$0")/lib.sh"
need_tool fsck.erofs
need_tool fsverity
V="${IMGCTL_SHARED:?}/vectors"
[ -f "$V/expected.tsv" ] || { echo "FAIL - no vectors in $V"; exit 1; }
cd "$WORK"
while IFS=$'\t' read -r file opts sha vdigest mode; do
  case "$file" in '#'*|'') continue ;; esac
  [ "$opts" = "-" ] && opts=""
  gzip -dcf "$V/$file" > in.dump
  # shellcheck disable=SC2086
  "$IMGCTL" compose $opts --from-file in.dump out.img 2>err
  check "$file: composes" [ $? -eq 0 ]
  check "$file: sha256" [ "$(sha256sum < out.img | cut -d' ' -f1)" = "$sha" ]
  check "$file: fsverity digest" [ "$(fsverity digest --compact out.img)" = "$vdigest" ]
  check "$file: fsck.erofs accepts it" fsck.erofs out.img
  # shellcheck disable=SC2086
  got=$("$IMGCTL" compose $opts --print-digest-only --from-file - < in.dump)
  check "$file: --print-digest-only from stdin" [ "$got" = "$vdigest" ]
  # shellcheck disable=SC2086
  CFS_PARSE_STRICT=1 "$IMGCTL" compose $opts --from-file in.dump strict.img 2>/dev/null
  rc=$?
  if [ "$mode" = strict ]; then
    [ $rc -eq 0 ] && cmp -s out.img strict.img
    check "$file: strict parsing accepts it, same image" [ $? -eq 0 ]
  else
    [ $rc -eq 1 ] && [ ! -e strict.img ]
    check "$file: strict parsing refuses it (exit 1, no file)" [ $? -eq 0 ]
  fi
  rm -f out.img strict.img
done < "$V/expected.tsv"
for f in "$V"/should-fail-*.dump; do
  n=$(basename "$f")
  "$IMGCTL" compose --from-file "$f" bad.img 2>err
  check "$n: exit 1" [ $? -eq 1 ]
  check "$n: no image left" [ ! -e bad.img ]
  check "$n: an error message" grep -q "error" err
  "$IMGCTL" compose --strict --from-file "$f" bad.img 2>/dev/null
  [ $? -eq 1 ] && [ ! -e bad.img ]
  check "$n: strict: exit 1, no image" [ $? -eq 0 ]
done
ls -A | grep -v -e '^in.dump$' -e '^err$' -e '^leftovers$' > leftovers
check "no temporary files left in the output directory" [ ! -s leftovers ]
# Installed as mkcomposefs, imgctl takes mkcomposefs's command line.
ln -s "$IMGCTL" mkcomposefs
gzip -dc "$V/config.dump.gz" > config.dump
./mkcomposefs --print-digest --from-file config.dump mk.img > mk.out
check "as mkcomposefs: prints the digest" [ "$(cat mk.out)" = "$(fsverity digest --compact mk.img)" ]
finish
