#!/usr/bin/env python3
"""faultproxy.py PORT UPSTREAM_PORT LOG MODE... : an HTTP proxy in front of a registry on
127.0.0.1 that injects faults, for the pull tests. Every request line (with its Range header) is
appended to LOG. Modes:
  cut=N        the first 200 response of a /blobs/ GET larger than N bytes is cut after N body
               bytes (the connection is closed), once
  500once      the first request of every distinct path gets a 500
  500always=S  every request whose path contains S gets a 500
  429once      the first /blobs/ request gets a 429 with Retry-After: 1
  redirect     /blobs/ GETs are answered with a 307 to /r/<path>, which is proxied upstream
  stall=N      like cut=N, but the connection then stays open and silent (for the stall timeout)
  norange      Range headers are dropped (the whole blob comes back with 200)
  badrange     Range headers are dropped and the whole blob comes back as a 206 claiming bytes 0-
  garble       with cut=N: the cut response also has its byte N/2 altered (a retry then differs)"""
import http.client, http.server, sys, threading, time

PORT, UP, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
MODES = sys.argv[4:]
cut = next((int(m[4:]) for m in MODES if m.startswith('cut=')), None)
stall = next((int(m[6:]) for m in MODES if m.startswith('stall=')), None)
always = [m[10:] for m in MODES if m.startswith('500always=')]
seen, lock = set(), threading.Lock()
state = {'cut_done': False, '429_done': False}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def fail(self, code):
        self.send_response(code); self.send_header('Content-Length', '0'); self.end_headers()
    def do_GET(self):
        path = self.path
        with lock, open(LOG, 'a') as f: f.write(f"GET {path} range={self.headers.get('Range', '-')}\n")
        if any(s in path for s in always): return self.fail(500)
        if '500once' in MODES:
            with lock:
                first = path not in seen; seen.add(path)
            if first: return self.fail(500)
        if '429once' in MODES and '/blobs/' in path:
            with lock:
                first = not state['429_done']; state['429_done'] = True
            if first:
                self.send_response(429); self.send_header('Retry-After', '1'); self.send_header('Content-Length', '0')
                self.end_headers(); return
        if 'redirect' in MODES and '/blobs/' in path and not path.startswith('/r/'):
            self.send_response(307); self.send_header('Location', '/r' + path)
            self.send_header('Content-Length', '0'); self.end_headers(); return
        if path.startswith('/r/'): path = path[2:]
        c = http.client.HTTPConnection('127.0.0.1', UP)
        drop = ('host', 'connection') + (('range',) if 'norange' in MODES or 'badrange' in MODES else ())
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in drop}
        c.request('GET', path, headers=hdrs); r = c.getresponse(); body = r.read()
        status = r.status
        if 'badrange' in MODES and self.headers.get('Range') and status == 200: status = 206
        self.send_response(status)
        for k, v in r.getheaders():
            if k.lower() not in ('connection', 'transfer-encoding', 'content-length'): self.send_header(k, v)
        if status == 206 and r.status == 200: self.send_header('Content-Range', f'bytes 0-{len(body) - 1}/{len(body)}')
        self.send_header('Content-Length', str(len(body))); self.end_headers()
        if cut is not None and r.status == 200 and '/blobs/' in path and len(body) > cut:
            with lock:
                do_cut = not state['cut_done']; state['cut_done'] = True
            if do_cut:
                part = bytearray(body[:cut])
                if 'garble' in MODES: part[cut // 2] ^= 0xff
                self.wfile.write(bytes(part)); self.wfile.flush()
                self.close_connection = True; self.connection.shutdown(2); return
        if stall is not None and r.status == 200 and '/blobs/' in path and len(body) > stall:
            with lock:
                do_stall = not state['cut_done']; state['cut_done'] = True
            if do_stall:
                self.wfile.write(body[:stall]); self.wfile.flush(); time.sleep(30)
                self.close_connection = True; return
        self.wfile.write(body)

http.server.ThreadingHTTPServer(('127.0.0.1', PORT), H).serve_forever()
