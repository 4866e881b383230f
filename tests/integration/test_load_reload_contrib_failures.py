# SPDX-License-Identifier: MIT
"""Broken releases of services that use the language helpers (contrib/go/baton in
examples/go-hello, contrib/python/baton.py in examples/python-hello): under a real supervisor
and the accounting load client (keep-alive and Connection: close), reloads to a new generation
that exits at start (a command line the release rejects) and to one that is never ready (it
adopts its socket, says STATUS=waiting for the database and hangs) alternate with good reloads.
Each broken reload fails with its reason, the old generation keeps serving with the same
workers, and every request the client sent is answered with a 2xx.
"""
import re

import pytest

from harness import end_load, Supervisor, set_command, write_config
from harness import SOURCE, TIME_SCALE, loadgen, wait_for
from test_load_reload_contrib import APPS, PYTHON, app_command, check_report

# A release that adopts its socket with the Python helper and says what it is doing, but
# never becomes ready (it waits forever for something, as a service stuck on a database would).
NEVER_READY = f"""
import sys, time
sys.path.insert(0, {str(SOURCE / "contrib" / "python")!r})
import baton
baton.listen("http", "127.0.0.1:1")
baton.status("waiting for the database")
time.sleep(3600)
"""


@pytest.mark.parametrize("mode", ["keepalive", "close"])
@pytest.mark.parametrize("app", list(APPS))
def test_helper_broken_release_keeps_old_generation(procs, port, app, mode):
    good_command = app_command(app)
    config = write_config(procs.tmp, port, good_command, workers=2,
                          extra_app={"ready_timeout": f"{int(4 * TIME_SCALE)}s"})
    never_ready = procs.tmp / "never_ready.py"
    never_ready.write_text(NEVER_READY)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    # 2 rounds of a failed start, a never-ready release (ready_timeout) and a good reload.
    seconds = int(20 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=32, close=(mode == "close"))
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")

    def reload_fails(command, reason):
        set_command(config, command)
        before = sup.active()
        r = sup.reload()
        out = r.stdout + r.stderr
        assert r.returncode == 1, out
        assert re.search(reason, out), f"the reason is not reported: {out}"
        after = sup.active()
        assert after["id"] == before["id"]
        assert {w["pid"] for w in after["workers"]} == {w["pid"] for w in before["workers"]}
        set_command(config, good_command)

    for rounds in range(2):
        assert client.alive(), f"load ended after {rounds} rounds; make the run longer"
        # The new release's command line is wrong: it exits at start with its usage message.
        reload_fails([*good_command, "--no-such-flag"],
                     r"(?s)(exit|status).*(flag provided but not defined|unrecognized arguments)")
        reload_fails([PYTHON, never_ready], r"(?s)(timeout|ready).*waiting for the database")
        old_id = sup.active()["id"]
        r = sup.reload()
        assert r.returncode == 0, r.stdout + r.stderr
        sup.wait_ready(workers=2, generation=old_id + 3)  # failed generations consume ids

    end_load(client)
    result = check_report(report, app, mode, "over 4 failed and 2 good reloads")
    assert result["sent"] > 500, result
