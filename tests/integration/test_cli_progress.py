# SPDX-License-Identifier: MIT
"""The CLI shows its work: `baton reload` and `baton rollback` print each step with its times
while it runs; on a terminal (a pseudo-terminal here) a step that takes over a second is redrawn
in place with a spinner and the time it has taken, and the verdict is coloured (not with
NO_COLOR); through a pipe the same lines come plain, without a control character; --json gives
the events as objects with fields.
"""
import json
import os
import pty
import re
import select
import subprocess

from harness import (BATON, deploy_json, make_artifact, pyapp, release_config, Supervisor, wait_for,
                     write_config)

ESC = "\x1b"
# "\r\x1b[K[+2.1s] / waiting 1.3s after: generation 2: ..." (the spinner line, redrawn).
SPINNER = re.compile(r"\r\x1b\[K\[\+[0-9.ms]+\] [|/\\-] waiting (\d+)\.\ds after: ")


def run_on_terminal(argv, env_extra=None, timeout=60):
    """Runs argv with stdout and stderr on a new pseudo-terminal; returns (exit code, output)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update({"TERM": "xterm"}, **(env_extra or {}))
    proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            assert ready, f"no output for {timeout}s: {out!r}"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        code = proc.wait(timeout=timeout)
    return code, out.decode()


def test_slow_reload_on_a_terminal_shows_a_spinner(procs, port):
    config = write_config(procs.tmp, port, pyapp("--ready-after", "2500"), workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)

    code, out = run_on_terminal([BATON, "reload", "-c", config])
    assert code == 0, out
    spins = SPINNER.findall(out)
    assert spins, repr(out)
    # Redrawn while the worker takes its 2.5 s: the waited time counts up past 2 s.
    assert max(int(s) for s in spins) >= 2, spins
    # Each step line as in a pipe, the ready one with its own time; the spinner erased first.
    assert re.search(r"\r\x1b\[K\[\+\d+\.\ds\] ready +generation 2: worker \d+ ready in \d+ms \(1/1\) "
                     r"\(\d+\.\ds\)\r?\n", out), repr(out)
    # The verdict in green, then back to normal.
    assert "\x1b[1;32mgeneration 2 is serving" in out and out.rstrip().endswith("\x1b[0m"), repr(out)

    # NO_COLOR: no colour, still the live line (it is not colour).
    code, out = run_on_terminal([BATON, "reload", "-c", config], env_extra={"NO_COLOR": "1"})
    assert code == 0, out
    assert SPINNER.search(out) and "\x1b[1;" not in out, repr(out)
    sup.stop()


def test_not_a_terminal_plain_lines_and_json_fields(procs, port):
    config = write_config(procs.tmp, port, pyapp("--ready-after", "1500"), workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)

    r = sup.reload()  # through a pipe
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert ESC not in out and "\r" not in out, repr(out)
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"\[\+[0-9.]+m?s\] start +generation 2: starting 1 worker.* \([0-9.]+m?s\)", lines[0]), lines
    assert any(re.fullmatch(r"\[\+\d+\.\ds\] ready +generation 2: worker \d+ ready in \d+ms \(1/1\) "
                            r"\(\d+\.\ds\)", line) for line in lines), lines
    assert lines[-1].startswith("generation 2 is serving"), lines

    r = sup.cli("reload", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    result, progress = events[-1], events[:-1]
    assert result["ok"] is True
    assert progress and all(e["event"] == "progress" for e in progress)
    for e in progress:
        assert {"step", "msg", "gen", "elapsed_ms", "step_ms"} <= set(e), e
        assert isinstance(e["elapsed_ms"], int) and isinstance(e["step_ms"], int)
    steps = [e["step"] for e in progress]
    assert steps[0] == "start" and "ready" in steps, steps
    ready = next(e for e in progress if e["step"] == "ready")
    assert ready["gen"] == 3 and ready["step_ms"] >= 1400, ready
    sup.stop()


def test_rollback_on_a_terminal(procs, port):
    root = procs.tmp / "root"
    config = release_config(procs.tmp, port, root, workers=1, probation="100ms")
    sup = Supervisor(procs, config)
    wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="the control socket")
    # Release 1.0 takes 1.5 s to be ready: rolling back to it is a step over a second.
    for version, args in (("1.0", ["--ready-after", "1500"]), ("1.1", [])):
        code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, version, args))
        assert code == 0, r.stdout + r.stderr

    code, out = run_on_terminal([BATON, "rollback", "-c", config])
    assert code == 0, out
    assert SPINNER.search(out), repr(out)
    assert re.search(r"\[\+[0-9.ms]+\] switch +current -> releases/1\.0", out), repr(out)
    assert re.search(r"\r\x1b\[K\[\+\d+\.\ds\] reload +generation 3: worker \d+ ready", out), repr(out)
    assert "\x1b[1;32m" in out, repr(out)

    # Through a pipe, a rollback has no control character either.
    code, _, result, r = deploy_json(sup, "deploy", make_artifact(procs.tmp, "1.2", ["--ready-after", "1200"]))
    assert code == 0, r.stdout + r.stderr
    r = sup.cli("rollback")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ESC not in r.stdout + r.stderr and "\r" not in r.stdout + r.stderr
    assert "switch" in r.stdout
    sup.stop()
