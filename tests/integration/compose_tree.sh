# Sourced by the compose_dir_* scripts: make_source DIR builds a small tree with every kind of
# entry mkcomposefs handles (files around the 64-byte inline limit, symlinks, a hardlink,
# fifo, devices, odd names, owners, special modes, xattrs, nanosecond mtimes).
make_source() {
  local S=$1
  mkdir -p $S/dir/sub $S/empty "$S/odd name" $S/deep/a/b/c
  head -c 64 /dev/urandom > $S/f64; head -c 65 /dev/urandom > $S/f65
  head -c 1 /dev/urandom > $S/f1; : > $S/f0
  head -c 4096 /dev/urandom > $S/dir/f4096; head -c 1048577 /dev/urandom > $S/dir/sub/big
  cp $S/f65 $S/dir/same-as-f65       # identical content: one object
  printf 'x=y\n' > "$S/odd name/a=b c"
  printf 'deep\n' > $S/deep/a/b/c/file
  ln -s f64 $S/link; ln -s "$(head -c 3000 /dev/zero | tr '\0' 'l')" $S/longlink
  ln -s /nonexistent/target $S/dangling
  ln $S/f65 $S/hardlink-to-f65
  mkfifo $S/fifo
  mknod $S/chr c 1 3; mknod $S/blk b 8 1
  chown 1234:5678 $S/dir/f4096; chmod 4751 $S/dir/sub/big; chmod 1777 $S/empty; chmod 0600 $S/f1
  setfattr -n user.color -v blue $S/f65
  setfattr -n user.empty $S/dir
  setfattr -n trusted.overlay.opaque -v y $S/dir/sub   # a user overlay xattr: escaped in the image
  setfattr -n trusted.test -v t $S/f64
  touch -h -d '2001-02-03 04:05:06.123456789' $S/link
  touch -d '1999-12-31 23:59:59.5' $S/f0
}
