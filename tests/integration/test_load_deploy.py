# SPDX-License-Identifier: MIT
"""Zero loss through deploys: the accounting load client (64 connections, keep-alive and
Connection: close) runs while a release is deployed → probation → committed, while a release
that fails 1 s after it said ready is rolled back by itself, and while `baton rollback` runs.
Every request must be answered with a 2xx."""
import os

import pytest

from harness import (TIME_SCALE, assert_lost_nothing, deploy_json, loadgen, make_artifact,
                     read_report, release_config, serving_version, Supervisor, wait_for)

MODES = ["keepalive", "close"]


def supervisor(procs, port, **kw):
    root = procs.tmp / "root"
    sup = Supervisor(procs, release_config(procs.tmp, port, root, **kw))
    wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="the control socket")
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0"))
    assert code == 0, r.stdout + r.stderr
    return sup, root


def under_load(procs, port, mode, seconds):
    client, report = loadgen(procs, port, seconds, connections=64, close=(mode == "close"))
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")
    return client, report


def finish(client, report, seconds, mode):
    client.wait(timeout=seconds + 30)
    result = assert_lost_nothing(report, 500, mode)
    print(f"{mode}: {result['sent']} sent, {result['failed']} failed")
    return result


@pytest.mark.parametrize("mode", MODES)
def test_deploy_probation_commit_loses_nothing(procs, port, mode):
    sup, root = supervisor(procs, port, probation="1s", requests=100)
    seconds = int(6 * TIME_SCALE)
    client, report = under_load(procs, port, mode, seconds)
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "2.0"))
    assert code == 0 and result["verdict"] == "ok", r.stdout + r.stderr
    assert client.alive(), "the load ended before the deploy did: make the run longer"
    finish(client, report, seconds, mode)
    assert serving_version(port) == "2.0"


@pytest.mark.parametrize("mode", MODES)
def test_failure_after_ready_rolls_back_and_loses_nothing(procs, port, mode):
    # The new release fails 1 s after it said ready: it stops accepting, answers what it holds
    # and exits 1 (readyapp --fail-after). An abort() instead loses, by itself, the requests the
    # dying process held (test_deploy.py checks that such a crash is rolled back too).
    sup, root = supervisor(procs, port, probation="3s", requests=0)
    seconds = int(8 * TIME_SCALE)
    client, report = under_load(procs, port, mode, seconds)
    code, _, result, r = deploy_json(sup, "deploy",
                                     make_artifact(procs.tmp, "2.0", ["--fail-after", "1000"]))
    assert code == 1 and "probation: worker" in result["error"], r.stdout + r.stderr
    assert client.alive(), "the load ended before the rollback did: make the run longer"
    finish(client, report, seconds, mode)
    assert serving_version(port) == "1.0"
    assert os.readlink(root / "current") == "releases/1.0"


@pytest.mark.parametrize("mode", MODES)
def test_rollback_loses_nothing(procs, port, mode):
    sup, root = supervisor(procs, port, probation="200ms", requests=0)
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "2.0"))[0] == 0
    seconds = int(4 * TIME_SCALE)
    client, report = under_load(procs, port, mode, seconds)
    code, _, result, r = deploy_json(sup, "rollback")
    assert code == 0 and result["version"] == "1.0", r.stdout + r.stderr
    assert client.alive()
    finish(client, report, seconds, mode)
    assert serving_version(port) == "1.0"
