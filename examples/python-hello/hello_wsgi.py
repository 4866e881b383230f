#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The same hello world as a WSGI application (any framework's app object works the same way),
served by contrib/python/baton.py with its drain. Run alone, it listens on --listen."""
import argparse
import os
import sys

try:
    import baton
except ImportError:   # run from the repository: use contrib/python/baton.py
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../contrib/python"))
    import baton


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:8080", help="address when not given a socket")
    args = parser.parse_args()
    sock = baton.listen("http", args.listen)
    print("Starting server at", sock.getsockname(), flush=True)
    baton.serve_wsgi(app, sock)
