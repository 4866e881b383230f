# SPDX-License-Identifier: MIT
"""SIGUSR2: the supervisor re-executes itself in place. Same PID, same listeners, same workers,
same history; traffic never notices; everything works afterwards (reloads, restarts, stop)."""
import os
import signal

from harness import (READYAPP, TIME_SCALE, http_get, loadgen, pid_alive, assert_lost_nothing, Supervisor, wait_for,
                     write_config)



def reexecuted(sup, count):
    return sup.proc.log().count("re-executed") >= count


def test_reexec_keeps_everything(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--status", "serving"], workers=2)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    assert sup.reload().returncode == 0
    before = sup.wait_ready(workers=2, generation=2)
    st_before = sup.status()

    client, report = loadgen(procs, port, int(4 * TIME_SCALE), connections=16)
    wait_for(lambda: client.alive(), timeout=2, what="loadgen")
    for i in range(3):
        sup.proc.signal(signal.SIGUSR2)
        wait_for(lambda: reexecuted(sup, i + 1), timeout=10, what=f"re-exec {i + 1}")
        st = sup.status()
        assert st["pid"] == sup.proc.pid == st_before["pid"]
        assert st["generation"] == 2
        assert st["last_reload"] == st_before["last_reload"]
        assert st["uptime_ms"] >= st_before["uptime_ms"]
        [gen] = st["generations"]
        assert sorted(w["pid"] for w in gen["workers"]) == sorted(w["pid"] for w in before["workers"])
        assert all(w["state"] == "ready" and w["status"] == "serving" for w in gen["workers"])
    client.wait(timeout=30)
    assert_lost_nothing(report, 100, "re-exec")

    # The new image runs the show: reloads (notify socket), restarts (SIGCHLD), output capture.
    r = sup.reload()
    assert r.returncode == 0, r.stdout + r.stderr
    gen = sup.wait_ready(workers=2, generation=3)
    wait_for(lambda: not any(pid_alive(w["pid"]) for w in before["workers"]), timeout=10,
             what="generation 2 to exit")
    victim = gen["workers"][0]["pid"]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: sup.status()["restarts"] == 1 and len(sup.wait_ready(workers=2)["workers"]) == 2,
             timeout=10, what="restart")
    assert http_get(port)[0] == 200
    assert sup.stop() == 0
    assert not (procs.tmp / "baton.sock").exists()


def test_reexec_refused_with_a_broken_config(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    good = config.read_text()
    config.write_text(good.replace("  workers: 1", "  workers: lots"))
    sup.proc.signal(signal.SIGUSR2)
    wait_for(lambda: "re-exec refused" in sup.proc.log(), timeout=10, what="refusal")
    config.write_text(good)
    assert sup.active()["workers"][0]["pid"] == gen["workers"][0]["pid"]
    assert not reexecuted(sup, 1)
    assert sup.stop() == 0
