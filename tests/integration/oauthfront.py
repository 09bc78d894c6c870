#!/usr/bin/env python3
"""oauthfront.py PORT TOKEN_PORT USER:PASS REFRESH_TOKEN LOG

An OAuth2 front for the token server recipe (tokenserver.py on TOKEN_PORT), for the identity
token tests: GET /token is passed through unchanged; POST /token with
grant_type=refresh_token and refresh_token=REFRESH_TOKEN (the distribution token spec's OAuth2
flow, what docker does with an auth.json "identitytoken") gets the token the recipe issues for
USER:PASS with the same service and scope, as {"access_token": ..., "refresh_token": ...}. A wrong
refresh token gets 400 {"error": "invalid_grant"}. Every request is logged as one line to LOG."""
import base64, http.client, http.server, json, sys, urllib.parse

PORT, UP, CRED, REFRESH, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


def log(line):
    with open(LOG, 'a') as f:
        f.write(line + '\n')


def upstream(path, headers):
    c = http.client.HTTPConnection('127.0.0.1', UP)
    c.request('GET', path, headers=headers)
    r = c.getresponse()
    return r.status, r.read(), r.getheader('Content-Type', 'application/json')


class H(http.server.BaseHTTPRequestHandler):
    def reply(self, status, body, ctype='application/json'):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log('GET ' + self.path)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() == 'authorization'}
        self.reply(*upstream(self.path, hdrs))

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get('Content-Length', 0))).decode())
        one = lambda k: form.get(k, [''])[0]
        log(f'POST {self.path} grant_type={one("grant_type")} client_id={one("client_id")} scope={one("scope")}')
        if one('grant_type') != 'refresh_token' or one('refresh_token') != REFRESH:
            self.reply(400, json.dumps({'error': 'invalid_grant'}).encode())
            return
        q = urllib.parse.urlencode([('service', one('service'))] + [('scope', s) for s in form.get('scope', [])])
        status, body, _ = upstream('/token?' + q, {'Authorization': 'Basic ' + base64.b64encode(CRED.encode()).decode()})
        if status != 200:
            self.reply(status, body)
            return
        tok = json.loads(body)['token']
        self.reply(200, json.dumps({'access_token': tok, 'refresh_token': REFRESH, 'expires_in': 300}).encode())

    def log_message(self, fmt, *args):
        pass


http.server.ThreadingHTTPServer(('127.0.0.1', PORT), H).serve_forever()
