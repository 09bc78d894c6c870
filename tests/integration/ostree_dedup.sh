#!/bin/bash
# Two commits sharing most files share their objects: the second import stores only the
# contents it changed or added; an OCI image of the same files adds no object at all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ostree_lib.sh"
need_tool umoci
cd "$WORK"
make_os_tree src
ostree init --repo=repo --mode=bare-user
ostree commit --repo=repo -b os/stable --add-metadata-string=version=1 src >/dev/null
"$IMGCTL" init --repo store --verity optional >/dev/null || { fail "imgctl init"; finish; exit 1; }
d1=$("$IMGCTL" pull-ostree --repo store "ostree:$WORK/repo:os/stable")
n1=$(count_objects store)
# Independent count: distinct contents of regular files over 64 bytes in the source.
want1=$(find src -type f -size +64c -exec sha256sum {} + | cut -d' ' -f1 | sort -u | wc -l)
check "first import stores one object per distinct content > 64 bytes ($n1 = $want1)" [ "$n1" -eq "$want1" ]
# The same files as an OCI image (umoci), pulled with `imgctl pull oci:`: every content is shared.
umoci init --layout oci && umoci new --image oci:t && umoci unpack --image oci:t bundle >/dev/null
cp -a src/. bundle/rootfs/ && umoci repack --image oci:t bundle >/dev/null
doci=$("$IMGCTL" pull --repo store --quiet oci:oci:t 2>err)
check "OCI pull of the same files succeeds ($(head -c 200 err))" [ ${#doci} -eq 64 ]
check "OCI pull of the same files adds no object" [ "$(count_objects store)" -eq "$n1" ]
"$IMGCTL" init --repo oci-only --verity optional >/dev/null && "$IMGCTL" pull --repo oci-only --quiet oci:oci:t >/dev/null
objects() { (cd "$1/objects" && find . -type f | sort); }
check "the OCI image alone stores exactly the OSTree import's objects" diff <(objects store) <(objects oci-only)
head -c 100000 /dev/urandom > src/usr/bin/tool           # changed
head -c 7000 /dev/urandom > src/usr/lib/os/libnew.so      # added
cp src/usr/lib/os/libx.so.1 src/usr/lib/os/libcopy.so     # added, same content as an existing file
ostree commit --repo=repo -b os/stable --add-metadata-string=version=2 src >/dev/null
d2=$("$IMGCTL" pull-ostree --repo store --json "ostree:$WORK/repo:os/stable" | sed 's/.*"image":"\([0-9a-f]*\)".*/\1/')
n2=$(count_objects store)
check "second version is a different image" [ "$d1" != "$d2" -a ${#d2} -eq 64 ]
check "second import added exactly the 2 new contents ($n1 -> $n2)" [ "$n2" -eq $((n1 + 2)) ]
check "the ref moved to the second image" [ "$(cat store/refs/ostree/*/os%2Fstable)" = "$d2" ]
check "the first image is still there" [ -f "store/images/$d1" ]
d3=$("$IMGCTL" pull-ostree --repo store "ostree:$WORK/repo:os/stable")
check "importing the same commit again is a no-op" [ "$d3" = "$d2" -a "$(count_objects store)" -eq "$n2" ]
finish
