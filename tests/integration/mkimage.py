#!/usr/bin/env python3
"""mkimage.py LAYOUT TAG [--salt S] [--arch A] [--add-to-index] [--layer-format gzip|none]

Writes a three-layer OCI image into the OCI layout LAYOUT (stdlib only, independent of imgctl):
  layer 1: dirs, a big file, small/empty files, a symlink, a hardlink, a device, a fifo, setuid,
           owners, xattrs (user.* and security.capability), mtimes with nanoseconds, opq/ and rm/
  layer 2: whiteout rm/.wh.x, opaque opq/.wh..wh..opq + opq/c, a hardlink to a layer-1 file,
           a changed file, a new big file
  layer 3: a whiteout of a whole directory, a file replacing a hardlinked name
The salt goes into every file so each run has fresh blobs (skopeo reuses blobs it has seen).
With --add-to-index the manifest is added to index.json next to the existing ones, carrying a
platform (for multi-platform indexes); the tag then names a nested image index."""
import argparse, gzip, hashlib, io, json, os, random, sys, tarfile

ap = argparse.ArgumentParser()
ap.add_argument('layout'); ap.add_argument('tag')
ap.add_argument('--salt', default='0'); ap.add_argument('--top-salt', help='salt of layer 3 only (default: --salt)'); ap.add_argument('--arch', default='amd64')
ap.add_argument('--layer-format', default='gzip', choices=['gzip', 'none'])
ap.add_argument('--big', type=int, default=300000)
ap.add_argument('--raw-layer', help='JSON list of entries: one layer with just these (for refusal tests);'
                ' an entry\'s "data" is repeated "repeat" times')
ap.add_argument('--index', nargs='+', metavar='TAG', help='write an image index over these tags instead')
a = ap.parse_args()
blobs = os.path.join(a.layout, 'blobs', 'sha256'); os.makedirs(blobs, exist_ok=True)
rnd = random.Random(a.salt + a.arch)

def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), 'wb') as f: f.write(data)
    return 'sha256:' + d, len(data)

CAP = '\x01\x00\x00\x02\x00\x04\x00\x00' + '\x00' * 12  # v2, effective, cap_net_bind_service

def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e['name']); ti.uname = ti.gname = ''
            ti.mode = e.get('mode', 0o644); ti.uid = e.get('uid', 0); ti.gid = e.get('gid', 0)
            ti.mtime = e.get('mtime', 1700000000.123456789)
            if 'xattrs' in e: ti.pax_headers = {'SCHILY.xattr.' + k: v for k, v in e['xattrs'].items()}
            kind = e.get('type', 'file'); data = e.get('data', b'')
            if kind == 'dir': ti.type = tarfile.DIRTYPE; ti.mode = e.get('mode', 0o755)
            elif kind == 'symlink': ti.type = tarfile.SYMTYPE; ti.linkname = e['target']; ti.mode = 0o777
            elif kind == 'hardlink': ti.type = tarfile.LNKTYPE; ti.linkname = e['target']
            elif kind == 'chr': ti.type = tarfile.CHRTYPE; ti.devmajor, ti.devminor = e['dev']
            elif kind == 'fifo': ti.type = tarfile.FIFOTYPE
            if kind == 'file':
                ti.size = len(data); t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    rawb = raw.getvalue()
    blob = gzip.compress(rawb, compresslevel=6, mtime=0) if a.layer_format == 'gzip' else rawb
    mt = 'application/vnd.oci.image.layer.v1.tar' + ('+gzip' if a.layer_format == 'gzip' else '')
    d, n = put(blob)
    return {'mediaType': mt, 'digest': d, 'size': n}, 'sha256:' + hashlib.sha256(rawb).hexdigest()

s = (a.salt + ' ' + a.arch + '\n').encode()
big = bytes(rnd.getrandbits(8) for _ in range(a.big))
l1 = [
    {'name': 'etc', 'type': 'dir'},
    {'name': 'etc/hostname', 'data': b'imgctl-' + s},
    {'name': 'etc/os-release', 'data': b'ID=imgctl-test\nVERSION_ID=1\n' + s * 5},
    {'name': 'etc/empty'},
    {'name': 'etc/shadow', 'mode': 0o640, 'gid': 42, 'data': b'root:*:19000:0:99999:7:::\n' + s * 4},
    {'name': 'usr', 'type': 'dir'}, {'name': 'usr/bin', 'type': 'dir'}, {'name': 'usr/lib', 'type': 'dir'},
    {'name': 'usr/bin/tool', 'mode': 0o755, 'data': big + s, 'mtime': 1600000000.5},
    {'name': 'usr/bin/tool-link', 'type': 'hardlink', 'target': 'usr/bin/tool'},
    {'name': 'usr/bin/ping', 'mode': 0o4755, 'data': b'#!/bin/sh\necho ping\n' + s * 8,
     'xattrs': {'security.capability': CAP, 'user.imgctl': 'xattr-value'}},
    {'name': 'usr/lib64', 'type': 'symlink', 'target': 'lib'},
    {'name': 'usr/lib/libx.so.1', 'data': bytes(rnd.getrandbits(8) for _ in range(9000)) + s},
    {'name': 'usr/lib/libx.so', 'type': 'symlink', 'target': 'libx.so.1'},
    {'name': 'home', 'type': 'dir'}, {'name': 'home/user', 'type': 'dir', 'mode': 0o700, 'uid': 1000, 'gid': 100},
    {'name': 'home/user/notes', 'uid': 1000, 'gid': 100, 'mode': 0o600, 'data': b'private ' + s * 10},
    {'name': 'dev', 'type': 'dir'}, {'name': 'dev/null', 'type': 'chr', 'dev': (1, 3), 'mode': 0o666},
    {'name': 'run', 'type': 'dir'}, {'name': 'run/initctl', 'type': 'fifo', 'mode': 0o600},
    {'name': 'opq', 'type': 'dir'}, {'name': 'opq/a', 'data': b'a' + s}, {'name': 'opq/sub', 'type': 'dir'},
    {'name': 'opq/sub/b', 'data': b'b' * 100 + s},
    {'name': 'rm', 'type': 'dir'}, {'name': 'rm/x', 'data': b'x' * 200 + s}, {'name': 'rm/y', 'data': b'y' + s},
    {'name': 'gone', 'type': 'dir'}, {'name': 'gone/deep', 'type': 'dir'}, {'name': 'gone/deep/f', 'data': b'f' * 99 + s},
    {'name': 'var', 'type': 'dir'}, {'name': 'var/data', 'data': big[::-1] + s},
    {'name': 'var/data-link', 'type': 'hardlink', 'target': 'var/data'},
]
l2 = [
    {'name': 'rm', 'type': 'dir'}, {'name': 'rm/.wh.x'},
    {'name': 'opq', 'type': 'dir', 'mode': 0o750}, {'name': 'opq/.wh..wh..opq'}, {'name': 'opq/c', 'data': b'c' * 70 + s},
    {'name': 'usr', 'type': 'dir'}, {'name': 'usr/bin', 'type': 'dir'},
    {'name': 'usr/bin/tool-link2', 'type': 'hardlink', 'target': 'usr/bin/tool'},
    {'name': 'etc', 'type': 'dir'}, {'name': 'etc/hostname', 'data': b'layer2-' + s},
    {'name': 'usr/lib', 'type': 'dir'},
    {'name': 'usr/lib/new.so', 'data': bytes(rnd.getrandbits(8) for _ in range(20000)) + s},
]
t = ((a.top_salt or a.salt) + '\n').encode()
l3 = [
    {'name': '.wh.gone'},
    {'name': 'var', 'type': 'dir'}, {'name': 'var/data', 'data': b'replaced, link broken ' + t * 10},
]
def write_index():
    idx = json.load(open(os.path.join(a.layout, 'index.json')))
    ms = [dict(m, annotations={}) for m in idx['manifests'] if m['annotations'].get('org.opencontainers.image.ref.name') in a.index]
    for m in ms: del m['annotations']
    d, n = put(json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json', 'manifests': ms}).encode())
    idx['manifests'].append({'mediaType': 'application/vnd.oci.image.index.v1+json', 'digest': d, 'size': n,
                             'annotations': {'org.opencontainers.image.ref.name': a.tag}})
    json.dump(idx, open(os.path.join(a.layout, 'index.json'), 'w')); print(d); sys.exit(0)
if a.index: write_index()
if a.raw_layer:
    l1, l2, l3 = json.loads(a.raw_layer), None, None
    for e in l1:
        if 'data' in e: e['data'] = e['data'].encode() * e.get('repeat', 1)
layers, diff_ids = zip(*[layer(l) for l in (l1, l2, l3) if l is not None])
cfg = {'architecture': a.arch, 'os': 'linux', 'created': '2026-12-04T00:00:00Z',
       'config': {'Labels': {'org.opencontainers.image.version': '1.' + a.salt}},
       'rootfs': {'type': 'layers', 'diff_ids': list(diff_ids)}, 'history': [{'created_by': 'mkimage.py'}] * len(layers)}
cdig, csize = put(json.dumps(cfg, sort_keys=True).encode())
man = {'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
       'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cdig, 'size': csize},
       'layers': list(layers)}
mdig, msize = put(json.dumps(man, sort_keys=True).encode())
with open(os.path.join(a.layout, 'oci-layout'), 'w') as f: json.dump({'imageLayoutVersion': '1.0.0'}, f)
idx_p = os.path.join(a.layout, 'index.json')
idx = json.load(open(idx_p)) if os.path.exists(idx_p) else {'schemaVersion': 2, 'manifests': []}
idx['manifests'] = [m for m in idx['manifests'] if m.get('annotations', {}).get('org.opencontainers.image.ref.name') != a.tag]
idx['manifests'].append({'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': mdig, 'size': msize,
                         'platform': {'os': 'linux', 'architecture': a.arch},
                         'annotations': {'org.opencontainers.image.ref.name': a.tag}})
json.dump(idx, open(idx_p, 'w'))
print(mdig)
