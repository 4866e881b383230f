# SPDX-License-Identifier: MIT
"""Zero loss: reloads under load, counted by a client that accounts for every request.

For baton-web and for the Go net/http example, with keep-alive and with Connection: close,
64 connections: at least 20 reloads each while tests/tools/loadgen runs, and every request it sent
must be answered with a 2xx. Each reload must really change the generation: the active
generation id goes up by one, every worker pid is new, and the old workers exit (drained).
Both apps run with app.probe: each new worker is probed on its own listener before it counts.
Reloads that add, remove and reorder listeners lose nothing on the listener they keep.
"""
import pytest

from harness import (BATON_WEB, GO_HELLO, HELLO_MODULE, TIME_SCALE, end_load, free_port, http_get,
                     loadgen, pid_alive, assert_lost_nothing, set_listen, Supervisor, wait_for,
                     worker_env, write_config)

RELOADS = 20

APPS = {
    "baton-web": lambda: [BATON_WEB, "--module", HELLO_MODULE],
    "go-hello": lambda: [GO_HELLO],
}


@pytest.mark.parametrize("mode", ["keepalive", "close"])
@pytest.mark.parametrize("app", list(APPS))
def test_reloads_under_load_lose_nothing(procs, port, app, mode):
    config = write_config(procs.tmp, port, APPS[app](), workers=2,
                          extra_app={"probe": {"path": "/healthz", "timeout": "2s"}})
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)

    # Long enough for 20 reloads with their drains; loadgen stops by itself.
    seconds = int(20 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=64, close=(mode == "close"))
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")

    for i in range(RELOADS):
        assert client.alive(), f"load ended after only {i} reloads; make the run longer"
        old_id = gen["id"]
        old_pids = {w["pid"] for w in gen["workers"]}
        r = sup.reload()
        assert r.returncode == 0, f"reload {i + 1} failed: {r.stdout}{r.stderr}"
        gen = sup.wait_ready(workers=2, generation=old_id + 1)
        new_pids = {w["pid"] for w in gen["workers"]}
        assert not (new_pids & old_pids), "reload kept old workers"
        # The old generation drains and exits before the next reload.
        wait_for(lambda: not any(pid_alive(p) for p in old_pids), timeout=15,
                 what=f"generation {old_id} to exit")

    end_load(client)
    assert_lost_nothing(report, 1000, f"{app} {mode} over {RELOADS} reloads")


def test_adding_a_listener_under_load_loses_nothing(procs, port):
    config = write_config(procs.tmp, port, [BATON_WEB, "--module", HELLO_MODULE], workers=2)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    seconds = int(8 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=64, close=True)
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")

    extra = free_port()
    for i, listen in enumerate([{"http": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{extra}"},
                                {"http": f"127.0.0.1:{port}"},
                                {"admin": f"127.0.0.1:{extra}", "http": f"127.0.0.1:{port}"}]):
        assert client.alive(), f"load ended after only {i} reloads; make the run longer"
        set_listen(config, listen)
        r = sup.reload()
        assert r.returncode == 0, f"reload {i + 1} failed: {r.stdout}{r.stderr}"
        old_pids = {w["pid"] for w in gen["workers"]}
        gen = sup.wait_ready(workers=2, generation=gen["id"] + 1)
        wait_for(lambda: not any(pid_alive(p) for p in old_pids), timeout=15 * TIME_SCALE,
                 what="the old generation to exit")
    assert http_get(extra)[0] == 200
    # The reordered `listen:` puts admin at fd 3 now.
    env = worker_env(gen["workers"][0]["pid"])
    assert env["LISTEN_FDNAMES"] == "admin:http"
    end_load(client)
    assert_lost_nothing(report, 500, "reloads that changed listen:")
    sup.stop()
