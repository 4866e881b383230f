# SPDX-License-Identifier: MIT
"""baton-web modules: refusal at start (exit 2 with the reason), private copies, in-place swaps
on SIGHUP and with --dev, and the notify messages around them."""
import json
import os
import shutil
import signal
import socket

import pytest

from harness import (BATON_WEB, HELLO_MODULE, TEST_MODULES, TIME_SCALE, Notify, exchange, free_port,
                     get, loadgen, read_report, refused, start_web, wait_for)


@pytest.mark.parametrize("module,message", [
    ("wrong_abi.so", "module built for ABI 2, this baton-web speaks ABI 1"),
    ("failing_init.so", "init failed: database unreachable at db.invalid:5432"),
    ("missing_symbol.so", "missing symbol baton_module"),
    ("does-not-exist.so", "cannot read: No such file or directory"),
])
def test_bad_module_is_refused_at_start(procs, module, message):
    path = TEST_MODULES / module
    r = procs.run([BATON_WEB, "--listen", f"127.0.0.1:{free_port()}", "--module", HELLO_MODULE,
                   "--module", path], timeout=20)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and str(path) in r.stderr


def test_usage_and_config_errors_exit_2(procs, tmp_path):
    r = procs.run([BATON_WEB, "--bogus"])
    assert r.returncode == 2
    r = procs.run([BATON_WEB, "--module", HELLO_MODULE])
    assert r.returncode == 2 and "no listener" in r.stderr
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("listen: 127.0.0.1:1\nlimits:\n  body_bytez: 10\n")
    r = procs.run([BATON_WEB, "--config", cfg])
    assert r.returncode == 2
    assert r.stderr == (f"baton-web: {cfg}:3:3: unknown key 'body_bytez' in limits "
                        "(did you mean 'body_bytes'?)\n")
    cfg.write_text("timeouts: {header: soon}\n")
    r = procs.run([BATON_WEB, "--config", cfg])
    assert r.returncode == 2
    assert r.stderr == (f"baton-web: {cfg}:1:20: timeouts.header: bad duration 'soon': use "
                        "250ms, 30s, 5m\n")
    r = procs.run([BATON_WEB, "--header-timeout", "10 parsecs"])
    assert r.returncode == 2 and "--header-timeout" in r.stderr


def test_config_errors_are_those_of_the_config_library(procs, tmp_path):
    """baton-web's --config is read by the same loader as baton.yaml: every problem at once, each
    at FILE:LINE:COLUMN, with "did you mean" for a misspelt key and the same duration, size and
    address parsers."""
    cfg = tmp_path / "web.yaml"
    cfg.write_text("listen: [127.0.0.1:99999, ':80']\n"
                   "modles: [a.so]\n"
                   "modules:\n  - {path: m.so, confg: {a: 1}}\n"
                   "limits: {header_bytes: 2MiB, body_bytes: lots, header_count: -1}\n"
                   "timeouts:\n  keepalive: 1 minute\n  drian: 1s\n"
                   "access_log: maybe\n"
                   "static: [a, b]\n"
                   "dev: yes\n"
                   "dev: no\n")
    r = procs.run([BATON_WEB, "--config", cfg])
    assert r.returncode == 2
    # A file that is not a valid document is refused before any key is looked at.
    assert r.stderr == f"baton-web: {cfg}:12:1: duplicate key 'dev' (first at 11:1)\n"
    cfg.write_text("\n".join(cfg.read_text().splitlines()[:-1]) + "\n")
    r = procs.run([BATON_WEB, "--config", cfg])
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"baton-web: {cfg}:{where}" for where in (
        "1:10: listen: bad address '127.0.0.1:99999': port must be a number from 0 to 65535",
        "2:1: unknown key 'modles' (did you mean 'modules'?)",
        "4:18: unknown key 'confg' in modules (did you mean 'config'?)",
        "5:24: limits.header_bytes must be from 0 to 1MiB, not '2MiB'",
        "5:42: limits.body_bytes: bad size 'lots': use bytes (8192) or a unit (8KiB, 1MB)",
        "5:62: limits.header_count must be a non-negative integer, not '-1'",
        "7:14: timeouts.keepalive: bad duration '1 minute': use 250ms, 30s, 5m",
        "8:3: unknown key 'drian' in timeouts (did you mean 'drain'?)",
        "9:13: access_log must be true or false, not 'maybe'",
        "10:9: static must be a path, not a list",
    )], r.stderr
    # Not YAML: the parser's own message, at its place.
    cfg.write_text("listen: [127.0.0.1:8080\n")
    r = procs.run([BATON_WEB, "--config", cfg])
    assert r.returncode == 2
    assert r.stderr.startswith(f"baton-web: {cfg}:2:1: flow sequence without a closing bracket")
    r = procs.run([BATON_WEB, "--config", tmp_path / "missing.yaml"])
    assert r.returncode == 2
    assert r.stderr == f"baton-web: {tmp_path}/missing.yaml: No such file or directory\n"


def test_config_sizes_and_relative_paths(procs, tmp_path):
    """Sizes take units, a module's path is relative to the file, and its config is handed over
    as JSON with YAML's scalars typed."""
    cfg = tmp_path / "conf" / "web.yaml"
    cfg.parent.mkdir()
    shutil.copy(TEST_MODULES / "stream.so", cfg.parent / "stream.so")
    cfg.write_text("limits: {body_bytes: 1KiB, uri_bytes: 256B}\n"
                   "modules:\n  - path: stream.so\n"
                   "    config: {n: 5, ok: true, s: '5', x: ~, l: [1.5, b]}\n")
    port = start_web(procs, "--config", cfg, modules=()).port
    assert json.loads(exchange(port, get("/config"))[0][2]) == \
        {"n": 5, "ok": True, "s": "5", "x": None, "l": [1.5, "b"]}
    refused(port, b"POST /config HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n", 413)
    refused(port, get("/" + "a" * 300), 414)


def test_private_copy_and_sighup_swap(procs, tmp_path):
    notify = Notify(tmp_path)
    app = tmp_path / "app.so"
    shutil.copy(HELLO_MODULE, app)
    proc, port = start_web(procs, modules=(app,), env={"NOTIFY_SOCKET": notify.env})
    wait_for(lambda: notify.seen("READY=1"), what="READY=1")
    # Overwrite the file in place: the running code is a private copy, so nothing changes.
    with open(app, "r+b") as f:
        f.write(b"\0" * os.path.getsize(app))
    assert exchange(port, get("/"))[0][2] == b"Hello, World!"
    # A reload of a broken file is refused and the old module keeps serving.
    notify.messages.clear()
    proc.signal(signal.SIGHUP)
    wait_for(lambda: notify.seen("ERRNO="), what="the refused reload")
    assert notify.seen("RELOADING=1") and notify.seen("reload refused")
    assert exchange(port, get("/"))[0][2] == b"Hello, World!"
    # Replace the file (rename over it, as builds do) with another module and reload.
    tmp = tmp_path / "app.so.new"
    shutil.copy(TEST_MODULES / "stream.so", tmp)
    os.rename(tmp, app)
    notify.messages.clear()
    proc.signal(signal.SIGHUP)
    wait_for(lambda: any(m.startswith("READY=1") or "\nREADY=1" in m or m == "READY=1"
                         for _, m in notify.poll()) and notify.seen("RELOADING=1"),
             what="RELOADING=1 then READY=1")
    assert exchange(port, get("/stream"))[0][2] == b"chunk 0\nchunk 1\nchunk 2\n"
    assert exchange(port, get("/"))[0][0] == 404
    assert '"reloaded: 1 modules' in proc.log()
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert notify.seen("STOPPING=1")
    notify.close()


def test_dev_mode_swaps_a_rebuilt_module(procs, tmp_path):
    app = tmp_path / "app.so"
    shutil.copy(TEST_MODULES / "stream.so", app)
    proc, port = start_web(procs, "--dev", modules=(app,))
    assert exchange(port, get("/"))[0][0] == 404
    tmp = tmp_path / "app.so.tmp"
    shutil.copy(HELLO_MODULE, tmp)
    os.rename(tmp, app)
    wait_for(lambda: exchange(port, get("/"))[0][2] == b"Hello, World!", what="the swap")
    assert exchange(port, get("/stream"))[0][0] == 404


def test_stats_reach_the_supervisor(procs, tmp_path):
    notify = Notify(tmp_path)
    _, port = start_web(procs, env={"NOTIFY_SOCKET": notify.env})
    for _ in range(5):
        exchange(port, get("/"))

    def stats():
        for _, m in reversed(notify.poll()):
            if m.startswith("BATON_STATS="):
                # docs/protocol.md: space-separated key=value counters.
                s = dict(kv.split("=", 1) for kv in m[len("BATON_STATS="):].split())
                s = {k: int(v) for k, v in s.items()}
                if s["responses_2xx"] >= 5:
                    return s
        return None

    s = wait_for(stats, what="BATON_STATS with our requests")
    assert s["requests"] >= 5 and s["accepted"] >= 5 and s["connections"] >= 0
    notify.close()


def test_a_supervisor_that_stops_reading_never_stalls_serving(procs, tmp_path):
    """BATON_STATS is sent without waiting: with the receiver's queue full (a busy supervisor),
    serving goes on, and the counters arrive once there is room (they are cumulative)."""
    notify = Notify(tmp_path)
    web = start_web(procs, env={"NOTIFY_SOCKET": notify.env})
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    filler.setblocking(False)
    queued = 0
    while queued < 10000:
        try:
            filler.sendto(b"X-TEST-FILLER=1", notify.env)
            queued += 1
        except BlockingIOError:
            break
    filler.close()
    assert 0 < queued < 10000
    # Stats go out every second: a send that waited would stall every request for its 2 s.
    lg, report = loadgen(procs, web.port, seconds=int(3 * TIME_SCALE), connections=8)
    assert lg.wait(30) == 0, lg.log()
    r = read_report(report)
    assert r["failed"] == 0 and r["ok"] > 100 and r["longest_gap_ms"] < 1000, r

    def stats():
        for _, m in reversed(notify.poll()):
            if m.startswith("BATON_STATS="):
                return dict(kv.split("=", 1) for kv in m[len("BATON_STATS="):].split())
        return None

    assert int(wait_for(stats, what="BATON_STATS once there is room")["requests"]) >= r["ok"]
    notify.close()


def test_config_reload_asks_the_running_module(procs, tmp_path):
    cfg = tmp_path / "web.yaml"
    module = TEST_MODULES / "stream.so"
    cfg.write_text(f"modules:\n  - path: {module}\n    config: {{mode: first}}\n")
    proc, port = start_web(procs, "--config", cfg, modules=())
    assert json.loads(exchange(port, get("/config"))[0][2]) == {"mode": "first"}
    # The running module refuses the new text: nothing changes.
    cfg.write_text(f"modules:\n  - path: {module}\n    config: {{mode: reject}}\n")
    proc.signal(signal.SIGHUP)
    wait_for(lambda: "new configuration refused: this configuration says reject" in proc.log(),
             what="the refusal")
    assert json.loads(exchange(port, get("/config"))[0][2]) == {"mode": "first"}
    # A configuration it accepts is applied by a fresh copy of the module.
    cfg.write_text(f"modules:\n  - path: {module}\n    config: {{mode: second}}\n")
    proc.signal(signal.SIGHUP)
    wait_for(lambda: json.loads(exchange(port, get("/config"))[0][2]) == {"mode": "second"},
             what="the new configuration")
    # At start, init refuses it: exit 2 with the reason.
    cfg.write_text(f"modules:\n  - path: {module}\n    config: {{mode: reject}}\n")
    r = procs.run([BATON_WEB, "--listen", f"127.0.0.1:{free_port()}", "--config", cfg])
    assert r.returncode == 2 and "init failed: this configuration says reject" in r.stderr
