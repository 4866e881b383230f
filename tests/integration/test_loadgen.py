# SPDX-License-Identifier: MIT
"""tests/tools/loadgen can fail: each way a server can drop a request shows up in its own class.

A small threaded HTTP server in this file misbehaves on purpose (one mode per test); nginx with
`nginx -s reload` (SIGHUP to its master) under keep-alive load is the real-world case loadgen was
written for, since wrk reconnects silently and counts nothing.
"""
import signal
import socket
import struct
import threading
from pathlib import Path

import pytest

from harness import LOADGEN, free_port, http_get, loadgen, open_sockets, port_answers, read_report, wait_for

NGINX = Path("/usr/sbin/nginx")
CLASSES = ("ok", "non2xx", "refused", "lost_fresh", "lost_reused", "partial", "timeout")
KEYS = {"sent", *CLASSES, "failed", "duration_s", "rps", "latency_us", "longest_gap_ms"}


class MisbehavingServer:
    """An HTTP/1.1 server on a loopback port that answers each request as `mode` says:

    ok           200 with Content-Length, keep-alive
    chunked      200 with a chunked body, keep-alive
    server-close 200 with `Connection: close`, then closes (a clean close, never a loss)
    close-reused answers the first request of a connection, closes on the second unanswered
    partial      sends the headers and half the body, then closes
    error        500
    silent       reads the request and never answers
    """

    BODY = b"Hello, World!"

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        self.conns = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        buf = b""
        served = 0
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                _, buf = buf.split(b"\r\n\r\n", 1)
                served += 1
                if not self.answer(conn, served):
                    return
        except OSError:
            return
        finally:
            conn.close()

    def answer(self, conn, served):
        """Sends the answer for request number `served` on conn; False closes the connection."""
        body = self.BODY
        if self.mode == "ok":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif self.mode == "chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\nHello\r\n8;ext=1\r\n, World!\r\n0\r\nX-Trailer: 1\r\n\r\n")
        elif self.mode == "server-close":
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
            return False
        elif self.mode == "close-reused":
            if served > 1:
                return False
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif self.mode == "partial":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body[: len(body) // 2]))
            return False
        elif self.mode == "error":
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!")
        elif self.mode == "silent":
            self.closing_wait()
            return False
        return True

    def closing_wait(self):
        wait_for(lambda: self.closing, timeout=60, interval=0.05, what="server shutdown")

    def close(self):
        self.closing = True
        self.sock.close()
        with self.lock:
            for conn in self.conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def server(request):
    servers = []

    def make(mode):
        s = MisbehavingServer(mode)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def run_loadgen(procs, port, *extra, seconds="1s", connections=4):
    report = procs.tmp / "report.json"
    result = procs.run([LOADGEN, "--port", port, "--connections", connections, "--duration",
                        seconds, "--json", report, *extra], timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    data = read_report(report)
    assert set(data) == KEYS
    assert set(data["latency_us"]) == {"p50", "p99", "p999", "max"}
    assert data["sent"] == sum(data[c] for c in CLASSES)
    assert data["failed"] == data["sent"] - data["ok"]
    print(result.stdout)
    return data


def only(data, cls):
    """The attempts fell into cls (and ok) only."""
    others = {c: data[c] for c in CLASSES if c not in (cls, "ok") and data[c]}
    assert not others, f"unexpected classes {others} in {data}"


def test_normal_server_all_ok(procs, server):
    s = server("ok")
    data = run_loadgen(procs, s.port)
    assert data["ok"] > 100 and data["failed"] == 0
    assert 0 < data["latency_us"]["p50"] <= data["latency_us"]["p99"] <= data["latency_us"]["max"]
    assert data["longest_gap_ms"] < 500


def test_chunked_and_server_close_are_ok(procs, server):
    for mode in ("chunked", "server-close"):
        data = run_loadgen(procs, server(mode).port, seconds="500ms")
        assert data["ok"] > 20 and data["failed"] == 0, mode


def test_connection_close_mode_is_ok(procs, server):
    data = run_loadgen(procs, server("ok").port, "--close", seconds="500ms")
    assert data["ok"] > 20 and data["failed"] == 0


def test_close_on_reused_connection_is_lost_reused(procs, server):
    data = run_loadgen(procs, server("close-reused").port)
    only(data, "lost_reused")
    assert data["lost_reused"] > 20
    # Every connection answers once, then loses the next request: as many losses as answers.
    assert abs(data["lost_reused"] - data["ok"]) <= 4


def test_half_response_is_partial(procs, server):
    data = run_loadgen(procs, server("partial").port)
    only(data, "partial")
    assert data["partial"] > 20 and data["ok"] == 0


def test_nothing_listening_is_refused(procs):
    data = run_loadgen(procs, free_port(), seconds="300ms")
    only(data, "refused")
    assert data["refused"] >= 4 and data["ok"] == 0
    # No success at all: the gap is the whole run.
    assert data["longest_gap_ms"] >= 300


def test_server_error_is_non2xx(procs, server):
    data = run_loadgen(procs, server("error").port)
    only(data, "non2xx")
    assert data["non2xx"] > 100 and data["ok"] == 0


def test_silent_server_times_out_and_ends_the_run(procs, server):
    data = run_loadgen(procs, server("silent").port, "--timeout", "300ms", seconds="500ms")
    only(data, "timeout")
    # Each connection times out at 300 ms, tries again, and that attempt is waited for too.
    assert 4 <= data["timeout"] <= 8
    assert 0.55 <= data["duration_s"] < 2


def test_usage_errors_exit_2(procs):
    for argv in (["--duration", "20s"], ["--port", "x"], ["--port", "80", "--duration", "soon"],
                 ["--port", "80", "--connections", "0"], ["--port", "80", "stray"]):
        result = procs.run([LOADGEN, *argv])
        assert result.returncode == 2, argv
        assert "loadgen:" in result.stderr


def test_samples_file(procs, server):
    s = server("close-reused")
    samples = procs.tmp / "samples.bin"
    data = run_loadgen(procs, s.port, "--samples", samples, "--samples-max", "1000000")
    raw = samples.read_bytes()
    assert raw[:8] == b"LOADGEN1"
    count, dropped = struct.unpack_from("<QQ", raw, 8)
    assert dropped == 0 and count == data["sent"]
    records = list(struct.iter_unpack("<QQB7x", raw[24:]))
    assert len(records) == count
    by_class = [0] * len(CLASSES)
    for start, latency, cls in records:
        by_class[cls] += 1
        assert latency < 5_000_000_000
    assert by_class == [data[c] for c in CLASSES]
    # The start times share Python's time.monotonic() clock.
    import time
    now = time.monotonic_ns()
    assert all(now - 30_000_000_000 < start < now for start, _, _ in records)


# --- nginx: the graceful reload that drops requests on reused keep-alive connections ---

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log notice;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "Hello, World!"; }}
        location /pid {{ return 200 "$pid"; }}
    }}
}}
"""


def children(pid):
    return set(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


def only_new_workers(master_pid, old):
    """The master's two workers when none of them is in old, else None."""
    now = children(master_pid)
    return now if len(now) == 2 and not now & old else None


@pytest.mark.skipif(not NGINX.exists(), reason="nginx is not installed")
def test_nginx_reload_loses_requests(procs):
    port = free_port()
    conf = procs.tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=procs.tmp, port=port))
    master = procs.start([NGINX, "-c", conf, "-p", procs.tmp], name="nginx")
    wait_for(lambda: port_answers(port), what="nginx to answer")
    workers = wait_for(lambda: len(children(master.pid)) == 2 and children(master.pid),
                       what="two nginx workers")

    gen, report = loadgen(procs, port, seconds=6, connections=64)
    wait_for(lambda: open_sockets(gen.pid) >= 64, what="loadgen's 64 connections")
    reloads = 10
    for _ in range(reloads):
        old = workers
        master.signal(signal.SIGHUP)
        # A reload is over when the new workers answer and the old ones have exited.
        wait_for(lambda: int(http_get(port, "/pid")[2]) not in old, what="a new nginx worker")
        workers = wait_for(lambda: only_new_workers(master.pid, old),
                           what="the old nginx workers to exit")
    assert gen.alive(), "loadgen ended before the reloads did: the reloads ran without load"
    gen.wait(30)
    data = read_report(report)
    print(f"nginx, 64 keep-alive connections, {reloads} reloads: {data}")
    print(f"failed per reload: {data['failed'] / reloads:.1f}")
    # The old workers close keep-alive connections on which a request is already on its way.
    assert data["failed"] > 0
    assert data["lost_reused"] > 0
    assert data["ok"] > 10000
