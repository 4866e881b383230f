# SPDX-License-Identifier: MIT
"""Zero loss for each rollout shape: blue-green, and rolling with a surge of 2 over 4 workers,
under load with keep-alive and with Connection: close."""
import pytest

from harness import end_load, READYAPP, TIME_SCALE, loadgen, pid_alive, assert_lost_nothing, Supervisor, wait_for, write_config

RELOADS = 10


@pytest.mark.parametrize("mode", ["keepalive", "close"])
@pytest.mark.parametrize("strategy,workers,surge", [("blue-green", 3, 1), ("rolling", 4, 2)])
def test_strategies_under_load_lose_nothing(procs, port, strategy, workers, surge, mode):
    config = write_config(procs.tmp, port, [READYAPP], workers=workers,
                          extra_app={"strategy": strategy, "max_surge": surge})
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=workers)
    seconds = int(6 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=32, close=(mode == "close"))
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")
    for i in range(RELOADS):
        assert client.alive(), f"load ended after {i} reloads"
        old_pids = {w["pid"] for w in gen["workers"]}
        r = sup.reload()
        assert r.returncode == 0, r.stdout + r.stderr
        gen = sup.wait_ready(workers=workers, generation=gen["id"] + 1)
        assert not ({w["pid"] for w in gen["workers"]} & old_pids)
        wait_for(lambda: not any(pid_alive(p) for p in old_pids), timeout=15, what="old exit")
    end_load(client)
    assert_lost_nothing(report, 500, f"{strategy} {mode}")
