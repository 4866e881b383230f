# SPDX-License-Identifier: MIT
"""`baton status --watch` refreshes (in place on a terminal, one block or JSON object after
another elsewhere); verdicts are coloured on a terminal only, never with NO_COLOR; status shows
the config watch's verdict."""
import json
import os
import pty
import select
import signal
import subprocess
import time

from harness import BATON, BATON_WEB, HELLO_MODULE, Supervisor, wait_for, write_config

GREEN = b"\x1b[1;32m"


def run_on_pty(argv, env, until, timeout=15):
    """Runs argv with a pseudo-terminal as stdout until `until` (bytes, or a predicate of the
    output) is in its output, or it exits; returns the output."""
    done = until if callable(until) else (lambda o: until in o)
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env,
                         start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while not done(out) and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        p.wait(timeout=10)
        os.close(master)
    return out


def test_status_watch_and_colour(procs, port):
    config = write_config(procs.tmp, port, [BATON_WEB, "--module", HELLO_MODULE], workers=1,
                          control={"watch": True})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    assert sup.reload().returncode == 0
    sup.wait_ready(workers=1, generation=2)
    env = procs.env()
    env.pop("NO_COLOR", None)

    # A terminal: coloured verdicts, and each refresh clears the screen first.
    out = run_on_pty([str(BATON), "status", "--watch", "-c", str(config)], env,
                     until=b"refreshing every")
    assert b"\x1b[H\x1b[2J" in out and GREEN in out and b"last reload: " in out
    # Two refreshes: the second one clears the first.
    out = run_on_pty([str(BATON), "status", "-w", "-c", str(config)], env,
                     until=lambda o: o.count(b"\x1b[H\x1b[2J") >= 2)
    assert out.count(b"\x1b[H\x1b[2J") >= 2, out[-500:]
    # NO_COLOR: still refreshed in place, no colour.
    out = run_on_pty([str(BATON), "status", "-c", str(config)], dict(env, NO_COLOR="1"),
                     until=b"last reload")
    assert b"last reload: ok" in out and GREEN not in out
    # Not a terminal: no escape sequence at all.
    r = subprocess.run([str(BATON), "status", "-c", str(config)], capture_output=True, env=env,
                       timeout=15)
    assert r.returncode == 0 and b"\x1b" not in r.stdout and b"last reload: ok" in r.stdout
    assert b"configuration: watched" in r.stdout

    # --watch --json off a terminal: one object a line, refreshed; ends when the supervisor goes.
    p = subprocess.Popen([str(BATON), "status", "--watch", "--json", "-c", str(config)],
                         stdout=subprocess.PIPE, env=env)
    first = json.loads(p.stdout.readline())
    second = json.loads(p.stdout.readline())
    assert first["generation"] == second["generation"] == 2
    assert second["uptime_ms"] > first["uptime_ms"]
    sup.stop()
    assert p.wait(timeout=15) != 0
    p.stdout.close()
