# SPDX-License-Identifier: MIT
"""tcp.defer_accept: the supervisor's TCP listeners queue a connection only once its first bytes
arrived, so a client that connected and sent nothing yet belongs to no worker: a reload does not
wait for it, loses nothing, and the new generation answers it. With 0s a connection is accepted
at once; a reload applies the key to the listeners already open."""
import json

from harness import (BATON_WEB, HELLO_MODULE, RawConn, Supervisor, get, open_sockets, pid_alive,
                     wait_for, write_config)

# Long enough that the kernel does not hand the silent connection over on its own (after this
# long it does, at its next SYN-ACK retransmission) while the test runs on a loaded machine.
DEFER = "tcp:\n  defer_accept: 60s\n"


def hello():
    return [BATON_WEB, "--module", HELLO_MODULE]


def worker_pid(sup):
    gen = sup.active()
    assert gen and len(gen["workers"]) == 1, gen
    return gen["workers"][0]["pid"]


def answer(port):
    """A request on a connection of its own: (status, pid of the worker that answered)."""
    with RawConn(port) as c:
        c.send(get("/api/time", extra="Connection: close\r\n"))
        resp = c.read_response()
        return resp.status, json.loads(resp.body)["pid"]


def test_silent_connection_is_answered_by_the_next_generation(procs, port):
    config = write_config(procs.tmp, port, hello(), workers=1, extra=DEFER)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    old = worker_pid(sup)
    baseline = open_sockets(old)
    with RawConn(port) as silent:
        # A request on another connection, answered: the worker's loop has turned since the
        # silent connection completed its handshake, and did not take it.
        assert answer(port) == (200, old)
        # That connection's close may trail its answer by a loop turn (io_uring: the send
        # completes before the close); the silent one, accepted, would stay.
        wait_for(lambda: open_sockets(old) == baseline, what="only the answered connection closed")
        r = sup.reload("--wait")
        assert r.returncode == 0, r.stdout + r.stderr
        sup.wait_ready(workers=1, generation=gen["id"] + 1)
        # The old worker had nothing of it to drain: it is gone without waiting for it.
        wait_for(lambda: not pid_alive(old), timeout=15, what="the old worker to exit")
        new = worker_pid(sup)
        silent.send(get("/api/time"))
        resp = silent.read_response()
        assert resp.status == 200
        assert json.loads(resp.body)["pid"] == new


def test_zero_turns_it_off_and_a_reload_turns_it_on(procs, port):
    config = write_config(procs.tmp, port, hello(), workers=1, extra="tcp:\n  defer_accept: 0s\n")
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    pid = worker_pid(sup)
    baseline = open_sockets(pid)
    with RawConn(port):
        # Off: the worker accepts the connection at once, before any byte.
        wait_for(lambda: open_sockets(pid) == baseline + 1, what="the worker to accept")
    wait_for(lambda: open_sockets(pid) == baseline, what="the worker to close it")

    config.write_text(config.read_text().replace("defer_accept: 0s", "defer_accept: 60s"))
    r = sup.reload("--wait")
    assert r.returncode == 0, r.stdout + r.stderr
    sup.wait_ready(workers=1, generation=gen["id"] + 1)
    pid = worker_pid(sup)
    baseline = open_sockets(pid)
    with RawConn(port) as silent:
        assert answer(port) == (200, pid)
        # deferred: not the worker's yet (the answered one's close may trail its answer)
        wait_for(lambda: open_sockets(pid) == baseline, what="only the answered connection closed")
        silent.send(get("/"))
        assert silent.read_response().status == 200
