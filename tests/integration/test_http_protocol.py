# SPDX-License-Identifier: MIT
"""baton-web speaks HTTP/1.1 (RFC 9112) correctly over real sockets: keep-alive, pipelining,
chunked request bodies, Expect: 100-continue, HEAD, Date, HTTP/1.0 connection semantics.
"""
import email.utils
import os
import random
import re
import socket
import threading
import time

import pytest

from harness import IO_TIMEOUT, TIME_SCALE, chunked, request, wait_for

def get_ok(conn, target="/"):
    conn.send(request(target=target))
    resp = conn.read_response()
    assert resp.status == 200, resp
    return resp


# ---- keep-alive ----------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(web):
    with web.conn() as c:
        local = c.sock.getsockname()
        for i in range(20):
            resp = get_ok(c, f"/hello/ka{i}")
            assert b"ka%d" % i in resp.body
            assert not resp.closes()
        assert c.sock.getsockname() == local
        assert not c.is_closed_now()


def test_connection_close_request_closes_after_response(web):
    with web.conn() as c:
        c.send(request(headers=(("Host", "t"), ("Connection", "close"))))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.closes(), "a response to Connection: close should say close"
        c.expect_eof()


# ---- pipelining ---------------------------------------------------------------------------------


def test_pipelining_50_requests_answered_in_order(web):
    names = [f"p{i:02d}x{random.randrange(1 << 30):x}" for i in range(50)]
    batch = b"".join(request(target=f"/hello/{n}") for n in names)
    with web.conn() as c:
        c.send(batch)
        for n in names:
            resp = c.read_response()
            assert resp.status == 200, resp
            assert n.encode() in resp.body, f"expected the answer for {n}, got {resp.body!r}"
        get_ok(c)


def test_pipelining_mixed_methods_and_bodies(web):
    bodies = [os.urandom(random.randrange(0, 3000)) for _ in range(10)]
    batch = b""
    for i, body in enumerate(bodies):
        batch += request("POST", "/api/echo", body=body, headers=(("Host", "t"),))
        batch += request("HEAD", f"/hello/h{i}")
        batch += request("POST", "/api/echo", headers=(("Host", "t"), ("Transfer-Encoding", "chunked")),
                         body=chunked(body, [7, 100, 1]))
    # Byte-by-byte delivery of the first part exercises every parser resume point.
    with web.conn() as c:
        for b in batch[:300]:
            c.send(bytes([b]))
        c.send(batch[300:])
        for i, body in enumerate(bodies):
            r = c.read_response()
            assert (r.status, r.body) == (200, body)
            r = c.read_response(head=True)
            assert r.status == 200 and r.header("content-length") is not None
            r = c.read_response()
            assert (r.status, r.body) == (200, body)
        get_ok(c)


def test_pipelined_connection_close_ends_the_pipeline(web):
    # RFC 9112 §9.6: after a request with "close" the server answers it and closes; what follows
    # on the connection is not answered.
    with web.conn() as c:
        c.send(request(target="/hello/a") + request(target="/hello/b", headers=(("Host", "t"), ("Connection", "close")))
               + request(target="/hello/c"))
        assert b"a" in c.read_response().body
        last = c.read_response()
        assert last.status == 200 and b"b" in last.body and last.closes()
        c.expect_eof()


def test_pipelined_large_bodies_with_backpressure(web):
    # The client sends everything before reading anything: the server's output piles up past its
    # high-water mark, so it must stop reading, then resume, without losing or reordering bytes.
    bodies = [os.urandom(200000 + i) for i in range(8)]
    batch = b"".join(request("POST", "/api/echo", body=b) for b in bodies)
    with web.conn() as c:
        sender = threading.Thread(target=c.send, args=(batch,), daemon=True)
        sender.start()
        for body in bodies:
            resp = c.read_response()
            assert resp.status == 200 and resp.body == body
        sender.join(IO_TIMEOUT)
        assert not sender.is_alive()
        get_ok(c)


def test_half_closed_client_still_gets_its_answer(web):
    with web.conn() as c:
        c.send(request(target="/hello/half"))
        c.sock.shutdown(socket.SHUT_WR)
        resp = c.read_response()
        assert resp.status == 200 and b"half" in resp.body
        c.expect_eof()


# ---- chunked request bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_chunked_request_echo_is_byte_exact(web, seed):
    rnd = random.Random(seed)
    body = bytes(rnd.randrange(256) for _ in range(rnd.choice([1, 17, 4096, 65537, 200000])))
    sizes = [rnd.choice([1, 2, 15, 16, 255, 4096, 70000]) for _ in range(8)]
    raw = request("POST", "/api/echo", headers=(("Host", "t"), ("Transfer-Encoding", "chunked")),
                  body=chunked(body, sizes))
    with web.conn() as c:
        # Split the request at random points so chunk headers straddle reads.
        pos = 0
        while pos < len(raw):
            n = rnd.choice([1, 3, 100, 1400, 9000, 70000])
            c.send(raw[pos:pos + n])
            pos += n
        resp = c.read_response()
        assert resp.status == 200
        assert len(resp.body) == len(body) and resp.body == body
        get_ok(c)


def test_chunked_with_extensions_and_trailers(web):
    raw = (b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;name=value\r\nhello\r\n1;quoted=\"a b\"\r\n \r\n5\r\nworld\r\n"
           b"0\r\nX-Trailer: yes\r\n\r\n")
    with web.conn() as c:
        c.send(raw)
        resp = c.read_response()
        assert (resp.status, resp.body) == (200, b"hello world")
        get_ok(c)


def test_content_length_body_echo(web):
    body = os.urandom(100000)
    with web.conn() as c:
        c.send(request("POST", "/api/echo", body=body))
        resp = c.read_response()
        assert resp.status == 200 and resp.body == body
        get_ok(c)


# ---- Expect: 100-continue -----------------------------------------------------------------------


def test_expect_100_continue_flow(web):
    body = b"continue me"
    head = (b"POST /api/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with web.conn() as c:
        c.send(head)
        interim = c.read_response()
        assert interim.status == 100, f"expected 100 Continue before the body, got {interim}"
        c.send(body)
        resp = c.read_response()
        assert (resp.status, resp.body) == (200, body)
        # A second time on the same connection, chunked this time.
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
        assert c.read_response().status == 100
        c.send(chunked(body, [3]))
        resp = c.read_response()
        assert (resp.status, resp.body) == (200, body)


def test_expect_100_continue_with_body_already_sent(web):
    # RFC 9110 §10.1.1: the server may skip the 100 once it has the content; either way the
    # final answer comes and the connection stays usable.
    body = b"eager client"
    with web.conn() as c:
        c.send(request("POST", "/api/echo", body=body, headers=(("Host", "t"), ("Expect", "100-continue"))))
        interim, resp = c.read_final()
        assert all(r.status == 100 for r in interim) and len(interim) <= 1
        assert (resp.status, resp.body) == (200, body)
        get_ok(c)


def test_expect_100_continue_not_sent_to_http10(web):
    # RFC 9110 §10.1.1: a server that receives 100-continue in an HTTP/1.0 request MUST ignore it.
    body = b"old"
    head = (b"POST /api/echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    with web.conn() as c:
        c.send(head)
        c.sock.settimeout(0.5 * TIME_SCALE)
        try:
            early = c.sock.recv(100)
        except socket.timeout:
            early = None
        c.sock.settimeout(c.timeout)
        assert not early, f"server answered an HTTP/1.0 client before its body: {early!r}"
        c.send(body)
        resp = c.read_response()
        assert (resp.status, resp.body) == (200, body)
        c.expect_eof()


# ---- HEAD ---------------------------------------------------------------------------------------


def test_head_has_headers_but_no_body(web):
    with web.conn() as c:
        get = get_ok(c, "/hello/head")
        c.send(request("HEAD", "/hello/head"))
        head = c.read_response(head=True)
        assert head.status == 200
        assert head.header("content-length") == str(len(get.body)), (head, get)
        assert head.header("content-type") == get.header("content-type")
        # No body bytes may follow: the next response must start right after the head.
        resp = get_ok(c, "/hello/after")
        assert b"after" in resp.body


# ---- Date ---------------------------------------------------------------------------------------


def test_date_header_is_imf_fixdate_and_current(web):
    with web.conn() as c:
        resp = get_ok(c)
    date = resp.header("date")
    assert date is not None and resp.count("date") == 1
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d{2}:\d{2}:\d{2} GMT", date), date
    when = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(when - time.time()) <= 2, f"Date {date} is not now"


def test_date_header_changes_each_second(web):
    # Cached per second: within a burst every Date is one of at most two adjacent seconds,
    # and a later request sees a later second.
    with web.conn() as c:
        t0 = time.time()
        dates = {get_ok(c).header("date") for _ in range(50)}
        elapsed = time.time() - t0
        stamps = sorted(email.utils.parsedate_to_datetime(d).timestamp() for d in dates)
        assert len(stamps) <= int(elapsed) + 2
        assert stamps[-1] - stamps[0] <= int(elapsed) + 1
        first = stamps[-1]
        later = wait_for(lambda: email.utils.parsedate_to_datetime(get_ok(c).header("date")).timestamp() > first,
                         timeout=3, interval=0.1, what="Date to advance")
        assert later


# ---- HTTP/1.0 connection semantics --------------------------------------------------------------


def test_http10_closes_by_default(web):
    with web.conn() as c:
        c.send(b"GET /hello/ten HTTP/1.0\r\n\r\n")
        resp = c.read_response()
        assert resp.status == 200 and b"ten" in resp.body
        c.expect_eof()


def test_http10_keep_alive_on_request(web):
    with web.conn() as c:
        for i in range(3):
            c.send(b"GET /hello/k%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            resp = c.read_response()
            assert resp.status == 200 and b"k%d" % i in resp.body
            assert "keep-alive" in (resp.header("connection") or "").lower(), \
                "an HTTP/1.0 persistent connection must be confirmed with Connection: keep-alive"
            assert resp.header("content-length") is not None
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.read_response().status == 200
        c.expect_eof()


def test_server_still_healthy(web):
    assert web.alive()
    with web.conn() as c:
        get_ok(c)
