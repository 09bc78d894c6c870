#!/bin/bash
# Checks the module layering of CONVENTIONS.md §1 / DESIGN.md §2 by grepping includes:
# each module may include only the modules below it, and each C library stays in its module.
set -u
ROOT=${IMGCTL_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
declare -A ALLOWED=(
  [base]="base" [crypto]="base crypto" [store]="base crypto store"
  [composefs]="base crypto store composefs"
  [oci]="base crypto store composefs oci" [ostree]="base crypto store composefs ostree"
  [bootloader]="base bootloader" [deploy]="base crypto store composefs bootloader deploy"
  [initramfs]="base crypto store composefs initramfs"
)
# library header prefix -> the one module allowed to include it
declare -A OWNER=([openssl/]=crypto [curl/]=oci [glib]=ostree [gio/]=ostree [ostree]=ostree [archive]=oci)
fails=0 checked=0
for mod in "${!ALLOWED[@]}"; do
  for dir in "$ROOT/src/$mod" "$ROOT/$mod"; do
    [ -d "$dir" ] || continue
    while IFS= read -r -d '' f; do
      checked=$((checked + 1))
      while IFS= read -r inc; do
        top=${inc%%/*}
        if [ -n "${ALLOWED[$top]+x}" ] && ! grep -qw "$top" <<<"${ALLOWED[$mod]}"; then
          echo "FAIL - ${f#$ROOT/} ($mod) includes \"$inc\""; fails=$((fails + 1))
        fi
      done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
      while IFS= read -r inc; do
        for p in "${!OWNER[@]}"; do
          if [[ $inc == $p* ]] && [ "${OWNER[$p]}" != "$mod" ]; then
            echo "FAIL - ${f#$ROOT/} ($mod) includes <$inc>, which belongs to ${OWNER[$p]}"; fails=$((fails + 1))
          fi
        done
      done < <(sed -n 's/^#include <\([^>]*\)>.*/\1/p' "$f")
    done < <(find "$dir" -name '*.[ch]pp' -print0)
  done
done
[ "$checked" -gt 0 ] || { echo "FAIL - no sources found under $ROOT"; exit 1; }
echo "checked $checked files"
echo "$((checked - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
