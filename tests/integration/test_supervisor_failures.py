# SPDX-License-Identifier: MIT
"""When things go wrong: a bad new generation is killed and the old one keeps serving with the
same workers; dying workers come back with backoff; drains are bounded; one transition at a
time; the control socket refuses strangers and survives garbage."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from harness import (BATON, READYAPP, TIME_SCALE, http_get, pid_alive, pids, pyapp, reload_json,
                     set_command, still_serving, Supervisor,
                     wait_for, write_config)











def test_command_not_found(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=2)
    set_command(config, ["bin/does-not-exist", "--flag"])
    r = sup.reload()
    assert r.returncode == 1
    assert "exec bin/does-not-exist: No such file or directory" in r.stdout + r.stderr
    code, verdict = reload_json(sup)
    assert code == 1
    assert verdict["reason"]["cause"] == "exec" and verdict["reason"]["errno"] == "ENOENT"
    still_serving(sup, port, before)


def test_exit_at_start_names_status_and_stderr(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=2)
    set_command(config, [READYAPP, "--status", "checking database", "--stderr",
                         "database unreachable", "--exit-at-start", "3"])
    code, v = reload_json(sup)
    assert code == 1
    assert v["ok"] is False and v["verdict"] == "failed"
    assert v["generation"] == 2 and v["previous"] == 1
    assert "exited with status 3" in v["error"]
    assert v["reason"]["cause"] == "exit" and v["reason"]["exit_status"] == 3
    assert any("database unreachable" in line for line in v["reason"]["stderr"])
    assert "generation 1 keeps serving" in v["msg"]
    still_serving(sup, port, before)
    st = sup.status()
    assert st["last_reload"]["generation"] == 2 and st["last_reload"]["ok"] is False
    # Never retried: the next attempt gets the next id.
    set_command(config, [READYAPP])
    assert sup.reload().returncode == 0
    assert sup.wait_ready(workers=2, generation=3)


def test_never_ready_times_out(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=1)
    config.write_text(config.read_text().replace(
        f'ready_timeout: "{int(10 * TIME_SCALE)}s"', f'ready_timeout: "{int(1 * TIME_SCALE)}s"'))
    set_command(config, [READYAPP, "--never-ready", "--status", "warming up"])
    start = time.monotonic()
    code, v = reload_json(sup)
    assert code == 1
    assert time.monotonic() - start >= 0.9 * TIME_SCALE
    assert v["reason"]["cause"] == "timeout" and "not ready within" in v["error"]
    assert v["reason"]["status"] == "warming up"
    still_serving(sup, port, before)
    # The never-ready worker is stopped, not left behind.
    wait_for(lambda: len(sup.status()["generations"]) == 1, timeout=10, what="failed gen gone")


def test_crash_mid_rollout_restores_the_old_generation(procs, port):
    config = write_config(procs.tmp, port, pyapp(), workers=2)
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=2)
    # Slot 0 of the new generation gets ready (and an old worker drains for it), then slot 1
    # dies by SIGSEGV before it is ready.
    set_command(config, pyapp("--crash-slot", "1"))
    code, v = reload_json(sup)
    assert code == 1
    assert v["reason"]["cause"] == "signal" and v["reason"]["signal"] == "SEGV"
    assert "restored" in v["msg"]
    gen = sup.wait_ready(workers=2, generation=1)
    # One old worker kept serving throughout; the drained one was replaced from generation 1.
    assert len(set(pids(gen)) & set(pids(before))) == 1
    assert http_get(port)[0] == 200
    assert "gen=1" in http_get(port)[2].decode()


def test_killed_worker_is_replaced(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    victim = gen["workers"][0]
    os.kill(victim["pid"], signal.SIGKILL)

    def replaced():
        g = sup.active()
        w = [w for w in g["workers"] if w["slot"] == victim["slot"]]
        return w and w[0]["pid"] not in (0, victim["pid"]) and w[0]["state"] == "ready" and w[0]
    w = wait_for(replaced, timeout=10, what="replacement")
    assert w["restarts"] == 1
    st = sup.status()
    assert st["restarts"] == 1 and st["crash_loop"] is False
    assert "was killed by SIGKILL" in sup.proc.log()


def test_crash_loop_backs_off(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--crash-after", "50"], workers=1,
                          extra_app={"restart": {"initial": "50ms", "max": "2s"}})
    sup = Supervisor(procs, config)
    st = wait_for(lambda: (s := sup.status())["crash_loop"] and s["restarts"] >= 4 and s,
                  timeout=20, what="crash loop")
    assert st["crash_loop_slots"] == [0]
    delays = [int(m) for m in re.findall(r"slot 0: restarting in (\d+)ms", sup.proc.log())]
    assert delays[:4] == [50, 100, 200, 400], delays
    assert "crash loop" in sup.proc.log()


def test_drain_deadline_kills_a_worker_ignoring_term(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--ignore-term"], workers=1,
                          extra_app={"drain_timeout": "1s"})
    sup = Supervisor(procs, config)
    old = sup.wait_ready(workers=1)["workers"][0]["pid"]
    start = time.monotonic()
    assert sup.reload().returncode == 0
    wait_for(lambda: not pid_alive(old), timeout=10, what="SIGKILL at drain_timeout")
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 5 * TIME_SCALE, elapsed
    assert "did not exit within 1000ms of the stop signal: SIGKILL" in sup.proc.log()


def test_busy_and_wait(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    set_command(config, [READYAPP, "--ready-after", str(int(1500 * TIME_SCALE))])
    slow = subprocess.Popen([str(BATON), "reload", "-c", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=procs.env(), text=True)
    try:
        wait_for(lambda: sup.status()["state"] == "reloading", timeout=10, what="reloading")
        r = sup.reload()
        assert r.returncode == 1
        assert "busy: generation 2 is starting" in r.stdout + r.stderr
        r = sup.reload("--wait")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "generation 3 is serving" in r.stdout
        assert slow.wait(30) == 0
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    # A queued reload bounded by --timeout gives up with its own error.
    slow = subprocess.Popen([str(BATON), "reload", "-c", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=procs.env(), text=True)
    try:
        wait_for(lambda: sup.status()["state"] == "reloading", timeout=10, what="reloading")
        r = sup.reload("--wait", "--timeout", "200ms")
        assert r.returncode == 1
        assert "timed out" in r.stdout + r.stderr
        assert slow.wait(30) == 0
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()


def test_delay_readiness(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--never-ready"], workers=1,
                          extra_app={"ready": "delay:500ms"})
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    assert gen["workers"][0]["ready_ms"] >= 500
    code, v = reload_json(sup)
    assert code == 0 and v["ok"] is True and v["timings"]["ready_ms"] >= 500


def test_in_place_reload(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=2)
    code, v = reload_json(sup, "--in-place")
    assert code == 0 and v["ok"] is True and v["generation"] == 1 and v["verdict"] == "reloaded"
    # The same processes reloaded themselves: nothing was started or drained.
    still_serving(sup, port, before)
    assert "sending SIGHUP" in sup.proc.log()


def test_in_place_reload_failure(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--fail-reload"], workers=1)
    sup = Supervisor(procs, config)
    before = sup.wait_ready(workers=1)
    code, v = reload_json(sup, "--in-place")
    assert code == 1 and v["ok"] is False
    assert v["reason"]["cause"] == "reload" and v["reason"]["errno"]
    still_serving(sup, port, before)


def run_as_nobody(code):
    return subprocess.run(["/usr/bin/python3", "-c", code], user=65534, group=65534,
                          extra_groups=[], capture_output=True, text=True, timeout=20)


def test_control_refuses_other_users(procs, port):
    # pytest's directories are private: put the socket where uid 65534 can reach it.
    sockdir = Path(tempfile.mkdtemp(prefix="baton-ctl-"))
    try:
        os.chmod(sockdir, 0o755)
        sock = sockdir / "baton.sock"
        config = write_config(procs.tmp, port, [READYAPP], workers=1, socket=sock)
        sup = Supervisor(procs, config)
        sup.wait_ready(workers=1)
        # Mode 0600: the file system refuses first.
        r = run_as_nobody(
            f"import socket; s=socket.socket(socket.AF_UNIX); s.connect({str(sock)!r})")
        assert r.returncode != 0 and "PermissionError" in r.stderr, r.stderr
        # Opened up by hand: the peer credentials check still refuses.
        os.chmod(sock, 0o666)
        r = run_as_nobody(
            "import socket; s=socket.socket(socket.AF_UNIX); "
            f"s.connect({str(sock)!r}); s.sendall(b'{{\"cmd\":\"status\"}}\\n'); "
            "print(s.makefile().readline())")
        reply = json.loads(r.stdout)
        assert reply == {"ok": False, "error": "permission denied: uid 65534 is not allowed"}
        assert sup.status()["ok"] is True
        assert "refused a client of uid 65534" in sup.proc.log()
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


def test_malformed_control_requests(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    sock = str(procs.tmp / "baton.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock)
        f = s.makefile("rb")
        for line, needle in [(b"garbage", "malformed JSON"), (b"[1,2]", "JSON object"),
                             (b'{"cmd":"launch"}', "unknown command"), (b"{}", "missing"),
                             (b'{"cmd":"reload","wait":"yes"}', "true or false"),
                             (b"\xff\xfe\x00", "malformed"),
                             # YAML is not JSON: a plain word, a duplicate key.
                             (b'{"cmd": reload}', "malformed JSON at byte 8"),
                             (b'{"cmd":"ping","cmd":"stop"}', "duplicate key")]:
            s.sendall(line + b"\n")
            reply = json.loads(f.readline())
            assert reply["ok"] is False and needle in reply["error"], (line, reply)
        # Still the same connection, still answering.
        s.sendall(b'{"cmd":"ping"}\n')
        assert json.loads(f.readline())["ok"] is True
        # Blank runs cost the reader one pass (libfyaml alone takes seconds over these), so the
        # answer comes within the socket timeout.
        s.sendall(b'{"cmd":"ping","x":[[1]' + b" " * 60000 + b"]}" + b" " * 4000 + b"\n")
        assert json.loads(f.readline())["ok"] is True
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock)
        try:
            s.sendall(b"x" * 200000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = s.recv(4096)
        assert json.loads(data.splitlines()[0]) == {"ok": False, "error": "request too long"}
    assert sup.status()["generation"] == 1


def test_first_generation_failure_exits_1(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--exit-at-start", "4"], workers=2)
    proc = procs.start([BATON, "run", "-c", config], name="baton")
    assert proc.wait(timeout=20) == 1
    assert "generation 1 failed: worker" in proc.log() and "exited with status 4" in proc.log()
    assert not (procs.tmp / "baton.sock").exists()

    set_command(config, ["bin/nope"])
    proc = procs.start([BATON, "run", "-c", config], name="baton")
    assert proc.wait(timeout=20) == 1
    assert "exec bin/nope: No such file or directory" in proc.log()


def test_user_switch(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1, extra_app={"user": "nobody"})
    sup = Supervisor(procs, config)
    pid = sup.wait_ready(workers=1)["workers"][0]["pid"]
    uids = next(l for l in open(f"/proc/{pid}/status") if l.startswith("Uid:")).split()[1:]
    assert uids == ["65534"] * 4
    config.write_text(config.read_text().replace('"nobody"', '"no-such-user-here"'))
    r = sup.reload()
    assert r.returncode != 0
    assert "no-such-user-here" in r.stdout + r.stderr
    assert sup.active()["workers"][0]["pid"] == pid
