# SPDX-License-Identifier: MIT
"""libbaton and the protocol from the application's side, tested from outside.

The test plays the supervisor by hand: it owns a listening socket and passes it as fd 3 with
LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, binds a NOTIFY_SOCKET datagram socket and attributes every
message to its sender by SCM_CREDENTIALS, and sends SIGTERM. The applications are go-hello (Go,
standard library only) and readyapp (C, linked against libbaton). The drain tests are the point:
a request sent on an idle keep-alive connection just after SIGTERM, and a hand-over from one
process to another under keep-alive load, must both lose nothing.
"""
import signal
import socket
import time

import pytest

from harness import (BUILD, GO_HELLO, LOADGEN, READYAPP, SANITIZE, Notify, RawConn, get, listening_socket,
                     loadgen, read_report, start_activated, wait_for)


@pytest.fixture
def notify(tmp_path):
    n = Notify(tmp_path)
    yield n
    n.close()


def request(c, path="/"):
    """One GET on an open RawConn: returns the Response."""
    c.send(get(path, host="test"))
    return c.read_response()


def established(port):
    """Server-side ESTABLISHED connections on port (accepted or still queued)."""
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    n += 1
    return n


APPS = {
    "go-hello": (GO_HELLO, [], b"Hello, World!"),
    "readyapp": (READYAPP, [], b"Hello\n"),
}


def app(name):
    path, args, body = APPS[name]
    if not path.exists():
        pytest.skip(f"{path} is not built")
    return [path, *args], body


# -- the basics ----------------------------------------------------------------------------

@pytest.mark.parametrize("which", APPS)
def test_ready_serve_stop(procs, notify, which):
    argv, body = app(which)
    listener, port = listening_socket()
    p = start_activated(procs, argv, listener, notify)
    notify.wait(p.pid, "READY=1")
    status, _, got = request(RawConn(port))
    assert (status, got) == (200, body)
    p.signal(signal.SIGTERM)
    assert p.wait() == 0, p.log()
    notify.wait(p.pid, "STOPPING=1")


def test_go_hello_abstract_notify_socket(procs, tmp_path):
    argv, _ = app("go-hello")
    n = Notify(tmp_path, abstract=True)
    listener, port = listening_socket()
    p = start_activated(procs, argv, listener, n)
    n.wait(p.pid, "READY=1")
    n.close()


def test_readyapp_names_status_generation_reload(procs, tmp_path):
    argv, _ = app("readyapp")
    n = Notify(tmp_path, abstract=True)
    listener, port = listening_socket()
    p = start_activated(procs, [*argv, "--status", "warming up"], listener, n, names="http",
                  env={"BATON_GENERATION": "7"})
    n.wait(p.pid, "STATUS=warming up")
    n.wait(p.pid, "READY=1")
    assert "adopts fd 3 (http)" in p.log()
    status, headers, _ = request(RawConn(port))
    assert status == 200 and headers["x-pid"] == str(p.pid) and headers["x-generation"] == "7"

    before = len(n.from_pid(p.pid))
    p.signal(signal.SIGHUP)
    msg = n.wait(p.pid, "RELOADING=1")
    usec = int(dict(l.split("=", 1) for l in msg.split("\n"))["MONOTONIC_USEC"])
    assert abs(usec - time.monotonic_ns() // 1000) < 10_000_000
    wait_for(lambda: n.from_pid(p.pid)[before:][-1] == "READY=1", what="READY=1 after reload")
    n.close()


def test_listen_variables_for_another_process_or_malformed(procs, notify):
    """LISTEN_PID naming someone else means the sockets are not ours; garbage is an error."""
    argv, _ = app("readyapp")
    r = procs.run(argv, env={"LISTEN_FDS": "1", "LISTEN_PID": "1", "NOTIFY_SOCKET": notify.env})
    assert r.returncode == 2 and "no listener" in r.stderr, r.stderr
    listener, _ = listening_socket()
    p = start_activated(procs, argv, listener, notify, env={"LISTEN_FDS": "1x"})
    assert p.wait() == 2
    assert "bad LISTEN_FDS/LISTEN_PID: Invalid argument" in p.log()


def test_readyapp_http_framing(procs, notify):
    """Pipelined requests, a request body, Connection: close, HTTP/1.0 and HEAD."""
    argv, _ = app("readyapp")
    listener, port = listening_socket()
    p = start_activated(procs, argv, listener, notify)
    notify.wait(p.pid, "READY=1")

    c = RawConn(port)
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
           b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    # A HEAD response with a body would leave bytes that break the third status line.
    first, head, last = c.read_response(), c.read_response(head=True), c.read_response()
    assert [r.status for r in (first, head, last)] == [200, 200, 200]
    assert first.header("connection") == "keep-alive" and first.body == b"Hello\n"
    assert last.header("connection") == "close"
    c.expect_eof(timeout=5)
    c.close()

    c = RawConn(port)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    status, headers, body = c.read_response()
    assert (status, headers["connection"], body) == (200, "close", b"Hello\n")
    c.expect_eof(timeout=5)
    c.close()


# -- misbehaving on purpose (what the supervisor's tests rely on) --------------------------

def test_readyapp_exit_at_start_and_stderr(procs):
    argv, _ = app("readyapp")
    r = procs.run([*argv, "--stderr", "cannot open database", "--exit-at-start", "3"])
    assert r.returncode == 3 and "cannot open database" in r.stderr


def test_readyapp_crash_after(procs, notify):
    argv, _ = app("readyapp")
    listener, _ = listening_socket()
    p = start_activated(procs, [*argv, "--crash-after", "200"], listener, notify)
    notify.wait(p.pid, "READY=1")
    assert p.wait() == -signal.SIGABRT


def test_readyapp_ready_after_and_never_ready(procs, notify):
    argv, _ = app("readyapp")
    listener, port = listening_socket()
    t0 = time.monotonic()
    late = start_activated(procs, [*argv, "--ready-after", "400"], listener, notify)
    never = start_activated(procs, [*argv, "--never-ready", "--status", "stuck"], listener, notify)
    notify.wait(late.pid, "READY=1")
    assert time.monotonic() - t0 >= 0.4
    notify.wait(never.pid, "STATUS=stuck")
    # Both serve the shared socket meanwhile; `never` just never says so.
    assert not any("READY=1" in m for m in notify.from_pid(never.pid))
    assert never.alive()


def test_readyapp_ignore_term_and_fail_reload(procs, notify):
    argv, _ = app("readyapp")
    listener, port = listening_socket()
    p = start_activated(procs, [*argv, "--ignore-term", "--fail-reload"], listener, notify)
    notify.wait(p.pid, "READY=1")
    p.signal(signal.SIGHUP)
    notify.wait(p.pid, "ERRNO=22")
    p.signal(signal.SIGTERM)
    # Still serving after SIGTERM: a request made afterwards is answered with keep-alive.
    status, headers, _ = request(RawConn(port))
    assert status == 200 and headers["connection"] == "keep-alive" and p.alive()
    p.signal(signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL


# -- drain without loss ----------------------------------------------------------------------

@pytest.mark.parametrize("which", APPS)
def test_idle_keepalive_connection_survives_drain(procs, notify, which):
    """The request that Go's Server.Shutdown loses: sent on an idle keep-alive connection
    just after the stop signal. It must be answered (with Connection: close), not reset."""
    argv, body = app(which)
    listener, port = listening_socket()
    p = start_activated(procs, argv, listener, notify)
    notify.wait(p.pid, "READY=1")
    busy, idle = RawConn(port), RawConn(port)
    for s in (busy, idle):
        status, headers, _ = request(s)
        assert status == 200 and headers.get("connection", "keep-alive").lower() != "close"

    p.signal(signal.SIGTERM)
    notify.wait(p.pid, "STOPPING=1")
    status, headers, got = request(busy)
    assert (status, got) == (200, body)
    assert headers["connection"].lower() == "close"
    busy.expect_eof(timeout=5)
    # The connection that stays idle is closed after the grace period, cleanly (no reset).
    idle.expect_eof(timeout=10)
    assert p.wait() == 0, p.log()


@pytest.mark.parametrize("which", APPS)
def test_handover_under_keepalive_load(procs, notify, which):
    """Old process drains while a new one accepts on the same socket: zero failed requests."""
    if not LOADGEN.exists():
        pytest.skip(f"{LOADGEN} is not built")
    argv, _ = app(which)
    listener, port = listening_socket()
    old = start_activated(procs, argv, listener, notify, name=f"{which}-old")
    notify.wait(old.pid, "READY=1")

    lg, report = loadgen(procs, port, seconds=3, connections=64)
    wait_for(lambda: established(port) >= 64, what="64 loadgen connections")
    new = start_activated(procs, argv, listener, notify, name=f"{which}-new")
    notify.wait(new.pid, "READY=1")
    old.signal(signal.SIGTERM)
    assert old.wait(timeout=10) == 0, old.log()
    assert lg.wait(timeout=30) == 0, lg.log()

    r = read_report(report)
    failed = {k: r.get(k) for k in ("failed", "refused", "lost_fresh", "lost_reused",
                                    "partial", "timeout", "non2xx") if r.get(k)}
    assert r["ok"] > 0 and not failed, r
    print(f"{which}: hand-over under load: {r['ok']} ok, 0 failed")
    new.signal(signal.SIGTERM)
    assert new.wait() == 0, new.log()


def stats_of(message):
    """The counters of a BATON_STATS= message as a dict, or None for other messages."""
    for line in message.split("\n"):
        if line.startswith("BATON_STATS="):
            return {k: int(v) for k, v in (kv.split("=") for kv in line[12:].split())}
    return None


def test_readyapp_baton_stats(procs, notify):
    argv, _ = app("readyapp")
    listener, port = listening_socket()
    p = start_activated(procs, [*argv, "--stats-interval", "50"], listener, notify)
    notify.wait(p.pid, "READY=1")
    s = RawConn(port)
    for _ in range(3):
        assert request(s)[0] == 200

    def counted():
        stats = [stats_of(m) for m in notify.from_pid(p.pid)]
        return next((st for st in reversed(stats) if st and st["requests"] == 3), None)
    st = wait_for(counted, what="BATON_STATS with requests=3")
    assert st["responses_2xx"] == 3 and st["connections"] == 1 and st["errors"] == 0
    assert st["bytes_in"] > 0 and st["bytes_out"] > 0

    s.close()
    p.signal(signal.SIGTERM)
    assert p.wait() == 0
    last = stats_of(notify.from_pid(p.pid)[-1])
    assert last is not None and last["connections"] == 0 and last["requests"] == 3


# -- the installed library -------------------------------------------------------------------

CONSUMER = r"""
#include <stdio.h>
#include <baton/baton.h>

int main(void)
{
    char name[64] = "";
    int n = baton_listen_fds(0);

    if (n > 0)
        baton_listen_fd_name(BATON_LISTEN_FDS_START, name, sizeof(name));
    baton_listen_fds(1); /* names first: unsetting the environment forgets them */
    printf("libbaton %s: %d listener(s) %s, notify %d\n", baton_version(), n, name,
           baton_notify("READY=1\nSTATUS=consumer"));
    return n == 1 ? 0 : 1;
}
"""


def test_installed_library_through_pkg_config(procs, notify, tmp_path):
    """`cmake --install --component libbaton`, then build a program with pkg-config, shared
    and static, and run it as a supervisor would."""
    prefix = tmp_path / "prefix"
    r = procs.run(["cmake", "--install", BUILD, "--prefix", prefix, "--component", "libbaton"])
    assert r.returncode == 0, r.stdout + r.stderr
    pcs = list(prefix.glob("**/pkgconfig/baton.pc"))
    assert len(pcs) == 1 and (prefix / "include/baton/baton.h").exists()
    libdir = pcs[0].parent.parent
    env = {"PKG_CONFIG_PATH": str(pcs[0].parent)}
    r = procs.run(["pkg-config", "--cflags", "--libs", "baton"], env=env)
    assert r.returncode == 0, r.stderr
    flags = r.stdout.split()
    (tmp_path / "consumer.c").write_text(CONSUMER)
    san = ["-fsanitize=address,undefined"] if SANITIZE else []

    builds = {
        "shared": ["cc", *san, "consumer.c", *flags, "-o", "consumer-shared"],
        "static": ["cc", *san, "consumer.c", *[f for f in flags if f.startswith("-I")],
                   libdir / "libbaton.a", "-o", "consumer-static"],
    }
    for kind, argv in builds.items():
        r = procs.run(argv)
        assert r.returncode == 0, r.stderr
        needed = procs.run(["readelf", "-d", tmp_path / f"consumer-{kind}"]).stdout
        assert ("libbaton.so.0" in needed) == (kind == "shared")

        listener, _ = listening_socket()
        p = start_activated(procs, [tmp_path / f"consumer-{kind}"], listener, notify, names="web",
                      env={"LD_LIBRARY_PATH": str(libdir)}, name=f"consumer-{kind}")
        assert p.wait() == 0, p.log()
        assert "1 listener(s) web, notify 1" in p.log()
        assert "READY=1\nSTATUS=consumer" in notify.from_pid(p.pid)
        listener.close()
