#!/bin/bash
# GLib/libostree stay inside src/ostree: its public headers include none of them, and only
# src/ostree/*.cpp include the private glib_support.hpp.
. "$(dirname "$0")/lib.sh"
SRC="${IMGCTL_SOURCE_ROOT:?}/src"
leaks=$(grep -lE '#include *[<"](glib|gio|ostree\.h|ostree-)' "$SRC"/ostree/*.hpp | grep -v '/glib_support.hpp$')
check "public ostree headers include no GLib/libostree header ($leaks)" [ -z "$leaks" ]
users=$(grep -rlE '#include *"ostree/glib_support.hpp"' "$SRC" | grep -vE '^'"$SRC"'/ostree/[a-z_]+\.cpp$')
check "only src/ostree/*.cpp include glib_support.hpp ($users)" [ -z "$users" ]
others=$(grep -rlE '#include *[<"](glib|gio/|ostree\.h)' "$SRC" | grep -v "^$SRC/ostree/")
check "no other module includes GLib or libostree ($others)" [ -z "$others" ]
finish
