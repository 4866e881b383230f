# SPDX-License-Identifier: MIT
"""The supervisor's everyday life: start, serve, status, reload, stop; what a worker inherits.

Runs the real `baton run` with real workers (tests/apps/readyapp, tests/integration/apps/pyapp.py)
on loopback ports; every test checks that nothing it started outlives it (the procs fixture).
"""
import json
import os
import signal
import socket
import stat
import time

from harness import (BATON, READYAPP, TIME_SCALE, Supervisor, free_port, http_get, pid_alive, pyapp,
                     set_listen, start_activated, wait_for, write_config)




def control(path, request, timeout=10.0):
    """Sends one raw request line on the control socket; returns every reply line parsed."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout * TIME_SCALE)
        s.connect(str(path))
        s.sendall(request if isinstance(request, bytes) else (json.dumps(request) + "\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            lines = data.decode().splitlines()
            if lines and data.endswith(b"\n") and "event" not in json.loads(lines[-1]):
                break
    return [json.loads(line) for line in data.decode().splitlines()]


def body(port):
    status, _, text = http_get(port)
    assert status == 200
    return text.decode()


def test_start_serve_status_stop(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--status", "serving"], workers=2)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    assert body(port)

    st = sup.status()
    assert st["ok"] is True
    assert st["name"] == "test"
    assert st["pid"] == sup.proc.pid
    assert st["state"] == "running"
    assert st["generation"] == 1
    assert st["listeners"] == [{"name": "http", "address": f"127.0.0.1:{port}", "fd": 3, "state": "open",
                               "systemd": False, "generations": [1]}]
    assert st["restarts"] == 0 and st["crash_loop"] is False and st["last_reload"] is None
    [gen] = st["generations"]
    assert gen["id"] == 1 and gen["state"] == "active"
    assert gen["command"] == [str(READYAPP), "--status", "serving"]
    assert gen["dir"] == str(procs.tmp)
    assert sorted(w["slot"] for w in gen["workers"]) == [0, 1]
    for w in gen["workers"]:
        assert w["state"] == "ready" and w["restarts"] == 0
        assert w["status"] == "serving"
        assert w["ready_ms"] >= 0
        assert pid_alive(w["pid"])
    pids = [w["pid"] for w in gen["workers"]]

    # Graceful stop: the workers drain, the supervisor exits 0 and cleans up its socket.
    assert sup.stop() == 0
    assert not any(pid_alive(p) for p in pids)
    assert not (procs.tmp / "baton.sock").exists()
    log = sup.proc.log()
    assert "stopping (draining)" in log


def test_worker_inherits_only_its_listeners(procs, port):
    # /bin/sleep opens nothing itself: its fds are exactly what it inherited.
    config = write_config(procs.tmp, port, ["/bin/sleep", "600"], workers=1,
                          extra_app={"ready": "delay:50ms"})
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    pid = gen["workers"][0]["pid"]

    fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
    assert fds == [0, 1, 2, 3], f"worker holds fds {fds}"
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    for fd in (1, 2):
        assert os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:")
    # fd 3 is the supervisor's own listening socket (the same open file description).
    listener = os.readlink(f"/proc/{pid}/fd/3")
    sup_links = {os.readlink(f"/proc/{sup.proc.pid}/fd/{fd}")
                 for fd in os.listdir(f"/proc/{sup.proc.pid}/fd")}
    assert listener.startswith("socket:") and listener in sup_links

    env = dict(e.split("=", 1) for e in
               open(f"/proc/{pid}/environ", "rb").read().decode().split("\0") if "=" in e)
    assert env["LISTEN_FDS"] == "1"
    assert env["LISTEN_PID"] == str(pid)
    assert env["LISTEN_FDNAMES"] == "http"
    assert env["BATON_GENERATION"] == "1"
    assert env["BATON_WORKER"] == "0"
    assert env["NOTIFY_SOCKET"].startswith("@")
    # Its own process group (not its own session: issue 10's autogroup cost): a Ctrl-C on the
    # supervisor's terminal does not reach it, and stopping it reaches all it started.
    assert os.getpgid(pid) == pid and os.getpgid(pid) != os.getpgid(sup.proc.pid)


def test_app_env_and_dir(procs, port):
    appdir = procs.tmp / "app"
    appdir.mkdir()
    config = write_config(procs.tmp, port, [READYAPP], workers=1,
                          extra_app={"dir": "app", "env": {"APP_FLAVOUR": "mint", "LISTEN_FDS": "9"}})
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    pid = gen["workers"][0]["pid"]
    assert os.readlink(f"/proc/{pid}/cwd") == str(appdir)
    env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    assert b"APP_FLAVOUR=mint" in env
    assert b"LISTEN_FDS=1" in env and b"LISTEN_FDS=9" not in env


def test_reload_replaces_every_worker(procs, port):
    config = write_config(procs.tmp, port, pyapp(), workers=2)
    sup = Supervisor(procs, config)
    old = sup.wait_ready(workers=2)
    old_pids = {w["pid"] for w in old["workers"]}
    assert "gen=1" in body(port)

    r = sup.reload()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "generation 2 is serving" in r.stdout
    new = sup.wait_ready(workers=2, generation=2)
    assert not ({w["pid"] for w in new["workers"]} & old_pids)
    wait_for(lambda: not any(pid_alive(p) for p in old_pids), timeout=10, what="old workers")
    assert "gen=2" in body(port)
    last = sup.status()["last_reload"]
    assert last["ok"] is True and last["generation"] == 2 and last["previous"] == 1
    assert last["timings"]["ready_ms"] >= 0
    assert sup.stop() == 0


def test_blue_green_and_sighup(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=3,
                          extra_app={"strategy": "blue-green"})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=3)
    r = sup.reload("--json")
    assert r.returncode == 0
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    progress = [e["msg"] for e in lines if e.get("event") == "progress"]
    assert any("starting 3 workers" in m for m in progress)
    # Blue-green: nothing is drained before all three new workers are ready.
    assert not any("draining worker" in m for m in progress)
    assert lines[-1]["ok"] is True and lines[-1]["generation"] == 2

    sup.proc.signal(signal.SIGHUP)
    sup.wait_ready(workers=3, generation=3)
    assert sup.stop() == 0


def test_fast_stop_does_not_wait(procs, port):
    # The app ignores SIGTERM and drain_timeout is long: only an immediate SIGKILL is fast.
    config = write_config(procs.tmp, port, [READYAPP, "--ignore-term"], workers=2,
                          extra_app={"drain_timeout": "60s"})
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    start = time.monotonic()
    assert sup.stop(fast=True) == 0
    assert time.monotonic() - start < 5 * TIME_SCALE
    assert not any(pid_alive(w["pid"]) for w in gen["workers"])


def test_stop_through_the_control_socket(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    r = sup.cli("stop")
    assert r.returncode == 0, r.stderr
    assert sup.proc.wait(timeout=20) == 0


def test_unix_listener(procs):
    path = procs.tmp / "app.sock"
    config = write_config(procs.tmp, 1, [READYAPP], workers=1)
    config.write_text(config.read_text().replace("http: 127.0.0.1:1", f"http: unix:{path}"))
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    assert stat.S_ISSOCK(path.stat().st_mode)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200")
    assert sup.stop() == 0
    assert not path.exists()


def test_address_in_use(procs):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(procs.tmp, port, [READYAPP], workers=1)
        proc = procs.start([BATON, "run", "-c", config], name="baton")
        assert proc.wait(timeout=10) == 2
    assert f"listen http: 127.0.0.1:{port}: Address already in use" in proc.log()


def sd_next(sd):
    """The next notify message the supervisor sent to "systemd", past its FDSTORE=1 ones."""
    while True:
        data, fds, _, _ = socket.recv_fds(sd, 4096, 8)
        for fd in fds:
            os.close(fd)
        if not data.startswith(b"FDSTORE=1"):
            return data.decode()


def sd_until(sd, match):
    """The next notify message to "systemd" that match(text) accepts, with the fds it carried."""
    while True:
        data, fds, _, _ = socket.recv_fds(sd, 4096, 8)
        if match(data.decode()):
            return data.decode(), fds
        for fd in fds:
            os.close(fd)


def test_systemd_notify(procs, port):
    notify_path = procs.tmp / "notify.sock"
    sd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sd.bind(str(notify_path))
    sd.settimeout(10 * TIME_SCALE)
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config, env={"NOTIFY_SOCKET": str(notify_path)})
    try:
        assert sd_next(sd).startswith("READY=1")
        gen = sup.wait_ready(workers=1)
        # The worker gets the supervisor's notify socket, not systemd's.
        env = open(f"/proc/{gen['workers'][0]['pid']}/environ", "rb").read().split(b"\0")
        assert f"NOTIFY_SOCKET={notify_path}".encode() not in env
        assert sup.reload().returncode == 0
        reloading = sd_next(sd)
        assert reloading.startswith("RELOADING=1\nMONOTONIC_USEC=")
        assert sd_next(sd).startswith("READY=1")
        sup.proc.signal(signal.SIGTERM)
        assert sd_next(sd) == "STOPPING=1"
        assert sup.proc.wait(timeout=20) == 0
    finally:
        sd.close()


def test_config_error_on_reload_changes_nothing(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    good = config.read_text()
    config.write_text(good.replace("  workers: 1", "  workers: many"))
    # `baton reload -c` would stop at the broken file itself: go through the socket, so the
    # supervisor reads it and refuses it.
    sock = procs.tmp / "baton.sock"
    r = procs.run([BATON, "reload", "-s", sock])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "baton.yaml:6:" in r.stdout + r.stderr and "app.workers" in r.stdout + r.stderr
    r = procs.run([BATON, "status", "--json", "-s", procs.tmp / "baton.sock"])
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["generation"] == 1
    assert st["generations"][0]["workers"][0]["pid"] == gen["workers"][0]["pid"]
    assert st["last_reload"]["reason"]["cause"] == "config"
    # A listener change is applied: the new address is bound for generation 2, the old one
    # closes once generation 1 is gone (test_supervisor_listen_reload.py has the details).
    moved = free_port()
    config.write_text(good.replace(f"127.0.0.1:{port}", f"127.0.0.1:{moved}"))
    r = sup.reload()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restart" not in r.stdout + r.stderr
    assert body(moved)
    wait_for(lambda: [l["address"] for l in sup.status()["listeners"]] == [f"127.0.0.1:{moved}"],
             timeout=15 * TIME_SCALE, what="the old listener to close")


def test_raw_control_protocol(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    sock = procs.tmp / "baton.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    [pong] = control(sock, {"cmd": "ping"})
    assert pong == {"ok": True, "pid": sup.proc.pid, "version": pong["version"]}
    replies = control(sock, {"cmd": "reload"})
    assert all(r.get("event") == "progress" for r in replies[:-1]) and len(replies) > 1
    assert replies[0]["gen"] == 2 and "elapsed_ms" in replies[0]
    assert replies[-1]["ok"] is True and replies[-1]["verdict"] == "ready"
    # Several requests on one connection, answered in order.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        s.sendall(b'{"cmd":"ping"}\n{"cmd":"status"}\n')
        f = s.makefile("rb")
        assert json.loads(f.readline())["pid"] == sup.proc.pid
        assert json.loads(f.readline())["generation"] == 2


def test_worker_output_is_logged_with_generation_and_pid(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--stderr", "hello from stderr"], workers=1)
    sup = Supervisor(procs, config)
    pid = sup.wait_ready(workers=1)["workers"][0]["pid"]
    lines = [json.loads(line) for line in sup.proc.log().splitlines() if line.startswith("{")]
    [line] = [e for e in lines if e.get("msg") == "hello from stderr"]
    assert line["gen"] == 1 and line["pid"] == pid and line["stream"] == "stderr"


def test_stop_during_a_reload(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    config.write_text(config.read_text().replace(f'"{READYAPP}"', f'"{READYAPP}", "--never-ready"'))
    sock = procs.tmp / "baton.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20 * TIME_SCALE)
        s.connect(str(sock))
        s.sendall(b'{"cmd":"reload"}\n')
        f = s.makefile("rb")
        assert json.loads(f.readline())["event"] == "progress"
        sup.proc.signal(signal.SIGTERM)
        result = json.loads(f.readline())
        while result.get("event"):
            result = json.loads(f.readline())
        assert result["ok"] is False and result["reason"]["cause"] == "stop"
    assert sup.proc.wait(timeout=20) == 0


def test_max_draining_makes_reloads_wait(procs, port):
    """app.max_draining generations draining: the next reload is busy (or waits with --wait)
    until the oldest has finished, rather than cutting its requests short; drain_timeout bounds
    the wait."""
    config = write_config(procs.tmp, port, [READYAPP, "--ignore-term"], workers=1,
                          extra_app={"drain_timeout": "60s", "max_draining": 1})
    sup = Supervisor(procs, config)
    first = sup.wait_ready(workers=1)["workers"][0]["pid"]
    assert sup.reload().returncode == 0
    sup.wait_ready(workers=1, generation=2)
    assert pid_alive(first)  # draining (it ignores the stop signal)
    r = sup.reload()
    assert r.returncode == 1 and "busy: 1 generations are still draining" in r.stderr, r
    assert pid_alive(first)
    r = sup.reload("--wait", "--timeout", "1s")
    assert r.returncode != 0 and pid_alive(first)
    # Generation 1 finishes (here: killed from outside); the waiting reload goes ahead.
    waiting = sup.procs.start([BATON, "reload", "--wait", "-c", config], name="reload")
    os.kill(first, signal.SIGKILL)
    assert waiting.wait(timeout=20) == 0
    assert sup.wait_ready(workers=1, generation=3)
    assert sup.stop(fast=True) == 0


def test_systemd_socket_activation_and_fd_store(procs, port):
    """Started by systemd: listeners passed as LISTEN_FDS are adopted (same socket, nothing
    bound anew) and every listener is handed to the fd store with its name."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    notify_path = procs.tmp / "notify.sock"
    sd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sd.bind(str(notify_path))
    sd.settimeout(10 * TIME_SCALE)
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    # Passed as fd 3 with LISTEN_FDS/LISTEN_FDNAMES and LISTEN_PID the supervisor's own pid.
    proc = start_activated(procs, [BATON, "run", "-c", config], listener, names="http",
                           env={"NOTIFY_SOCKET": str(notify_path)}, name="baton")
    sup = Supervisor(procs, config, proc=proc)
    try:
        data, fds, _, _ = socket.recv_fds(sd, 4096, 4)
        assert data.decode() == "FDSTORE=1\nFDNAME=http" and len(fds) == 1
        stored = socket.socket(fileno=fds[0])
        assert stored.getsockname() == ("127.0.0.1", port)
        stored.close()
        assert sd.recv(4096).decode().startswith("READY=1")
        gen = sup.wait_ready(workers=1)
        mine = os.readlink(f"/proc/self/fd/{listener.fileno()}")
        assert os.readlink(f"/proc/{gen['workers'][0]['pid']}/fd/3") == mine
        assert "inherited the listener on" in sup.proc.log()
        assert body(port)

        # A reload adds a listener: bound by the supervisor (socket activation passes listeners
        # only at start: the verdict says so), stored once its generation serves.
        extra = free_port()
        set_listen(config, {"http": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{extra}"})
        r = sup.reload()
        assert r.returncode == 0, r.stdout + r.stderr
        assert "not passed by systemd's socket activation" in r.stdout, r.stdout
        data, fds = sd_until(sd, lambda d: d.startswith("FDSTORE=1"))
        assert data == "FDSTORE=1\nFDNAME=admin" and len(fds) == 1
        assert socket.socket(fileno=fds[0]).getsockname() == ("127.0.0.1", extra)
        assert body(extra)
        # A reload removes systemd's own listener: closed here once no generation uses it (and
        # said to stay open in the socket unit), and taken out of the fd store.
        set_listen(config, {"admin": f"127.0.0.1:{extra}"})
        r = sup.reload()
        assert r.returncode == 0, r.stdout + r.stderr
        assert "passed by systemd: its socket unit still holds it" in r.stdout, r.stdout
        data, _ = sd_until(sd, lambda d: d.startswith("FDSTORE"))
        assert data == "FDSTOREREMOVE=1\nFDNAME=http"
        assert [l["name"] for l in sup.status()["listeners"]] == ["admin"]
        assert sup.stop() == 0
    finally:
        sd.close()
        listener.close()


def test_second_ctrl_c_stops_fast(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--ignore-term"], workers=1,
                          extra_app={"drain_timeout": "60s"})
    sup = Supervisor(procs, config)
    pid = sup.wait_ready(workers=1)["workers"][0]["pid"]
    sup.proc.signal(signal.SIGINT)
    wait_for(lambda: sup.status()["state"] == "stopping", timeout=5, what="stopping")
    assert sup.proc.alive() and pid_alive(pid)  # draining: the worker ignores SIGTERM
    sup.proc.signal(signal.SIGINT)
    assert sup.proc.wait(timeout=10) == 0
    assert not pid_alive(pid)
