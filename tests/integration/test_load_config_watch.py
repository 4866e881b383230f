# SPDX-License-Identifier: MIT
"""The config watch under load (control.watch, DESIGN.md Observability): an in-place write, an
editor's rename-over, a symlink swap, an edit of the symlink's target, the environment layer, and
a burst of 100 writes each become exactly one reload; an invalid file, a deleted one and a
directory in its place change nothing and are reported (status config_error with
file:line:column, metrics); the load client loses no request throughout."""
import json
import os
import re
import time

from harness import (BATON_WEB, HELLO_MODULE, TIME_SCALE, Supervisor, assert_lost_nothing, free_port,
                     loadgen, wait_for)
from metricslib import samples, scrape, status


def config_text(port, mport, marker, watch=True):
    return "\n".join([
        "name: watched",
        "listen:",
        f"  http: 127.0.0.1:{port}",
        "app:",
        "  command: " + json.dumps([str(BATON_WEB), "--module", str(HELLO_MODULE)]),
        "  workers: 2",
        f"  env: {{MARKER: \"{marker}\"}}",
        "  ready_timeout: 10s",
        "  drain_timeout: 10s",
        "log: {format: json, level: debug}",
        f"control: {{socket: {json.dumps(str(WATCHED_DIR[0] / 'baton.sock'))}, watch: {json.dumps(watch)}}}",
        "metrics:",
        f"  listen: 127.0.0.1:{mport}",
        "",
    ])


WATCHED_DIR = [None]


def write_atomic(path, text):
    """An editor's save: a temporary file renamed over the original."""
    tmp = path.parent / f".{path.name}.swp"
    tmp.write_text(text)
    os.rename(tmp, path)


def test_watch_under_load(procs, port):
    mport = free_port()
    conf_dir = procs.tmp / "conf"
    releases = procs.tmp / "releases"
    conf_dir.mkdir()
    releases.mkdir()
    WATCHED_DIR[0] = conf_dir
    config = conf_dir / "baton.yaml"
    config.write_text(config_text(port, mport, "m1"))
    (conf_dir / "baton.prod.yaml").write_text("app: {workers: 2}\n")
    sup = Supervisor(procs, config, env={"BATON_ENV": "prod"})
    sup.wait_ready(workers=2)
    gen = [1]

    def reloaded(what):
        gen[0] += 1
        wait_for(lambda: status(mport)["generation"] == gen[0], timeout=15,
                 what=f"{what}: generation {gen[0]}")
        sup.wait_ready(workers=2, generation=gen[0])
        st = status(mport)
        assert st["config_error"] is None, st["config_error"]

    seconds = int(40 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=16)
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")

    # In place, as `echo > file` does.
    config.write_text(config_text(port, mport, "m2"))
    reloaded("an in-place write")
    # An editor's rename-over.
    write_atomic(config, config_text(port, mport, "m3"))
    reloaded("a rename-over")
    # The environment layer beside it (BATON_ENV=prod).
    (conf_dir / "baton.prod.yaml").write_text("app: {workers: 2, max_surge: 2}\n")
    reloaded("the environment layer")

    # A symlink swap: baton.yaml -> ../releases/v1.yaml, then -> ../releases/v2.yaml.
    (releases / "v1.yaml").write_text(config_text(port, mport, "v1"))
    os.symlink(releases / "v1.yaml", conf_dir / "next")
    os.rename(conf_dir / "next", config)
    reloaded("a symlink to v1")
    (releases / "v2.yaml").write_text(config_text(port, mport, "v2"))
    os.symlink(releases / "v2.yaml", conf_dir / "next")
    os.rename(conf_dir / "next", config)
    reloaded("a symlink swap to v2")
    # An edit of the target, in the other directory.
    (releases / "v2.yaml").write_text(config_text(port, mport, "v2-edited"))
    reloaded("an edit of the symlink's target")
    os.unlink(config)
    config.write_text(config_text(port, mport, "plain"))
    reloaded("a plain file again")

    # An invalid change: nothing happens but a clear message, with file:line:column.
    config.write_text(config_text(port, mport, "bad") + "app: [oops\n")
    st = wait_for(lambda: (s := status(mport))["config_error"] and s, timeout=10,
                  what="config_error in /status")
    assert re.search(r"baton\.yaml:15:1: flow sequence", st["config_error"]), st["config_error"]
    assert st["generation"] == gen[0]
    m = samples(scrape(mport))
    assert m["baton_config_errors_total"] == 1 and m["baton_config_error"] == 1
    cli = sup.cli("status")
    assert "baton.yaml:" in cli.stdout + cli.stderr
    # Deleted, then a directory in its place: one message each, no reload, no crash.
    config.unlink()
    wait_for(lambda: samples(scrape(mport))["baton_config_errors_total"] == 2, timeout=10,
             what="the deletion reported")
    config.mkdir()
    wait_for(lambda: samples(scrape(mport))["baton_config_errors_total"] == 3, timeout=10,
             what="the directory reported")
    config.rmdir()
    config.write_text(config_text(port, mport, "fixed"))
    reloaded("the fix")
    assert samples(scrape(mport))["baton_config_error"] == 0

    # A burst of 100 writes in about a second: one reload. The marker change after it must be
    # the very next generation: a second reload from the burst would have taken its number.
    for i in range(100):
        config.write_text(config_text(port, mport, f"burst-{i}"))
        time.sleep(0.008)  # pacing: the writes come 8 ms apart, well inside the debounce
    reloaded("a burst of writes")
    write_atomic(config, config_text(port, mport, "after-burst"))
    reloaded("the change after the burst")

    # control.watch: false turns it off (the change that says so is the last one applied).
    write_atomic(config, config_text(port, mport, "unwatched", watch=False))
    reloaded("turning the watch off")
    wait_for(lambda: status(mport)["config_watch"] is False, timeout=5, what="the watch off")
    write_atomic(config, config_text(port, mport, "ignored", watch=False))
    assert sup.reload().returncode == 0  # an explicit reload still works
    reloaded("an explicit reload")

    m = samples(scrape(mport))
    assert m["baton_config_watch_reloads_total"] == gen[0] - 2  # all but gen 1 and the explicit one
    assert m['baton_reloads_total{result="failed"}'] == 0
    client.wait(timeout=seconds + 30)
    assert_lost_nothing(report, 1000, "config watch under load")
