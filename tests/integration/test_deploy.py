# SPDX-License-Identifier: MIT
"""baton deploy / rollback / releases, run by the supervisor (DESIGN.md "Deploy"): the first
deploy on an empty release.root, a healthy deploy committed after probation, every broken
release failing with its reason and the previous version serving, inconclusive probation, the
lock, bad input that changes nothing, retention, rollback, and the CLI going away mid-deploy."""
import json
import os
import signal
import threading

import pytest

from harness import (BATON, deploy_json, make_artifact, make_minisign_key, pid_alive, release_config,
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
    assert "release: no release (waiting for baton deploy)" in sup.cli("status").stdout
    r = sup.reload()  # nothing to reload yet: refused, and the supervisor goes on waiting
    assert r.returncode == 1 and "no release in release.root yet" in r.stderr, r.stderr
    sup.proc.signal(signal.SIGHUP)
    wait_for(lambda: sup.proc.log().count("no release in release.root yet") >= 2, what="SIGHUP refused")
    assert sup.proc.alive()
    code, events, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0"))
    assert code == 0, r.stdout + r.stderr
    assert result["ok"] and result["verdict"] == "ok" and result["version"] == "1.0", result
    steps = [e["step"] for e in events]
    for s in ("lock", "verify", "install", "switch", "reload", "probation"):
        assert s in steps, steps
    assert serving_version(port) == "1.0"
    assert os.readlink(root / "current") == "releases/1.0"
    assert sup.status()["release"] == "1.0"
    assert "release: 1.0" in sup.cli("status").stdout

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


def deployed(procs, port, root, version="1.0", **kw):
    """A supervisor with `version` deployed and committed."""
    sup = started(procs, port, root, **kw)
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, version))
    assert code == 0, r.stdout + r.stderr
    return sup


def release_state(sup, version):
    rel = json.loads(sup.cli("releases", "--json").stdout)
    return {x["version"]: x for x in rel["releases"]}.get(version)


BROKEN = {
    "exits at start": (["--exit-at-start", "3"], "exited with status 3"),
    "never ready": (["--never-ready"], "not ready"),
    "crashes during the rollout": (["--crash-slot", "1"], "SIGABRT"),
    "crashes after ready": (["--crash-after", "300"], "probation: worker"),
    "answers 5xx": (["--http-status", "500"], "were 5xx"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_release_fails_and_the_previous_one_serves(procs, port, case):
    root = procs.tmp / "root"
    args, reason = BROKEN[case]
    sup = deployed(procs, port, root, probation="2s", requests=20 if case == "answers 5xx" else 0,
                   timeout="10s", extra_app={"ready_timeout": "1s"})
    stop = threading.Event()

    def traffic():  # probation judges the 5xx share of real requests
        while not stop.is_set():
            try:
                serving_version(port)
            except OSError:
                pass
    t = threading.Thread(target=traffic)
    t.start()
    try:
        code, events, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "2.0", args))
        check_failed(sup, port, root, code, result, r, reason)
        # A failed release stays on disk, and the next good deploy goes through.
        assert (root / "releases" / "2.0").is_dir()
        code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "2.1"))
        assert code == 0 and result["verdict"] == "ok", r.stdout + r.stderr
    finally:
        stop.set()
        t.join()


def check_failed(sup, port, root, code, result, r, reason):
    assert code == 1, r.stdout + r.stderr
    assert not result["ok"] and result["verdict"] == "failed", result
    assert reason in result["error"], result
    assert "1.0 is serving again" in result["msg"] or "still serving 1.0" in result["msg"], result
    assert os.readlink(root / "current") == "releases/1.0"
    wait_for(lambda: serving_version(port) == "1.0" and sup.active()["release"] == "1.0",
             timeout=10, what="1.0 serving")
    wait_for(lambda: all(g["release"] == "1.0" for g in sup.status()["generations"]), timeout=15,
             what="2.0's workers gone")
    st = release_state(sup, "2.0")
    assert st["state"] == "failed" and reason in st["reason"], st
    assert release_state(sup, "1.0")["current"]


def test_too_little_traffic_is_inconclusive(procs, port):
    root = procs.tmp / "root"
    sup = deployed(procs, port, root, probation="200ms", requests=100000, timeout="1s")
    code, events, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "2.0"))
    assert code == 0 and result["ok"] and result["verdict"] == "inconclusive", result
    assert "INCONCLUSIVE" in result["msg"]
    r = sup.cli("deploy", make_artifact(procs.tmp, "2.1"))
    assert r.returncode == 0 and "INCONCLUSIVE" in r.stdout, r.stdout
    # one progress line per step on the terminal side, each with its duration
    assert any(line.split()[1] == "verify" and line.endswith(")") for line in r.stdout.splitlines()
               if line.startswith("[+")), r.stdout
    assert release_state(sup, "2.1")["verdict"] == "inconclusive"


def test_rollback_goes_to_the_previous_committed_release(procs, port):
    root = procs.tmp / "root"
    sup = deployed(procs, port, root, probation="100ms")
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "2.0"))[0] == 0
    code, events, result, r = deploy_json(sup, "rollback")
    assert code == 0 and result["version"] == "1.0" and result["from"] == "2.0", result
    assert serving_version(port) == "1.0" and sup.active()["release"] == "1.0"
    code, _, result, r = deploy_json(sup, "rollback", "2.0")
    assert code == 0 and serving_version(port) == "2.0", result
    code, _, result, r = deploy_json(sup, "rollback", "9.9")
    assert code == 1 and "9.9 is not installed" in result["error"], result
    code, _, result, r = deploy_json(sup, "rollback", "2.0")
    assert code == 1 and "already the current release" in result["error"], result


def test_retention_after_ten_failed_deploys(procs, port):
    root = procs.tmp / "root"
    sup = deployed(procs, port, root, probation="100ms", workers=1,
                   release_extra={"keep": 1})
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.1"))[0] == 0
    for i in range(10):
        code, _, result, r = deploy_json(sup, "deploy",
                                         make_artifact(procs.tmp, f"1.2.{i}", ["--exit-at-start", "1"]))
        assert code == 1, result
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "2.0"))[0] == 0
    left = sorted(p.name for p in (root / "releases").iterdir())
    assert not any(v.startswith("1.2.") for v in left), left  # failed ones pruned first
    code, _, result, r = deploy_json(sup, "rollback")
    assert code == 0 and result["version"] == "1.1", result
    assert serving_version(port) == "1.1"


def test_two_concurrent_deploys_exactly_one_proceeds(procs, port):
    root = procs.tmp / "root"
    sup = deployed(procs, port, root, probation="1s")
    a = procs.start([BATON, "deploy", make_artifact(procs.tmp, "2.0"), "-c", sup.config], name="deploy-a")
    wait_for(lambda: "deploy" in sup.status(), timeout=10, what="deploy running")
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "3.0"))
    assert code == 1 and result.get("busy") and result["error"].startswith("busy: deploy of 2.0 (pid "), result
    assert a.wait(timeout=30) == 0, a.log()
    assert not (root / "releases" / "3.0").exists()
    # --wait queues behind the running one
    a = procs.start([BATON, "deploy", make_artifact(procs.tmp, "4.0"), "-c", sup.config], name="deploy-b")
    wait_for(lambda: "deploy" in sup.status(), timeout=10, what="deploy running")
    code, _, result, r = deploy_json(sup, "deploy", "--wait", make_artifact(procs.tmp, "5.0"))
    assert code == 0 and result["from"] == "4.0", result
    assert a.wait(timeout=30) == 0


def test_killing_the_cli_does_not_stop_the_deploy(procs, port):
    root = procs.tmp / "root"
    sup = deployed(procs, port, root, probation="1s")
    cli = procs.start([BATON, "deploy", make_artifact(procs.tmp, "2.0"), "-c", sup.config], name="deploy")
    wait_for(lambda: "probation" in cli.log(), timeout=10, what="probation")
    cli.signal(signal.SIGKILL)
    wait_for(lambda: (release_state(sup, "2.0") or {}).get("state") == "committed", timeout=10,
             what="2.0 committed")
    assert serving_version(port) == "2.0"


def test_bad_input_changes_nothing(procs, port):
    root = procs.tmp / "root"
    key = make_minisign_key(procs.tmp)
    other = make_minisign_key(procs.tmp, "other")
    # with trust: the first deploy must be signed too
    sup = started(procs, port, root, probation="100ms", release_extra={"trust": str(key[0])})
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0", key=key))[0] == 0
    before = tree(root)
    cases = [
        (make_artifact(procs.tmp, "2.0"), [], "signature"),
        (make_artifact(procs.tmp, "2.1", key=other), [], "key"),
        (make_artifact(procs.tmp, "2.2", key=key, comment="file:app-9.tar.gz version:2.2"), [], "app-9.tar.gz"),
        (make_artifact(procs.tmp, "0.9", key=key), [], "0.9"),
        (make_artifact(procs.tmp, "1.0", key=key, name="again"), ["--allow-downgrade"], "already exists"),
    ]
    for artifact, extra, words in cases:
        code, _, result, r = deploy_json(sup, "deploy", artifact, *extra)
        assert code == 1 and not result["ok"] and words in result["error"], (artifact, result)
        assert tree(root) == before, artifact
    # a dry run says what would happen and writes nothing
    code, events, result, r = deploy_json(sup, "deploy", "--dry-run", make_artifact(procs.tmp, "3.0", key=key))
    assert code == 0 and result["dry_run"], result
    assert "would install releases/3.0" in events[-1]["msg"] and "from 1.0 to 3.0" in events[-1]["msg"]
    assert tree(root) == before
    # legacy signatures verify too
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "3.1", key=key, prehash=False))[0] == 0


def test_deploy_without_release_root(procs, port):
    from harness import READYAPP, write_config
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0"))
    assert code == 1 and "release.root" in result["error"], result
    r = sup.cli("releases")
    assert r.returncode == 1 and "release.root" in r.stderr


@pytest.mark.parametrize("point", ["journal-begin", "journal-verified", "install-rename",
                                   "journal-installed", "switch-link", "switch-rename",
                                   "journal-switched", "journal-probation", "journal-committed",
                                   "journal-done"])
def test_kill_9_mid_deploy_then_restart(procs, port, point):
    root = procs.tmp / "root"
    config = release_config(procs.tmp, port, root, probation="100ms")
    sup = Supervisor(procs, config, env={"BATON_TEST_KILL_AT": point})
    wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="control socket")
    # The kill points fire on every journal record: the first deploy needs a clean supervisor.
    sup.proc.signal(signal.SIGTERM)
    sup.proc.wait()
    sup = Supervisor(procs, config)
    wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="control socket")
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0"))[0] == 0
    sup.proc.signal(signal.SIGTERM)
    sup.proc.wait()
    sup = Supervisor(procs, config, env={"BATON_TEST_KILL_AT": point})
    sup.wait_ready(workers=2)
    r = sup.cli("deploy", make_artifact(procs.tmp, "2.0"))
    assert r.returncode != 0
    wait_for(lambda: not sup.proc.alive(), timeout=10, what="the supervisor killed")
    for pid in procs.marked_pids():  # its orphaned workers
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not procs.marked_pids(), timeout=10, what="orphans gone")
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    want = "2.0" if point in ("journal-committed", "journal-done") else "1.0"
    assert os.readlink(root / "current") == f"releases/{want}"
    assert (root / "current" / "VERSION").read_text() == want + "\n"
    assert serving_version(port) == want
    assert not [p for p in (root / "releases").iterdir() if p.name.startswith(".")]
    st = release_state(sup, "2.0")
    if want == "2.0":
        assert st["state"] == "committed", st
    else:  # nothing unfinished is counted as committed
        assert st is None or st["state"] in ("failed", "unfinished"), st
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "3.0"))
    assert code == 0 and result["verdict"] == "ok", r.stdout + r.stderr


@pytest.mark.parametrize("healthy", [True, False])
def test_kill_9_in_probation_resumes_probation(procs, port, healthy):
    """Killed in probation while the new release's workers serve: the restarted supervisor takes
    them over, keeps `current` and restarts probation on a new generation of that release;
    passing commits it, failing rolls back as usual (DESIGN.md "Crash safety")."""
    root = procs.tmp / "root"
    config = release_config(procs.tmp, port, root, probation="100ms")
    sup = Supervisor(procs, config)
    wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="control socket")
    assert deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0"))[0] == 0
    config.write_text(config.read_text().replace('probation: "100ms"', 'probation: "6s"'))
    sup.proc.signal(signal.SIGTERM)
    sup.proc.wait()
    sup = Supervisor(procs, config, env={"BATON_TEST_KILL_AT": "journal-probation"})
    sup.wait_ready(workers=2)
    # A sick 2.0 crashes 2.5 s after it starts: after the takeover, inside the new probation.
    args = () if healthy else ("--crash-after", "2500")
    r = sup.cli("deploy", make_artifact(procs.tmp, "2.0", args))
    assert r.returncode != 0
    wait_for(lambda: not sup.proc.alive(), timeout=10, what="the supervisor killed")
    assert os.readlink(root / "current") == "releases/2.0"
    orphans = procs.marked_pids()
    assert orphans  # 2.0's workers live on, serving
    sup = Supervisor(procs, config)
    if healthy:
        gen = sup.wait_ready(workers=2)
        assert gen["release"] == "2.0"
        wait_for(lambda: (release_state(sup, "2.0") or {}).get("state") == "committed",
                 timeout=20, what="2.0 committed after its resumed probation")
        assert os.readlink(root / "current") == "releases/2.0"
        assert serving_version(port) == "2.0"
        assert "probation restarts" in sup.proc.log()
    else:
        wait_for(lambda: (release_state(sup, "2.0") or {}).get("state") == "failed",
                 timeout=30, what="2.0 failed in its resumed probation")
        st = release_state(sup, "2.0")
        assert "probation: worker" in st["reason"], st  # judged, not merely switched back
        assert os.readlink(root / "current") == "releases/1.0"
        wait_for(lambda: serving_version(port) == "1.0" and sup.active()["release"] == "1.0",
                 timeout=15, what="1.0 serving again")
    def drained():
        left = [p for p in orphans if pid_alive(p)]
        assert not left or sup.proc.alive()
        return not left
    try:
        wait_for(drained, timeout=20, what="the orphans drained")
    except AssertionError:
        left = {p: open(f"/proc/{p}/cmdline").read().replace("\0", " ") for p in orphans
                if pid_alive(p)}
        raise AssertionError(f"orphans left: {left}\n{sup.proc.log()[-6000:]}")
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "3.0"))
    assert code == 0 and result["verdict"] == "ok", r.stdout + r.stderr


def test_plain_reload_probation(procs, port):
    """app.probation: the verdict of `baton reload` waits for the new generation to stay up that
    long; a crash inside it brings the previous generation's configuration back."""
    from harness import READYAPP, set_command, write_config
    import time
    config = write_config(procs.tmp, port, [READYAPP, "--body", "one"], workers=2,
                          extra_app={"probation": "1s"})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    set_command(config, [READYAPP, "--body", "two"])
    t = time.monotonic()
    r = sup.reload("--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.monotonic() - t >= 1.0
    assert json.loads(r.stdout.splitlines()[-1])["probation_ms"] == 1000
    assert serving_version(port) == "two"
    set_command(config, [READYAPP, "--body", "three", "--crash-after", "300"])
    r = sup.reload("--json")
    assert r.returncode == 1, r.stdout + r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    assert "failed in probation" in result["error"] and "SIGABRT" in result["error"], result
    assert "rolled back" in result["msg"], result
    wait_for(lambda: serving_version(port) == "two", timeout=10, what="'two' serving again")
    gen = sup.wait_ready(workers=2)
    assert gen["command"][-1] == "two"


def test_a_failed_first_deploy_leaves_no_release(procs, port):
    root = procs.tmp / "root"
    sup = started(procs, port, root, extra_app={"ready_timeout": "1s"})
    journal = root / ".baton" / "journal.jsonl"
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "0.1"), "--version", "bad/")
    assert code == 1 and "bad/" in result["error"], result
    assert not journal.exists() or journal.read_text() == ""  # a refusal journals nothing
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.0", ["--exit-at-start", "2"]))
    assert code == 1 and "exited with status 2" in result["error"], result
    assert not os.path.lexists(root / "current")
    st = sup.status()
    assert st["release"] is None and sup.proc.alive(), st
    assert release_state(sup, "1.0")["state"] == "failed"
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.1"))
    assert code == 0 and result["verdict"] == "ok", result
    assert serving_version(port) == "1.1"
