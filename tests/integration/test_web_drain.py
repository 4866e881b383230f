# SPDX-License-Identifier: MIT
"""The drain of baton-web (SIGTERM): zero lost requests under load while a second worker shares
the listening socket, idle connections closed after a quiet grace period (never with a reset),
requests already received all answered, the last one with Connection: close."""
import json
import signal
import socket
import time

from harness import (BATON_WEB, HELLO_MODULE, TIME_SCALE, RawConn, get, listening_socket, loadgen,
                     open_sockets, read_report, start_activated, start_web, wait_for)


def start_worker(procs, listener, name, extra=()):
    """A baton-web adopting `listener` through the socket-activation protocol."""
    proc = start_activated(procs, [BATON_WEB, "--module", HELLO_MODULE, "--log-format", "json", *extra],
                           listener, name=name)
    wait_for(lambda: '"module hello' in proc.log() or not proc.alive(), what=f"{name} to start")
    assert proc.alive(), proc.log()
    return proc


def served(pid):
    """Bytes a process has written (responses): rises once the load reaches it."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1]) // 100
    return 0


def test_drain_under_load_loses_nothing(procs):
    listener, port = listening_socket()
    workers = [start_worker(procs, listener, "worker-a"), start_worker(procs, listener, "worker-b")]
    listener.close()  # only the workers hold it now, as under the supervisor
    lg, report = loadgen(procs, port, seconds=3, connections=64)
    # Every connection is open (each worker also holds the listener): drain the busier worker.
    wait_for(lambda: sum(open_sockets(w.pid) for w in workers) >= 66, what="the connections")
    workers.sort(key=lambda w: open_sockets(w.pid))
    a, b = workers[1], workers[0]
    t = time.monotonic()
    a.signal(signal.SIGTERM)
    assert a.wait(10) == 0
    took = time.monotonic() - t
    assert took < 2.0 * TIME_SCALE, f"drain took {took:.2f}s"
    assert lg.wait(30) == 0, lg.log()
    r = read_report(report)
    assert r["failed"] == 0, r
    assert r["ok"] > 1000, r
    assert "draining" in a.log() and '"drained"' in a.log()
    assert b.alive()


def test_drain_under_close_load_loses_nothing(procs):
    listener, port = listening_socket()
    a = start_worker(procs, listener, "worker-a")
    start_worker(procs, listener, "worker-b")
    listener.close()
    lg, report = loadgen(procs, port, seconds=2, connections=32, close=True)
    wait_for(lambda: served(a.pid) > 200, what="load on the worker to drain")
    a.signal(signal.SIGTERM)
    assert a.wait(10) == 0
    assert lg.wait(30) == 0
    r = read_report(report)
    assert r["failed"] == 0, r


def test_idle_connection_closes_after_grace_without_reset(procs):
    proc, port = start_web(procs, "--drain-grace", "300ms")
    with RawConn(port) as s:
        s.send(get("/"))
        assert s.read_response()[0] == 200
        t = time.monotonic()
        proc.signal(signal.SIGTERM)
        wait_for(lambda: "draining" in proc.log(), what="the drain to start")
        s.expect_eof()  # EOF, not a reset
        assert time.monotonic() - t >= 0.25
    assert proc.wait(10) == 0


def test_request_during_grace_is_answered_with_close(procs):
    proc, port = start_web(procs, "--drain-grace", "2s")
    with RawConn(port) as s:
        s.send(get("/"))
        assert s.read_response()[0] == 200
        proc.signal(signal.SIGTERM)
        wait_for(lambda: "draining" in proc.log(), what="the drain to start")
        # Three pipelined requests already on the wire: all answered, only the last closes.
        s.send(get("/hello/1") + get("/hello/2") + get("/hello/3"))
        answers = [s.read_response() for _ in range(3)]
        assert [a[2] for a in answers] == [b"Hello, 1!\n", b"Hello, 2!\n", b"Hello, 3!\n"]
        assert [a[1].get("connection") for a in answers] == [None, None, "close"]
        s.expect_eof()
    assert proc.wait(10) == 0


def test_fresh_connection_outlives_the_grace_and_is_answered(procs):
    """A connection accepted before the drain whose first request comes later is not closed
    with the idle ones: its client would not retry a request on a fresh connection."""
    proc, port = start_web(procs, "--drain-grace", "50ms")
    with RawConn(port) as s:
        wait_for(lambda: open_sockets(proc.pid) >= 2, what="the connection to be accepted")
        proc.signal(signal.SIGTERM)
        wait_for(lambda: "draining" in proc.log(), what="the drain to start")
        time.sleep(0.3 * TIME_SCALE)  # six grace periods: an idle keep-alive would be closed
        s.send(get("/"))
        status, headers, body = s.read_response()
        assert (status, body, headers.get("connection")) == (200, b"Hello, World!", "close")
        s.expect_eof()
    assert proc.wait(10) == 0


def test_new_connections_after_drain_go_to_the_other_worker(procs):
    listener, port = listening_socket()
    a = start_worker(procs, listener, "worker-a", extra=["--drain-grace", "5s"])
    b = start_worker(procs, listener, "worker-b")
    listener.close()
    # Hold a keep-alive connection on the worker to drain, so that it stays in its drain.
    held = None
    for _ in range(200):
        s = RawConn(port)
        s.send(get("/api/time"))
        if json.loads(s.read_response()[2])["pid"] == a.pid:
            held = s
            break
        s.close()
    assert held, "no connection reached worker a"
    a.signal(signal.SIGTERM)
    wait_for(lambda: "draining" in a.log(), what="the drain to start")
    for _ in range(20):
        with RawConn(port) as s:
            s.send(get("/api/time"))
            pid = json.loads(s.read_response()[2])["pid"]
            assert pid == b.pid
    assert a.alive()  # still in its grace period with the held connection
    held.close()
    assert a.wait(10) == 0


def test_drain_deadline_cuts_what_is_left(procs):
    proc, port = start_web(procs, "--drain-grace", "50ms", "--drain-timeout", "600ms")
    idle = RawConn(port)  # answered, then lingers: this client never closes its side
    idle.send(get("/"))
    idle.read_response()
    slow = RawConn(port)  # a header section that never ends
    slow.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
    wait_for(lambda: open_sockets(proc.pid) >= 3, what="both connections")
    t = time.monotonic()
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    took = time.monotonic() - t
    assert 0.5 < took < 3 * TIME_SCALE, took
    assert "drain deadline" in proc.log()
    idle.close()
    slow.close()
