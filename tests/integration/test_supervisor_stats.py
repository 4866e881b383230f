# SPDX-License-Identifier: MIT
"""The workers' BATON_STATS counters in `baton status --json`: structured, per worker, per
generation and in total, and the total never decreases across reloads and worker crashes (an
exited worker's final counters are folded into the retired totals)."""
import os
import signal

from harness import BATON_WEB, HELLO_MODULE, Supervisor, http_get, pid_alive, wait_for, write_config


def total(sup):
    return sup.status()["stats"]["requests"]


def test_totals_survive_reloads_and_crashes(procs, port):
    sup = Supervisor(procs, write_config(procs.tmp, port, [BATON_WEB, "--module", HELLO_MODULE]))
    gen = sup.wait_ready(workers=2)
    for _ in range(20):
        assert http_get(port, "/")[0] == 200
    # baton-web reports its counters once a second while they change.
    wait_for(lambda: total(sup) >= 20, timeout=5, what="20 requests counted")
    st = sup.status()
    assert set(st["stats"]) >= {"requests", "responses_2xx", "responses_5xx", "bytes_out", "connections"}
    active = [g for g in st["generations"] if g["id"] == gen["id"]][0]
    assert active["stats"]["requests"] >= 20
    assert sum(w["stats"]["requests"] for w in active["workers"]) >= 20

    seen = total(sup)
    old = [w["pid"] for w in gen["workers"]]
    assert sup.reload().returncode == 0
    gen = sup.wait_ready(workers=2, generation=gen["id"] + 1)
    wait_for(lambda: not any(pid_alive(p) for p in old), timeout=15, what="old workers to exit")
    assert total(sup) >= seen, "the total went down when the old generation exited"

    # A crashed worker's last report stays counted too.
    for _ in range(10):
        assert http_get(port, "/")[0] == 200
    wait_for(lambda: total(sup) >= seen + 10, timeout=5, what="10 more requests counted")
    seen = total(sup)
    os.kill(gen["workers"][0]["pid"], signal.SIGKILL)
    wait_for(lambda: sup.status()["generations"][-1]["workers"][0]["pid"] != gen["workers"][0]["pid"],
             timeout=10, what="the crashed worker to be replaced")
    assert total(sup) >= seen
    assert sup.status()["stats_refused"] == 0
