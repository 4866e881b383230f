# SPDX-License-Identifier: MIT
"""Zero loss when things go wrong: under load, reloads that fail in every way the supervisor
detects (command not found, exit at start, never ready, a crash in the middle of a rolling
update, bad configuration), in-place reloads
and re-execs of the supervisor alternate with good reloads, and every request is answered.
"""
import re
import signal

import pytest

from harness import (end_load, BIN, READYAPP, TIME_SCALE, loadgen, assert_lost_nothing, set_command, Supervisor, wait_for,
                     write_config)




@pytest.mark.parametrize("mode", ["keepalive", "close"])
def test_failed_reloads_under_load_lose_nothing(procs, port, mode):
    config = write_config(procs.tmp, port, [READYAPP], workers=2,
                          extra_app={"ready_timeout": f"{int(500 * TIME_SCALE)}ms"})
    good = config.read_text()
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    seconds = int(12 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=32, close=(mode == "close"))
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")

    def reload_fails(command):
        set_command(config, command)
        r = sup.reload()
        assert r.returncode == 1, r.stdout + r.stderr
        config.write_text(good)

    rounds = 0
    while rounds < 3:
        assert client.alive(), f"load ended after {rounds} rounds; make the run longer"
        active = sup.active()["id"]
        reload_fails(["bin/does-not-exist"])
        reload_fails([READYAPP, "--exit-at-start", "1"])
        reload_fails([READYAPP, "--never-ready"])
        # Slot 0 gets ready and replaces an old worker, then slot 1 dies of SIGABRT: the
        # replaced old worker is restored while the load runs.
        reload_fails([READYAPP, "--crash-slot", "1"])
        config.write_text(good.replace("  workers: 2", "  workers: nope"))
        r = sup.procs.run([BIN / "baton", "reload", "-s", procs.tmp / "baton.sock"])
        assert r.returncode == 1, r.stdout + r.stderr
        config.write_text(good)
        assert sup.reload("--in-place").returncode == 0
        sup.proc.signal(signal.SIGUSR2)
        wait_for(lambda: sup.proc.log().count("re-executed") > rounds, timeout=10,
                 what="re-exec")
        # Failed generations consume ids: this one is active + 5.
        r = sup.reload()
        assert r.returncode == 0, r.stdout + r.stderr
        sup.wait_ready(workers=2, generation=active + 5)
        rounds += 1

    end_load(client)
    assert_lost_nothing(report, 500, mode)
