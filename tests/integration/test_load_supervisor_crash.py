# SPDX-License-Identifier: MIT
"""Zero loss across a supervisor crash: `kill -9` of `baton run` under load, then a new `baton run`
with the same configuration.

The workers live on as orphans and keep serving; the new supervisor takes their listening
sockets over (pidfd_getfd: the same sockets, with their queues), starts its own generation on
them, and drains the orphans. The accounting load client (bench/loadgen, 64 connections, with
keep-alive and with Connection: close) must see no failed request of any class, the orphans must
exit, and once the new supervisor stops nothing of either is left (processes or files).
For baton-web and for the Go net/http example (which keeps its listener on another fd).
"""
import re
import time

import pytest

from harness import Supervisor, pid_alive, write_config
from harness import (BATON_WEB, GO_HELLO, HELLO_MODULE, TIME_SCALE, http_get, loadgen,
                      open_sockets, read_report, wait_for)
from harness import crash, leftovers, read_state, state_pids

APPS = {
    "baton-web": lambda: [BATON_WEB, "--module", HELLO_MODULE],
    "go-hello": lambda: [GO_HELLO],
}


@pytest.mark.parametrize("mode", ["keepalive", "close"])
@pytest.mark.parametrize("app", list(APPS))
def test_supervisor_kill9_and_restart_lose_nothing(procs, port, app, mode):
    config = write_config(procs.tmp, port, APPS[app](), workers=2)
    first = Supervisor(procs, config)
    first.wait_ready(workers=2)

    seconds = int(8 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=64, close=(mode == "close"))
    # Under load before the crash: the client holds its connections.
    wait_for(lambda: client.alive() and open_sockets(client.pid) >= 32, timeout=5,
             what="loadgen connections")

    orphans = crash(first)
    assert state_pids(read_state(procs.tmp)) == orphans
    assert http_get(port)[0] == 200  # the orphans serve on

    started = time.monotonic()
    second = Supervisor(procs, config)
    gen = second.wait_ready(workers=2, generation=2)  # ids go on from the dead supervisor's
    serving_s = time.monotonic() - started
    assert not {w["pid"] for w in gen["workers"]} & set(orphans)
    wait_for(lambda: not any(pid_alive(p) for p in orphans), timeout=15, what="orphans to drain")
    drained_s = time.monotonic() - started
    assert client.alive(), "the load ended before the orphans were drained; make it longer"

    client.wait(timeout=seconds + 30)
    result = read_report(report)
    classes = {k: result[k] for k in
               ("non2xx", "refused", "lost_fresh", "lost_reused", "partial", "timeout")}
    assert result["sent"] > 1000, result
    assert result["failed"] == 0 and not any(classes.values()), (
        f"{app} {mode}: {result['failed']} of {result['sent']} requests failed across the "
        f"supervisor's kill -9 and restart: {classes}")
    assert result["ok"] == result["sent"]

    log = second.proc.log()
    assert "took over its 1 listening socket" in log
    drains = [int(m) for m in re.findall(r"has exited, (\d+)ms after SIGTERM", log)]
    assert len(drains) == 2, log[-3000:]
    # The state file now describes the new supervisor alone.
    state = read_state(procs.tmp)
    assert state["pid"] == second.proc.pid
    assert state_pids(state) == sorted(w["pid"] for w in second.active()["workers"])
    assert second.status()["orphans"] == []
    print(f"\nFIGURES {app} {mode}: sent={result['sent']} failed={result['failed']} "
          f"new generation serving {serving_s * 1000:.0f}ms after the restart, orphans gone "
          f"{drained_s * 1000:.0f}ms after it, drain times {drains}ms")

    assert second.stop() == 0
    assert leftovers(procs.tmp) == []
