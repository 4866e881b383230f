# SPDX-License-Identifier: MIT
"""`baton logs [-f] [-n N] [--json]`: the supervisor's recent log lines (its own and the workers'
tagged output) from a bounded ring, and following them until the supervisor stops."""
import json
import subprocess

from harness import BATON, BATON_WEB, HELLO_MODULE, Supervisor, wait_for, write_config

CHATTY_APP = r'''
import os, socket, sys, time, signal
path = os.environ["NOTIFY_SOCKET"]
if path.startswith("@"):
    path = "\0" + path[1:]
for i in range(3000):
    print(f"line {i} " + "x" * 200, file=sys.stderr, flush=True)
print("the last line", file=sys.stderr, flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", path)
while True:
    time.sleep(1)
'''


def test_logs_and_follow(procs, port):
    config = write_config(procs.tmp, port, [BATON_WEB, "--module", HELLO_MODULE], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    r = sup.cli("logs")
    assert r.returncode == 0, r.stderr
    assert "started (baton" in r.stdout and "generation 1 is serving" in r.stdout
    assert "stderr] module hello" in r.stdout  # a worker's output, tagged
    everything = sup.cli("logs", "--json").stdout.splitlines()
    r = sup.cli("logs", "-n", "3", "--json")
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and lines == everything[-3:]
    assert all(set(json.loads(line)) >= {"ts", "level", "msg"} for line in lines)

    follower = subprocess.Popen([str(BATON), "logs", "-f", "-n", "0", "--json", "-c", str(config)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert sup.reload().returncode == 0
        seen = []
        while True:
            entry = json.loads(follower.stdout.readline())
            seen.append(entry)
            if entry["msg"].startswith("generation 2 is serving"):
                break
        assert any(e["msg"] == "reload: reading the configuration" for e in seen)
        assert sup.stop() == 0
        rest = follower.stdout.read()
        assert "supervisor stopped" in rest or "stopping" in rest
        assert follower.wait(timeout=10) == 0  # the end of the log is a normal end
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        follower.stdout.close()


def test_the_ring_is_bounded(procs, port):
    app = procs.tmp / "chatty.py"
    app.write_text(CHATTY_APP)
    config = write_config(procs.tmp, port, ["/usr/bin/python3", app], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    wait_for(lambda: "the last line" in sup.cli("logs", "-n", "50").stdout, timeout=10,
             what="the worker's last line in baton logs")
    r = sup.cli("logs", "--json")
    entries = [json.loads(line) for line in r.stdout.splitlines()]
    assert 100 < len(entries) <= 1000
    assert sum(len(line) for line in r.stdout.splitlines()) <= 256 * 1024
    assert not any(e["msg"].startswith("line 0 ") for e in entries)  # the oldest went first
    assert "the last line" in [e["msg"] for e in entries]
