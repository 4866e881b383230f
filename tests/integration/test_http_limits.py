# SPDX-License-Identifier: MIT
"""baton-web's limits, each configured small: head bytes and fields (431), target (414), body
(413), slow headers and bodies (408), idle keep-alive connections; connections per worker; and
file-descriptor exhaustion (no busy loop, service resumes once descriptors are free).
"""
import os
import select
import socket
import time

import pytest

from harness import GOOD, TIME_SCALE, RawConn, chunked, request, start_web, wait_for

HEADER_BYTES = 1024
HEADER_COUNT = 10
URI_BYTES = 256
BODY_BYTES = 1000
TIMEOUT_S = 1.0 * TIME_SCALE  # header, body and keep-alive timeouts of the small server

SMALL_CONFIG = f"""\
limits:
  header_bytes: {HEADER_BYTES}
  header_count: {HEADER_COUNT}
  uri_bytes: {URI_BYTES}
  body_bytes: {BODY_BYTES}
timeouts:
  header: {int(TIMEOUT_S * 1000)}ms
  body: {int(TIMEOUT_S * 1000)}ms
  keepalive: {int(TIMEOUT_S * 1000)}ms
"""


@pytest.fixture(scope="module")
def small(mprocs):
    return start_web(mprocs, config=SMALL_CONFIG, name="baton-web-small")


def send_expect(server, raw, status, closes):
    with server.conn() as c:
        c.send(raw)
        resp = c.read_response()
        assert resp.status == status, resp
        if closes:
            assert resp.closes(), resp
            c.expect_eof()
        else:
            assert not resp.closes(), resp
            c.send(GOOD)
            assert c.read_response().status == 200
        return resp


# ---- head, target and body limits ------------------------------------------------------------


def test_header_count_limit(small):
    ok = [("Host", "t")] + [(f"X-{i}", "v") for i in range(HEADER_COUNT - 1)]
    send_expect(small, request(headers=ok), 200, closes=False)
    over = ok + [("X-Over", "v")]
    send_expect(small, request(headers=over), 431, closes=True)


def test_header_bytes_limit(small):
    # A head at 70% of the limit passes, one at 130% is refused (the exact accounting of
    # separators is the server's).
    def head_of(size):
        base = request(headers=(("Host", "t"), ("X-Pad", "")))
        return request(headers=(("Host", "t"), ("X-Pad", "p" * (size - len(base)))))

    assert len(head_of(int(HEADER_BYTES * 0.7))) == int(HEADER_BYTES * 0.7)
    send_expect(small, head_of(int(HEADER_BYTES * 0.7)), 200, closes=False)
    send_expect(small, head_of(int(HEADER_BYTES * 1.3)), 431, closes=True)


def test_header_bytes_limit_with_many_small_fields(small):
    # Under the field count, over the bytes: still 431.
    fields = [("Host", "t")] + [(f"X-{i}", "v" * 150) for i in range(8)]
    send_expect(small, request(headers=fields), 431, closes=True)


def test_uri_limit_exact(small):
    at_limit = "/?" + "q" * (URI_BYTES - 2)
    assert len(at_limit) == URI_BYTES
    send_expect(small, request(target=at_limit), 200, closes=False)
    send_expect(small, request(target=at_limit + "q"), 414, closes=True)


def test_body_limit_content_length(small):
    body = os.urandom(BODY_BYTES)
    resp = send_expect(small, request("POST", "/api/echo", body=body), 200, closes=False)
    assert resp.body == body
    send_expect(small, request("POST", "/api/echo", body=body + b"x"), 413, closes=True)


def test_body_limit_chunked(small):
    body = os.urandom(BODY_BYTES)
    te = (("Host", "t"), ("Transfer-Encoding", "chunked"))
    resp = send_expect(small, request("POST", "/api/echo", headers=te, body=chunked(body, [100, 7])), 200,
                       closes=False)
    assert resp.body == body
    send_expect(small, request("POST", "/api/echo", headers=te, body=chunked(body + b"x", [100, 7])), 413,
                closes=True)


def test_body_limit_with_expect_answers_before_the_body(small):
    # RFC 9110 §10.1.1: a final status instead of 100 when the content would be refused.
    with small.conn() as c:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\n\r\n" % (BODY_BYTES * 10))
        resp = c.read_response()
        assert resp.status == 413, resp
        assert resp.closes()
        c.expect_eof()


# ---- timeouts ------------------------------------------------------------------------------------


def timed_response(c):
    t0 = time.monotonic()
    resp = c.read_response()
    return resp, time.monotonic() - t0


def test_slow_headers_get_408(small):
    with small.conn() as c:
        c.sock.settimeout(TIMEOUT_S * 6)
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
        resp, took = timed_response(c)
        assert resp.status == 408, resp
        assert resp.closes(), "a 408 should carry Connection: close (RFC 7231 §6.5.7; the server closes)"
        assert TIMEOUT_S * 0.8 <= took <= TIMEOUT_S * 4, f"408 after {took:.2f}s, timeout {TIMEOUT_S}s"
        c.expect_eof()


def test_trickled_headers_get_408(small):
    # Slowloris: one byte every tenth of the timeout never completes the head in time.
    head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 100
    with small.conn() as c:
        c.sock.settimeout(TIMEOUT_S * 6)
        t0 = time.monotonic()
        got = None
        for b in head:
            try:
                c.send(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                break
            r, _, _ = select.select([c.sock], [], [], TIMEOUT_S / 10)
            if r:
                got = c.read_response()
                break
        took = time.monotonic() - t0
        assert got is not None, f"still trickling after {took:.1f}s without a 408"
        assert got.status == 408, got
        assert took <= TIMEOUT_S * 4
        c.expect_eof()


def test_slow_body_gets_408(small):
    with small.conn() as c:
        c.sock.settimeout(TIMEOUT_S * 6)
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        resp, took = timed_response(c)
        assert resp.status == 408, resp
        assert resp.closes()
        assert TIMEOUT_S * 0.8 <= took <= TIMEOUT_S * 4, took
        c.expect_eof()


def test_slow_chunked_body_gets_408(small):
    with small.conn() as c:
        c.sock.settimeout(TIMEOUT_S * 6)
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
        resp, took = timed_response(c)
        assert resp.status == 408, resp
        c.expect_eof()


def idle_close(c):
    """Waits for the server to close an idle connection: returns (seconds, bytes it sent first)."""
    c.sock.settimeout(TIMEOUT_S * 6)
    t0 = time.monotonic()
    data = b""
    while True:
        try:
            chunk = c.sock.recv(4096)
        except ConnectionResetError:
            raise AssertionError("idle connection reset instead of closed")
        if not chunk:
            return time.monotonic() - t0, data
        data += chunk


def test_idle_keep_alive_closes_after_timeout(small):
    with small.conn() as c:
        c.send(GOOD)
        assert c.read_response().status == 200
        took, data = idle_close(c)
        # RFC 9112 §9.5: a graceful close; an idle connection has no request to answer 408 to.
        assert data == b"", f"bytes on an idle keep-alive connection: {data[:200]!r}"
        assert TIMEOUT_S * 0.8 <= took <= TIMEOUT_S * 4, f"closed after {took:.2f}s"


def test_keep_alive_timer_restarts_with_each_request(small):
    with small.conn() as c:
        deadline = time.monotonic() + TIMEOUT_S * 2.5
        while time.monotonic() < deadline:
            c.send(GOOD)
            assert c.read_response().status == 200
            time.sleep(TIMEOUT_S / 3)
        assert not c.is_closed_now()


def test_connection_without_request_is_closed(small):
    with small.conn() as c:
        took, data = idle_close(c)
        assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:200]
        assert took <= TIMEOUT_S * 4


# ---- connections per worker ------------------------------------------------------------------------


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answered_within(sock, seconds):
    r, _, _ = select.select([sock], [], [], seconds)
    return bool(r)


def test_max_connections_per_worker(mprocs):
    limit = 8
    server = start_web(mprocs, config=f"limits:\n  connections: {limit}\n", name="baton-web-maxconn")
    held = [RawConn(server.port) for _ in range(limit)]
    for c in held:
        c.send(GOOD)
        assert c.read_response().status == 200
    surplus = RawConn(server.port)  # the kernel completes the handshake; the server must not serve it
    surplus.send(GOOD)
    cpu0 = cpu_seconds(server.proc.pid)
    window = 1.0 * TIME_SCALE
    assert not answered_within(surplus.sock, window), "a connection past max_connections was served"
    spent = cpu_seconds(server.proc.pid) - cpu0
    assert spent < window * 0.25, f"baton-web used {spent:.2f}s of CPU in {window:.1f}s while full"
    held.pop().close()
    resp = surplus.read_response()
    assert resp.status == 200, "the waiting connection was not served once a slot was free"
    for c in held:
        c.send(GOOD)
        assert c.read_response().status == 200
        c.close()
    surplus.close()


# ---- file-descriptor exhaustion --------------------------------------------------------------------


def peek_state(sock):
    """'answered', 'closed' or 'waiting', without blocking."""
    sock.setblocking(False)
    try:
        data = sock.recv(16, socket.MSG_PEEK)
        return "answered" if data.startswith(b"HTTP/1.1 200") else "closed"
    except BlockingIOError:
        return "waiting"
    except OSError:
        return "closed"
    finally:
        sock.setblocking(True)


def test_fd_exhaustion_does_not_spin_and_recovers(mprocs):
    nofile = 64
    server = start_web(mprocs, name="baton-web-fds", wrapper=("prlimit", f"--nofile={nofile}:{nofile}", "--"))
    conns = []
    for _ in range(nofile + 40):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5 * TIME_SCALE)
        s.sendall(GOOD)
        conns.append(s)

    def settled():
        states = [peek_state(s) for s in conns]
        return states if states.count("answered") >= nofile // 2 else None

    wait_for(settled, timeout=5, what="the server to answer the connections it has room for")
    # Out of descriptors now: it must sit still, not retry accept() in a busy loop.
    cpu0 = cpu_seconds(server.proc.pid)
    window = 2.0 * TIME_SCALE
    time.sleep(window)  # the measurement window itself: CPU time over a fixed wall time
    spent = cpu_seconds(server.proc.pid) - cpu0
    assert spent < window * 0.25, f"baton-web spun: {spent:.2f}s of CPU in {window:.1f}s out of fds"
    assert server.alive(), f"baton-web died out of fds:\n{server.proc.log()[-2000:]}"
    states = [peek_state(s) for s in conns]
    waiting = [s for s, st in zip(conns, states) if st == "waiting"]
    assert len(waiting) + states.count("closed") > 0, f"no connection went short of an fd: {states}"

    # Freeing the served connections lets the waiting ones in: each gets its answer.
    for s, st in zip(conns, states):
        if st != "waiting":
            s.close()
    for s in waiting:
        s.settimeout(5 * TIME_SCALE)
        data = s.recv(64)
        assert data.startswith(b"HTTP/1.1 200"), f"a waiting connection got {data!r} once fds were free"
        s.close()
    # And fresh connections, several at once, up to what its limit allows.
    batch = [RawConn(server.port) for _ in range(nofile // 2)]
    for c in batch:
        c.send(GOOD)
    for c in batch:
        assert c.read_response().status == 200
        c.close()
