#!/usr/bin/env python3
"""compare_trees.py A B: every path of A and B with type, mode, uid/gid, size, mtime (ns),
xattrs, symlink target and content must be equal. nlink is not compared (composefs from a
directory gives every name its own inode, as mkcomposefs does), nor directory sizes.
Prints one line per difference and exits 1 if there is any."""
import os
import stat
import sys


def walk(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [""] if dirpath == root else []:
            out["/"] = describe(root)
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            out["/" + os.path.relpath(full, root)] = describe(full)
    return out


def describe(path):
    st = os.lstat(path)
    d = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "mtime_ns": st.st_mtime_ns}
    if not stat.S_ISDIR(st.st_mode):
        d["size"] = st.st_size
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    if stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(path)
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            d["content"] = f.read()
    d["xattrs"] = {n: os.getxattr(path, n, follow_symlinks=False)
                   for n in sorted(os.listxattr(path, follow_symlinks=False))}
    return d


a, b = walk(sys.argv[1]), walk(sys.argv[2])
bad = 0
for p in sorted(set(a) | set(b)):
    if p not in a or p not in b:
        print(f"{p!r}: only in {'B' if p not in a else 'A'}")
        bad += 1
        continue
    for k in sorted(set(a[p]) | set(b[p])):
        if a[p].get(k) != b[p].get(k):
            print(f"{p!r}: {k}: {str(a[p].get(k))[:100]} != {str(b[p].get(k))[:100]}")
            bad += 1
print(f"compared {len(a)} paths, {bad} differences")
sys.exit(1 if bad else 0)
