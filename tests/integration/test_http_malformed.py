# SPDX-License-Identifier: MIT
"""baton-web refuses malformed and ambiguous HTTP/1.1 requests the way RFC 9112/9110 say.

One table of raw requests, each sent on its own connection to one real baton-web (started once
for the module, killed at the end, its log checked for sanitizer reports). For every case the
expected status and what happens to the connection:
  OPEN   - the connection stays usable: a valid request on it must get 200;
  CLOSE  - the response says `Connection: close` and a clean EOF follows (no RST, no more bytes);
  EITHER - the RFC leaves it open: if the response says close, EOF must follow, else the
           connection must serve the next request.
Each case names the RFC rule that decides its status.
"""
import socket

import pytest

from harness import GOOD, TIME_SCALE, RawConn, request

OPEN, CLOSE, EITHER = "open", "close", "either"

H = b"Host: test\r\n"
ECHO_CL = b"POST /api/echo HTTP/1.1\r\n" + H
ECHO_TE = b"POST /api/echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
SMUGGLED = b"GET /hello/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"


# Where the RFC and llhttp 8.1 in strict mode (which issue 3 mandates: no lenient flag) disagree,
# the case keeps the RFC's answer and is marked as a known deviation; strict, so that the day the
# server gives the RFC's answer the mark must go.
LLHTTP_STRICT = "llhttp 8.1 strict mode refuses it (400/505); the RFC says accept: a decision for the lead"


def case(name, raw, status, conn, head=False, body=None, deviation=None):
    statuses = status if isinstance(status, tuple) else (status,)
    marks = [pytest.mark.xfail(strict=True, reason=deviation)] if deviation else []
    return pytest.param(raw, statuses, conn, head, body, id=name, marks=marks)


CASES = [
    # -- message framing: RFC 9112 §6.1, §6.3 (ambiguous framing is refused: 400, then close) --
    case("cl-and-te", ECHO_CL + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, CLOSE),
    case("te-and-cl", ECHO_CL + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, CLOSE),
    case("two-different-cl", ECHO_CL + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 400, CLOSE),
    case("cl-list-different", ECHO_CL + b"Content-Length: 1, 2\r\n\r\nxy", 400, CLOSE),
    case("cl-garbage", ECHO_CL + b"Content-Length: 1x\r\n\r\nx", 400, CLOSE),
    case("cl-negative", ECHO_CL + b"Content-Length: -1\r\n\r\n", 400, CLOSE),
    case("cl-plus-sign", ECHO_CL + b"Content-Length: +1\r\n\r\nx", 400, CLOSE),
    case("cl-hex", ECHO_CL + b"Content-Length: 0x10\r\n\r\n", 400, CLOSE),
    case("cl-empty", ECHO_CL + b"Content-Length: \r\n\r\n", 400, CLOSE),
    case("cl-u64-overflow", ECHO_CL + b"Content-Length: 99999999999999999999999\r\n\r\n", (400, 413), CLOSE),
    # RFC 9110 §15.5.14: content larger than the server is willing to process → 413; it may close.
    case("cl-huge", ECHO_CL + b"Content-Length: 1000000000000\r\n\r\nabc", 413, CLOSE),
    case("cl-leading-zeros-ok", ECHO_CL + b"Content-Length: 0005\r\n\r\nabcde", 200, OPEN, body=b"abcde"),
    # RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, and OWS includes HTAB.
    case("cl-ows-ok", ECHO_CL + b"Content-Length:  5 \t\r\n\r\nabcde", 200, OPEN, body=b"abcde",
         deviation=LLHTTP_STRICT),
    # A request smuggled inside a body stays a body.
    case("body-holds-request", ECHO_CL + b"Content-Length: %d\r\n\r\n%s" % (len(SMUGGLED), SMUGGLED),
         200, OPEN, body=SMUGGLED),
    # -- chunked: RFC 9112 §7.1 --
    case("chunk-size-overflow", ECHO_TE + b"fffffffffffffffffffff\r\nx\r\n0\r\n\r\n", 400, CLOSE),
    case("chunk-size-2pow64", ECHO_TE + b"10000000000000000\r\nx\r\n0\r\n\r\n", 400, CLOSE),
    case("chunk-size-bad-hex", ECHO_TE + b"zz\r\nx\r\n0\r\n\r\n", 400, CLOSE),
    case("chunk-size-0x", ECHO_TE + b"0x1\r\nx\r\n0\r\n\r\n", 400, CLOSE),
    case("chunk-size-negative", ECHO_TE + b"-1\r\nx\r\n0\r\n\r\n", 400, CLOSE),
    case("chunk-size-empty", ECHO_TE + b"\r\nx\r\n0\r\n\r\n", 400, CLOSE),
    case("chunk-huge", ECHO_TE + b"ffffffffff\r\nxyz", 413, CLOSE),
    case("chunk-data-without-crlf", ECHO_TE + b"1\r\nxy0\r\n\r\n", 400, CLOSE),
    case("chunk-data-bare-lf", ECHO_TE + b"1\r\nx\n0\r\n\r\n", 400, CLOSE),
    # The last chunk's empty line is missing: the next request line is read as a trailer field.
    case("last-chunk-missing-crlf", ECHO_TE + b"1\r\nx\r\n0\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", 400, CLOSE),
    case("chunk-ext-ok", ECHO_TE + b"3;foo=bar\r\nabc\r\n1;flag\r\nd\r\n0;last=\"q\"\r\n\r\n", 200, OPEN,
         body=b"abcd"),
    case("chunk-ext-valueless-after-valued-ok", ECHO_TE + b"3;foo=bar;baz\r\nabc\r\n0\r\n\r\n", 200, OPEN,
         body=b"abc", deviation=LLHTTP_STRICT),
    # RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), and
    # RFC 9110 §5.6.3: recipients MUST parse and remove BWS.
    case("chunk-ext-bws-ok", ECHO_TE + b"3 ; foo = bar\r\nabc\r\n0\r\n\r\n", 200, OPEN, body=b"abc",
         deviation=LLHTTP_STRICT),
    case("chunk-trailer-ok", ECHO_TE + b"2\r\nab\r\n0\r\nX-Sum: 1\r\n\r\n", 200, OPEN, body=b"ab"),
    case("te-case-insensitive-ok", ECHO_CL + b"Transfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200, OPEN,
         body=b"ok"),
    # -- Transfer-Encoding values: RFC 9112 §6.1, §6.3 --
    # chunked not final → length unknowable → MUST 400 and close.
    case("te-unknown-only", ECHO_CL + b"Transfer-Encoding: gzip\r\n\r\nabc", 400, CLOSE),
    case("te-empty", ECHO_CL + b"Transfer-Encoding:\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400, CLOSE),
    case("te-empty-with-cl", ECHO_CL + b"Transfer-Encoding: \r\nContent-Length: 3\r\n\r\nabc", 400, CLOSE),
    case("te-chunked-then-gzip", ECHO_CL + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, CLOSE),
    case("te-chunked-twice", ECHO_CL + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400, CLOSE),
    # A coding it does not understand, chunked last: SHOULD 501 (§6.1).
    case("te-gzip-chunked-501", ECHO_CL + b"Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 501,
         EITHER),
    # HTTP/1.0 with Transfer-Encoding: the framing is faulty (§6.1) → 400 and close.
    case("te-in-http10", b"POST /api/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, CLOSE),
    case("te-in-http10-with-cl",
         b"POST /api/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, CLOSE),
    # -- field syntax: RFC 9112 §5 --
    case("obs-fold-space", b"GET / HTTP/1.1\r\n" + H + b"X-A: one\r\n two\r\n\r\n", 400, CLOSE),
    case("obs-fold-tab", b"GET / HTTP/1.1\r\n" + H + b"X-A: one\r\n\ttwo\r\n\r\n", 400, CLOSE),
    # The smuggling shape: an empty framing value folded onto the next line. llhttp alone frames
    # the body by the folded value, and the bytes after it would be served as a second request.
    case("obs-fold-empty-cl", ECHO_CL + b"Content-Length:\r\n 5\r\n\r\nhello" + SMUGGLED, 400, CLOSE),
    case("obs-fold-empty-cl-tab", ECHO_CL + b"Content-Length:\r\n\t5\r\n\r\nhello" + SMUGGLED, 400, CLOSE),
    case("obs-fold-empty-te", ECHO_CL + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 400,
         CLOSE),
    case("obs-fold-empty-host", b"GET / HTTP/1.1\r\nHost:\r\n test\r\n\r\n", 400, CLOSE),
    case("obs-fold-blank-after-cl", ECHO_CL + b"Content-Length: 5\r\n \r\n\r\nhello", 400, CLOSE),
    case("space-before-colon", b"GET / HTTP/1.1\r\nHost : test\r\n\r\n", 400, CLOSE),
    case("space-before-colon-other", b"GET / HTTP/1.1\r\n" + H + b"X-A : v\r\n\r\n", 400, CLOSE),
    case("space-before-colon-cl", ECHO_CL + b"Content-Length : 3\r\n\r\nabc", 400, CLOSE),
    case("tab-before-colon", b"GET / HTTP/1.1\r\n" + H + b"X-A\t: v\r\n\r\n", 400, CLOSE),
    case("space-in-field-name", b"GET / HTTP/1.1\r\n" + H + b"X A: v\r\n\r\n", 400, CLOSE),
    case("empty-field-name", b"GET / HTTP/1.1\r\n" + H + b": v\r\n\r\n", 400, CLOSE),
    case("field-without-colon", b"GET / HTTP/1.1\r\n" + H + b"X-A\r\n\r\n", 400, CLOSE),
    # §2.2: whitespace before the first field: reject, or ignore that line.
    case("space-before-first-field", b"GET / HTTP/1.1\r\n X-A: v\r\n" + H + b"\r\n", (400, 200), EITHER),
    case("nul-in-field-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400, CLOSE),
    case("ctl-in-field-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n", 400, CLOSE),
    case("del-in-field-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n", 400, CLOSE),
    case("ctl-in-field-name", b"GET / HTTP/1.1\r\n" + H + b"X-\x01: v\r\n\r\n", 400, CLOSE),
    case("obs-text-in-value-ok", b"GET / HTTP/1.1\r\n" + H + b"X-A: caf\xe9\r\n\r\n", 200, OPEN),
    case("htab-in-value-ok", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\tb\r\n\r\n", 200, OPEN),
    # -- line endings: RFC 9112 §2.2 (bare CR is invalid; bare LF: baton is strict) --
    case("bare-lf-request-line", b"GET / HTTP/1.1\n" + H + b"\r\n", 400, CLOSE),
    case("bare-lf-field", b"GET / HTTP/1.1\r\nHost: test\n\r\n", 400, CLOSE),
    case("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: test\n\n", 400, CLOSE),
    case("bare-cr-request-line", b"GET / HTTP/1.1\rHost: test\r\n\r\n", 400, CLOSE),
    case("bare-cr-field-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400, CLOSE),
    # §2.2: a server SHOULD ignore at least one empty line before the request line.
    case("leading-empty-line-ok", b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n", 200, OPEN),
    # -- request target: RFC 9112 §3, §3.2 --
    case("nul-in-path", b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n", 400, CLOSE),
    case("ctl-in-path", b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n", 400, CLOSE),
    case("del-in-path", b"GET /a\x7fb HTTP/1.1\r\n" + H + b"\r\n", 400, CLOSE),
    case("space-in-path", b"GET /a b HTTP/1.1\r\n" + H + b"\r\n", 400, CLOSE),
    case("encoded-nul-in-path", b"GET /hello/a%00b HTTP/1.1\r\n" + H + b"\r\n", 400, EITHER),
    case("absolute-form-ok", b"GET http://localhost/ HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, OPEN),
    case("absolute-form-route-ok", b"GET http://example.com:8080/hello/abs?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
         200, OPEN, body=b"Hello, abs!\n"),
    # §3.2.4: asterisk-form is only for OPTIONS.
    case("asterisk-form-get", b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400, EITHER),
    # RFC 9110 §9.3.6: CONNECT to an origin server that does not tunnel: 501 (or 405 with Allow).
    case("connect", b"CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n\r\n", (405, 501), EITHER),
    # -- Host: RFC 9112 §3.2 (MUST 400) --
    case("missing-host-http11", b"GET / HTTP/1.1\r\nX-A: v\r\n\r\n", 400, CLOSE),
    case("two-host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, CLOSE),
    case("two-host-same", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, CLOSE),
    case("host-invalid-value", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, CLOSE),
    case("host-empty-ok", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", 200, OPEN),
    case("http10-no-host-ok", b"GET / HTTP/1.0\r\n\r\n", 200, CLOSE),
    case("http10-no-host-keepalive-ok", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, OPEN),
    # -- method: RFC 9110 §9.1 (case-sensitive; unknown → 501), RFC 9112 §3 (not a token → 400) --
    case("method-not-token", b"G@T / HTTP/1.1\r\n" + H + b"\r\n", 400, CLOSE),
    case("method-unknown", b"FROB / HTTP/1.1\r\n" + H + b"\r\n", 501, EITHER),
    case("method-lowercase", b"get / HTTP/1.1\r\n" + H + b"\r\n", 501, EITHER),
    # -- version: RFC 9110 §2.5, §15.6.6; RFC 9112 §2.3 --
    case("http-2.0", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505, CLOSE),
    case("http-0.9-version", b"GET / HTTP/0.9\r\n" + H + b"\r\n", 505, CLOSE),
    case("http-0.9-simple", b"GET /\r\n\r\n", (400, 505), CLOSE),
    # A higher minor version of a major version served: SHOULD be processed as HTTP/1.1.
    case("http-1.2-as-1.1", b"GET / HTTP/1.2\r\n" + H + b"\r\n", 200, OPEN, deviation=LLHTTP_STRICT),
    case("http-name-lowercase", b"GET / http/1.1\r\n" + H + b"\r\n", 400, CLOSE),
    # §3: invalid (400), or parsed on whitespace boundaries ignoring trailing whitespace (200);
    # the version is fine either way, so never 505.
    case("request-line-trailing-space", b"GET / HTTP/1.1 \r\n" + H + b"\r\n", (400, 200), EITHER),
    # -- limits (defaults: 8 KiB of head, 100 fields, 4 KiB of target) --
    # RFC 9112 §3: a target longer than the server parses → 414; RFC 6585 §5: 431.
    case("uri-too-long", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414, EITHER),
    case("field-too-long", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"v" * 70000 + b"\r\n\r\n", 431, EITHER),
    case("too-many-fields", b"GET / HTTP/1.1\r\n" + H + b"".join(b"X-%d: v\r\n" % i for i in range(1000)) + b"\r\n",
         431, EITHER),
    # -- expectations: RFC 9110 §10.1.1 --
    case("expect-unknown", b"GET / HTTP/1.1\r\n" + H + b"Expect: teleport\r\n\r\n", 417, EITHER),
    # -- ordinary requests the table must not break --
    case("get-with-body-ok", b"GET / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n\r\nabcd", 200, OPEN),
    case("get-with-chunked-body-ok", b"GET / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
         b"4\r\nabcd\r\n0\r\n\r\n", 200, OPEN),
    case("head-ok", b"HEAD / HTTP/1.1\r\n" + H + b"\r\n", 200, OPEN, head=True),
    case("post-empty-ok", ECHO_CL + b"Content-Length: 0\r\n\r\n", 200, OPEN, body=b""),
]


def check_after(c, resp, conn, http10=False):
    """The connection's fate after resp, as the case expects."""
    if conn == EITHER:
        conn = CLOSE if resp.closes() else OPEN
    if conn == CLOSE:
        # HTTP/1.0 closes by default; on HTTP/1.1 the client must be told (RFC 9112 §9.6).
        if not http10:
            assert resp.closes(), f"the server closes but its response does not say so: {resp.raw[:300]!r}"
        c.expect_eof()
    else:
        assert not resp.closes(), f"unexpected Connection: close on {resp.raw[:300]!r}"
        c.send(GOOD)
        nxt = c.read_response()
        assert nxt.status == 200, f"the connection did not serve the next request: {nxt.raw[:300]!r}"


@pytest.mark.parametrize("raw, statuses, conn, head, body", CASES)
def test_malformed(web, raw, statuses, conn, head, body):
    with web.conn() as c:
        c.send(raw)
        resp = c.read_response(head=head)
        assert resp.status in statuses, f"expected {statuses}, got {resp.raw[:400]!r}"
        if resp.status == 405:
            assert resp.header("allow"), "RFC 9110 §15.5.6: a 405 MUST carry Allow"
        if head:
            assert resp.header("content-length") is not None, "HEAD must carry the GET's Content-Length"
        if body is not None:
            assert resp.body == body
        check_after(c, resp, conn, http10=raw.split(b"\n", 1)[0].rstrip().endswith(b"HTTP/1.0"))
    assert web.alive(), "baton-web died"


def test_case_count():
    assert len(CASES) >= 40


# ---- pipelines ------------------------------------------------------------------------------------


def test_pipelined_three_in_one_write(web):
    with web.conn() as c:
        c.send(request(target="/hello/one") + request(target="/hello/two") + request(target="/hello/three"))
        for name in (b"one", b"two", b"three"):
            resp = c.read_response()
            assert resp.status == 200 and name in resp.body, resp
        c.send(GOOD)
        assert c.read_response().status == 200


def test_pipelined_bad_in_the_middle(web):
    # Good answers before the bad request, then 400 + close; nothing after it is answered.
    bad = b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\nx"
    with web.conn() as c:
        c.send(request(target="/hello/first") + request(target="/hello/second") + bad +
               request(target="/hello/never"))
        for name in (b"first", b"second"):
            resp = c.read_response()
            assert resp.status == 200 and name in resp.body, resp
        resp = c.read_response()
        assert resp.status == 400 and resp.closes(), resp
        c.expect_eof()


def test_pipelined_smuggling_attempt_cl_te(web):
    # The classic CL.TE desync: a server honouring either length alone would answer /hello/smuggled.
    smuggled = b"0\r\n\r\nGET /hello/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    raw = (b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" % len(smuggled)) + smuggled
    with web.conn() as c:
        c.send(raw)
        resp = c.read_response()
        assert resp.status == 400 and resp.closes(), resp
        c.expect_eof()


# ---- many bad connections, then a healthy server ---------------------------------------------------


def test_half_requests_then_hangups(web):
    # Clients that vanish mid-head, mid-body and mid-chunk must not disturb the server.
    pieces = [b"GET / HT", ECHO_CL + b"Content-Length: 10\r\n\r\nabc", ECHO_TE + b"5\r\nab",
              b"GET / HTTP/1.1\r\nHost: t\r\nX-A: "]
    for p in pieces * 5:
        s = socket.create_connection(("127.0.0.1", web.port), timeout=5 * TIME_SCALE)
        s.sendall(p)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        s.close()
    with RawConn(web.port) as c:
        c.send(GOOD)
        assert c.read_response().status == 200


def test_server_answers_normally_after_the_table(web):
    assert web.alive()
    for _ in range(3):
        with web.conn() as c:
            c.send(request(target="/hello/still-fine"))
            resp = c.read_response()
            assert resp.status == 200 and b"still-fine" in resp.body
