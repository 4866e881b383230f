# SPDX-License-Identifier: MIT
"""baton-web's request parser cannot be desynchronised: a differential test against h11.

100,000 seeded generated cases (http_differential.py: the malformed table and valid requests,
mutated; pipelined; delivered in pieces) go through baton-web's real parser (the parse-frame
tool) and through h11. Every disagreement must be explained by an allow-list entry that cites
the RFC clause permitting it; every request baton-web accepts must also be RFC 9112's grammar.
Then a sample of the cases, every allow-listed kind included, goes to a real baton-web over
loopback: its answers must be the ones the tool's framing predicts (the tool is the server).

More cases: BATON_DIFF_CASES=1000000 (and BATON_DIFF_SEED) here, or `make fuzz`.
"""
import collections
import os
import socket

import pytest

import http_differential as hd
from harness import TIME_SCALE, RawConn

CASES = int(os.environ.get("BATON_DIFF_CASES", "100000"))
SEED = int(os.environ.get("BATON_DIFF_SEED", "20261204"))
SAMPLE = int(os.environ.get("BATON_DIFF_SAMPLE", "2000"))
# Statuses only the parser answers: an accepted request never gets one.
PARSER_STATUSES = {400, 413, 414, 417, 431, 501, 505}


@pytest.fixture(scope="module")
def run():
    assert hd.PARSE_FRAME.exists(), f"{hd.PARSE_FRAME} is not built"
    cases, bf, hf, results = hd.run(SEED, CASES)
    return cases, bf, hf, results


def describe(cases, bf, hf, k):
    return f"  bytes  {cases[k][0][:500]!r}\n  splits {cases[k][1][:20]}\n  baton  {bf[k]}\n  h11    {hf[k]}"


def test_no_unexplained_disagreement(run):
    cases, bf, hf, results = run
    assert len(cases) == CASES
    counts = collections.Counter(r[4] or "UNEXPLAINED" for r in results)
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    print(f"\n{CASES} cases (seed {SEED}): {len(results)} disagreements: {summary}")
    bad = [r for r in results if r[4] is None]
    shown = "\n".join(f"case {k}: {kind} at request {i} ({what})\n{describe(cases, bf, hf, k)}"
                      for k, kind, i, what, _ in bad[:8])
    assert not bad, f"{len(bad)} unexplained disagreements of {CASES} (seed {SEED}):\n{shown}"


def test_no_desync_even_allowed(run):
    # Only one FRAMING difference is allowed, and it is keep-alive on HTTP/1.0 alone: the two
    # parsers never frame one request with different bytes.
    cases, bf, hf, results = run
    framing = {r[4] for r in results if r[1] == hd.FRAMING}
    assert framing <= {"http10-keep-alive"}, framing


def test_accepted_requests_are_rfc_grammar(run):
    cases, bf, hf, results = run
    bad = hd.strict_failures(cases, bf)
    shown = "\n".join(f"case {k} request {i}: {p}\n{describe(cases, bf, hf, k)}" for k, i, p in bad[:8])
    assert not bad, f"baton-web accepts {len(bad)} requests outside RFC 9112's grammar:\n{shown}"


def test_generator_reaches_every_shape(run):
    # The generator exercises what it claims: pipelines, splits, both framings, refusals, and
    # most allow-list entries (a generator that stopped mutating would pass the tests above).
    cases, bf, hf, results = run
    accepted = [r for f in bf for r in f["r"]]
    assert sum(len(f["r"]) > 1 for f in bf) > CASES // 25, "few pipelines accepted"
    assert sum(bool(s) for _, s in cases) > CASES // 5, "few split deliveries"
    assert sum(f["end"] == "error" for f in bf) > CASES // 10, "few refusals"
    assert sum(len(r[3]) > 0 for r in accepted) > CASES // 20, "few bodies"
    seen = {r[4] for r in results}
    names = {a.name for a in hd.ALLOWED}
    if CASES >= 100000:
        assert len(seen & names) >= len(names) - 2, f"allow-list entries never hit: {names - seen}"


def test_split_delivery_frames_alike(run):
    # The parser frames a stream the same whatever pieces it arrives in: the same requests, the
    # same end. (A refused stream may be refused for another of its faults first.)
    cases, bf, hf, results = run
    split = [k for k, (_, s) in enumerate(cases) if s]
    whole = hd.baton_frames([(cases[k][0], []) for k in split])
    differ = [k for k, w in zip(split, whole) if (w["r"], w["end"]) != (bf[k]["r"], bf[k]["end"])]
    shown = "\n".join(f"case {k}: whole {w}\n{describe(cases, bf, hf, k)}" for k, w in
                      zip(differ[:5], hd.baton_frames([(cases[k][0], []) for k in differ[:5]])))
    assert not differ, f"{len(differ)} of {len(split)} cases frame differently in pieces:\n{shown}"


def test_a_desync_would_be_caught():
    # The comparison itself: different body lengths, a message one side ends and the other
    # reads on, and a refusal no entry explains are failures.
    b = {"r": [(b"POST", b"/", 1, b"abc", True, 50)], "end": "idle"}
    h = {"r": [(b"POST", b"/", 1, b"abcd", True, 51)], "end": "idle"}
    assert hd.compare(b, h)[0] == hd.FRAMING
    assert hd.compare(b, {"r": [], "end": "more"})[0] == hd.FRAMING
    kind, i, what = hd.compare({"r": [], "end": "error", "why": "invalid Content-Length"}, h)
    data = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd"
    m = hd.Msg(data, kind, what, i, {"r": [], "end": "error", "why": "invalid Content-Length"}, h)
    assert kind == hd.H11_ONLY and not any(a.covers(kind, m) for a in hd.ALLOWED)
    # and the strict oracle refuses the smuggling shapes h11 shares
    assert hd.strict_problems(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n 5\r\n\r\nhello", b"hello")
    assert hd.strict_problems(b"GET / HTTP/1.1\r\nHost: h\r\n\rX", b"")


# ---- the tool is the server ---------------------------------------------------------------------


# The `web` fixture (conftest.py): one baton-web with the hello module for the whole module.


def expected_body(method, path, body):
    """What the hello module answers to an accepted request, when the test knows (else None)."""
    if method == b"POST" and path == b"/api/echo":
        return body
    if method == b"GET" and path == b"/":
        return b"Hello, World!"
    if method == b"GET" and path.startswith(b"/hello/") and b"/" not in path[7:] and path[7:]:
        return b"Hello, " + path[7:] + b"!\n"
    return None


def exchange(port, data):
    """Sends data, half-closes, and reads every response until the server closes."""
    c = RawConn(port)
    c.send(data)
    c.sock.shutdown(socket.SHUT_WR)
    return c


def check_case(port, data, frame):
    """The server's answers to data are those the tool's framing predicts."""
    c = exchange(port, data)
    try:
        for i, (method, target, minor, body, ka, end) in enumerate(frame["r"]):
            _, resp = c.read_final(head=method == b"HEAD")
            assert resp.status not in PARSER_STATUSES, f"request {i} ({method} {target}) refused: {resp}"
            want = expected_body(method, frame["paths"][i], body)
            if want is not None:
                assert (resp.status, resp.body) == (200, want), f"request {i} ({method} {target}): {resp}"
            if not ka:
                assert minor == 0 or resp.closes(), f"request {i}: the tool closes, the server not: {resp}"
            else:
                assert not resp.closes(), f"request {i}: the server closes, the tool keeps: {resp}"
        if frame["end"] == "error":
            _, resp = c.read_final()
            assert resp.status == frame["st"], f"the tool refuses with {frame['st']}: {resp}"
            assert resp.closes(), resp
        # Then the server closes: after the refusal, the last request, or the half-close.
        c.sock.settimeout(5 * TIME_SCALE)
        rest = c.buf
        while True:
            try:
                chunk = c.sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise AssertionError(f"the server did not close (framing {frame['end']})")
            if not chunk:
                break
            rest += chunk
        # (a request whose body never came may have been told 100 Continue)
        rest = rest.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b"")
        assert rest == b"", f"the server answered more than the tool framed: {rest[:300]!r}"
    finally:
        c.close()


def test_server_answers_as_the_tool_frames(run, web):
    cases, bf, hf, results = run
    # The sample: the first cases, then up to 3 examples of every allow-listed kind and of
    # every disagreement kind.
    picked = list(range(min(SAMPLE, len(cases))))
    per_entry = collections.defaultdict(list)
    for k, kind, i, what, name in results:
        if len(per_entry[name or kind]) < 3:
            per_entry[name or kind].append(k)
    picked += [k for ks in per_entry.values() for k in ks if k >= SAMPLE]
    failures = []
    for k in picked:
        try:
            check_case(web.port, cases[k][0], bf[k])
        except (AssertionError, EOFError) as e:
            failures.append(f"case {k}: {e}\n{describe(cases, bf, hf, k)}")
            if len(failures) >= 5:
                break
    assert web.alive(), "baton-web died"
    print(f"\n{len(picked)} cases sent to baton-web, {len(per_entry)} disagreement kinds among them")
    assert not failures, "\n".join(failures)
