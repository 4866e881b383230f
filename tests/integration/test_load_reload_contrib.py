# SPDX-License-Identifier: MIT
"""Zero loss for the language helpers: contrib/go/baton (examples/go-hello) and
contrib/python/baton.py (examples/python-hello, http.server and WSGI), each under a real
supervisor while the accounting load client runs, keep-alive and Connection: close:

several reloads, each really replacing the generation (new id, new pids, old ones drained
and exited): every request the client sent is answered with a 2xx. And the reason the Go helper
exists: the usual Go drain idiom loses requests under the same reloads, baton.Serve none.
Broken releases are in test_load_reload_contrib_failures.py.
"""
import sys

import pytest

from harness import end_load, Supervisor, pid_alive, write_config
from harness import BIN, GO_HELLO, SOURCE, TIME_SCALE, free_port, loadgen, read_report, wait_for

PYTHON = "/usr/bin/python3"
PY_HELLO = SOURCE / "examples" / "python-hello"

APPS = {
    "go": lambda: [GO_HELLO],
    "python": lambda: [PYTHON, PY_HELLO / "hello.py"],
    "python-wsgi": lambda: [PYTHON, PY_HELLO / "hello_wsgi.py"],
}

FAILURE_KEYS = ("non2xx", "refused", "lost_fresh", "lost_reused", "partial", "timeout")



def app_command(app):
    argv = APPS[app]()
    if not argv[-1].exists():
        pytest.skip(f"{argv[-1]} is not built")
    return argv


def check_report(report, app, mode, what):
    result = read_report(report)
    failures = {k: result[k] for k in FAILURE_KEYS}
    print(f"{app} {mode} {what}: sent {result['sent']}, failed {result['failed']} {failures}",
          file=sys.stderr)
    assert result["failed"] == 0 and not any(failures.values()), (
        f"{app} {mode}: {result['failed']} of {result['sent']} requests failed {what}: {failures}")
    assert result["ok"] == result["sent"]
    return result


RELOADS = 6


@pytest.mark.parametrize("mode", ["keepalive", "close"])
@pytest.mark.parametrize("app", list(APPS))
def test_helper_reloads_under_load_lose_nothing(procs, port, app, mode):
    config = write_config(procs.tmp, port, app_command(app), workers=2)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    seconds = int(12 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=64, close=(mode == "close"))
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")

    for i in range(RELOADS):
        assert client.alive(), f"load ended after only {i} reloads; make the run longer"
        old_id, old_pids = gen["id"], {w["pid"] for w in gen["workers"]}
        r = sup.reload()
        assert r.returncode == 0, f"reload {i + 1} failed: {r.stdout}{r.stderr}"
        gen = sup.wait_ready(workers=2, generation=old_id + 1)
        assert not ({w["pid"] for w in gen["workers"]} & old_pids), "reload kept old workers"
        wait_for(lambda: not any(pid_alive(p) for p in old_pids), timeout=15,
                 what=f"generation {old_id} to drain and exit")

    end_load(client)
    result = check_report(report, app, mode, f"over {RELOADS} reloads")
    assert result["sent"] > 1000, result


GO_IDIOM = BIN / "go-idiom"


def test_usual_go_idiom_loses_requests_baton_serve_does_not(procs):
    """The same program (tests/integration/apps/go-idiom), reloaded under keep-alive load:
    with the usual idiom (srv.Shutdown on SIGTERM, log.Fatal(srv.Serve(ln))) requests fail on
    reloads; with log.Fatal(baton.Serve(srv, ln)) none does."""
    if not GO_IDIOM.exists():
        pytest.skip(f"{GO_IDIOM} is not built")
    lost = {}
    for variant, argv in (("idiom", [GO_IDIOM]), ("baton.Serve", [GO_IDIOM, "-baton"])):
        port = free_port()
        tmp = procs.tmp / variant.replace(".", "-")
        tmp.mkdir()
        config = write_config(tmp, port, argv, workers=2)
        sup = Supervisor(procs, config)
        gen = sup.wait_ready(workers=2)
        seconds = int(10 * TIME_SCALE)
        client, report = loadgen(procs, port, seconds, connections=64)
        wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")
        for i in range(RELOADS):
            assert client.alive(), f"load ended after only {i} reloads; make the run longer"
            old_id, old_pids = gen["id"], {w["pid"] for w in gen["workers"]}
            r = sup.reload()
            assert r.returncode == 0, f"reload {i + 1} failed: {r.stdout}{r.stderr}"
            gen = sup.wait_ready(workers=2, generation=old_id + 1)
            wait_for(lambda: not any(pid_alive(p) for p in old_pids), timeout=15,
                     what=f"generation {old_id} to exit")
        end_load(client)
        result = read_report(report)
        lost[variant] = result
        print(f"go-idiom {variant}: sent {result['sent']}, failed {result['failed']} over "
              f"{RELOADS} reloads: {({k: result[k] for k in FAILURE_KEYS})}", file=sys.stderr)
        assert sup.stop() == 0
    assert lost["baton.Serve"]["failed"] == 0, lost["baton.Serve"]
    assert lost["idiom"]["failed"] > 0, (
        f"the usual idiom lost nothing over {RELOADS} reloads: {lost['idiom']}")
