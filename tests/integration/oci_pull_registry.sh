#!/bin/bash
# imgctl pull from a real registry (anonymous): gzip, zstd, zstd:chunked and Docker schema-2
# images; each result is mounted and compared with skopeo copy + umoci unpack of the same image.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
free_port PORT; R=127.0.0.1:$PORT
reg_start reg "$PORT" || exit 1
"$IMGCTL" init --repo "$WORK/repo" >/dev/null
pull() { "$IMGCTL" pull --repo "$WORK/repo" --insecure-registry "$R" --quiet "$@"; }
salt=$RANDOM$RANDOM

for fmt in gzip zstd zstd:chunked v2s2; do
  make_image "$WORK/src-${fmt/:/-}" t "$salt-$fmt"
  case $fmt in
    v2s2) push "oci:$WORK/src-v2s2:t" "docker://$R/os/v2s2:1" --format v2s2 ;;
    *) push "oci:$WORK/src-${fmt/:/-}:t" "docker://$R/os/${fmt/:/-}:1" --dest-compress-format "$fmt" ;;
  esac
  name=os/${fmt/:/-}
  mt=$(curl -s "http://$R/v2/$name/manifests/1" -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' |
       python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["layers"][0]["mediaType"], "chunked" if any("zstd-chunked" in k for k in m["layers"][0].get("annotations",{})) else "")')
  case $fmt in  # skopeo reuses blobs it has seen: make sure the format under test is really there
    gzip) want_mt="application/vnd.oci.image.layer.v1.tar+gzip " ;;
    zstd) want_mt="application/vnd.oci.image.layer.v1.tar+zstd " ;;
    zstd:chunked) want_mt="application/vnd.oci.image.layer.v1.tar+zstd chunked" ;;
    v2s2) want_mt="application/vnd.docker.image.rootfs.diff.tar.gzip " ;;
  esac
  check "$fmt: the registry holds a $want_mt layer" test "$mt" = "$want_mt"
  d=$(pull "docker://$R/$name:1") && ok "$fmt: pull" || { fail "$fmt: pull"; continue; }
  # umoci refuses skopeo's zstd:chunked blobs (they decompress to the tar without its trailing
  # padding, so "diffid mismatch"): for that one the reference is the source layout pushed.
  src="docker://$R/$name:1"; [ "$fmt" = zstd:chunked ] && src="oci:$WORK/src-zstd-chunked:t"
  ref=$(reference_tree "$src" "$WORK/ref-${fmt/:/-}") || { fail "$fmt: reference unpack"; continue; }
  check "$fmt: mounted image equals skopeo+umoci" mount_cmp "$WORK/repo" "$d" "$ref"
done
case $(curl -s "http://$R/v2/os/zstd-chunked/manifests/1" -H 'Accept: application/vnd.oci.image.manifest.v1+json') in
  *zstd-chunked.manifest-position*) ok "zstd:chunked image really has a chunked TOC" ;; *) fail "zstd:chunked TOC missing" ;;
esac

# The ref and the metadata name the manifest; layers already applied are not downloaded again.
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
check "ref oci/<escaped reference> is set" same "$(cat "$WORK/repo/refs/oci/127.0.0.1%3A$PORT%2Fos%2Fgzip%3A1")" "$(pull "$R/os/gzip:1")"
grep -q '"manifest":"sha256:' "$WORK/repo/images/$(pull "$R/os/gzip:1").json" && ok "image metadata names the manifest" || fail "image metadata"
free_port PX; proxy_start "$PX" "$PORT"
pull --insecure-registry "127.0.0.1:$PX" --ref local/again "127.0.0.1:$PX/os/gzip:1" >/dev/null
pull --insecure-registry "127.0.0.1:$PX" --ref local/again "127.0.0.1:$PX/os/gzip:1" >/dev/null
# (the first of these two pulls sets a new ref: its layers come from the records of the
# earlier pull, only the config is fetched; the second finds the ref up to date)
check "known layers and an up-to-date ref fetch no layer blob" test "$(grep -c '/blobs/' "$WORK/proxy-$PX.log")" -eq 1
# An image sharing its two lower layers: only the config and the new top layer are fetched,
# and the result still equals skopeo+umoci.
make_image "$WORK/src-gzip" t2 "$salt-gzip" --top-salt "$salt-new"
push "oci:$WORK/src-gzip:t2" "docker://$R/os/gzip:2"
: > "$WORK/proxy-$PX.log"
d=$(pull --insecure-registry "127.0.0.1:$PX" "127.0.0.1:$PX/os/gzip:2")
check "shared layers are not downloaded again" test "$(grep -c '/blobs/' "$WORK/proxy-$PX.log")" -eq 2
check "image from cached layers equals skopeo+umoci" mount_cmp "$WORK/repo" "$d" "$(reference_tree "docker://$R/os/gzip:2" "$WORK/ref-t2")"

# Pull by digest; a missing tag is a clear 404; a bare name needs a default registry.
dg=$(curl -sI "http://$R/v2/os/gzip/manifests/1" -H 'Accept: application/vnd.oci.image.manifest.v1+json' | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
check "pull by digest gives the same image" same "$(pull "$R/os/gzip@$dg")" "$(pull "$R/os/gzip:1")"
out=$(pull "$R/os/gzip:nope" 2>&1); [ $? -eq 1 ] && [[ $out == *"manifest 'nope' not found"* ]] && ok "missing tag: $out" || fail "missing tag: $out"
out=$(pull os/gzip:1 2>&1); [[ $out == *"no default registry"* ]] && ok "bare name refused" || fail "bare name: $out"
check "bare name with --default-registry" same "$(pull --default-registry "$R" os/gzip:1)" "$(pull "$R/os/gzip:1")"

# An index with two platforms pushed with --all: the host's by default, --platform for the other.
make_image "$WORK/multi" amd "$salt-m" --arch amd64; make_image "$WORK/multi" arm "$salt-m" --arch arm64
python3 "$HERE/mkimage.py" "$WORK/multi" multi --index amd arm >/dev/null
push "oci:$WORK/multi:multi" "docker://$R/os/multi:1" --all
amd=$(pull "$R/os/multi:1"); arm=$(pull --platform linux/arm64 "$R/os/multi:1")
check "index: host platform = the amd64 image" same "$amd" "$(pull "oci:$WORK/multi:amd")"
check "index: --platform linux/arm64 = the arm64 image" same "$arm" "$(pull "oci:$WORK/multi:arm")"

# HTTPS is verified: a registry with a self-signed certificate is refused unless marked insecure
# (which means plain HTTP, so it then fails differently), and nothing is sent in the clear.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 2 -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
free_port S; reg_start tls "$S" "  tls: {certificate: $WORK/tls.crt, key: $WORK/tls.key}" || exit 1
out=$("$IMGCTL" pull --repo "$WORK/repo" --quiet "127.0.0.1:$S/os/gzip:1" 2>&1)
[ $? -eq 1 ] && [[ $out == *"https://127.0.0.1:$S/v2/"*"certificate"* ]] && ok "self-signed TLS refused: $out" || fail "TLS: $out"
finish
