#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The http.server hello world under baton: serves the socket its supervisor (baton or systemd)
passes, says READY=1 once it serves, and drains on SIGTERM without losing a request
(contrib/python/baton.py). Run alone, it listens on --listen (127.0.0.1:8080)."""
import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler

try:
    import baton
except ImportError:   # run from the repository: use contrib/python/baton.py
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../contrib/python"))
    import baton


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive

    def do_GET(self):
        body = b"Hello, World!"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:8080", help="address when not given a socket")
    args = parser.parse_args()
    sock = baton.listen("http", args.listen)
    print("Starting server at", sock.getsockname(), flush=True)
    baton.serve(Hello, sock)
