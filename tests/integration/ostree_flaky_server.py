#!/usr/bin/env python3
"""Serves DIR over HTTP on 127.0.0.1 like `python3 -m http.server`, writes the port to PORTFILE,
and after FAIL_AFTER requests drops the next connection without an answer, writes the number
of requests it answered to PORTFILE.served and exits: a server dying in the middle of a pull."""
import functools
import http.server
import os
import sys

directory, portfile, fail_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = 0


class Handler(http.server.SimpleHTTPRequestHandler):
    def handle_one_request(self):
        global count
        count += 1
        if count > fail_after:
            with open(portfile + ".served", "w") as f:
                f.write(str(count - 1))
            self.connection.close()
            os._exit(0)
        super().handle_one_request()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=directory))
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
