# SPDX-License-Identifier: MIT
"""The supervisor's metrics.listen endpoint: /metrics (Prometheus text, promtool clean),
/status, /history, /healthz, /, strict minimal HTTP, and bounded under hostile scrapers."""
import os
import resource
import socket
import time

import pytest

from harness import http_get, wait_for
from metricslib import promtool_check, samples, scrape, start, status

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/promtool"),
                                reason="promtool missing: scripts/install-deps test")


def raw(mport, data, timeout=5.0):
    """Sends data on a fresh connection; returns everything the endpoint answered."""
    with socket.create_connection(("127.0.0.1", mport), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_paths(procs, port):
    sup, mport = start(procs, port)
    sup.wait_ready(workers=2)
    for _ in range(10):
        assert http_get(port, "/")[0] == 200
    wait_for(lambda: samples(scrape(mport))["baton_http_requests_total"] >= 10, timeout=5,
             what="10 requests in /metrics")
    text = scrape(mport)
    assert promtool_check(text) == ""
    s = samples(text)
    assert s['baton_workers{state="ready"}'] == 2
    assert s['baton_generations{state="active"}'] == 1
    assert s['baton_http_responses_total{class="2xx"}'] >= 10
    assert s['baton_generation_http_requests_total{generation="1"}'] >= 10
    assert s['baton_build_info{version="0.1.0"}'] == 1
    assert s["baton_stats_refused_total"] == 0

    st = status(mport)
    assert st["generation"] == sup.status()["generation"] == 1
    assert st["config_error"] is None
    status_code, headers, body = http_get(mport, "/healthz")
    assert (status_code, body) == (200, b"ok\n")
    assert headers["connection"] == "close"
    status_code, headers, body = http_get(mport, "/")
    assert status_code == 200 and headers["content-type"].startswith("text/html")
    assert b"<script>" in body and b"src=" not in body  # self-contained: no external assets
    hist = json_of(http_get(mport, "/history"))
    assert hist["reloads"] == [] and hist["sample_interval_ms"] == 5000
    assert http_get(mport, "/metrics?x=1")[0] == 200
    assert http_get(mport, "/nope")[0] == 404

    # A reload shows in the counters, the histogram and the history.
    assert sup.reload().returncode == 0
    s = samples(scrape(mport))
    assert s['baton_reloads_total{result="ok"}'] == 1
    assert s["baton_reload_duration_seconds_count"] == 1
    hist = json_of(http_get(mport, "/history"))
    assert len(hist["reloads"]) == 1 and hist["reloads"][0]["verdict"]["generation"] == 2
    wait_for(lambda: samples(scrape(mport))["baton_drain_duration_seconds_count"] == 2, timeout=15,
             what="the two drains observed")

    # Stopping: /healthz says no generation serves until the endpoint goes.
    sup.stop()


def json_of(resp):
    import json
    assert resp[0] == 200
    return json.loads(resp[2])


def test_strict_http(procs, port):
    sup, mport = start(procs, port, workers=1)
    sup.wait_ready(workers=1)
    head = raw(mport, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    assert b"Content-Length: " in head and b"Connection: close" in head
    assert raw(mport, b"GET /metrics HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200 ")
    assert raw(mport, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 405 ")
    for bad in (b"GET /metrics\r\n\r\n", b"GET  /metrics HTTP/1.1\r\n\r\n",
                b"GET metrics HTTP/1.1\r\n\r\n", b"GET /metrics HTTP/2.0\r\n\r\n",
                b"GET /metrics HTTP/1.1\nHost: x\r\n\r\n", b"GET /a\x01b HTTP/1.1\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\n folded\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n",
                b"G\xc3T /metrics HTTP/1.1\r\n\r\n"):
        assert raw(mport, bad).startswith(b"HTTP/1.1 400 "), bad
    # One request per connection: a second, pipelined one is not answered.
    both = raw(mport, b"GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n")
    assert both.count(b"HTTP/1.1 ") == 1
    # A head past 8 KiB: 431.
    assert raw(mport, b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431 ")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_hostile_scrapers_do_not_stall_supervision(procs, port):
    """Silent connections, 1 MB of headers and 1,000 connections at once: a reload during them
    completes on time, the supervisor's memory stays bounded, and the endpoint recovers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200 and hard >= 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    sup, mport = start(procs, port, workers=2)
    sup.wait_ready(workers=2)
    scrape(mport)
    before = rss_kb(sup.pid)

    silent = [socket.create_connection(("127.0.0.1", mport)) for _ in range(4)]
    big = socket.create_connection(("127.0.0.1", mport))
    big.setblocking(False)
    sent = 0
    chunk = b"X-Junk: " + b"j" * 1000 + b"\r\n"
    big.send(b"GET /metrics HTTP/1.1\r\n")
    deadline = time.monotonic() + 5
    while sent < (1 << 20) and time.monotonic() < deadline:
        try:
            sent += big.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break  # answered 431 and closed: the rest is refused
    many = []
    for _ in range(1000):
        try:
            many.append(socket.create_connection(("127.0.0.1", mport), timeout=5))
        except OSError:
            break
    assert len(many) >= 900

    t0 = time.monotonic()
    r = sup.reload()
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert took < 5, f"a reload took {took:.1f}s under hostile scrapers"
    sup.wait_ready(workers=2, generation=2)

    # Beyond the few connections it serves, the endpoint closed the others at once.
    closed = 0
    for s in many:
        s.settimeout(0.5)
        try:
            if s.recv(1) == b"":
                closed += 1
        except ConnectionResetError:
            closed += 1
        except socket.timeout:
            pass
    assert closed >= 900, f"only {closed} of {len(many)} extra connections were closed"
    for s in many + silent + [big]:
        s.close()
    after = rss_kb(sup.pid)
    assert after - before < 8 * 1024, f"supervisor RSS grew from {before} kB to {after} kB"
    # The silent ones time out (5 s) at the latest: the endpoint serves again.
    wait_for(lambda: scrape(mport, timeout=2), timeout=10, what="the endpoint to answer again")
    assert promtool_check(scrape(mport)) == ""


BAD_STATS_APP = r'''
import os, socket, sys, time, signal
path = os.environ["NOTIFY_SOCKET"]
if path.startswith("@"):
    path = "\0" + path[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def send(m):
    s.sendto(m.encode(), path)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
send("READY=1")
send("BATON_STATS=requests=10 responses_2xx=10")
send("BATON_STATS=requests=ten")                      # malformed
send("BATON_STATS=requests=" + "9" * 30)              # overflow
send("BATON_STATS=requests=11 " + "x=1 " * 400)       # huge
send("BATON_STATS=requests=5 responses_2xx=5")        # decreasing
send("BATON_STATS=requests=12 responses_2xx=12")
send("STATUS=sent")
while True:
    time.sleep(1)
'''


def test_bad_stats_reports_are_ignored_and_counted(procs, port):
    app = procs.tmp / "badstats.py"
    app.write_text(BAD_STATS_APP)
    sup, mport = start(procs, port, command=["/usr/bin/python3", app], workers=1)
    sup.wait_ready(workers=1)
    wait_for(lambda: samples(scrape(mport))["baton_stats_refused_total"] == 4, timeout=10,
             what="4 refused reports")
    s = samples(scrape(mport))
    assert s["baton_http_requests_total"] == 12
    assert s['baton_http_responses_total{class="2xx"}'] == 12
    assert promtool_check(scrape(mport)) == ""
