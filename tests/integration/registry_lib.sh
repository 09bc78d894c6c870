# Registry fixture for the OCI integration tests (sourced after lib.sh). Starts Debian's
# docker-registry (and the token server / fault proxy) on 127.0.0.1 with config and data under
# $WORK, and stops every process it started, by PID, when the script exits.
need_tool docker-registry
need_tool skopeo
need_tool umoci
need_tool python3
: "${IMGCTL_SHARED:?IMGCTL_SHARED must point to the shared data}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REG_PIDS=()
reg_cleanup() {
  local p
  for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap reg_cleanup EXIT

# free_port VAR: sets VAR to a free TCP port on 127.0.0.1: random in 20000-59999, nobody
# listening, not handed out before by this script (parallel scripts pick independently; a clash
# makes a server fail loudly rather than pass wrongly).
FREE_PORTS_GIVEN=" "
free_port() {
  local p
  while :; do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ $FREE_PORTS_GIVEN == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    FREE_PORTS_GIVEN+="$p "; printf -v "$1" '%s' "$p"; return
  done
}

# wait_http URL: until the server answers at all (any status), at most 5 s.
wait_http() {
  local i
  for i in $(seq 100); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up"; return 1
}

# reg_start NAME PORT [YAML]: a registry with storage in $WORK/NAME/data; YAML is appended right
# after the http: keys (indent it to add to them, e.g. "  tls: {…}"; top-level "auth: {…}").
reg_start() {
  local dir=$WORK/$1
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<EOC
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http:
  addr: 127.0.0.1:$2
  secret: imgctl-test
${3:-}
EOC
  docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
  REG_PIDS+=($!)
  local scheme=http; grep -q 'tls:' "$dir/config.yml" && scheme=https
  wait_http "$scheme://127.0.0.1:$2/v2/"
}

# tok_start PORT USER:PASS: the recipe's Bearer token server; sets TOK_CERT for the registry.
tok_start() {
  local dir=$WORK/token
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=imgctl-test-token-issuer -days 2 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || return 1
  TOK_CERT=$dir/cert.pem
  python3 "$IMGCTL_SHARED/recipes/tokenserver.py" "$1" "$dir/key.pem" "$dir/cert.pem" "$2" > "$dir/log" 2>&1 &
  REG_PIDS+=($!)
  wait_http "http://127.0.0.1:$1/token"
}

# proxy_start PORT UPSTREAM_PORT MODE...: the fault-injecting HTTP proxy (faultproxy.py).
proxy_start() {
  local port=$1 up=$2; shift 2
  python3 "$HERE/faultproxy.py" "$port" "$up" "$WORK/proxy-$port.log" "$@" > "$WORK/proxy-$port.out" 2>&1 &
  REG_PIDS+=($!)
  wait_http "http://127.0.0.1:$port/v2/"
}

# push SRC DEST [skopeo flags]: skopeo copy to a plain-HTTP registry.
push() { skopeo copy -q --dest-tls-verify=false "${@:3}" "$1" "$2" >/dev/null; }

# make_image LAYOUT TAG SALT [mkimage flags]: a fresh three-layer test image (tests/integration/mkimage.py).
make_image() { python3 "$HERE/mkimage.py" "$1" "$2" --salt "$3" "${@:4}" >/dev/null; }

# reference_tree IMAGE DIR: the independent expectation: skopeo copy IMAGE to an OCI layout
# (gzip: umoci 0.4.7 cannot read zstd layers), then umoci unpack (as root: owners, devices and
# xattrs are kept). Prints DIR/bundle/rootfs.
reference_tree() {
  mkdir -p "$2" && skopeo copy -q --src-tls-verify=false --dest-compress-format gzip "$1" "oci:$2/layout:ref" >/dev/null &&
    umoci unpack --image "$2/layout:ref" "$2/bundle" >/dev/null && echo "$2/bundle/rootfs"
}

# mount_cmp REPO DIGEST TREE: mounts images/DIGEST as composefs (EROFS + overlay with the store's
# objects as a data-only layer) in a private mount namespace and compares it with TREE.
mount_cmp() {
  local m
  m=$(mktemp -d "$WORK/mnt.XXXXXX")
  mkdir -p "$m/erofs" "$m/root"
  unshare -m sh -c "mount -t erofs -o ro,loop '$1/images/$2' '$m/erofs' &&
    mount -t overlay overlay -o ro,lowerdir+='$m/erofs',datadir+='$1/objects',metacopy=on,redirect_dir=on '$m/root' &&
    python3 '$HERE/treecmp.py' '$m/root' '$3'"
}
