# SPDX-License-Identifier: MIT
"""app.probe (DESIGN.md "Observability"): each worker gets one more inherited listener, named
`probe`, private to it; the supervisor sends GET <path> there after READY=1 and before it counts
the worker ready, and every interval during probation. A worker whose probe fails (a wrong
status, a hang past the timeout) is not ready: the reload fails with the probe's answer and the
old generation keeps serving."""
import json
import os
import subprocess

import pytest

from harness import (BATON_WEB, GO_HELLO, HELLO_MODULE, TIME_SCALE, Supervisor, deploy_json, http_get,
                     pids, reload_json, still_serving,
                     open_sockets, pyapp, release_config, set_command, wait_for, write_config)

PROBE = {"path": "/healthz", "timeout": "1s", "interval": "200ms", "expect": 200}








def test_probe_is_asked_before_ready(procs, port):
    log = procs.tmp / "probes.log"
    config = write_config(procs.tmp, port, pyapp("--probe-log", log), workers=2,
                          extra_app={"probe": PROBE})
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    # Each worker was asked on its own listener, at the configured path.
    asked = [line.split() for line in log.read_text().splitlines()]
    assert {int(pid) for pid, _ in asked} == set(pids(gen))
    assert {path for _, path in asked} == {"/healthz"}
    assert http_get(port)[0] == 200


def test_probe_503_fails_the_reload(procs, port):
    config = write_config(procs.tmp, port, pyapp(), workers=2, extra_app={"probe": PROBE})
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=2)
    set_command(config, pyapp("--probe-status", "503"))
    code, v = reload_json(sup)
    assert code == 1, v
    assert v["reason"]["cause"] == "probe", v
    assert "probe GET /healthz on worker" in v["error"], v
    assert "503 Service Unavailable (expected 200)" in v["error"], v
    assert v["reason"]["probe"] in v["error"]
    still_serving(sup, port, before, body=f"gen={before['id']}")
    # The CLI says it to people too.
    r = sup.reload()
    assert r.returncode == 1 and "503 Service Unavailable" in r.stdout + r.stderr
    still_serving(sup, port, before, body=f"gen={before['id']}")


@pytest.mark.parametrize("flag, timeout, error", [
    ("--probe-hang", "300ms", "timed out after 300ms"),
    # An app that ignores its probe listener (closes it) fails the probe: opt-in means it
    # must serve it.
    ("--probe-close", PROBE["timeout"], "connection refused"),
])
def test_probe_without_an_answer_fails_the_reload(procs, port, flag, timeout, error):
    config = write_config(procs.tmp, port, pyapp(), workers=1,
                          extra_app={"probe": dict(PROBE, timeout=timeout)})
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=1)
    set_command(config, pyapp(flag))
    code, v = reload_json(sup)
    assert code == 1, v
    assert v["reason"]["cause"] == "probe", v
    assert error in v["error"], v
    still_serving(sup, port, before, body=f"gen={before['id']}")


def test_baton_web_serves_the_probe_out_of_the_box(procs, port):
    config = write_config(procs.tmp, port, [BATON_WEB, "--module", HELLO_MODULE], workers=2,
                          extra_app={"probe": PROBE})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    assert http_get(port)[0] == 200
    assert http_get(port, "/healthz")[0] == 404  # the built-in is on the probe listener only
    code, v = reload_json(sup)
    assert code == 0, v
    gen = sup.wait_ready(workers=2, generation=2)
    # Probe requests are not the application's traffic: only our two requests are counted.
    for _ in range(3):
        assert http_get(port)[0] == 200

    def counted():
        req = sup.active()["stats"]["requests"]
        return req if req == 3 else None

    wait_for(counted, timeout=10, what="the 3 requests counted, probes not")
    assert sup.active()["id"] == gen["id"]


def test_go_hello_serves_the_probe(procs, port):
    config = write_config(procs.tmp, port, [GO_HELLO], workers=2, extra_app={"probe": PROBE})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    assert http_get(port)[2] == b"Hello, World!"
    assert reload_json(sup)[0] == 0
    sup.wait_ready(workers=2, generation=2)
    # A path it does not serve there fails the probe (404): the probe really reaches it.
    text = config.read_text().replace('"path": "/healthz"', '"path": "/nope"')
    config.write_text(text)
    code, v = reload_json(sup)
    assert code == 1 and "404 Not Found (expected 200)" in v["error"], v


def test_probe_fails_probation_and_rolls_back(procs, port):
    probe = dict(PROBE, interval="100ms")
    config = write_config(procs.tmp, port, pyapp(), workers=2,
                          extra_app={"probe": probe, "probation": f"{int(10 * TIME_SCALE)}s"})
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=2)
    # Ready and probed fine at first, then its probe answers 503: probation fails.
    set_command(config, pyapp("--probe-fail-after", "800"))
    code, v = reload_json(sup)
    assert code == 1, v
    assert v["reason"]["cause"] == "probation", v
    assert "failed in probation: probe GET /healthz on worker" in v["error"], v
    assert "503 Service Unavailable (expected 200)" in v["error"], v
    gen = sup.wait_ready(workers=2)
    assert gen["id"] > before["id"] + 1  # the previous configuration, started again
    assert "gen=" in http_get(port)[2].decode()


def test_probe_listeners_do_not_leak_fds(procs, port):
    config = write_config(procs.tmp, port, pyapp(), workers=2, extra_app={"probe": PROBE})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    assert reload_json(sup)[0] == 0
    sup.wait_ready(workers=2, generation=2)
    baseline = open_sockets(sup.pid)
    for gen in range(3, 8):
        assert reload_json(sup)[0] == 0
        sup.wait_ready(workers=2, generation=gen)
    set_command(config, pyapp("--probe-status", "500"))
    for _ in range(3):
        assert reload_json(sup)[0] == 1
    wait_for(lambda: open_sockets(sup.pid) <= baseline, timeout=10,
             what=f"supervisor sockets back to {baseline}")


def pyapp_artifact(tmp, version, *args):
    """A release (like harness.make_artifact's) whose bin/app is pyapp with args."""
    src = tmp / f"src-{version}"
    (src / "bin").mkdir(parents=True)
    argv = " ".join(f"'{a}'" for a in [*pyapp(), *args])
    (src / "bin" / "app").write_text(f"#!/bin/sh\nexec {argv} \"$@\"\n")
    (src / "bin" / "app").chmod(0o755)
    (src / "VERSION").write_text(version + "\n")
    artifact = tmp / f"app-{version}.tar.gz"
    subprocess.run(["tar", "-C", src, "-czf", artifact, "."], check=True)
    return artifact


def test_deploy_whose_probe_fails_in_probation_is_rolled_back(procs, port):
    root = procs.tmp / "root"
    config = release_config(procs.tmp, port, root, probation="2s", requests=0, timeout="10s",
                            extra_app={"probe": dict(PROBE, interval="100ms")})
    sup = Supervisor(procs, config)
    wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="the control socket")
    code, _, result, r = deploy_json(sup, "deploy", pyapp_artifact(procs.tmp, "1.0"))
    assert code == 0 and result["verdict"] == "ok", r.stdout + r.stderr
    # 2.0 is ready and passes its first probes, then answers 503 inside probation.
    code, events, result, r = deploy_json(
        sup, "deploy", pyapp_artifact(procs.tmp, "2.0", "--probe-fail-after", "600"))
    assert code == 1, r.stdout + r.stderr
    assert result["verdict"] == "failed", result
    assert "probation: probe GET /healthz on worker" in result["error"], result
    assert "503 Service Unavailable (expected 200)" in result["error"], result
    assert "1.0 is serving again" in result["msg"], result
    assert os.readlink(root / "current") == "releases/1.0"
    wait_for(lambda: sup.active()["release"] == "1.0" and http_get(port)[0] == 200, timeout=15,
             what="1.0 serving again")
    rel = json.loads(sup.cli("releases", "--json").stdout)
    st = {x["version"]: x for x in rel["releases"]}["2.0"]
    assert st["state"] == "failed" and "probe GET /healthz" in st["reason"], st
