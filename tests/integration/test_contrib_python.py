# SPDX-License-Identifier: MIT
"""contrib/python/baton.py from the outside: socket adoption (as strict as libbaton), the
notify messages, and the drain of serve()/serve_wsgi() (examples/python-hello): a request sent
on an idle keep-alive connection after SIGTERM is answered with Connection: close, a request in
flight is finished, idle connections are closed cleanly after the grace period, and the
process exits 0. The zero-loss reloads are in test_load_reload_contrib.py.
"""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from harness import SOURCE, Proc, accept_queue, wait_for

PYTHON = "/usr/bin/python3"
CONTRIB = SOURCE / "contrib" / "python"
PY_HELLO = SOURCE / "examples" / "python-hello"

# Plays the supervisor's part in the child: moves the sockets it was given (HELPER_FDS) to
# fds 3… and writes its own pid into LISTEN_PID when asked, then reports what baton sees.
ADOPT = f"""
import json, os, sys
sys.path.insert(0, {str(CONTRIB)!r})
fds = [int(f) for f in os.environ.pop("HELPER_FDS", "").split(",") if f]
tmp = [os.dup(f) for f in fds]
for i, f in enumerate(tmp):
    os.dup2(f, 3 + i)
if os.environ.get("LISTEN_PID") == "self":
    os.environ["LISTEN_PID"] = str(os.getpid())
import baton
out = {{}}
try:
    socks = baton.listeners()
    out["names"] = {{n: [s.getsockname()[1] for s in l] for n, l in socks.items()}}
    out["same"] = baton.listeners() is socks
    out["inheritable"] = [s.get_inheritable() for l in socks.values() for s in l]
    if os.environ.get("HELPER_LISTEN"):
        out["listen"] = baton.listen(os.environ["HELPER_LISTEN"], "127.0.0.1:0").getsockname()[1]
except OSError as e:
    out["errno"] = e.errno
    out["error"] = str(e)
out["env"] = sorted(k for k in os.environ if k.startswith("LISTEN_"))
print(json.dumps(out))
"""


def tcp_listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def adopt(socks, **env):
    fds = [s.fileno() for s in socks]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_"))}
    environ.update(env, HELPER_FDS=",".join(map(str, fds)))
    r = subprocess.run([PYTHON, "-c", ADOPT], env=environ, pass_fds=fds, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_listeners_by_name():
    a, b, c = tcp_listener(), tcp_listener(), tcp_listener()
    got = adopt([a, b, c], LISTEN_PID="self", LISTEN_FDS="3", LISTEN_FDNAMES="http:admin:http",
                HELPER_LISTEN="admin")
    port = lambda s: s.getsockname()[1]  # noqa: E731
    assert got["names"] == {"http": [port(a), port(c)], "admin": [port(b)]}, got
    assert got["listen"] == port(b) and got["same"] and not any(got["inheritable"])
    assert got["env"] == [], "the LISTEN_* variables must be removed"


def test_listeners_unnamed_and_not_ours():
    a = tcp_listener()
    got = adopt([a], LISTEN_PID="self", LISTEN_FDS="1", HELPER_LISTEN="http")
    assert got["names"] == {"unknown": [a.getsockname()[1]]} and got["listen"] == a.getsockname()[1]
    for env in ({"LISTEN_FDS": "1"}, {"LISTEN_PID": "1", "LISTEN_FDS": "1"}, {"LISTEN_PID": "self"}):
        got = adopt([a], HELPER_LISTEN="http", **env)
        assert got["names"] == {} and got["env"] == [], (env, got)
        assert got["listen"] not in (0, a.getsockname()[1]), "alone, listen() binds by itself"


@pytest.mark.parametrize("env", [
    {"LISTEN_PID": "12x", "LISTEN_FDS": "1"},
    {"LISTEN_PID": "0", "LISTEN_FDS": "1"},
    {"LISTEN_PID": "self", "LISTEN_FDS": "0"},
    {"LISTEN_PID": "self", "LISTEN_FDS": "+1"},
    {"LISTEN_PID": "self", "LISTEN_FDS": " 1"},
    {"LISTEN_PID": "self", "LISTEN_FDS": "0x1"},
    {"LISTEN_PID": "self", "LISTEN_FDS": "99999999999"},
    {"LISTEN_PID": "self", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"},
    {"LISTEN_PID": "self", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "tab\there"},
    {"LISTEN_PID": "self", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x" * 256},
])
def test_listeners_malformed(env):
    got = adopt([tcp_listener()], **env)
    assert got.get("errno") == 22 and got["env"] == [], got


def test_listeners_bad_fds():
    a = tcp_listener()
    got = adopt([a], LISTEN_PID="self", LISTEN_FDS="2")
    assert got.get("errno") == 9, got          # EBADF: fd 4 is not open
    unbound = socket.socket()
    got = adopt([unbound], LISTEN_PID="self", LISTEN_FDS="1", LISTEN_FDNAMES="http")
    assert "not a listening stream socket" in got.get("error", ""), got
    got = adopt([a], LISTEN_PID="self", LISTEN_FDS="1", LISTEN_FDNAMES="web", HELPER_LISTEN="http")
    assert got.get("errno") == 2 and "FileDescriptorName=http" in got["error"], got


def run_notify(code, notify_socket):
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    if notify_socket is not None:
        env["NOTIFY_SOCKET"] = notify_socket
    script = f"import sys; sys.path.insert(0, {str(CONTRIB)!r}); import baton\n{code}"
    return subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("abstract", [False, True])
def test_notify(tmp_path, abstract):
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"baton-py-test-{os.getpid()}-{time.monotonic_ns()}"
        rx.bind("\0" + name)
        env = "@" + name
    else:
        env = str(tmp_path / "notify")
        rx.bind(env)
    rx.settimeout(10)
    r = run_notify("assert baton.ready() is True\nbaton.status('one\\ntwo')\nbaton.stopping()", env)
    assert r.returncode == 0, r.stderr
    assert [rx.recv(4096) for _ in range(3)] == [b"READY=1", b"STATUS=one two", b"STOPPING=1"]
    rx.close()


def test_notify_unsupervised_and_refused():
    assert run_notify("assert baton.ready() is False", None).returncode == 0
    assert run_notify("assert baton.ready() is False", "").returncode == 0
    r = run_notify("import errno\ntry:\n    baton.ready()\nexcept OSError as e:\n"
                   "    assert e.errno == errno.EAFNOSUPPORT, e\nelse:\n    raise SystemExit(1)",
                   "relative/path")
    assert r.returncode == 0, r.stderr


# -- the drain -------------------------------------------------------------------------------

def start(procs, script, listener, notify_env):
    """Starts an example with listener as fd 3, LISTEN_PID set to its own pid."""
    launch = 'exec 3<&"$1"; shift; export LISTEN_PID=$$; exec "$@"'
    extra = {"LISTEN_FDS": "1", "LISTEN_FDNAMES": "http", "NOTIFY_SOCKET": notify_env}
    log_path = procs.tmp / f"{script}.log"
    with open(log_path, "wb") as logf:
        popen = subprocess.Popen(
            ["/bin/bash", "-c", launch, "launch", str(listener.fileno()), PYTHON,
             str(PY_HELLO / script)],
            cwd=str(procs.tmp), env=procs.env(extra), stdin=subprocess.DEVNULL, stdout=logf,
            stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),), start_new_session=True)
    proc = Proc(popen, log_path, script)
    procs.procs.append(proc)
    return proc


def get(sock):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"Hello, World!"):
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a whole response (got {data!r})"
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode().lower()
    return int(head.split()[1]), head


def closed_cleanly(sock, timeout):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        return False


@pytest.mark.parametrize("script", ["hello.py", "hello_wsgi.py"])
def test_drain_answers_request_on_idle_keepalive_connection(procs, tmp_path, script):
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "notify"))
    rx.settimeout(10)
    listener = tcp_listener()
    port = listener.getsockname()[1]
    p = start(procs, script, listener, str(tmp_path / "notify"))
    assert rx.recv(4096) == b"READY=1"
    idle, busy, silent = (socket.create_connection(("127.0.0.1", port)) for _ in range(3))
    for s in (idle, busy):
        status, head = get(s)
        assert status == 200 and "connection: close" not in head
    # The silent one too must be accepted before the drain begins: left in the listen queue
    # (which this test holds open, as a supervisor would), it is nobody's to close.
    wait_for(lambda: accept_queue(listener) == 0, what="the listen queue empty")

    p.signal(signal.SIGTERM)
    assert rx.recv(4096) == b"STOPPING=1"
    # Sent on a connection that was idle when the drain began: answered, then closed cleanly.
    status, head = get(busy)
    assert status == 200 and "connection: close" in head
    assert closed_cleanly(busy, 5)
    # Idle connections, used or never used, are closed with a FIN after the grace period.
    assert closed_cleanly(idle, 10) and closed_cleanly(silent, 10)
    assert p.wait() == 0, p.log()
    rx.close()


def test_second_signal_stops_at_once(procs, tmp_path):
    listener = tcp_listener()
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "notify"))
    rx.settimeout(10)
    p = start(procs, "hello.py", listener, str(tmp_path / "notify"))
    assert rx.recv(4096) == b"READY=1"
    # A connection that sends half a request keeps the drain waiting. A whole request first,
    # answered, proves the server accepted the connection (one still in the listen queue when
    # the drain begins would not hold it, and the drain could end before the second signal).
    half = socket.create_connection(("127.0.0.1", listener.getsockname()[1]))
    status, _ = get(half)
    assert status == 200
    half.sendall(b"GET / HTTP/1.1\r\n")
    p.signal(signal.SIGTERM)
    assert rx.recv(4096) == b"STOPPING=1"
    # ... until a second signal.
    p.signal(signal.SIGTERM)
    assert p.wait() == 128 + signal.SIGTERM, p.log()
