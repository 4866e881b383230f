# SPDX-License-Identifier: MIT
"""baton-web over real sockets: keep-alive, pipelining, chunked bodies, 100-continue, HEAD,
limits and framing errors, routing (404, 405), handler errors, streaming, middleware, static.
"""
import os
import time

from harness import (HELLO_MODULE, PUBLIC, TEST_MODULES, TIME_SCALE, RawConn, exchange, get, refused,
                     start_web, wait_for)

# ---- protocol ------------------------------------------------------------------------------


def test_hello_routes(procs):
    proc, port = start_web(procs)
    (st, h, body), = exchange(port, get("/"))
    assert (st, body) == (200, b"Hello, World!")
    assert h["content-type"].startswith("text/plain")
    assert "date" in h and h["content-length"] == "13"
    (st, _, body), = exchange(port, get("/hello/baton%20web"))
    assert (st, body) == (200, b"Hello, baton web!\n")
    (st, h, body), = exchange(port, get("/api/time"))
    assert st == 200 and h["content-type"] == "application/json"
    import json
    t = json.loads(body)
    assert set(t) == {"time", "generation", "pid"} and t["generation"] == 0
    assert t["pid"] == proc.pid


def test_keep_alive_reuses_one_connection(procs):
    _, port = start_web(procs)
    with RawConn(port) as s:
        for i in range(50):
            s.send(get(f"/hello/{i}"))
            st, h, body = s.read_response()
            assert st == 200 and body == f"Hello, {i}!\n".encode()
            assert "connection" not in h
        s.send(get("/", extra="Connection: close\r\n"))
        st, h, _ = s.read_response()
        assert h["connection"] == "close"
        s.expect_eof()


def test_pipelined_requests_are_answered_in_order(procs):
    _, port = start_web(procs)
    reqs = b"".join(get(f"/hello/{i}") for i in range(100))
    reqs += b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    reqs += get("/nope") + get("/", extra="Connection: close\r\n")
    # Sent in odd-sized pieces so requests straddle reads.
    with RawConn(port) as s:
        for i in range(0, len(reqs), 777):
            s.send(reqs[i:i + 777])
        for i in range(100):
            assert s.read_response()[2] == f"Hello, {i}!\n".encode()
        assert s.read_response()[2] == b"hello"
        assert s.read_response()[0] == 404
        st, h, body = s.read_response()
        assert (st, body, h["connection"]) == (200, b"Hello, World!", "close")
        s.expect_eof()


def test_chunked_body_echo(procs):
    _, port = start_web(procs)
    payload = os.urandom(100_000)
    chunks = b""
    for i in range(0, len(payload), 4096 + 17):
        piece = payload[i:i + 4096 + 17]
        chunks += b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n"
    chunks += b"0\r\nX-Trailer: yes\r\n\r\n"
    raw = (b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-test\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    (st, h, body), = exchange(port, raw)
    assert st == 200 and body == payload and h["content-type"] == "application/x-test"


def test_expect_100_continue(procs):
    _, port = start_web(procs)
    with RawConn(port) as s:
        s.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 4\r\n\r\n")
        st, _, _ = s.read_response()
        assert st == 100
        s.send(b"ping")
        assert s.read_response()[2] == b"ping"
        # A body too large is refused before it is sent: no 100, a 413 and the close.
        s.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 99999999\r\n\r\n")
        st, h, _ = s.read_response()
        assert st == 413 and h["connection"] == "close"
        s.expect_eof()


def test_head_has_length_but_no_body(procs):
    _, port = start_web(procs, "--static", PUBLIC)
    with RawConn(port) as s:
        s.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"))
        st, h, body = s.read_response(head=True)
        assert (st, h["content-length"], body) == (200, "13", b"")
        assert s.read_response()[2] == b"Hello, World!"  # nothing was left over from the HEAD
        size = (PUBLIC / "app.3f9a1c.js").stat().st_size
        s.send(b"HEAD /app.3f9a1c.js HTTP/1.1\r\nHost: x\r\n\r\n" + get("/app.3f9a1c.js"))
        st, h, _ = s.read_response(head=True)
        assert (st, int(h["content-length"])) == (200, size)
        assert "immutable" in h["cache-control"]
        st, h, body = s.read_response()
        assert body == (PUBLIC / "app.3f9a1c.js").read_bytes()


def test_http10_and_absolute_form(procs):
    _, port = start_web(procs)
    (st, h, body), = exchange(port, b"GET / HTTP/1.0\r\n\r\n")
    assert (st, body, h.get("connection")) == (200, b"Hello, World!", "close")
    with RawConn(port) as s:
        s.send(b"GET /hello/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        st, h, body = s.read_response()
        assert h["connection"] == "keep-alive" and body == b"Hello, a!\n"
        s.send(b"GET http://example.com/hello/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert s.read_response()[2] == b"Hello, b!\n"


def test_404_405_and_allow(procs):
    _, port = start_web(procs)
    (st, _, _), = exchange(port, get("/missing"))
    assert st == 404
    (st, h, _), = exchange(port, b"DELETE /api/echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 405 and h["allow"] == "POST"
    (st, h, _), = exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert st == 405 and h["allow"] == "GET, HEAD"


# ---- limits and framing --------------------------------------------------------------------


def test_limits_answer_with_their_status_and_close(procs, tmp_path):
    cfg = tmp_path / "web.yaml"
    cfg.write_text("limits: {header_bytes: 1024, header_count: 10, uri_bytes: 256, body_bytes: 1000}\n"
                   "timeouts: {header: 500ms, body: 500ms}\n")
    _, port = start_web(procs, "--config", cfg)
    refused(port, get("/" + "a" * 300), 414)
    refused(port, get("/", extra="X-Big: " + "b" * 1100 + "\r\n"), 431)
    refused(port, get("/", extra="".join(f"X-{i}: v\r\n" for i in range(11))), 431)
    refused(port, b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413)
    refused(port, b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"200\r\n" + b"x" * 512 + b"\r\n" + b"200\r\n" + b"x" * 512 + b"\r\n0\r\n\r\n", 413)
    # Slow clients: a header section or a body that does not arrive in time.
    t = time.monotonic()
    refused(port, b"GET / HTTP/1.1\r\nHost: x\r\n", 408)
    refused(port, b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 408)
    assert time.monotonic() - t < 5 * TIME_SCALE
    # Within the limits everything passes.
    (st, _, body), = exchange(port, b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000"
                                    b"\r\n\r\n" + b"z" * 1000)
    assert st == 200 and body == b"z" * 1000


def test_limits_from_flags(procs):
    _, port = start_web(procs, "--max-uri", "100", "--max-body", "10", "--max-headers", "3")
    refused(port, get("/" + "a" * 150), 414)
    refused(port, b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 413)
    refused(port, get("/", extra="A: 1\r\nB: 2\r\nC: 3\r\n"), 431)


def test_ambiguous_framing_is_refused(procs):
    _, port = start_web(procs)
    for raw in (
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\n",
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4x\r\nabcd\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ):
        refused(port, raw, 400)


def test_idle_keep_alive_timeout_closes_quietly(procs):
    _, port = start_web(procs, "--keepalive-timeout", "300ms")
    with RawConn(port) as s:
        s.send(get("/"))
        assert s.read_response()[0] == 200
        t = time.monotonic()
        s.expect_eof(timeout=5)
        assert 0.2 < time.monotonic() - t < 3 * TIME_SCALE


# ---- handler API through the test module ---------------------------------------------------


def test_streaming_errors_middleware_params(procs):
    proc, port = start_web(procs, modules=(HELLO_MODULE, TEST_MODULES / "stream.so"))
    (st, h, body), = exchange(port, get("/stream"))
    assert st == 200 and h["transfer-encoding"] == "chunked"
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert h["x-middleware"] == "before"
    assert "x-status-seen" not in h  # after() runs once the head is out: too late for headers
    (st, h, _), = exchange(port, get("/items/1"))
    assert h["x-middleware"] == "before" and h["x-status-seen"] == "200"
    # A failing handler and one that set nothing become 500, with the error logged.
    (st, h, body), = exchange(port, get("/fail", extra="X-Request-Id: req-42\r\n"))
    assert (st, body) == (500, b"Internal Server Error\n")
    assert h["x-status-seen"] == "500"
    (st, _, _), = exchange(port, get("/nothing"))
    assert st == 500
    wait_for(lambda: "req-42" in proc.log(), what="the handler error in the log")
    # Parameters, rest and query; literal beats parameter.
    (st, _, body), = exchange(port, get("/items/7?q=a+b%21"))
    assert body == b"id=7 rest=- q=a b!"
    assert exchange(port, get("/items/new"))[0][2] == b"literal wins"
    assert exchange(port, get("/files/a/b/c.txt"))[0][2] == b"id=(null) rest=a/b/c.txt q=-"
    (st, h, _), = exchange(port, b"POST /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert st == 405 and h["allow"] == "GET, HEAD, PUT, DELETE"
    # The hello module still answers beside it.
    assert exchange(port, get("/"))[0][2] == b"Hello, World!"


def test_access_log_lines(procs):
    import json
    proc, port = start_web(procs, "--access-log", env={"BATON_GENERATION": "7"})
    exchange(port, get("/hello/log"))
    exchange(port, get("/missing"))

    def lines():
        out = []
        for line in proc.log().splitlines():
            if '"msg":"access"' in line:
                out.append(json.loads(line))
        return out if len(out) >= 3 else None  # the readiness probe, then our two

    entries = wait_for(lines, what="access log lines")
    mine = [e for e in entries if e["path"] in ("/hello/log", "/missing")]
    assert [(e["method"], e["path"], e["status"]) for e in mine] == [
        ("GET", "/hello/log", 200), ("GET", "/missing", 404)]
    assert mine[0]["bytes"] == len(b"Hello, log!\n") and mine[0]["gen"] == 7
    assert "duration_us" in mine[0] and mine[0]["id"]
