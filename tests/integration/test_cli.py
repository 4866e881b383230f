# SPDX-License-Identifier: MIT
"""The `baton` command line (DESIGN.md "Command line", a contract): usage errors, exit codes,
messages, and the control-socket client, first against a scripted control server (to see
every kind of reply rendered), then against a real supervisor running a small app."""
import json
import os
import shutil
import socket
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from harness import BATON, TIME_SCALE, Supervisor, free_port, http_get, wait_for, write_config

VERSION = "0.1.0"


def baton(procs, *args, env=None, cwd=None, timeout=30.0):
    return procs.run([BATON, *args], env=env, cwd=cwd, timeout=timeout)


# --- usage, version, help --------------------------------------------------------------------


def test_version(procs):
    for argv in (["version"], ["--version"]):
        r = baton(procs, *argv)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"baton {VERSION}\n"
        assert r.stderr == ""


def test_help(procs):
    r = baton(procs, "--help")
    assert r.returncode == 0
    for command in ("run", "reload", "status", "stop", "config", "version"):
        assert f"\n  {command} " in r.stdout
    assert baton(procs, "help").stdout == r.stdout
    for command, option in (("run", "--listen"), ("reload", "--in-place"), ("status", "--json"),
                            ("stop", "--fast")):
        a, b = baton(procs, "help", command), baton(procs, command, "--help")
        assert a.returncode == 0 and b.returncode == 0
        assert a.stdout == b.stdout
        assert a.stdout.startswith(f"usage: baton {command}")
        assert option in a.stdout


def test_config_is_dispatched(procs, tmp_path):
    a, b = baton(procs, "help", "config"), baton(procs, "config", "--help")
    assert a.returncode == 0 and b.returncode == 0
    assert a.stdout == b.stdout
    assert a.stdout.startswith("usage: baton config")
    (tmp_path / "baton.yaml").write_text(f"listen:\n  http: 127.0.0.1:{free_port()}\n"
                                         "app:\n  command: [/bin/true]\n  workers: 3\n")
    r = baton(procs, "config", "--json", "--set", "app.workers=5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["config"]["app"]["workers"] == 5
    r = baton(procs, "config", "--set", "app.workers=many", cwd=tmp_path)
    assert r.returncode == 2
    assert "app.workers" in r.stderr


@pytest.mark.parametrize("argv, message", [
    ([], "a command is needed"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["-s", "x.sock", "status"], "unknown option '-s'"),
    (["status", "--bogus"], "unknown option '--bogus' for 'baton status'"),
    (["status", "extra"], "unexpected argument 'extra'"),
    (["reload", "--timeout", "soon"], "invalid duration 'soon'"),
    (["reload", "--wait=1"], "option '--wait' takes no value"),
    (["stop", "--json"], "unknown option '--json' for 'baton stop'"),
    (["run", "--listen", "127.0.0.1:1"], "--listen needs the command to run after --"),
    (["run", "--listen", ":1", "--workers", "0", "--", "true"], "--workers needs"),
    (["run", "--", "true"], "needs --listen"),
    (["run", "--set", "workers"], "--set needs KEY=VALUE"),
    (["help", "nope"], "unknown command 'nope'"),
])
def test_usage_errors_exit_2(procs, argv, message):
    r = baton(procs, *argv)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("baton: ")
    assert message in r.stderr.splitlines()[0]
    assert "usage: baton" in r.stderr


# --- no supervisor reachable: exit 3 ---------------------------------------------------------


@pytest.mark.parametrize("command", ["reload", "status", "stop"])
def test_no_supervisor_exit_3(procs, tmp_path, command):
    missing = tmp_path / "missing.sock"
    r = baton(procs, command, "-s", missing)
    assert r.returncode == 3, r.stderr
    assert r.stderr == f"baton: no supervisor at {missing} (connect: No such file or directory)\n"
    assert r.stdout == ""

    # A socket file nobody listens on any more (what a killed supervisor leaves behind).
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))
    r = baton(procs, command, env={"BATON_SOCKET": str(stale)})
    assert r.returncode == 3, r.stderr
    assert r.stderr == f"baton: no supervisor at {stale} (connect: Connection refused)\n"

    # Neither -s, BATON_SOCKET nor ./baton.yaml: the socket of `baton run --listen` in the cwd.
    r = baton(procs, command, cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert r.stderr == (f"baton: no supervisor at {tmp_path}/baton.sock "
                        "(connect: No such file or directory)\n")


def test_socket_option_wins_over_environment_and_config(procs, tmp_path):
    (tmp_path / "baton.yaml").write_text("this: [is not valid\n")
    r = baton(procs, "status", "-s", tmp_path / "a.sock", env={"BATON_SOCKET": str(tmp_path / "b.sock")})
    assert r.returncode == 3
    assert f"{tmp_path}/a.sock" in r.stderr
    r = baton(procs, "status", env={"BATON_SOCKET": str(tmp_path / "b.sock")})
    assert r.returncode == 3
    assert f"{tmp_path}/b.sock" in r.stderr


def test_socket_from_config_file(procs, tmp_path):
    sub = tmp_path / "site"
    sub.mkdir()
    (sub / "baton.yaml").write_text(textwrap.dedent(f"""\
        listen:
          http: 127.0.0.1:{free_port()}
        app:
          command: [/bin/true]
        control:
          socket: run/ctl.sock
        """))
    r = baton(procs, "status", "-c", sub / "baton.yaml")
    assert r.returncode == 3, r.stderr
    assert r.stderr == (f"baton: no supervisor at {sub}/run/ctl.sock "
                        "(connect: No such file or directory)\n")
    r = baton(procs, "reload", cwd=sub)  # ./baton.yaml by default
    assert r.returncode == 3, r.stderr
    assert f"{sub}/run/ctl.sock" in r.stderr


def test_invalid_config_still_names_its_socket(procs, tmp_path):
    """A broken file still names the supervisor's socket; with nobody there the exit code is 3,
    as with -s, after the file's errors (what a reload would fail on)."""
    (tmp_path / "baton.yaml").write_text("listen:\n  http: 127.0.0.1:8080\napp:\n  workers: many\n")
    for argv in (["status"], ["reload"], ["stop"], ["status", "-c", tmp_path / "baton.yaml"]):
        r = baton(procs, *argv, cwd=tmp_path)
        assert r.returncode == 3, (argv, r.stderr)
        assert r.stderr.startswith("baton: warning: the configuration has errors; a reload "
                                   "would fail on:\nbaton: "), r.stderr
        assert "baton.yaml:4:12: app.workers must be a positive integer" in r.stderr
        assert r.stderr.endswith(f"baton: no supervisor at {tmp_path}/baton.sock "
                                 "(connect: No such file or directory)\n"), r.stderr
    # A file that cannot be read names nothing: a usage error.
    r = baton(procs, "status", "-c", tmp_path / "nothere.yaml")
    assert r.returncode == 2
    assert "nothere.yaml" in r.stderr


# --- a scripted control server ---------------------------------------------------------------

FAKE_SUPERVISOR = r'''
import json, os, socket, sys, time
path, scenario_path, log_path = sys.argv[1:4]
scenario = json.load(open(scenario_path))
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
open(path + ".ready", "w").close()
for step in scenario:
    conn, _ = srv.accept()
    f = conn.makefile("rb")
    if step.get("read", True):
        with open(log_path, "ab") as log:
            log.write(f.readline())
    for item in step.get("send", []):
        if isinstance(item, (int, float)):
            time.sleep(item)
        else:
            conn.sendall(item.encode())
    if step.get("hold"):
        f.read()  # until the client hangs up
    if step.get("exit"):
        time.sleep(step.get("linger", 0))
        os.unlink(path)
        sys.exit(0)
    f.close()  # the file object holds the socket open too
    conn.close()
'''


class FakeSupervisor:
    def __init__(self, procs, tmp_path, scenario):
        self.sock = tmp_path / "fake.sock"
        self.log = tmp_path / "requests.jsonl"
        script = tmp_path / "fake_supervisor.py"
        script.write_text(FAKE_SUPERVISOR)
        (tmp_path / "scenario.json").write_text(json.dumps(scenario))
        self.proc = procs.start([sys.executable, script, self.sock, tmp_path / "scenario.json", self.log],
                                name="fake")
        wait_for(lambda: Path(f"{self.sock}.ready").exists(), what="the fake supervisor")

    def requests(self):
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def line(obj):
    return json.dumps(obj) + "\n"


STATUS = {
    "ok": True, "name": "hello", "pid": 4242, "version": VERSION, "state": "running",
    "uptime_ms": 303000, "generation": 4,
    "listeners": [{"name": "http", "address": "127.0.0.1:8080", "fd": 3}],
    "generations": [
        {"id": 4, "state": "active", "started_ms_ago": 62000,
         "command": ["bin/baton-web", "--module", "modules/hello.so", "it's"], "dir": "/srv/hello",
         "workers": [{"pid": 1235, "slot": 0, "state": "ready", "restarts": 0, "status": "serving",
                      "ready_ms": 12},
                     {"pid": 1236, "slot": 1, "state": "backoff", "restarts": 7, "status": "",
                      "ready_ms": None}]},
        {"id": 3, "state": "draining", "started_ms_ago": 3700000, "command": ["old"], "dir": "/srv",
         "workers": [{"pid": 1100, "slot": 0, "state": "draining", "restarts": 0, "status": "bye"}]},
    ],
    "restarts": 7, "crash_loop": True, "crash_loop_slots": [1],
    "last_reload": {"ok": True, "generation": 4, "previous": 3, "verdict": "ready",
                    "timings": {"ready_ms": 35, "total_ms": 1250}, "msg": "generation 4 is serving"},
}

FAILED = {
    "ok": False, "generation": 5, "previous": 4, "verdict": "failed",
    "error": "generation 5 failed: worker 1234 exited with status 3 before it was ready",
    "reason": {"cause": "exit", "exit_status": 3, "status": "loading routes",
               "stderr": ["panic: no config", "exiting"]},
    "msg": "rolled back: generation 4 keeps serving",
}


def test_status_json_and_human(procs, tmp_path):
    fake = FakeSupervisor(procs, tmp_path, [{"send": [line(STATUS)]}, {"send": [line(STATUS)]}])
    r = baton(procs, "status", "--json", "-s", fake.sock)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1
    assert json.loads(r.stdout) == STATUS

    r = baton(procs, "status", "-s", fake.sock)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("hello: running, supervisor pid 4242, up 5m3s, serving generation 4")
    assert "listen: http 127.0.0.1:8080 (fd 3)" in out
    assert "generation 4: active, started 1m2s ago" in out
    assert "command: bin/baton-web --module modules/hello.so 'it'\\''s'" in out
    assert "generation 3: draining, started 1h1m ago" in out
    rows = [l.split() for l in out.splitlines() if l.startswith("  ") and l.split()[0].isdigit()]
    assert rows[0] == ["1235", "0", "ready", "0", "12ms", "serving"]
    assert rows[1] == ["1236", "1", "backoff", "7", "-"]
    assert rows[2][:3] == ["1100", "0", "draining"]
    assert "warning: crash loop" in out and "(slots 1)" in out
    assert "last reload: ok: generation 4 is serving (ready in 35ms, 1.2s in all)" in out
    assert fake.requests() == [{"cmd": "status"}, {"cmd": "status"}]


def test_reload_streams_progress_then_succeeds(procs, tmp_path):
    events = [{"event": "progress", "msg": "generation 5: starting 2 workers", "gen": 5, "elapsed_ms": 3},
              {"event": "progress", "msg": "generation 5: 2 of 2 ready", "gen": 5, "elapsed_ms": 1500}]
    result = {"ok": True, "generation": 5, "previous": 4, "verdict": "ready",
              "timings": {"ready_ms": 35, "total_ms": 40}, "msg": "generation 5 is serving"}
    fake = FakeSupervisor(procs, tmp_path, [
        {"send": [line(events[0]), 0.05, line(events[1]), line(result)]},
        {"send": [line(events[0]), line(events[1]), line(result)]},
    ])
    r = baton(procs, "reload", "-s", fake.sock)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "[+3ms] generation 5: starting 2 workers",
        "[+1.5s] generation 5: 2 of 2 ready",
        "generation 5 is serving (ready in 35ms, 40ms in all)",
    ]
    r = baton(procs, "reload", "--json", "--wait", "--timeout", "90s", "-s", fake.sock)
    assert r.returncode == 0, r.stderr
    assert [json.loads(l) for l in r.stdout.splitlines()] == events + [result]
    assert fake.requests() == [
        {"cmd": "reload", "wait": False, "timeout_ms": 0},
        {"cmd": "reload", "wait": True, "timeout_ms": 90000},
    ]


def test_reload_failure_busy_and_in_place(procs, tmp_path):
    busy = {"ok": False, "busy": True, "error": "busy: generation 5 is starting"}
    unsupported = {"ok": False, "error": "in-place reload is not supported by this supervisor"}
    fake = FakeSupervisor(procs, tmp_path, [
        {"send": [line(FAILED)]}, {"send": [line(FAILED)]}, {"send": [line(busy)]},
        {"send": [line(unsupported)]},
    ])
    r = baton(procs, "reload", "-s", fake.sock)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        "baton: generation 5 failed: worker 1234 exited with status 3 before it was ready",
        "  cause: exit, exit status 3",
        "  last STATUS=loading routes",
        "  stderr (last lines):",
        "    | panic: no config",
        "    | exiting",
        "  rolled back: generation 4 keeps serving",
    ]
    r = baton(procs, "reload", "--json", "-s", fake.sock)
    assert r.returncode == 1
    assert json.loads(r.stdout) == FAILED
    r = baton(procs, "reload", "-s", fake.sock)
    assert r.returncode == 1
    assert r.stderr.startswith("baton: busy: generation 5 is starting\n")
    assert "--wait" in r.stderr
    r = baton(procs, "reload", "--in-place", "-s", fake.sock)
    assert r.returncode == 1
    assert r.stderr == "baton: in-place reload is not supported by this supervisor\n"
    assert fake.requests()[3] == {"cmd": "reload", "wait": False, "timeout_ms": 0, "in_place": True}


def test_refusal_and_broken_replies_exit_1(procs, tmp_path):
    refusal = {"ok": False, "error": "permission denied: uid 1000 is not allowed"}
    fake = FakeSupervisor(procs, tmp_path, [
        {"read": False, "send": [line(refusal)]},
        {"send": ["this is not json\n"]},
        {"send": []},
        {"send": ['{"ok":true}{"ok":false}\n']},
    ])
    r = baton(procs, "status", "-s", fake.sock)
    assert r.returncode == 1
    assert r.stderr == "baton: permission denied: uid 1000 is not allowed\n"
    r = baton(procs, "status", "-s", fake.sock)
    assert r.returncode == 1
    assert r.stderr == f"baton: unreadable reply from the supervisor at {fake.sock}: this is not json\n"
    r = baton(procs, "reload", "-s", fake.sock)
    assert r.returncode == 1
    assert r.stderr == f"baton: the supervisor at {fake.sock} closed the connection without an answer\n"
    r = baton(procs, "status", "--json", "-s", fake.sock)
    assert r.returncode == 1
    assert "unreadable reply" in r.stderr


def test_reload_timeout_bounds_the_client(procs, tmp_path):
    fake = FakeSupervisor(procs, tmp_path, [{"send": [], "hold": True}])
    start = time.monotonic()
    r = baton(procs, "reload", "--timeout", "300ms", "-s", fake.sock)
    took = time.monotonic() - start
    assert r.returncode == 1
    assert r.stderr == f"baton: timed out waiting for the supervisor at {fake.sock}\n"
    assert 0.3 <= took < 5 * TIME_SCALE


def test_stop_waits_for_the_supervisor_to_exit(procs, tmp_path):
    fake = FakeSupervisor(procs, tmp_path, [{"send": [line({"ok": True})], "exit": True, "linger": 0.3}])
    start = time.monotonic()
    r = baton(procs, "stop", "-s", fake.sock)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - start >= 0.3
    assert fake.proc.popen.poll() == 0  # it is gone by the time stop returns
    assert r.stdout == f"stopped (supervisor pid {fake.proc.pid})\n"
    assert fake.requests() == [{"cmd": "stop", "fast": False}]


def test_stop_fast_and_timeout(procs, tmp_path):
    fake = FakeSupervisor(procs, tmp_path, [{"send": [line({"ok": True})], "hold": True}])
    r = baton(procs, "stop", "--fast", "--timeout", "300ms", "-s", fake.sock)
    assert r.returncode == 1
    assert r.stderr == f"baton: the supervisor at {fake.sock} is still stopping after 300ms (--timeout)\n"
    assert fake.requests() == [{"cmd": "stop", "fast": True}]


# --- against a real supervisor ---------------------------------------------------------------

APP = r'''
import os, select, signal, socket, sys, time
if os.path.exists("fail"):
    sys.stderr.write("app: refusing to start: fail file present\n")
    sys.exit(3)
assert os.environ["LISTEN_FDS"] == "1" and int(os.environ["LISTEN_PID"]) == os.getpid()
listener = socket.socket(fileno=3)
listener.setblocking(False)  # several workers wake for one connection: the losers must not block
stopping = False
def stop(*_):
    global stopping
    stopping = True
signal.signal(signal.SIGTERM, stop)
addr = os.environ["NOTIFY_SOCKET"]
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.connect("\0" + addr[1:] if addr.startswith("@") else addr)
def reload_in_place(*_):  # systemd's notify-reload: RELOADING=1, then READY=1
    notify.send(b"RELOADING=1\nMONOTONIC_USEC=%d" % (time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))
    notify.send(b"READY=1\nSTATUS=reloaded in place")
signal.signal(signal.SIGHUP, reload_in_place)
notify.send(b"READY=1\nSTATUS=serving")
while not stopping:
    if not select.select([listener], [], [], 0.05)[0]:
        continue
    try:
        conn, _ = listener.accept()
    except BlockingIOError:  # another worker took it
        continue
    with conn:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        body = f"hello from {os.getpid()}\n".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
'''


def write_app(tmp_path):
    (tmp_path / "app.py").write_text(APP)


def write_cli_config(tmp_path, port, **kw):
    """baton.yaml for APP (written by write_app) under the name clitest."""
    return write_config(tmp_path, port, [sys.executable, "app.py"], name="clitest", **kw)


def status_json(procs, *target, cwd=None, env=None):
    r = baton(procs, "status", "--json", *target, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def serving(procs, *target, gen=None, cwd=None, env=None):
    """The status once generation `gen` (any, when None) is active with all its workers ready."""
    try:
        st = status_json(procs, *target, cwd=cwd, env=env)
    except AssertionError:
        return None
    for g in st["generations"]:
        if g["state"] == "active" and (gen is None or g["id"] == gen) and g["workers"] and \
                all(w["state"] == "ready" for w in g["workers"]):
            return st
    return None


def test_round_trip_with_a_real_supervisor(procs, tmp_path):
    port = free_port()
    write_app(tmp_path)
    sup = Supervisor(procs, write_cli_config(tmp_path, port), cwd=tmp_path)
    st = wait_for(lambda: serving(procs, cwd=tmp_path), timeout=20, interval=0.1,
                  what="generation 1 serving")
    assert st["ok"] is True
    assert st["name"] == "clitest"
    assert st["pid"] == sup.pid
    assert st["version"] == VERSION
    gen1 = st["generation"]
    workers = [w["pid"] for g in st["generations"] if g["id"] == gen1 for w in g["workers"]]
    assert len(workers) == 2
    assert http_get(port)[0] == 200

    # Human status.
    r = baton(procs, "status", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"clitest: running, supervisor pid {sup.pid}")
    assert f"generation {gen1}: active" in r.stdout
    for pid in workers:
        assert f"  {pid} " in r.stdout

    # Reload, human then JSON: each one a new generation that serves.
    r = baton(procs, "reload", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    st = status_json(procs, cwd=tmp_path)
    gen2 = st["generation"]
    assert gen2 > gen1
    assert f"generation {gen2}" in r.stdout
    assert st["last_reload"]["ok"] is True
    r = baton(procs, "reload", "--json", "--wait", "--timeout", "30s", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert lines[-1]["ok"] is True and lines[-1]["generation"] > gen2
    assert all("event" in l for l in lines[:-1])
    gen3 = lines[-1]["generation"]
    st = wait_for(lambda: serving(procs, cwd=tmp_path, gen=gen3), timeout=20, what="generation 3")
    pids3 = sorted(w["pid"] for g in st["generations"] if g["id"] == gen3 for w in g["workers"])

    # In place: the same workers are told to reload (SIGHUP -> RELOADING=1 ... READY=1).
    r = baton(procs, "reload", "--in-place", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"generation {gen3} reloaded in place" in r.stdout
    st = status_json(procs, cwd=tmp_path)
    assert st["generation"] == gen3
    active = [g for g in st["generations"] if g["id"] == gen3][0]
    assert sorted(w["pid"] for w in active["workers"]) == pids3
    assert all(w["status"] == "reloaded in place" for w in active["workers"])

    # A new generation that cannot start: exit 1 with the reason, and the old one keeps serving.
    (tmp_path / "fail").write_text("")
    r = baton(procs, "reload", cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "exit status 3" in r.stderr, r.stderr
    assert "refusing to start" in r.stderr
    assert f"generation {gen3}" in r.stderr  # rolled back: generation N keeps serving
    (tmp_path / "fail").unlink()
    st = status_json(procs, cwd=tmp_path)
    assert st["generation"] == gen3
    assert st["last_reload"]["ok"] is False
    assert http_get(port)[0] == 200
    r = baton(procs, "status", cwd=tmp_path)
    assert "last reload: failed" in r.stdout

    # Stop: returns once the supervisor is gone, and took its workers and socket with it.
    r = baton(procs, "stop", "-c", tmp_path / "baton.yaml", cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"stopped (supervisor pid {sup.pid})\n"
    assert sup.proc.popen.poll() == 0
    r = baton(procs, "status", cwd=tmp_path)
    assert r.returncode == 3


def test_socket_option_and_environment_with_a_real_supervisor(procs, tmp_path):
    port = free_port()
    write_app(tmp_path)
    write_cli_config(tmp_path, port, socket="ctl/baton.sock")
    (tmp_path / "ctl").mkdir()
    sup = Supervisor(procs, cwd=tmp_path)  # ./baton.yaml by default
    sock = tmp_path / "ctl" / "baton.sock"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    wait_for(lambda: serving(procs, "-s", sock, cwd=elsewhere), timeout=20, interval=0.1,
             what="the supervisor via -s")
    st = status_json(procs, cwd=elsewhere, env={"BATON_SOCKET": str(sock)})
    assert st["pid"] == sup.pid
    r = baton(procs, "stop", "--fast", cwd=elsewhere, env={"BATON_SOCKET": str(sock)})
    assert r.returncode == 0, r.stderr
    assert sup.proc.popen.poll() is not None


@pytest.mark.parametrize("breakage", ["value", "syntax"])
def test_broken_config_on_disk_still_reaches_the_supervisor(procs, tmp_path, breakage):
    """status, stop and reload need only the control socket: a broken file on disk does not
    cut the supervisor off. A bad value leaves control.socket readable from the file; a file
    that is not YAML any more leaves the default beside it."""
    port = free_port()
    write_app(tmp_path)
    socket_path = "ctl/baton.sock" if breakage == "value" else "baton.sock"
    (tmp_path / "ctl").mkdir()
    write_cli_config(tmp_path, port, socket=socket_path)
    good = (tmp_path / "baton.yaml").read_text()
    sup = Supervisor(procs, tmp_path / "baton.yaml", cwd=tmp_path)
    sock = tmp_path / socket_path
    gen = wait_for(lambda: serving(procs, cwd=tmp_path), timeout=20, interval=0.1,
                   what="generation 1 serving")["generation"]

    if breakage == "value":
        (tmp_path / "baton.yaml").write_text(good.replace("  workers: 2\n", "  workers: many\n"))
    else:
        (tmp_path / "baton.yaml").write_text(good + "oops: [unterminated\n")
    for target in ([], ["-c", tmp_path / "baton.yaml"], ["-s", sock]):
        r = baton(procs, "status", *target, cwd=tmp_path)
        assert r.returncode == 0, (target, r.stderr)
        assert r.stdout.startswith(f"clitest: running, supervisor pid {sup.pid}")
        if target and target[0] == "-s":
            assert r.stderr == ""
        else:
            assert r.stderr.startswith("baton: warning: the configuration has errors; a reload "
                                       "would fail on:\nbaton: "), r.stderr
            lines = good.splitlines()
            where = (f"baton.yaml:{lines.index('  workers: 2') + 1}:12: app.workers"
                     if breakage == "value" else
                     f"baton.yaml:{len(lines) + 2}:1: flow sequence without a closing bracket")
            assert where in r.stderr, r.stderr
        st = status_json(procs, *target, cwd=tmp_path)
        assert st["pid"] == sup.pid and st["generation"] == gen

    # A reload fails on exactly that, with exit 1 whichever way the supervisor is named, and
    # the generation keeps serving.
    for target in ([], ["-c", tmp_path / "baton.yaml"], ["-s", sock]):
        r = baton(procs, "reload", *target, cwd=tmp_path)
        assert r.returncode == 1, (target, r.stdout, r.stderr)
        assert "baton.yaml:" in r.stderr, r.stderr
        assert "warning: the configuration has errors" not in r.stderr  # said once, by the reply
    assert status_json(procs, "-s", sock)["generation"] == gen
    assert http_get(port)[0] == 200

    # Stop works too, and returns once the supervisor is gone.
    r = baton(procs, "stop", "-c", tmp_path / "baton.yaml", cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"stopped (supervisor pid {sup.pid})\n"
    assert "a reload would fail on" in r.stderr
    assert sup.proc.wait() == 0


def test_run_without_a_config_file(procs, tmp_path):
    port = free_port()
    write_app(tmp_path)
    sup = Supervisor(procs, cwd=tmp_path, args=("--listen", f"127.0.0.1:{port}", "--workers", "3",
                                                 "--", sys.executable, "app.py"))
    # No -s, no ./baton.yaml: the CLI finds ./baton.sock, where this supervisor put its socket.
    st = wait_for(lambda: serving(procs, cwd=tmp_path), timeout=20, interval=0.1,
                  what="the no-config supervisor")
    active = [g for g in st["generations"] if g["id"] == st["generation"]][0]
    assert len(active["workers"]) == 3
    assert st["listeners"][0]["address"] == f"127.0.0.1:{port}"
    assert http_get(port)[0] == 200
    r = baton(procs, "stop", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sup.proc.wait() == 0


def test_run_with_a_bad_config_exits_2(procs, tmp_path):
    (tmp_path / "baton.yaml").write_text("listen:\n  http: 127.0.0.1:8080\napp:\n  workers: -1\n")
    r = baton(procs, "run", cwd=tmp_path)
    assert r.returncode == 2
    assert "baton.yaml:4:" in r.stderr
    r = baton(procs, "run", "-c", tmp_path / "missing.yaml")
    assert r.returncode == 2
    assert "missing.yaml" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the client as another user")
def test_control_group_admits_its_members_and_nobody_else(procs):
    # A directory everyone may enter, so only the socket's own mode and the supervisor's
    # credential check stand between another user and the supervisor.
    base = Path(tempfile.mkdtemp(prefix="baton-cli-"))
    try:
        base.chmod(0o755)
        port = free_port()
        write_app(base)
        Supervisor(procs, write_cli_config(base, port, socket=base / "baton.sock", control={"group": "nogroup"}),
                   cwd=base)
        wait_for(lambda: serving(procs, cwd=base), timeout=20, interval=0.1, what="the supervisor")
        assert (base / "baton.sock").stat().st_mode & 0o777 == 0o660

        def as_user(gid, *argv):
            return procs.run(["setpriv", "--reuid=65534", f"--regid={gid}", "--clear-groups",
                              BATON, *argv])

        # Outside the socket's group: the file system refuses the connection.
        r = as_user(12345, "status", "-s", base / "baton.sock")
        assert r.returncode == 1, r.stderr
        assert r.stderr == (f"baton: not allowed to talk to the supervisor at {base}/baton.sock "
                            "(connect: Permission denied)\n")
        # A member of control.group (nogroup), neither root nor the supervisor's user: the
        # supervisor checks the peer's credentials and lets it in.
        r = as_user(65534, "status", "--json", "-s", base / "baton.sock")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["ok"] is True
        r = as_user(65534, "reload", "-s", base / "baton.sock")
        assert r.returncode == 0, r.stdout + r.stderr
        assert serving(procs, cwd=base)  # still there
    finally:
        r = baton(procs, "stop", "--fast", "-s", base / "baton.sock")
        shutil.rmtree(base, ignore_errors=True)
