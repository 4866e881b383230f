"""baton deploy / rollback / releases, run by the supervisor (DESIGN.md "Deploy"): the first
deploy on an empty release.root, a healthy deploy committed after probation, every broken
release failing with its reason and the previous version serving, inconclusive probation, the
lock, bad input that changes nothing, retention, rollback, and the CLI going away mid-deploy."""
import json
import os
import signal
import threading

import pytest

from harness import (BATON, deploy_json, make_artifact, make_minisign_key, release_config,
                     serving_version, Supervisor, wait_for)


def started(procs, port, root, **kw):
    config = release_config(procs.tmp, port, root, **kw)
    sup = Supervisor(procs, config)
    wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="the control socket")
    return sup


def tree(root):
    """Everything under root but the journal and the lock: what a refused deploy must not change."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            if "/.baton" in p:
                continue
            out[os.path.relpath(p, root)] = os.readlink(p) if os.path.islink(p) else None
    return out


def test_first_deploy_on_an_empty_root_then_a_committed_one(procs, port):
    root = procs.tmp / "root"
    sup = started(procs, port, root)
    st = sup.status()
    assert st["generation"] is None and st["release"] is None, st
    code, events, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0"))
    assert code == 0, r.stdout + r.stderr
    assert result["ok"] and result["verdict"] == "ok" and result["version"] == "1.0", result
    steps = [e["step"] for e in events]
    for s in ("lock", "verify", "install", "switch", "reload", "probation"):
        assert s in steps, steps
    assert serving_version(port) == "1.0"
    assert os.readlink(root / "current") == "releases/1.0"
    assert sup.status()["release"] == "1.0"

    code, events, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.1"))
    assert code == 0 and result["verdict"] == "ok" and result["from"] == "1.0", result
    assert serving_version(port) == "1.1"
    gen = sup.active()
    assert gen["release"] == "1.1" and gen["dir"] == str((root / "releases" / "1.1").resolve())

    r = sup.cli("releases", "--json")
    rel = json.loads(r.stdout)
    by = {x["version"]: x for x in rel["releases"]}
    assert by["1.1"]["current"] and by["1.1"]["state"] == "committed" and by["1.0"]["state"] == "committed"
    assert len(by["1.1"]["sha256"]) == 64
    r = sup.cli("releases")
    assert r.returncode == 0 and "* 1.1" in r.stdout, r.stdout
