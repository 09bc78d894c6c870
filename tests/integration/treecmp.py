#!/usr/bin/env python3
"""treecmp.py A B : compares two directory trees (no symlink following): every path, file type,
mode, owner, size, content (SHA-256), symlink target, device number, xattrs (trusted.* and
security.selinux excluded: overlay metadata / host labels), mtime (seconds),
and hardlink structure (nlink, and which names share an inode). Prints each difference; exit 1 if any."""
import hashlib, os, stat, sys

def scan(root):
    out, inodes = {}, {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n); rel = os.path.relpath(p, root); st = os.lstat(p)
            e = {'mode': oct(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid, 'mtime': int(st.st_mtime)}
            if not stat.S_ISDIR(st.st_mode): e['nlink'] = st.st_nlink
            if stat.S_ISREG(st.st_mode):
                e['size'] = st.st_size
                with open(p, 'rb') as f: e['sha256'] = hashlib.sha256(f.read()).hexdigest()
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(st.st_mode): e['target'] = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode): e['rdev'] = st.st_rdev
            xs = {}
            for x in os.listxattr(p, follow_symlinks=False):
                if x.startswith('trusted.') or x == 'security.selinux': continue
                xs[x] = os.getxattr(p, x, follow_symlinks=False).hex()
            e['xattrs'] = xs
            out[rel] = e
    groups = {}
    for names in inodes.values():
        for n in names: groups[n] = sorted(names)
    for rel, e in out.items():
        if 'sha256' in e: e['links'] = groups[rel]
    return out

a, b = scan(sys.argv[1]), scan(sys.argv[2])
bad = 0
for p in sorted(set(a) | set(b)):
    if p not in a: print(f'only in {sys.argv[2]}: {p}'); bad += 1; continue
    if p not in b: print(f'only in {sys.argv[1]}: {p}'); bad += 1; continue
    for k in sorted(set(a[p]) | set(b[p])):
        if a[p].get(k) != b[p].get(k):
            print(f'{p}: {k}: {a[p].get(k)} != {b[p].get(k)}'); bad += 1
print(f'treecmp: {len(a)} vs {len(b)} entries, {bad} differences')
sys.exit(1 if bad else 0)
