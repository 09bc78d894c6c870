#!/bin/bash
# --help, --version, unknown verbs and bad options.
. "$(dirname "$0")/lib.sh"
out=$("$IMGCTL" --help); rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help lists digest" grep -q "digest" <<<"$out"
check "--version prints the version" grep -Eq '^imgctl [0-9]+\.[0-9]+' <<<"$("$IMGCTL" --version)"
check "digest --help" grep -q "Usage: imgctl digest" <<<"$("$IMGCTL" digest --help)"
pull_help=$("$IMGCTL" pull --help)
for o in --repo --sysroot --no-wait --insecure-registry; do
  check "pull --help names $o" grep -q -- "^  $o " <<<"$pull_help"
done
"$IMGCTL" frobnicate 2>err; rc=$?
check "unknown verb exits 2" [ "$rc" -eq 2 ]
check "unknown verb is one named line" grep -q "unknown verb 'frobnicate'" err
"$IMGCTL" --bogus 2>err; rc=$?
check "unknown global option exits 2" [ "$rc" -eq 2 ]
"$IMGCTL" digest --bogus x 2>err; rc=$?
check "unknown verb option exits 2" [ "$rc" -eq 2 ]
check "unknown verb option is named" grep -q -- "--bogus" err
"$IMGCTL" 2>err; rc=$?
check "no verb exits 2" [ "$rc" -eq 2 ]
finish
