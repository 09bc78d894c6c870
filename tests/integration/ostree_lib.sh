# Helpers for the OSTree integration scripts (sourced after lib.sh).
need_tool ostree
need_tool setfattr
need_tool getfattr

# make_os_tree DIR: a small OS-like tree with what an OSTree commit can hold: owners, modes,
# xattrs (user.* and security.selinux), symlinks, hardlinks, odd names, /usr/etc.
make_os_tree() {
  local d=$1
  mkdir -p "$d"/usr/bin "$d"/usr/lib/os "$d"/usr/etc/conf.d "$d/usr/share/odd names" "$d"/var/private
  head -c 200000 /dev/urandom > "$d"/usr/bin/tool
  head -c 5000 /dev/urandom > "$d"/usr/lib/os/libx.so.1
  printf 'NAME=test\n' > "$d"/usr/lib/os-release
  printf 'myhost\n' > "$d"/usr/etc/hostname
  printf 'x=1\n' > "$d"/usr/etc/conf.d/x.conf
  head -c 64 /dev/zero | tr '\0' 'a' > "$d"/usr/share/sixtyfour
  head -c 65 /dev/zero | tr '\0' 'b' > "$d"/usr/share/sixtyfive
  : > "$d"/usr/share/empty
  head -c 3000 /dev/urandom > "$d"/usr/share/hard1
  ln "$d"/usr/share/hard1 "$d"/usr/share/hard2
  printf 'space\n' > "$d/usr/share/odd names/with space"
  printf 'uni\n' > "$d/usr/share/odd names/ünï-cødé"
  printf 'colon\n' > "$d/usr/share/odd names/a:b\\c"
  printf 'dash\n' > "$d/usr/share/odd names/-dash"
  ln -s libx.so.1 "$d"/usr/lib/os/libx.so
  ln -s /usr/lib/os-release "$d"/usr/share/abs-link
  ln -s ../../nonexistent "$d"/usr/share/dangling
  chmod 4755 "$d"/usr/bin/tool
  chmod 0700 "$d"/var/private
  chmod 0640 "$d"/usr/etc/conf.d/x.conf
  chown 1000:1001 "$d"/usr/share/sixtyfive
  chown 0:42 "$d"/usr/etc/conf.d/x.conf
  setfattr -n user.note -v hello "$d"/usr/lib/os-release
  setfattr -n security.selinux -v system_u:object_r:bin_t:s0 "$d"/usr/bin/tool
  setfattr -n user.dirnote -v d "$d"/var/private
  setfattr -h -n user.linknote -v l "$d"/usr/lib/os/libx.so 2>/dev/null || true  # not every fs allows it
}

# manifest DIR: one sorted line per path: type, mode, owner, size (files), link target,
# content hash and every xattr (hex). Paths relative to DIR.
manifest() {
  (cd "$1" && find . -printf '%P\n' | LC_ALL=C sort | while IFS= read -r p; do
    p=${p:-.}
    line=$(find "$p" -maxdepth 0 -printf '%y %m %U:%G')
    case "$line" in
      f*) line="$line $(stat -c '%s' -- "$p") $(sha256sum < "$p" | cut -c1-16)" ;;
      l*) line="$line -> $(readlink -- "$p")" ;;
    esac
    x=$(getfattr -h -d -m - -e hex --absolute-names -- "$p" 2>/dev/null | grep -v '^#' | LC_ALL=C sort | tr '\n' ' ')
    printf '%s\t%s\t%s\n' "$p" "$line" "$x"
  done)
}

# mounted_manifest STORE DIGEST: the manifest of the image mounted as composefs does it
# (EROFS + overlayfs with the objects as data-only lower layer), in a private mount namespace.
mounted_manifest() {
  export -f manifest
  unshare -m bash -c '
    set -e
    mkdir -p "$3/e" "$3/m"
    mount -t erofs -o ro,loop "$1/images/$2" "$3/e"
    mount -t overlay overlay -o "ro,lowerdir+=$3/e,datadir+=$1/objects,metacopy=on,redirect_dir=on" "$3/m"
    manifest "$3/m"' _ "$1" "$2" "$(mktemp -d "$WORK/mnt.XXXXXX")"
}

count_objects() { find "$1/objects" -type f | wc -l; }
