#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A small worker for the supervisor's tests, speaking baton's protocols without libbaton.

Adopts its listener from fd 3 (LISTEN_FDS / LISTEN_PID checked), reports READY=1 and STATUS=
to NOTIFY_SOCKET, answers every GET with 200 and a body naming its pid and generation, and
drains on SIGTERM. Flags to misbehave:
  --exit-at-start CODE   exit at once with CODE (after --stderr / --status)
  --never-ready          serve but never send READY=1
  --ready-after MS       wait before READY=1
  --crash-after MS       SIGSEGV itself MS after start
  --ignore-term          ignore SIGTERM (the supervisor must SIGKILL at drain_timeout)
  --status TEXT          send STATUS=TEXT first
  --stderr TEXT          write TEXT (and a second line) to stderr first
  --reload-errno N       answer the reload signal with ERRNO=N instead of READY=1
  --crash-slot N         the worker in slot N (BATON_WORKER) dies by SIGSEGV before READY=1
  --probe-status N       answer app.probe (the listener named `probe`) with status N (default 200)
  --probe-hang           accept app.probe's connection and never answer
  --probe-fail-after MS  answer the probe 200 for MS after start, then 503
  --probe-close          close the probe listener (serve no probe)
  --probe-log FILE       append "pid path" to FILE for every probe request
"""
import argparse
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"pid={os.getpid()} gen={os.environ.get('BATON_GENERATION')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--exit-at-start", type=int)
    p.add_argument("--never-ready", action="store_true")
    p.add_argument("--ready-after", type=int, default=0)
    p.add_argument("--crash-after", type=int)
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--status")
    p.add_argument("--stderr")
    p.add_argument("--reload-errno", type=int)
    p.add_argument("--crash-slot", type=int)
    p.add_argument("--probe-status", type=int, default=200)
    p.add_argument("--probe-hang", action="store_true")
    p.add_argument("--probe-fail-after", type=int)
    p.add_argument("--probe-log")
    p.add_argument("--probe-close", action="store_true")
    a = p.parse_args()

    if a.stderr:
        print("starting up", file=sys.stderr, flush=True)
        print(a.stderr, file=sys.stderr, flush=True)
    if a.status:
        notify(f"STATUS={a.status}")
    if a.exit_at_start is not None:
        sys.exit(a.exit_at_start)
    if a.crash_slot is not None and os.environ.get("BATON_WORKER") == str(a.crash_slot):
        os.kill(os.getpid(), signal.SIGSEGV)
    assert os.environ.get("LISTEN_PID") == str(os.getpid()), os.environ.get("LISTEN_PID")
    assert int(os.environ["LISTEN_FDS"]) >= 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=3)
    # Every worker accepts on this same socket: a blocking accept() after select() could hang
    # when another worker took the connection first.
    server.socket.setblocking(False)
    server.daemon_threads = True

    def on_term(signo, frame):
        if a.ignore_term:
            return
        notify("STOPPING=1")
        threading.Thread(target=server.shutdown, daemon=True).start()

    def on_hup(signo, frame):
        notify("RELOADING=1")
        notify(f"ERRNO={a.reload_errno}" if a.reload_errno else "READY=1")

    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    if "probe" in names and a.probe_close:
        os.close(3 + len(names) - 1)
    elif "probe" in names:
        assert names[-1] == "probe" and len(names) == int(os.environ["LISTEN_FDS"]), names
        started = time.monotonic()

        class Probe(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if a.probe_log:
                    with open(a.probe_log, "a") as f:
                        f.write(f"{os.getpid()} {self.path}\n")
                if a.probe_hang:
                    time.sleep(3600)
                status = a.probe_status
                if a.probe_fail_after is not None and \
                        (time.monotonic() - started) * 1000 > a.probe_fail_after:
                    status = 503
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        probe = ThreadingHTTPServer(("127.0.0.1", 0), Probe, bind_and_activate=False)
        probe.socket.close()
        probe.socket = socket.socket(fileno=3 + len(names) - 1)
        probe.daemon_threads = True
        threading.Thread(target=probe.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    if a.crash_after is not None:
        threading.Timer(a.crash_after / 1000, lambda: os.kill(os.getpid(), signal.SIGSEGV)).start()
    if not a.never_ready:
        def ready():
            time.sleep(a.ready_after / 1000)
            notify("READY=1\nSTATUS=serving")
        threading.Thread(target=ready, daemon=True).start()
    print(f"serving as pid {os.getpid()}", flush=True)
    server.serve_forever(poll_interval=0.05)
    print("drained", flush=True)


if __name__ == "__main__":
    main()
