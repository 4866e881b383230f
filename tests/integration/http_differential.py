# SPDX-License-Identifier: MIT
"""Differential testing of baton-web's request parser against h11 (an independent strict parser).

A seeded generator mutates requests (the malformed table of test_http_malformed.py, and valid
requests built here) by byte flips, splits, duplicated and folded header lines, odd whitespace
and case, Content-Length/Transfer-Encoding combinations, chunk-size oddities and pipelining.
Each case is a byte stream of one connection, delivered in pieces (its split points). It is
framed twice:
  - by baton-web's parser, through tests/tools/parse-frame (the real src/http/parser.c, fed the
    way a connection feeds it; one process for all the cases);
  - by h11 (Debian's python3-h11), driven as a server that answers each request and goes on.
Framing of a stream = the requests each parser accepts, in order (method, target, HTTP minor
version, body bytes, keep-alive, offset where the next request starts), then how it ends: idle,
more (a request incomplete), close (a request without keep-alive), error (refused).

Disagreements, at the first request where the two differ:
  FRAMING     - both accept a request, with a different framing, or one accepts one where the
                other waits for more bytes: the desync class. Always a failure, unless allowed.
  BATON_ONLY  - baton-web accepts a request h11 refuses.
  H11_ONLY    - h11 accepts a request baton-web refuses.
  END         - the same requests, then a different end (idle against error, ...).
Each needs an entry of ALLOWED that names the RFC clause permitting the difference and
recognises the case by its bytes (and, where baton-web refuses, by baton-web's own reason, so
the entry explains the refusal that actually happened). A parser refusing where the other waits
for more bytes is no disagreement: neither accepts anything.

h11 shares some leniencies (it joins folded lines, takes bare LF), so agreeing with it is not
enough: every request baton-web accepts is also checked against RFC 9112's grammar and its body
against a strict decoding (strict_problems()).

Command line (more cases than `make test` runs; `make fuzz` runs it; Debian's python3 has h11):
    BATON_DIFF_CASES=1000000 /usr/bin/python3 tests/integration/http_differential.py [--seed N]
"""
import json
import os
import random
import re
import struct
import subprocess
import sys
from pathlib import Path

import h11
from h11._connection import _keep_alive as h11_keep_alive

HERE = Path(__file__).resolve().parent
BUILD = Path(os.environ.get("BATON_BUILD_DIR", HERE.parents[1] / "build"))
PARSE_FRAME = BUILD / "bin" / "parse-frame"

FRAMING, BATON_ONLY, H11_ONLY, END = "framing", "baton-only", "h11-only", "end"

# ---- the generator ------------------------------------------------------------------------------

METHODS = [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH"]
TARGETS = [b"/", b"/hello/a", b"/hello/x-y_z.1", b"/api/echo", b"/api/time", b"/hello/q?x=1&y=%20",
           b"http://example.com/hello/abs", b"/a/./b/../hello/c", b"/hello/%41b"]
OTHER_HEADERS = [(b"User-Agent", b"diff/1"), (b"Accept", b"*/*"), (b"X-Tag", b"a b\tc"),
                 (b"Content-Type", b"text/plain"), (b"X-Empty", b""), (b"Connection", b"keep-alive"),
                 (b"Connection", b"close"), (b"Expect", b"100-continue"), (b"X-Obs", b"caf\xe9"),
                 (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"), (b"Trailer", b"X-Sum")]
ODD_BYTES = b" \t\x0b\x0c\x00\r\n:,;=0159aAfF\x7f\x80\xff\"-+"
WS = [b" ", b"\t", b"\x0b", b"\x0c", b"\x00", b"\r", b"\n", b"  ", b" \t", b""]
CL_SHAPES = [b"%d", b"0%d", b"%d, %d", b"%d,%d", b"+%d", b"-%d", b" %d ", b"%d ", b"\t%d", b"%d\t", b"%x",
             b"%d, ", b", %d", b"%d %d", b"0x%d", b"%d.0", b"%d\x0b", b"", b"%d%d"]
TE_SHAPES = [b"chunked", b"Chunked", b"CHUNKED", b"chunked, chunked", b"gzip, chunked", b"chunked, gzip",
             b"chunked,", b", chunked", b" chunked", b"chunked ", b"chunked\t", b"identity", b"identity, chunked",
             b"x-chunked", b"chunked\x0b", b"chunk", b"chunkedx", b"\"chunked\"", b"chunked;q=1", b""]
CHUNK_SIZES = [b"%x", b"%X", b"0%x", b"000000000000000000000%x", b"%x ", b" %x", b"%x\t", b"%x;a=b", b"%x ;a",
               b"%x;a=\"q\"", b"%x;", b"0x%x", b"+%x", b"-%x", b"%x\x00", b"%xg", b"%x\r"]


def chunk_body(rng, body):
    """Encodes body as chunks, sometimes with extensions, odd sizes and trailers."""
    out, i = b"", 0
    while i < len(body):
        n = rng.randint(1, max(1, len(body) - i))
        piece = body[i:i + n]
        i += n
        shape = rng.choice(CHUNK_SIZES) if rng.random() < 0.08 else b"%x"
        out += (shape % len(piece) if b"%" in shape else shape) + b"\r\n" + piece + b"\r\n"
    last = rng.choice(CHUNK_SIZES) % 0 if rng.random() < 0.1 else b"0"
    trailer = rng.choice([b"", b"", b"", b"", b"X-Sum: 1\r\n", b"X-Sum: 1\r\n", b"X-A: b\r\n\tc\r\n",
                          b"Content-Length: 3\r\n"])
    return out + last + b"\r\n" + trailer + b"\r\n"


def valid_request(rng):
    """A well-formed request (or a mildly odd one: HTTP/1.0, no Host, keep-alive)."""
    method = rng.choice(METHODS)
    target = rng.choice(TARGETS)
    if target.startswith(b"/hello/") and rng.random() < 0.5:
        target = b"/hello/n%d" % rng.randrange(1000)
    if method == b"POST" and rng.random() < 0.6:
        target = b"/api/echo"
    version = b"HTTP/1.0" if rng.random() < 0.1 else b"HTTP/1.1"
    headers = []
    if version == b"HTTP/1.1" or rng.random() < 0.5:
        headers.append((b"Host", rng.choice([b"test", b"example.com:8080", b"", b"[::1]:80", b"a.b"])))
    for _ in range(rng.randrange(3)):
        headers.append(rng.choice(OTHER_HEADERS))
    body = b""
    frame = rng.random()
    if method in (b"POST", b"PUT", b"PATCH") or frame < 0.2:
        body = rng.randbytes(rng.choice([0, 1, 5, 17, 300]))
        if frame < 0.35 and version == b"HTTP/1.1":
            headers.append((b"Transfer-Encoding", b"chunked"))
            body = chunk_body(rng, body)
        else:
            headers.append((b"Content-Length", b"%d" % len(body)))
    rng.shuffle(headers)
    head = method + b" " + target + b" " + version + b"\r\n"
    head += b"".join(n + b": " + v + b"\r\n" for n, v in headers)
    return head + b"\r\n" + body


def split_head(msg):
    """(request line, [header lines], rest after the empty line) or None when no head ends."""
    end = msg.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = msg[:end].split(b"\r\n")
    return lines[0], lines[1:], msg[end + 4:]


def join_head(first, lines, rest):
    return b"\r\n".join([first] + lines) + b"\r\n\r\n" + rest


def header_mutation(rng, msg):
    parts = split_head(msg)
    if parts is None:
        return msg
    first, lines, rest = parts
    lines = list(lines)
    kind = rng.randrange(9)
    i = rng.randrange(len(lines)) if lines else 0
    if kind == 0 and lines:  # duplicate a field line
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    elif kind == 1 and lines:  # fold: the value (or part of it) onto a continuation line
        name, sep, value = lines[i].partition(b":")
        cut = rng.randrange(len(value) + 1)
        lines[i] = name + sep + value[:cut] + rng.choice([b"\r\n ", b"\r\n\t", b"\n ", b"\r\n  ", b"\r\n \r\n "]) \
            + value[cut:].lstrip()
    elif kind == 2 and lines:  # odd whitespace around the colon or the value
        name, sep, value = lines[i].partition(b":")
        where = rng.randrange(4)
        w = rng.choice(WS)
        if where == 0:
            lines[i] = name + w + sep + value
        elif where == 1:
            lines[i] = name + sep + w + value.lstrip()
        elif where == 2:
            lines[i] = name + sep + value + w
        else:
            lines[i] = w + lines[i]
    elif kind == 3 and lines:  # case
        name, sep, value = lines[i].partition(b":")
        f = rng.choice([bytes.lower, bytes.upper, bytes.swapcase, bytes.title])
        lines[i] = (f(name) + sep + value) if rng.random() < 0.6 else (name + sep + f(value))
    elif kind == 4:  # a Content-Length of some shape, right or wrong
        n = len(rest) if rng.random() < 0.7 else rng.randrange(8)
        shape = rng.choice(CL_SHAPES)
        value = shape % ((n,) * shape.count(b"%")) if b"%" in shape else shape
        lines.insert(rng.randrange(len(lines) + 1), rng.choice([b"Content-Length", b"content-length"]) + b": "
                     + value)
    elif kind == 5:  # a Transfer-Encoding of some shape
        lines.insert(rng.randrange(len(lines) + 1), b"Transfer-Encoding: " + rng.choice(TE_SHAPES))
        if rng.random() < 0.5 and not rest.startswith(b"0"):
            rest = chunk_body(rng, rest) if rng.random() < 0.7 else b"0\r\n\r\n" + rest
    elif kind == 6 and lines:  # drop a field line
        del lines[i]
    elif kind == 7:  # Host shapes
        lines.insert(rng.randrange(len(lines) + 1), b"Host:" + rng.choice(
            [b" a", b"", b" a b", b" a\x00", b" [::1]", b" a:80", b" a@b", b" \xff", b" a/b", b"\t a\t"]))
    else:  # Connection shapes
        lines.insert(rng.randrange(len(lines) + 1), b"Connection: " + rng.choice(
            [b"close", b"Close", b"keep-alive", b"close, keep-alive", b"keep-alive, close", b"x, close",
             b"closed", b"upgrade", b"close,", b"\tclose", b"CLOSE "]))
    return join_head(first, lines, rest)


def line_end_mutation(rng, msg):
    ends = [m.start() for m in re.finditer(b"\r\n", msg)]
    if not ends:
        return msg
    at = rng.choice(ends)
    return msg[:at] + rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\r", b"\r\n\r\n", b""]) + msg[at + 2:]


def chunk_mutation(rng, msg):
    """Rewrites one chunk-size line of a chunked body (or the last chunk)."""
    m = list(re.finditer(rb"\r\n([0-9a-fA-F]+)(;[^\r\n]*)?\r\n", msg))
    if not m:
        return msg
    m = rng.choice(m)
    size = int(m.group(1), 16)
    size = max(0, size + rng.choice([0, 0, 0, 1, -1]))
    shape = rng.choice(CHUNK_SIZES)
    return msg[:m.start(1)] + shape % size + msg[m.end(0) - 2:]


def byte_mutation(rng, msg):
    if not msg:
        return bytes([rng.choice(ODD_BYTES)])
    at = rng.randrange(len(msg))
    kind = rng.randrange(4)
    b = bytes([rng.choice(ODD_BYTES) if rng.random() < 0.7 else rng.randrange(256)])
    if kind == 0:
        return msg[:at] + b + msg[at + 1:]
    if kind == 1:
        return msg[:at] + b + msg[at:]
    if kind == 2:
        return msg[:at] + msg[at + 1:]
    return msg[:at] + bytes([msg[at] ^ (1 << rng.randrange(8))]) + msg[at + 1:]


MUTATIONS = [(header_mutation, 5), (byte_mutation, 3), (line_end_mutation, 1), (chunk_mutation, 1)]
_MUTATORS = [f for f, w in MUTATIONS for _ in range(w)]


def table_cases():
    """The raw requests of test_http_malformed.py (the ones small enough to mutate)."""
    import test_http_malformed
    return [p.values[0] for p in test_http_malformed.CASES]


def message(rng, table):
    base = rng.choice(table) if rng.random() < 0.3 else valid_request(rng)
    for _ in range(rng.choice([0, 0, 0, 1, 1, 1, 2, 2, 3])):
        base = rng.choice(_MUTATORS)(rng, base)
    if rng.random() < 0.03:
        base = base[:rng.randrange(len(base) + 1)]
    return base


def splits_for(rng, n):
    r = rng.random()
    if n < 2 or r < 0.6:
        return []
    if r < 0.97:
        return sorted(rng.sample(range(1, n), min(n - 1, rng.randint(1, 4))))
    return list(range(1, min(n, 400)))


def generate(seed, count, table=None):
    """count cases (data, splits), the same for the same seed."""
    rng = random.Random(seed)
    table = table_cases() if table is None else table
    small = [t for t in table if len(t) <= 4096]
    cases = [(t, []) for t in table]
    while len(cases) < count:
        k = rng.choices([1, 2, 3], [65, 30, 5])[0]
        # After the first message, half the pipelined ones are left intact, so that where the
        # next request starts is compared often.
        data = b"".join(message(rng, small) if j == 0 or rng.random() < 0.5 else valid_request(rng)
                        for j in range(k))
        cases.append((data, splits_for(rng, len(data))))
    return cases[:count]


# ---- the two parsers ------------------------------------------------------------------------------


def baton_frames(cases, tool=PARSE_FRAME):
    """Framing of every case by baton-web's parser (one parse-frame process)."""
    inp = bytearray()
    for data, splits in cases:
        inp += struct.pack("<II", len(data), len(splits))
        inp += struct.pack("<%dI" % len(splits), *splits)
        inp += data
    out = subprocess.run([str(tool)], input=bytes(inp), capture_output=True, check=True, timeout=600).stdout
    frames = []
    for line in out.splitlines():
        f = json.loads(line)
        f["paths"] = [bytes.fromhex(r["p"]) for r in f["r"]]
        f["r"] = [(r["m"].encode(), bytes.fromhex(r["t"]), r["v"], bytes.fromhex(r["b"]), r["ka"], r["e"])
                  for r in f["r"]]
        frames.append(f)
    assert len(frames) == len(cases), f"parse-frame framed {len(frames)} of {len(cases)} cases"
    return frames


def h11_frame(data, splits=()):
    """Framing of one stream by h11, as a server that answers each request and goes on.

    h11 frames the same whatever the pieces (its buffer is re-scanned whole); run() hands it
    the stream in one piece, which is faster."""
    splits = list(splits)
    pieces = [data[a:b] for a, b in zip([0] + splits, splits + [len(data)])]
    conn = h11.Connection(h11.SERVER)
    fed = 0
    reqs = []
    req = None
    body = bytearray()
    i = 0
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            return {"r": reqs, "end": "error", "st": e.error_status_hint, "why": str(e)}
        if event is h11.NEED_DATA:
            if i == len(pieces):
                pending = req is not None or len(conn.trailing_data[0]) > 0
                return {"r": reqs, "end": "more" if pending else "idle"}
            if pieces[i]:  # (an empty one would tell h11 the connection closed)
                conn.receive_data(pieces[i])
            fed += len(pieces[i])
            i += 1
        elif type(event) is h11.Request:
            req = event
            body = bytearray()
        elif type(event) is h11.Data:
            body += event.data
        elif type(event) is h11.EndOfMessage:
            rest = conn.trailing_data[0]
            v = req.http_version
            minor = int(v[2:3]) if v[:2] == b"1." else -1
            ka = h11_keep_alive(req)
            reqs.append((req.method, req.target, minor, bytes(body), ka, fed - len(rest)))
            req = None
            if not ka:
                return {"r": reqs, "end": "close"}
            # A new cycle on the same connection: h11 keeps nothing from one request to the next
            # but the bytes already received (this skips writing a response through h11).
            conn = h11.Connection(h11.SERVER)
            if rest:
                conn.receive_data(rest)
        else:
            raise AssertionError(f"unexpected h11 event {event!r}")


# ---- comparison -------------------------------------------------------------------------------------

FIELDS = ("method", "target", "version", "body", "keep-alive", "next request at")


def compare(b, h):
    """(kind, index, what) of the first disagreement of two framings, or None."""
    br, hr = b["r"], h["r"]
    for i, (x, y) in enumerate(zip(br, hr)):
        if x != y:
            what = [f for f, p, q in zip(FIELDS, x, y) if p != q]
            return FRAMING, i, "differ in " + ", ".join(what)
    n = min(len(br), len(hr))
    if len(br) == len(hr):
        ends = (b["end"], h["end"])
        if ends[0] == ends[1] or set(ends) == {"error", "more"}:
            return None
        return END, n, "baton %s, h11 %s" % ends
    longer, shorter = (BATON_ONLY, h) if len(br) > len(hr) else (H11_ONLY, b)
    if shorter["end"] == "error":
        return longer, n, "the other refuses: " + str(shorter.get("why"))
    # The other waits for more (or saw the stream end) where one request already ended.
    return FRAMING, n, "one accepts, the other reads on (%s)" % shorter["end"]


class Allowed:
    """An explained difference: the RFC clause that allows it, and how to recognise it.

    kinds: the disagreement kinds it covers. match(m): m is a Msg (the request where the
    parsers part, as the accepting side framed it). reasons: when baton-web refuses, its
    reason must be one of these (a predicate on the reason), so that the entry explains the
    refusal that happened rather than any refusal of a message that also has the feature.
    """

    def __init__(self, name, rfc, kinds, match, reasons=None):
        self.name, self.rfc, self.kinds, self.match, self.reasons = name, rfc, kinds, match, reasons

    def covers(self, kind, m):
        if kind not in self.kinds or not self.match(m):
            return False
        if self.reasons is not None and m.baton_refuses:
            return self.reasons(m.b.get("why") or "")
        return True


class Msg:
    """The request where two framings part, with views the allow-list reads."""

    def __init__(self, data, kind, what, index, b, h):
        start = b["r"][index - 1][5] if index else 0
        self.kind, self.what, self.index, self.b, self.h = kind, what, index, b, h
        self.rest = data[start:]
        # The bytes of the request as the side that accepted it framed it (else the rest).
        acc = b if kind == BATON_ONLY else h if kind == H11_ONLY else None
        self.data = self.rest[:acc["r"][index][5] - start] if acc else self.rest
        self.baton_refuses = b["end"] == "error" and len(b["r"]) == index
        m = BLANK_LINE.search(self.data)
        self.head = self.data[:m.end()] if m else self.data
        self.body = self.data[len(self.head):]
        lines = re.split(rb"\r?\n", self.head)
        self.request_line = lines[0]
        self.fields = []  # (name lowercased, raw value) of the head's field lines
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                self.fields.append((name.strip(b" \t").lower(), value))
        parts = self.request_line.split(b" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else b""
        self.version = parts[-1] if len(parts) > 2 else b""
        last = None
        for last in re.finditer(rb"(?:^|\n)0+(;[^\r\n]*)?\r\n", self.body):
            pass
        self.trailers = self.body[last.end():] if last else b""

    def values(self, name):
        return [v for n, v in self.fields if n == name]

    def has(self, name):
        return any(n == name for n, _ in self.fields)


BLANK_LINE = re.compile(rb"\n\r?\n")  # how h11 finds the end of a head
HOST_OK = re.compile(rb"[A-Za-z0-9\-._~!$&'()*+,;=%:\[\]]*")
KNOWN_METHODS = {b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE"}
REFUSES, ACCEPTS = (H11_ONLY, END), (BATON_ONLY, END)


def _ows_strip(v):
    return v.strip(b" \t")


ALLOWED = [
    # ---- baton-web refuses what h11 accepts ----
    Allowed("obs-fold", "RFC 9112 5.2: a server MUST either reject obs-fold with 400 or replace it "
            "with SP; h11 joins the lines, baton-web refuses (folding is a smuggling vector)",
            REFUSES, lambda m: re.search(rb"\n[ \t]", m.head + m.trailers) is not None),
    Allowed("bare-lf", "RFC 9112 2.2: a recipient MAY recognise a single LF as a line terminator; "
            "h11 does, baton-web requires CRLF",
            REFUSES, lambda m: re.search(rb"(?<!\r)\n", m.head + m.trailers) is not None),
    Allowed("bare-cr", "RFC 9112 2.2: a recipient of a bare CR MUST consider the element invalid or "
            "replace it with SP; h11 lets one through in a chunk extension (\";.*\")",
            REFUSES, lambda m: re.search(rb"\r(?!\n)", m.head + m.trailers) is not None
            or re.search(rb"(?:^|\n)[0-9a-fA-F]+;[^\n]*\r(?!\n)", m.body) is not None,
            lambda why: why == "line end not CRLF (bare CR)"),
    Allowed("ctl-in-field", "RFC 9110 5.5: field values are VCHAR, obs-text, SP and HTAB; h11 lets "
            "other CTLs through, baton-web refuses them",
            REFUSES, lambda m: re.search(rb"[\x01-\x08\x0e-\x1f\x7f]", m.head + m.trailers) is not None),
    Allowed("host-invalid", "RFC 9112 3.2: a server MUST answer 400 to a Host field with an invalid "
            "value (RFC 9110 7.2: uri-host [\":\" port]); h11 does not check the value",
            REFUSES, lambda m: any(not HOST_OK.fullmatch(_ows_strip(v)) for v in m.values(b"host")),
            lambda why: why == "invalid Host field"),
    Allowed("cl-and-te", "RFC 9112 6.1: a server MAY reject a request with both Content-Length and "
            "Transfer-Encoding (and MUST close after it, which h11 does not)",
            REFUSES, lambda m: m.has(b"content-length") and m.has(b"transfer-encoding")),
    Allowed("cl-list", "RFC 9110 8.6: a recipient of a Content-Length list or of repeated fields with one "
            "value MAY reject the message or replace them with that value; h11 does the latter, "
            "baton-web (llhttp) refuses",
            REFUSES, lambda m: len(m.values(b"content-length")) > 1
            or any(b"," in v for v in m.values(b"content-length")),
            lambda why: why in ("invalid Content-Length", "ambiguous body length")),
    Allowed("framing-field-in-trailers", "RFC 9110 6.5.1: framing fields (Transfer-Encoding, "
            "Content-Length) must not be sent as trailers; llhttp refuses a Transfer-Encoding or "
            "Content-Length trailer, h11 drops it",
            REFUSES, lambda m: re.search(rb"(?:^|\n)(?i:transfer-encoding|content-length)[ \t]*:", m.trailers)
            is not None,
            lambda why: "Transfer-Encoding" in why or "Content-Length" in why or why == "ambiguous body length"),
    Allowed("te-http10", "RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing "
            "(treat as faulty, close); h11 decodes it",
            REFUSES, lambda m: m.version == b"HTTP/1.0" and m.has(b"transfer-encoding")),
    Allowed("method-not-implemented", "RFC 9110 9.1: an origin server SHOULD answer 501 to a method it "
            "does not implement; h11 takes any token",
            REFUSES, lambda m: m.method not in KNOWN_METHODS,
            lambda why: why in ("method not implemented", "invalid method", "CONNECT is not supported")),
    Allowed("version-not-supported", "RFC 9110 15.6.6 / RFC 9112 2.3: 505 for a major version not served "
            "(baton-web serves 1.0 and 1.1; h11 takes any d.d, 1.2 included: a known deviation from "
            "'SHOULD process 1.x as 1.1', see test_http_malformed.py http-1.2-as-1.1)",
            REFUSES, lambda m: m.version not in (b"HTTP/1.0", b"HTTP/1.1"),
            lambda why: "version" in why.lower()),
    Allowed("target-invalid", "RFC 9112 3.2: the target must be one of the four request-target forms "
            "(RFC 3986 syntax); a recipient of an invalid request-line SHOULD answer 400 (RFC 9112 3); "
            "baton-web also refuses targets that leave the root or decode to NUL; h11 checks VCHARs only",
            REFUSES, lambda m: True,
            lambda why: "url" in why.lower() or "target" in why or why == "Invalid HTTP method"),
    Allowed("expect-unknown", "RFC 9110 10.1.1: a server MAY answer 417 to an expectation other than "
            "100-continue; h11 ignores it",
            REFUSES, lambda m: any(_ows_strip(v).lower() != b"100-continue" for v in m.values(b"expect")),
            lambda why: why == "unsupported expectation"),
    Allowed("chunk-line-syntax", "RFC 9112 7.1 / 7.1.1: chunk = chunk-size [ chunk-ext ] CRLF with "
            "chunk-ext = *( BWS \";\" BWS ext-name [ BWS \"=\" BWS ext-val ] ); h11 takes \";.*\" and "
            "trailing OWS; baton-web (llhttp) refuses what is not the grammar and, a known deviation, "
            "BWS (test_http_malformed.py chunk-ext-bws-ok); refusing cannot desync",
            REFUSES, lambda m: re.search(rb"(?:^|\n)[0-9a-fA-F]+[ \t;]", m.body) is not None,
            lambda why: "chunk" in why),
    Allowed("cl-ows-htab", "RFC 9112 5: OWS (SP or HTAB) may surround a field value; llhttp refuses an "
            "HTAB in Content-Length (a known deviation, test_http_malformed.py cl-ows-ok); refusing cannot "
            "desync",
            REFUSES, lambda m: any(b"\t" in v for v in m.values(b"content-length")),
            lambda why: why == "invalid Content-Length"),
    Allowed("te-ows-htab", "RFC 9112 5 / RFC 9110 5.6.1: OWS (HTAB) around a list element and empty "
            "elements are allowed; llhttp refuses an HTAB after 'chunked' (a known deviation); refusing "
            "cannot desync",
            REFUSES, lambda m: any(b"\t" in v for v in m.values(b"transfer-encoding")),
            lambda why: "Transfer-Encoding" in why),
    Allowed("limits", "RFC 9112 3 (414), RFC 6585 5 (431), RFC 9110 15.5.14 (413): a server may limit "
            "the target, the head and the body (baton-web: 4 KiB, 8 KiB and 100 fields, 1 MiB; h11: a "
            "16 KiB head, no body limit)",
            REFUSES, lambda m: len(m.data) > 4096 or len(m.fields) > 100,
            lambda why: why in ("request target too long", "request header section too large",
                                "too many header fields", "request body too large")),
    # ---- baton-web accepts what h11 refuses ----
    Allowed("leading-empty-line", "RFC 9112 2.2: a server SHOULD ignore at least one empty line (CRLF) "
            "received before the request-line; h11 refuses it",
            ACCEPTS, lambda m: m.rest.startswith(b"\r\n")),
    Allowed("chunk-size-digits", "RFC 9112 7.1: chunk-size = 1*HEXDIG, no length limit (recipients must "
            "guard against overflow, as baton-web does); h11 caps it at 20 digits",
            ACCEPTS, lambda m: re.search(rb"(?:^|\n)[0-9a-fA-F]{21,}[;\r \t]", m.body) is not None),
    Allowed("te-empty-element", "RFC 9110 5.6.1: a recipient MUST accept and ignore empty list elements "
            "(\", chunked\"); h11 only takes the exact value \"chunked\"",
            ACCEPTS, lambda m: any(re.fullmatch(rb"[ \t,]*chunked[ \t,]*", v, re.I) and b"," in v
                                   for v in m.values(b"transfer-encoding"))),
    # ---- the same request, framed differently ----
    Allowed("http10-keep-alive", "RFC 9112 9.3 and Appendix C.2.2: a server MAY keep an HTTP/1.0 "
            "connection open for a client that sent keep-alive; h11 never does. Only keep-alive differs: "
            "the request itself is framed alike",
            (FRAMING,), lambda m: m.what == "differ in keep-alive" and m.b["r"][m.index][2] == 0
            and m.b["r"][m.index][4] and any(b"keep-alive" in v.lower() for v in m.values(b"connection"))),
]


# ---- the strict oracle: what baton-web accepts must be the RFC's grammar ---------------------------
# h11 joins folded lines and takes bare LF, so a hole that both share (the folded empty
# Content-Length framed by the folded value, as h11 does too) shows as no disagreement. Every
# request baton-web accepts is therefore also checked against the RFC 9112 grammar itself.

TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
STRICT_REQUEST_LINE = re.compile(TOKEN + rb" [\x21-\x7e]+ HTTP/1\.[01]")
STRICT_FIELD = re.compile(TOKEN + rb":[\t\x20-\x7e\x80-\xff]*")
STRICT_CHUNK_LINE = re.compile(rb"([0-9a-fA-F]+)((?:;" + TOKEN + rb"(?:=(?:" + TOKEN
                               + rb'|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"))?)*)\r\n')


def strict_problems(req, body):
    """What in the bytes of one accepted request breaks RFC 9112's grammar (empty: nothing).
    body: the body baton-web decoded, checked against a strict decoding of the bytes."""
    i = 0
    while req.startswith(b"\r\n", i):  # RFC 9112 2.2: empty lines before the request line
        i += 2
    end = req.find(b"\r\n\r\n", i)
    if end < 0:
        return ["no CRLF CRLF ends the head"]
    lines = req[i:end].split(b"\r\n")
    problems = []
    if not STRICT_REQUEST_LINE.fullmatch(lines[0]):
        problems.append(f"request line {lines[0][:80]!r}")
    fields = []
    for line in lines[1:]:
        if not STRICT_FIELD.fullmatch(line):
            problems.append(f"field line {line[:80]!r}")
        name, _, value = line.partition(b":")
        fields.append((name.lower(), value.strip(b" \t")))
    get = lambda n: [v for k, v in fields if k == n]  # noqa: E731
    if lines[0].endswith(b"HTTP/1.1") and len(get(b"host")) != 1:
        problems.append("HTTP/1.1 without exactly one Host")
    cl, te = get(b"content-length"), get(b"transfer-encoding")
    rest = req[end + 4:]
    if cl and te:
        problems.append("Content-Length and Transfer-Encoding")
    if te:
        if [v.lower() for v in te] != [b"chunked"] and not re.fullmatch(rb"[ \t,]*chunked[ \t,]*", b",".join(te), re.I):
            problems.append(f"Transfer-Encoding {te!r}")
        decoded, pos = b"", 0
        while True:
            m = STRICT_CHUNK_LINE.match(rest, pos)
            if not m:
                problems.append(f"chunk line {rest[pos:pos + 40]!r}")
                break
            n = int(m.group(1), 16)
            pos = m.end()
            if n == 0:
                while not rest.startswith(b"\r\n", pos):
                    e = rest.find(b"\r\n", pos)
                    if e < 0 or not STRICT_FIELD.fullmatch(rest[pos:e]):
                        problems.append(f"trailer line {rest[pos:pos + 40]!r}")
                        return problems
                    pos = e + 2
                pos += 2
                break
            decoded += rest[pos:pos + n]
            if rest[pos + n:pos + n + 2] != b"\r\n":
                problems.append("chunk data not followed by CRLF")
                break
            pos += n + 2
        if pos != len(rest):
            problems.append(f"{len(rest) - pos} bytes after the chunked body")
    else:
        if len(cl) > 1 or (cl and not re.fullmatch(rb"[0-9]+", cl[0])):
            problems.append(f"Content-Length {cl!r}")
        decoded = rest[:int(cl[0])] if cl and not problems else b""
        if len(rest) != len(decoded):
            problems.append(f"{len(rest) - len(decoded)} bytes after the body")
    if not problems and decoded != body:
        problems.append("body differs from its strict decoding")
    return problems


def strict_failures(cases, frames):
    """(case index, request index, problems) for every accepted request that breaks the grammar."""
    out = []
    for k, ((data, _), f) in enumerate(zip(cases, frames)):
        start = 0
        for i, r in enumerate(f["r"]):
            problems = strict_problems(data[start:r[5]], r[3])
            if problems:
                out.append((k, i, problems))
            start = r[5]
    return out


def run(seed, count, tool=PARSE_FRAME, cases=None):
    """Frames `count` generated cases both ways; returns (cases, baton, h11, results) where results
    lists (case index, kind, request index, what, allowed entry name or None) per disagreement."""
    cases = generate(seed, count) if cases is None else cases
    bf = baton_frames(cases, tool)
    memo = {}  # cases repeat (unmutated table cases, short messages)
    hf = []
    for d, _ in cases:
        f = memo.get(d)
        if f is None:
            f = memo[d] = h11_frame(d)
        hf.append(f)
    results = []
    for k, (case, b, h) in enumerate(zip(cases, bf, hf)):
        d = compare(b, h)
        if d is None:
            continue
        kind, index, what = d
        m = Msg(case[0], kind, what, index, b, h)
        entry = next((a for a in ALLOWED if a.covers(kind, m)), None)
        results.append((k, kind, index, what, entry.name if entry else None))
    return cases, bf, hf, results


def main(argv):
    import argparse
    import collections
    import time
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=int(os.environ.get("BATON_DIFF_SEED", "20261204")))
    ap.add_argument("--cases", type=int, default=int(os.environ.get("BATON_DIFF_CASES", "100000")))
    ap.add_argument("--batch", type=int, default=100000, help="cases framed at once (memory)")
    ap.add_argument("--show", type=int, default=3, help="examples shown per unexplained kind")
    args = ap.parse_args(argv)
    t = time.monotonic()
    counts = collections.Counter()
    shown = collections.Counter()
    total = unexplained = outside = 0
    for batch in range((args.cases + args.batch - 1) // args.batch):
        n = min(args.batch, args.cases - batch * args.batch)
        seed = args.seed if batch == 0 else args.seed * 1000003 + batch  # batch 0 = `make test`'s
        cases, bf, hf, results = run(seed, n)
        total += n
        counts.update(r[4] or "UNEXPLAINED " + r[1] for r in results)
        bad = [r for r in results if r[4] is None]
        strict = strict_failures(cases, bf)
        unexplained += len(bad)
        outside += len(strict)
        for k, kind, index, what, _ in bad:
            if shown[kind] < args.show:
                shown[kind] += 1
                print(f"\ncase {k} of seed {seed} ({kind} at request {index}: {what})\n"
                      f"  bytes  {cases[k][0][:600]!r}\n  splits {cases[k][1][:20]}\n"
                      f"  baton  {bf[k]}\n  h11    {hf[k]}")
        for k, i, problems in strict[:args.show]:
            print(f"\ncase {k} of seed {seed}: baton-web accepts request {i}, outside RFC 9112: "
                  f"{problems}\n  bytes {cases[k][0][:400]!r}\n  baton {bf[k]}")
        print(f"batch {batch}: {total} cases, {time.monotonic() - t:.1f}s", file=sys.stderr)
    for name, n in sorted(counts.items()):
        print(f"{n:8d}  {name}")
    print(f"\n{total} cases (seed {args.seed}) in {time.monotonic() - t:.1f}s: "
          f"{sum(counts.values())} disagreements, {sum(counts.values()) - unexplained} allowed, "
          f"{unexplained} unexplained; {outside} accepted requests outside the RFC 9112 grammar")
    return 1 if unexplained or outside else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main(sys.argv[1:]))
