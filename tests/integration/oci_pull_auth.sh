#!/bin/bash
# imgctl pull with authentication against real registries: htpasswd (Basic) and token (Bearer,
# tokenserver.py recipe): anonymous tokens, credentials from auth.json files, identity tokens
# (OAuth2 refresh tokens, through oauthfront.py), credential helpers, and 401 messages that name
# the file used or say none was found.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
need_tool htpasswd
need_tool openssl
export HOME=$WORK/home; unset REGISTRY_AUTH_FILE; mkdir -p "$HOME"
"$IMGCTL" init --repo "$WORK/repo" >/dev/null
free_port B; free_port T; free_port K
htpasswd -Bbn imgctl s3cret > "$WORK/htpasswd"
reg_start basic "$B" "auth: {htpasswd: {realm: imgctl-test, path: $WORK/htpasswd}}" || exit 1
tok_start "$K" imgctl:s3cret || exit 1
reg_start token "$T" "auth: {token: {realm: http://127.0.0.1:$K/token, service: imgctl-test-registry, issuer: imgctl-test-issuer, rootcertbundle: $TOK_CERT}}" || exit 1
authjson() { printf '{"auths":{"%s":{"auth":"%s"}}}' "$1" "$(printf %s "$2" | base64 -w0)" > "$3"; }
authjson "127.0.0.1:$B" imgctl:s3cret "$WORK/good.json"; authjson "127.0.0.1:$B" imgctl:wrong "$WORK/bad.json"
authjson "127.0.0.1:$T" imgctl:s3cret "$WORK/tgood.json"; authjson "127.0.0.1:$T" imgctl:nope "$WORK/tbad.json"
make_image "$WORK/src" t "$RANDOM$RANDOM"
want=$("$IMGCTL" pull --repo "$WORK/repo" --quiet "oci:$WORK/src:t")
for dest in "127.0.0.1:$B/private/app" "127.0.0.1:$T/private/app" "127.0.0.1:$T/public/app"; do
  push "oci:$WORK/src:t" "docker://$dest:1" --dest-creds imgctl:s3cret || fail "push $dest"
done
pull() { "$IMGCTL" pull --repo "$WORK/repo" --quiet --insecure-registry "127.0.0.1:$B" --insecure-registry "127.0.0.1:$T" "$@"; }
expect() {  # expect WHAT PATTERN ARGS...: the pull fails (exit 1) with PATTERN in its message
  local what=$1 pat=$2 out; shift 2
  out=$(pull "$@" 2>&1) && { fail "$what: succeeded"; return; }
  [[ $out == *$pat* ]] && ok "$what: $out" || fail "$what: $out"
}
got() { local what=$1 d; shift; d=$(pull "$@") && [ "$d" = "$want" ] && ok "$what" || fail "$what ($d)"; }

# Basic (htpasswd).
expect "basic, no credentials" "401 Unauthorized: no credentials for '127.0.0.1:$B' were found (looked in $WORK/nothere.json)" \
  --authfile "$WORK/nothere.json" "127.0.0.1:$B/private/app:1"
expect "basic, default search names the files" "were found (looked in /etc/imgctl/auth.json, /run/containers/" "127.0.0.1:$B/private/app:1"
expect "basic, wrong password" "the credentials for '127.0.0.1:$B' from '$WORK/bad.json' were rejected" --authfile "$WORK/bad.json" "127.0.0.1:$B/private/app:1"
got "basic, --authfile" --authfile "$WORK/good.json" --ref local/basic "127.0.0.1:$B/private/app:1"
REGISTRY_AUTH_FILE=$WORK/good.json got "basic, \$REGISTRY_AUTH_FILE" --ref local/basic2 "127.0.0.1:$B/private/app:1"
mkdir -p "$HOME/.docker"; authjson "http://127.0.0.1:$B/v2/" imgctl:s3cret "$HOME/.docker/config.json"
got "basic, ~/.docker/config.json (legacy URL key)" --ref local/basic3 "127.0.0.1:$B/private/app:1"
rm -rf "$HOME/.docker"

# Bearer tokens.
got "bearer, anonymous token for public/*" --ref local/pub "127.0.0.1:$T/public/app:1"
expect "bearer, private without credentials" "no credentials for '127.0.0.1:$T' were found" --authfile "$WORK/none.json" "127.0.0.1:$T/private/app:1"
expect "bearer, wrong password" "refused the credentials from '$WORK/tbad.json'" --authfile "$WORK/tbad.json" "127.0.0.1:$T/private/app:1"
got "bearer, with credentials" --authfile "$WORK/tgood.json" --ref local/priv "127.0.0.1:$T/private/app:1"
grep -q 'account=imgctl\|GET /token?' "$WORK/token/log" && ok "token server was asked" || fail "token server log: $(cat "$WORK/token/log")"

# Identity tokens (OAuth2 refresh tokens, as `az acr login` and docker write them): a registry
# whose token realm is an OAuth2 front (oauthfront.py) for the same token server; imgctl POSTs
# grant_type=refresh_token instead of sending a password.
free_port O; free_port T2
python3 "$HERE/oauthfront.py" "$O" "$K" imgctl:s3cret rt-good "$WORK/oauth.log" > "$WORK/oauth.out" 2>&1 &
REG_PIDS+=($!)
wait_http "http://127.0.0.1:$O/token" || fail "oauth front"
reg_start token2 "$T2" "auth: {token: {realm: http://127.0.0.1:$O/token, service: imgctl-test-registry, issuer: imgctl-test-issuer, rootcertbundle: $TOK_CERT}}" || exit 1
push "oci:$WORK/src:t" "docker://127.0.0.1:$T2/private/app:1" --dest-creds imgctl:s3cret || fail "push to token2"
idtok() { printf '{"auths":{"127.0.0.1:%s":{"auth":"%s","identitytoken":"%s"}}}' "$T2" "$(printf %s '00000000-0000-0000-0000-000000000000:' | base64 -w0)" "$1" > "$2"; }
idtok rt-good "$WORK/idgood.json"; idtok rt-stolen "$WORK/idbad.json"
: > "$WORK/oauth.log"
got "bearer, identity token from auth.json" --insecure-registry "127.0.0.1:$T2" --authfile "$WORK/idgood.json" --ref local/idtok "127.0.0.1:$T2/private/app:1"
grep -q '^POST /token grant_type=refresh_token client_id=imgctl scope=repository:private/app:pull' "$WORK/oauth.log" &&
  ok "identity token: exchanged with a refresh_token POST" || fail "oauth log: $(cat "$WORK/oauth.log")"
expect "bearer, wrong identity token" "refused the identity token from '$WORK/idbad.json' (400)" \
  --insecure-registry "127.0.0.1:$T2" --authfile "$WORK/idbad.json" "127.0.0.1:$T2/private/app:1"

# Credential helpers: the real docker-credential-pass (golang-docker-credential-helpers) over a
# real pass(1) store encrypted to a throwaway GnuPG key.
need_tool docker-credential-pass; need_tool pass; need_tool gpg; need_tool gpgconf
export GNUPGHOME=$WORK/gnupg PASSWORD_STORE_DIR=$WORK/pass-store
mkdir -m 700 "$GNUPGHOME"
trap 'gpgconf --kill all >/dev/null 2>&1; reg_cleanup' EXIT
gpg --batch --passphrase '' --quick-gen-key imgctl-test@example.invalid default default never >/dev/null 2>&1 || fail "gpg key"
pass init "$(gpg --list-keys --with-colons | awk -F: '/^fpr/ {print $10; exit}')" >/dev/null || fail "pass init"
helper_store() { printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$1" "$2" "$3" | docker-credential-pass store; }
helper_store "127.0.0.1:$B" imgctl s3cret
helper_store "127.0.0.1:$T" imgctl wrong
printf '{"credHelpers":{"127.0.0.1:%s":"pass","127.0.0.1:%s":"pass"}}' "$B" "$T" > "$WORK/helpers.json"
got "basic, credHelpers -> docker-credential-pass" --authfile "$WORK/helpers.json" --ref local/helper "127.0.0.1:$B/private/app:1"
helper_store "127.0.0.1:$T2" '<token>' rt-good
printf '{"credHelpers":{"127.0.0.1:%s":"pass"}}' "$T2" > "$WORK/idhelper.json"
got "bearer, identity token from docker-credential-pass (Username <token>)" --insecure-registry "127.0.0.1:$T2" \
  --authfile "$WORK/idhelper.json" --ref local/idhelper "127.0.0.1:$T2/private/app:1"
printf '{"auths":{"127.0.0.1:%s":{}},"credsStore":"pass"}' "$B" > "$WORK/store.json"
got "basic, credsStore (docker's empty auths entry)" --authfile "$WORK/store.json" --ref local/helper2 "127.0.0.1:$B/private/app:1"
expect "bearer, helper holds a wrong secret" "refused the credentials from 'docker-credential-pass (named in $WORK/helpers.json)'" \
  --authfile "$WORK/helpers.json" "127.0.0.1:$T/private/app:1"
# A helper with nothing for the registry (an empty pass store) means no credentials, not an error.
key=$(gpg --list-keys --with-colons | awk -F: '/^fpr/ {print $10; exit}')
PASSWORD_STORE_DIR=$WORK/pass-empty pass init "$key" >/dev/null || fail "pass init (empty)"
PASSWORD_STORE_DIR=$WORK/pass-empty expect "helper without an entry" "no credentials for '127.0.0.1:$B' were found" \
  --authfile "$WORK/store.json" "127.0.0.1:$B/private/app:1"
printf '{"credHelpers":{"127.0.0.1:%s":"imgctl-missing"}}' "$B" > "$WORK/missing.json"
expect "missing helper is named" "credential helper 'docker-credential-imgctl-missing' was not found in \$PATH" \
  --authfile "$WORK/missing.json" "127.0.0.1:$B/private/app:1"
printf '{"credHelpers":{"127.0.0.1:%s":"../../bin/sh"}}' "$B" > "$WORK/evil.json"
expect "helper name with a path is refused" "invalid credential helper name '../../bin/sh'" --authfile "$WORK/evil.json" "127.0.0.1:$B/private/app:1"
finish
