# SPDX-License-Identifier: MIT
"""baton-web's backend choice (docs/http-core.md, "The io_uring backend"): io_uring when asked or
when the kernel offers it, the epoll fallback when a seccomp profile blocks io_uring (as Docker's
default one does), said in the log and in BATON_STATS; an explicit io_uring that cannot be had
refuses to start; accepts stay spread over the workers on io_uring."""
import ctypes
import signal
import socket
import struct
import sys

import pytest

from harness import (BATON_WEB, HELLO_MODULE, TIME_SCALE, Notify, RawConn, exchange, free_port, get,
                     listening_socket, loadgen, read_report, start_activated, start_web, wait_for)

# Execs the rest of its arguments under a seccomp filter that fails io_uring_setup, _enter and
# _register (x86-64 425-427) with EPERM, as a container's default profile does; the pid stays the
# program's.
SECCOMP = r'''
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
LD, JEQ, JGE, RET = 0x20, 0x15, 0x35, 0x06
prog = [(LD, 0, 0, 4), (JEQ, 0, 4, 0xc000003e),        # not x86-64: allow
        (LD, 0, 0, 0), (JGE, 0, 2, 425), (JGE, 1, 0, 428),
        (RET, 0, 0, 0x00050000 | 1),                    # SECCOMP_RET_ERRNO | EPERM
        (RET, 0, 0, 0x7fff0000)]                        # SECCOMP_RET_ALLOW
code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fprog = Prog(len(prog), ctypes.addressof(code))
assert libc.prctl(38, 1, 0, 0, 0) == 0                            # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0, ctypes.get_errno()  # SECCOMP_MODE_FILTER
os.execv(sys.argv[1], sys.argv[1:])
'''
NO_IO_URING = (sys.executable, "-c", SECCOMP)
AUTO = {"BATON_WEB_BACKEND": ""}  # whatever the ctest variant says: these tests choose


def io_uring_works():
    """The kernel here lets this process set up a ring (else the io_uring tests cannot run)."""
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)
    fd = libc.syscall(425, 4, params)
    if fd < 0:
        return False
    import os
    os.close(fd)
    return True


needs_io_uring = pytest.mark.skipif(not io_uring_works(), reason="io_uring unavailable here")


def keep_alive_requests(port, n):
    """n requests on one connection, two of them pipelined; returns the bodies."""
    bodies = []
    with RawConn(port) as c:
        for i in range(n):
            c.send(get("/") * (2 if i == 0 else 1))
            for _ in range(2 if i == 0 else 1):
                r = c.read_response()
                assert r.status == 200, r
                bodies.append(r.body)
    return bodies


@needs_io_uring
def test_auto_takes_io_uring_and_serves(procs):
    web = start_web(procs, env=AUTO)
    assert '"backend io_uring"' in web.proc.log()
    bodies = keep_alive_requests(web.port, 5)
    assert len(bodies) == 6 and all(b == bodies[0] for b in bodies) and bodies[0]


def test_seccomp_blocked_io_uring_falls_back_to_epoll_and_serves(procs):
    web = start_web(procs, wrapper=NO_IO_URING, env=AUTO)
    log = web.proc.log()
    assert "backend epoll: io_uring is refused (EPERM: a seccomp profile" in log, log
    bodies = keep_alive_requests(web.port, 3)
    assert len(bodies) == 4 and bodies[0]
    assert exchange(web.port, get("/", extra="Connection: close\r\n"))[0].status == 200


def test_explicit_io_uring_refuses_to_start_without_it(procs):
    port = free_port()
    r = procs.run([*NO_IO_URING, BATON_WEB, "--listen", f"127.0.0.1:{port}", "--module",
                   HELLO_MODULE, "--log-format", "json", "--backend", "io_uring"], env=AUTO)
    assert r.returncode == 2, r
    assert "backend io_uring: io_uring is refused (EPERM" in r.stderr, r.stderr


def test_backend_from_flag_file_and_environment(procs):
    # The file says epoll; the environment's io_uring is only the default.
    web = start_web(procs, config="backend: epoll\n", env={"BATON_WEB_BACKEND": "io_uring"})
    assert '"backend epoll"' in web.proc.log()
    assert exchange(web.port, get("/", extra="Connection: close\r\n"))[0].status == 200
    # The flag wins over the file.
    web2 = start_web(procs, "--backend", "epoll", config="backend: auto\n", name="web2", env=AUTO)
    assert '"backend epoll"' in web2.proc.log()
    # Mistakes are refused with the choices.
    path = procs.tmp / "bad.yaml"
    path.write_text("backend: uring\n")
    r = procs.run([BATON_WEB, "--listen", f"127.0.0.1:{free_port()}", "--config", path], env=AUTO)
    assert r.returncode == 2 and "backend must be auto, io_uring or epoll, not 'uring'" in r.stderr
    r = procs.run([BATON_WEB, "--listen", f"127.0.0.1:{free_port()}", "--backend", "kqueue"])
    assert r.returncode == 2 and "--backend: expected auto, io_uring or epoll" in r.stderr


def last_stats(notify, pid):
    """The counters of pid's last BATON_STATS message."""
    msgs = [m for m in notify.from_pid(pid) if m.startswith("BATON_STATS=")]
    if not msgs:
        return None
    return dict(kv.split("=", 1) for kv in msgs[-1][len("BATON_STATS="):].split())


def accepted_per_worker(notify, workers):
    """accepted= of each worker's last BATON_STATS (0 for one that sent none)."""
    stats = [last_stats(notify, w.pid) for w in workers]
    return [int(st["accepted"]) if st else 0 for st in stats]


def keep_alive_burst(port, n):
    """n keep-alive connections opened at once, one request answered on each; returns them."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    for s in socks:
        s.setblocking(True)
        s.settimeout(10)
        s.sendall(get("/"))
    for s in socks:
        assert s.recv(65536).startswith(b"HTTP/1.1 200"), "no answer in the burst"
    return socks


@pytest.mark.parametrize("backend", [pytest.param("io_uring", marks=needs_io_uring), "epoll"])
def test_accepts_spread_over_two_workers_and_stats_name_the_backend(procs, backend):
    """A burst of 64 keep-alive connections, then Connection: close load (thousands of accepts).
    Workers share one listener (no SO_REUSEPORT, no multishot accept, which put every connection
    on one worker); epoll's exclusive wake-ups favour the worker registered first, so a worker
    re-registers after every 32 accepts (server.c, rotate()) and the workers take turns."""
    listener, port = listening_socket()
    notify = Notify(procs.tmp)
    workers = [start_activated(procs, [BATON_WEB, "--module", HELLO_MODULE, "--log-format", "json",
                                       "--backend", backend], listener, notify=notify,
                               name=f"worker-{i}") for i in range(2)]
    for w in workers:
        wait_for(lambda: '"module hello' in w.log(), what="a worker to start")
        assert f'"backend {backend}"' in w.log()
    listener.close()

    # A burst of keep-alive connections: all served. Its spread is reported, not asserted: the
    # connections arrive before either worker runs, and on a 2-core machine the worker that gets
    # a CPU first takes what is queued while the other waits for one (64/0 seen before and after
    # the rotation; 32/32 .. 16/48 usually), which no accept rule can change.
    burst = keep_alive_burst(port, 64)
    wait_for(lambda: sum(accepted_per_worker(notify, workers)) == 64, timeout=10,
             what="BATON_STATS of the burst")
    spread = accepted_per_worker(notify, workers)
    print(f"{backend}: accepted per worker (a burst of 64 keep-alive connections): {spread}")
    for s in burst:
        s.close()

    # Long enough that a worker descheduled for a while on a busy machine still shows its share.
    lg, report = loadgen(procs, port, seconds=int(4 * TIME_SCALE), connections=64, close=True)
    # Read the notify socket meanwhile, as a supervisor does (its queue holds 10 messages).
    wait_for(lambda: notify.poll() is not None and not lg.alive(), timeout=30, what="the load")
    assert lg.wait(5) == 0, lg.log()
    r = read_report(report)
    assert r["failed"] == 0 and r["ok"] > 200, r
    for w in workers:
        w.signal(signal.SIGTERM)
        assert w.wait(10) == 0
    # A worker sends BATON_STATS when its counters changed (and a last one as it exits).
    stats = [last_stats(notify, w.pid) for w in workers]
    accepted = [a - b for a, b in zip(accepted_per_worker(notify, workers), spread)]
    print(f"{backend}: accepted per worker (Connection: close): {accepted}")
    assert sum(accepted) >= 200, accepted
    # Before the rotation 3,681 / 39,070 was seen once (and 36/64 % typically); with it 49/51 %
    # typically (docs/BENCHMARKS.md). The bound leaves room for a worker descheduled for a while
    # on a loaded 2-core machine under ASan (the other takes what arrives meanwhile).
    assert min(accepted) >= sum(accepted) * 0.3, accepted
    for st in stats:
        assert st["io_uring"] == ("1" if backend == "io_uring" else "0"), st
    notify.close()
