# SPDX-License-Identifier: MIT
"""A supervisor crash without systemd, the edges: the state file beside the control socket, a
live supervisor never touched, stale state files, orphans of another configuration, a takeover
the kernel refuses, an orphan that does not drain, a crash while orphans drain, and what is
left behind (nothing). The zero-loss figures under load are in test_load_supervisor_crash.py."""
import json
import os
import signal
import subprocess

import pytest

from harness import Supervisor, pid_alive, write_config
from harness import BATON, BIN, free_port, http_get, wait_for
from harness import (crash, leftovers, read_state, start_time, state_path, state_pids,
                           stop_orphans)

READYAPP = BIN / "readyapp"


def state_order(state):
    """The workers' pids in the state file's order (the order messages list them in)."""
    return [w["pid"] for g in state["generations"] for w in g["workers"]]


def run_once(procs, config, prefix=(), timeout=20):
    """`baton run` expected to exit by itself: (exit status, output)."""
    proc = procs.start([*prefix, BATON, "run", "-c", config], name="baton-refused")
    code = proc.wait(timeout=timeout)
    return code, proc.log()


def test_state_file_follows_the_machine(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    state = read_state(procs.tmp)
    assert state["version"] == 1
    assert state["pid"] == sup.proc.pid and state["start_time"] == start_time(sup.proc.pid)
    assert state["config"] == str(config)
    assert state["control"] == str(procs.tmp / "baton.sock")
    assert state["listeners"] == [{"name": "http", "address": f"127.0.0.1:{port}"}]
    assert state_pids(state) == sorted(w["pid"] for w in gen["workers"])
    for g in state["generations"]:
        for w in g["workers"]:
            assert w["start_time"] == start_time(w["pid"])
    assert os.stat(state_path(procs.tmp)).st_mode & 0o777 == 0o600

    assert sup.reload().returncode == 0
    gen2 = sup.wait_ready(workers=2, generation=2)
    old = [w["pid"] for w in gen["workers"]]
    wait_for(lambda: not any(pid_alive(p) for p in old), timeout=10, what="generation 1 to exit")
    wait_for(lambda: state_pids(read_state(procs.tmp)) == sorted(w["pid"] for w in gen2["workers"]),
             timeout=5, what="the state file to follow the reload")
    assert read_state(procs.tmp)["last_id"] == 2

    assert sup.stop() == 0
    assert leftovers(procs.tmp) == []  # removed on a clean stop


def test_live_supervisor_is_never_touched(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    before = read_state(procs.tmp)

    code, out = run_once(procs, config)
    assert code == 2, out
    assert f"supervisor {sup.proc.pid} is running" in out, out
    # The first one serves on, unchanged: same workers, same control socket, same state file.
    assert sup.proc.alive()
    assert [w["pid"] for w in sup.active()["workers"]] == [w["pid"] for w in gen["workers"]]
    assert http_get(port)[0] == 200
    assert read_state(procs.tmp) == before

    # Even when the state file names a dead supervisor (and the live workers, with their right
    # start times), a control socket that answers means a live supervisor: nothing is taken.
    dead = subprocess.Popen(["true"])
    dead.wait()
    state_path(procs.tmp).write_text(json.dumps({**before, "pid": dead.pid}))
    code, out = run_once(procs, config)
    assert code == 2, out
    assert "another supervisor is running there" in out, out
    assert [w["pid"] for w in sup.active()["workers"]] == [w["pid"] for w in gen["workers"]]
    assert all(w["state"] == "ready" for w in sup.active()["workers"])
    assert http_get(port)[0] == 200
    assert sup.stop() == 0
    assert leftovers(procs.tmp) == []


def test_stale_state_file_is_ignored_and_replaced(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    dead = subprocess.Popen(["true"])
    dead.wait()
    me = os.getpid()
    # A dead supervisor whose "workers" are a pid that is gone and a pid now used by another
    # process (this test's: alive, but started at another time).
    stale = {"version": 1, "pid": dead.pid, "start_time": 1, "control": "x",
             "listeners": [{"name": "http", "address": f"127.0.0.1:{port}"}],
             "generations": [{"id": 7, "stop_signal": "TERM", "drain_timeout_ms": 1000,
                              "workers": [{"pid": dead.pid, "start_time": 1},
                                          {"pid": me, "start_time": start_time(me) + 1}]}]}
    state_path(procs.tmp).write_text(json.dumps(stale))
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    assert gen["id"] == 1  # nothing adopted: ids start over
    state = read_state(procs.tmp)
    assert state["pid"] == sup.proc.pid and state_pids(state) == [gen["workers"][0]["pid"]]
    assert "none of its workers is left" in sup.proc.log()
    # A reused supervisor pid (alive, other start time) is a dead supervisor too.
    assert sup.stop() == 0
    stale["pid"], stale["start_time"] = me, start_time(me) + 1
    state_path(procs.tmp).write_text(json.dumps(stale))
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    assert read_state(procs.tmp)["pid"] == sup.proc.pid
    # A newer format is not guessed at.
    assert sup.stop() == 0
    state_path(procs.tmp).write_text(json.dumps({**stale, "version": 99}))
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    assert "written by a newer baton: ignored" in sup.proc.log()
    assert sup.stop() == 0
    assert leftovers(procs.tmp) == []


def test_orphans_of_another_config_are_not_adopted(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    first = Supervisor(procs, config)
    first.wait_ready(workers=2)
    orphans = crash(first)

    other = free_port()
    config = write_config(procs.tmp, other, [READYAPP], workers=1)  # same control socket
    second = Supervisor(procs, config)
    gen = second.wait_ready(workers=1)
    assert gen["id"] == 1
    assert "not adopted, left alone" in second.proc.log()
    assert all(pid_alive(p) for p in orphans)
    assert http_get(port)[0] == 200 and http_get(other)[0] == 200
    assert second.status()["orphans"] == []
    assert second.stop() == 0
    assert all(pid_alive(p) for p in orphans)  # not ours: not stopped either
    stop_orphans(orphans)
    assert leftovers(procs.tmp) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a process without CAP_SYS_PTRACE "
                    "is refused only by root-owned workers' capabilities")
def test_takeover_refused_by_the_kernel_says_why(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    first = Supervisor(procs, config)
    first.wait_ready(workers=2)
    orphans = crash(first)
    before = read_state(procs.tmp)

    # Without CAP_SYS_PTRACE (and so without the workers' capabilities) ptrace access to
    # them is refused, as it is across users or under kernel.yama.ptrace_scope.
    code, out = run_once(procs, config, prefix=["setpriv", "--inh-caps=-sys_ptrace",
                                                "--bounding-set=-sys_ptrace"])
    assert code == 2, out
    assert "does not let this process take their listening sockets over" in out, out
    assert "ptrace" in out and "CAP_SYS_PTRACE" in out
    assert "kill -TERM " + " ".join(str(p) for p in state_order(before)) in out, out
    # Nothing touched: the orphans serve, the state file is the dead supervisor's.
    assert all(pid_alive(p) for p in orphans)
    assert http_get(port)[0] == 200
    assert read_state(procs.tmp) == before

    # With the access, the same configuration takes over.
    second = Supervisor(procs, config)
    second.wait_ready(workers=2, generation=2)
    wait_for(lambda: not any(pid_alive(p) for p in orphans), timeout=15, what="orphans to drain")
    assert second.stop() == 0
    assert leftovers(procs.tmp) == []


def test_orphan_that_does_not_drain_is_killed_at_drain_timeout(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--ignore-term"], workers=1,
                          extra_app={"drain_timeout": "1s"})
    first = Supervisor(procs, config)
    first.wait_ready(workers=1)
    orphans = crash(first)
    second = Supervisor(procs, config)
    second.wait_ready(workers=1, generation=2)
    st = second.status()
    assert [o["pid"] for o in st["orphans"]] == orphans
    assert st["orphans"][0]["state"] == "draining" and st["orphans"][0]["generation"] == 1
    wait_for(lambda: not any(pid_alive(p) for p in orphans), timeout=10, what="SIGKILL at 1s")
    assert "did not drain within 1000ms: SIGKILL" in second.proc.log()
    wait_for(lambda: second.status()["orphans"] == [], timeout=5, what="orphans gone from status")
    assert second.stop() == 0
    assert leftovers(procs.tmp) == []


def test_crash_while_orphans_drain_passes_them_on(procs, port):
    """The second supervisor dies too while the first one's workers drain: the third finds both
    its own workers and them."""
    config = write_config(procs.tmp, port, [READYAPP, "--ignore-term"], workers=1,
                          extra_app={"drain_timeout": "30s"})
    first = Supervisor(procs, config)
    first.wait_ready(workers=1)
    orphans1 = crash(first)
    second = Supervisor(procs, config)
    second.wait_ready(workers=1, generation=2)
    wait_for(lambda: second.status()["orphans"][0]["state"] == "draining", timeout=5,
             what="orphan draining")
    mine = [w["pid"] for w in second.active()["workers"]]
    state = read_state(procs.tmp)
    assert sorted(state_pids(state)) == sorted(orphans1 + mine)
    draining = {w["pid"]: w["draining"] for g in state["generations"] for w in g["workers"]}
    assert draining == {**{p: True for p in orphans1}, **{p: False for p in mine}}
    second.proc.signal(signal.SIGKILL)
    second.proc.wait(timeout=10)

    third = Supervisor(procs, config)
    third.wait_ready(workers=1, generation=3)
    assert sorted(o["pid"] for o in third.status()["orphans"]) == sorted(orphans1 + mine)
    # The first supervisor's worker had its stop signal already: not a second one (which may
    # mean "stop now"), but a whole drain_timeout; the second's gets its stop signal now.
    log = third.proc.log()
    assert log.count("was draining already") == len(orphans1), log[-3000:]
    assert log.count("draining the previous supervisor's worker: SIGTERM") == len(mine)
    assert third.stop(fast=True) == 0  # a fast stop SIGKILLs the orphans too
    assert not any(pid_alive(p) for p in orphans1 + mine)
    assert leftovers(procs.tmp) == []
