#!/bin/bash
# In a VM with fs-verity: a `--verity require` store is refused on tmpfs (nothing written) and
# works on the verity ext4; import enables fs-verity on every object and image (the kernel
# measures each as its name); `mount --repo` mounts with verity=require and reads; fsck uses
# the kernel's measurement and names a swapped-in object and an object without verity, with
# their users; an image whose bytes do not match its name, or without verity, is not mounted.
. "$(dirname "$(realpath "$0")")/vm_lib.sh"
cd "$S"
mkdir -p treea/sub treeb
head -c 5000 /dev/urandom > treea/f1
head -c 9000 /dev/urandom > treea/f2        # swapped for another verity file in the store
head -c 70 /dev/urandom > treea/f3          # stored again without verity
head -c 20000 /dev/urandom > treea/sub/f4
cp treea/f1 treea/sub/dup                   # same content: one object
echo small > treea/small                    # inline in the image
head -c 6000 /dev/urandom > treeb/g1
head -c 3000 /dev/urandom > other           # the content swapped in under f2's object name
for f in f1 f2 f3 sub/f4; do obj_of "treea/$f"; done | sort -u > expected-objects
printf 'F1=%s\nF2=%s\nF3=%s\nOTHER=%s\n' "$(obj_of treea/f1)" "$(obj_of treea/f2)" "$(obj_of treea/f3)" \
  "$(fsv_hex other)" > vars
cat > test.sh <<'VM'
. ./lib.sh
. ./vars
R=/disk/repo M=/mnt/m; mkdir -p $M
reads_all() { for f in f1 f2 f3 sub/f4 sub/dup small; do cmp treea/$f $M/$f || return 1; done; }
objects_measure_as_names() {
  for f in $(find $R/objects -type f); do
    rel=${f#$R/objects/}
    [ "$(measure $f)" = "sha256:${rel%%/*}${rel#*/}" ] || { echo "# $f measures $(measure $f)"; return 1; }
  done
}
swap_in() { cp "$1" $R/tmp/swap && { [ -z "$3" ] || fsverity enable $R/tmp/swap; } && mv $R/tmp/swap "$2"; }
um() { imgctl umount $M; }

run imgctl init --verity require --repo /tmp/repo
check "init --verity require on tmpfs is refused (exit 1)" [ $rc -eq 1 ]
check "  ... saying why: $(err)" says "does not support fs-verity"
check "  ... before anything is written" [ ! -e /tmp/repo ]
mkdir /tmp/empty; run imgctl init --verity require --repo /tmp/empty
check "init --verity require in an empty tmpfs directory is refused" [ $rc -eq 1 ]
check "  ... which stays empty" [ -z "$(ls -A /tmp/empty)" ]

run imgctl init --verity require --repo $R
check "init --verity require on the verity ext4: $(err)" [ $rc -eq 0 ]
check "  ... repo.json says so" says '"verity":"require"' $R/repo.json
run imgctl import treea --ref local/a --repo $R; DA=$(cat /tmp/out)
check "import: $(err)" [ $rc -eq 0 ]
check "  ... the kernel measures the image as its name" [ "$(measure $R/images/$DA)" = "sha256:$DA" ]
check "  ... the objects are the files' fsverity-utils digests" [ "$(cd $R/objects && find . -type f | sed 's|^\./||' | sort)" = "$(cat expected-objects)" ]
check "  ... the kernel measures every object as its name" objects_measure_as_names
run imgctl fsck --repo $R
check "fsck of the fresh store is clean: $(err)" [ $rc -eq 0 ]
run imgctl mount local/a $M --repo $R
check "mount local/a --repo: $(err)" [ $rc -eq 0 ]
check "  ... with verity=require (the store's policy)" has_verity_require $M
check "  ... every file reads as on the host" reads_all
um

check "swap another verity file in under f2's object name" swap_in other $R/objects/$F2 verity
check "replace f3's object by a copy without fs-verity" swap_in $R/objects/$F3 $R/objects/$F3
run imgctl fsck --repo $R
check "fsck finds the damage (exit 1)" [ $rc -eq 1 ]
check "  ... names the swapped object with the kernel's digest" says "^objects/$F2: content does not match its name (digest $OTHER)$" /tmp/out
check "  ... and its user" grep -qx "  used by images/$DA:/f2" /tmp/out
check "  ... names the object without fs-verity" says "^objects/$F3: fs-verity is not enabled (store requires it)$" /tmp/out
check "  ... and its user" grep -qx "  used by images/$DA:/f3" /tmp/out
check "  ... and nothing else" [ "$(grep -vc '^  used by' /tmp/out)" -eq 2 ]
run imgctl mount local/a $M --repo $R
check "mount with the damaged objects (checked on read)" [ $rc -eq 0 ]
run cat $M/f2
check "  ... the swapped object gives EIO: $(err)" says "Input/output error"
run cat $M/f3
check "  ... the object without verity gives EIO: $(err)" says "Input/output error"
check "  ... intact files read" cmp treea/sub/f4 $M/sub/f4
um
run imgctl fsck --repair --repo $R
check "fsck --repair moves both objects aside" eval "[ ! -e $R/objects/$F2 ] && [ ! -e $R/objects/$F3 ]"
run imgctl import treea --ref local/a --repo $R
check "re-import stores them again: $(err)" [ "$(cat /tmp/out)" = "$DA" ]
check "  ... with fs-verity that the kernel measures as their names" objects_measure_as_names
run imgctl fsck --repo $R
check "  ... fsck is clean again: $(err)" [ $rc -eq 0 ]

run imgctl import treeb --ref local/b --repo $R; DB=$(cat /tmp/out)
check "import of a second tree: $(err)" [ $rc -eq 0 ]
check "put a verity copy of image a under image b's name" swap_in $R/images/$DA $R/images/$DB verity
for spec in local/b $DB; do
  run imgctl mount $spec $M --repo $R
  check "mount $spec is refused (exit 1)" [ $rc -eq 1 ]
  check "  ... because the bytes do not match the name: $(err)" says "images/$DB'.*content does not match its name (digest $DA)"
  check "  ... before anything is mounted" nothing_at $M
done
run imgctl fsck --repo $R
check "fsck names the image too" says "^images/$DB: content does not match its name (digest $DA)$" /tmp/out
check "replace image a by a copy without fs-verity" swap_in $R/images/$DA $R/images/$DA
run imgctl mount local/a $M --repo $R
check "mount of an image without fs-verity in a 'require' store is refused: $(err)" [ $rc -eq 1 ]
check "  ... saying so" says "fs-verity is not enabled on it"
check "  ... before anything is mounted" nothing_at $M
finish
VM
run_vm
