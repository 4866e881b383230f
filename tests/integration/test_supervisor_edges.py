# SPDX-License-Identifier: MIT
"""Edges where the supervisor must say and do what is true: a terminal that goes away stops a
foreground `baton run` (a `kill -HUP` still reloads); stopping leaves nothing a worker started
behind; verdicts name a killing signal, the worker's own STATUS= and a wrapper that did not
`exec`; a draining worker's failure is a warning; systemd's variables are read strictly."""
import fcntl
import os
import shutil
import signal
import subprocess
import termios

from harness import (BATON, BIN, TIME_SCALE, Proc, Supervisor, pid_alive, reload_json, set_command,
                     wait_for,
                     write_config)

READYAPP = BIN / "readyapp"

# A worker speaking the notify protocol by hand: READY=1, then exit 3 on SIGTERM.
FAILING_DRAIN = (
    "import os, signal, socket, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: os._exit(3))\n"
    "p = os.environ['NOTIFY_SOCKET']\n"
    "p = '\\0' + p[1:] if p.startswith('@') else p\n"
    "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', p)\n"
    "while True:\n"
    "    time.sleep(1)\n")
# The same, exiting 0 on SIGTERM; a SIGINT (Python's default handler) would print a
# KeyboardInterrupt traceback to its stderr, which the supervisor logs.
CLEAN_DRAIN = FAILING_DRAIN.replace("os._exit(3)", "os._exit(0)")




def adopt(procs, popen, log_path, config):
    proc = Proc(popen, log_path, "baton")
    procs.procs.append(proc)
    return Supervisor(procs, config, proc=proc)


def on_terminal(procs, config, name):
    """Starts `baton run` as the session leader of a new pseudo-terminal (its controlling
    terminal, as a shell's foreground job would have one); returns (supervisor, master fd)."""
    master, slave = os.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    log_path = procs.tmp / f"{name}.log"
    with open(log_path, "wb") as logf:
        popen = subprocess.Popen([str(BATON), "run", "-c", str(config)], cwd=procs.tmp,
                                 env=procs.env(), stdin=slave, stdout=logf,
                                 stderr=subprocess.STDOUT, preexec_fn=controlling_terminal)
    os.close(slave)
    return adopt(procs, popen, log_path, config), master


def test_terminal_hangup_stops_but_kill_hup_reloads(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=2)
    sup, master = on_terminal(procs, config, "baton-tty")
    try:
        first = sup.wait_ready(workers=2)
        # A kill -HUP (SI_USER) is a reload, terminal or not.
        sup.proc.signal(signal.SIGHUP)
        second = sup.wait_ready(workers=2, generation=2)
        assert {w["pid"] for w in second["workers"]}.isdisjoint(w["pid"] for w in first["workers"])
    finally:
        # The terminal goes away: the kernel hangs it up (SIGHUP, SI_KERNEL).
        os.close(master)
    assert sup.proc.wait(timeout=30 * TIME_SCALE) == 0
    log = sup.proc.log()
    assert "the terminal hung up: stopping" in log
    assert "generation 3" not in log  # no reload into an orphaned life
    for w in second["workers"]:
        assert not pid_alive(w["pid"])


def test_ctrl_c_on_the_terminal_reaches_only_the_supervisor(procs, port):
    config = write_config(procs.tmp, port, ["/usr/bin/python3", "-c", CLEAN_DRAIN], workers=2)
    sup, master = on_terminal(procs, config, "baton-ctrl-c")
    try:
        sup.wait_ready(workers=2)
        os.write(master, b"\x03")  # the terminal sends SIGINT to its foreground process group
        assert sup.proc.wait(timeout=30 * TIME_SCALE) == 0
    finally:
        os.close(master)
    log = sup.proc.log()
    assert "stopping (draining)" in log
    # The workers, in their own process groups, were stopped by the supervisor, not by SIGINT.
    assert "KeyboardInterrupt" not in log
    assert log.count("exited with status 0") == 2, log[-3000:]


def test_wrapper_children_stop_with_the_worker(procs, port):
    # One child that dies with the stop signal, one that ignores it (SIGKILL when the worker
    # has gone); the server itself is exec'd, as it must be.
    script = ('sleep 1000 & echo $! > plain.pid; '
              '(trap "" TERM; exec sleep 1001) & echo $! > stubborn.pid; '
              'exec "$0" "$@"')
    config = write_config(procs.tmp, port, ["/bin/sh", "-c", script, READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    wait_for(lambda: (procs.tmp / "stubborn.pid").exists(), what="the children's pids")
    plain = int((procs.tmp / "plain.pid").read_text())
    stubborn = int((procs.tmp / "stubborn.pid").read_text())
    assert pid_alive(plain) and pid_alive(stubborn)
    r = sup.cli("stop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sup.proc.wait(timeout=30 * TIME_SCALE) == 0
    wait_for(lambda: not pid_alive(plain) and not pid_alive(stubborn), timeout=5,
             what="the worker's children to be gone")
    assert "left processes behind in its process group: SIGKILL" in sup.proc.log()


def test_in_place_reload_killed_by_signal_says_so(procs, port):
    # readyapp does not handle SIGUSR1: the reload signal kills it.
    config = write_config(procs.tmp, port, [READYAPP], workers=1,
                          extra_app={"reload_signal": "USR1"})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    code, v = reload_json(sup, "--in-place")
    assert code == 1 and v["ok"] is False
    assert v["reason"]["cause"] == "signal" and v["reason"]["signal"] == "USR1"
    assert "was killed by SIGUSR1 while reloading" in v["error"]
    assert "exit_status" not in v["reason"]
    assert "restarts it" in v["msg"]
    sup.wait_ready(workers=1, generation=1)  # its slot restarted it


def test_in_place_failure_carries_status_not_stale_stderr(procs, port):
    config = write_config(procs.tmp, port, [READYAPP, "--stderr", "<6>started up", "--fail-reload"],
                          workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    code, v = reload_json(sup, "--in-place")
    assert code == 1 and v["reason"]["cause"] == "reload"
    # The worker's own words, from STATUS=; not its start-up lines from before the reload.
    assert "reload refused (--fail-reload)" in v["error"]
    assert "stderr" not in v["reason"]


def test_verdict_stderr_without_level_prefixes(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    set_command(config, [READYAPP, "--stderr", "<3>database unreachable", "--exit-at-start", "3"])
    code, v = reload_json(sup)
    assert code == 1
    assert "database unreachable" in v["reason"]["stderr"]
    assert not any(line.startswith("<") for line in v["reason"]["stderr"])


def test_wrapper_that_does_not_exec_is_named(procs, port):
    config = write_config(procs.tmp, port, [READYAPP], workers=1,
                          extra_app={"ready_timeout": f"{int(2 * TIME_SCALE)}s"})
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    # The shell forks the server and waits: READY=1 comes from its child, never the worker.
    set_command(config, ["/bin/sh", "-c", '/usr/bin/python3 -c "$0" & wait', FAILING_DRAIN])
    code, v = reload_json(sup)
    assert code == 1 and v["reason"]["cause"] == "timeout"
    assert "a wrapper script must `exec` the server" in v["error"]
    log = sup.proc.log()
    assert any('"level":"warning"' in line and "must `exec`" in line for line in log.splitlines())


def test_draining_worker_failure_is_a_warning(procs, port):
    config = write_config(procs.tmp, port, ["/usr/bin/python3", "-c", FAILING_DRAIN], workers=1)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=1)
    assert sup.stop() == 0
    lines = [line for line in sup.proc.log().splitlines()
             if "exited with status 3 while draining" in line]
    assert lines and all('"level":"warning"' in line for line in lines), sup.proc.log()[-2000:]


def run_with_listen_env(procs, port, listen_fds, name):
    config = write_config(procs.tmp, port, [READYAPP], workers=1)
    log_path = procs.tmp / f"{name}.log"
    env = procs.env({"LISTEN_FDS": listen_fds, "LISTEN_FDNAMES": "http"})
    with open(log_path, "wb") as logf:
        popen = subprocess.Popen(
            ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" run -c "$1"', str(BATON), str(config)],
            cwd=procs.tmp, env=env, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
    sup = adopt(procs, popen, log_path, config)
    return sup.proc.wait(timeout=20 * TIME_SCALE), sup.proc.log()


def test_malformed_listen_fds_refused(procs, port):
    code, log = run_with_listen_env(procs, port, "1x", "baton-malformed")
    assert code == 2 and "LISTEN_FDS/LISTEN_PID from systemd: Invalid argument" in log


def test_listen_fds_naming_a_closed_fd_refused(procs, port):
    # fd 3 is not open in the supervisor: the environment lies about what was passed.
    code, log = run_with_listen_env(procs, port, "1", "baton-badfd")
    assert code == 2 and "Bad file descriptor" in log


def test_modules_name_and_version_in_status_and_swap_verdicts(procs, port):
    """baton-web's STATUS= names its modules with their versions: `baton status` shows them, an
    in-place swap's verdict says what now serves, and a swap refused by a module's init carries
    the module's own message (not stale stderr)."""
    from harness import BATON_WEB, HELLO_MODULE, TEST_MODULES
    module = procs.tmp / "app.so"
    shutil.copy(HELLO_MODULE, module)
    config = write_config(procs.tmp, port, [BATON_WEB, "--module", module], workers=1)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    version = run_version()
    wait_for(lambda: sup.active()["workers"][0]["status"] == f"serving: hello {version}",
             what="the worker's status naming its module")
    assert f"serving: hello {version}" in sup.cli("status").stdout
    r = sup.reload("--in-place")
    assert r.returncode == 0, r.stderr
    assert f"reloaded in place (serving (reloaded): hello {version})" in r.stdout, r.stdout
    # The module file is replaced by one whose init fails: the swap is refused with its message.
    shutil.copy(TEST_MODULES / "failing_init.so", module)
    r = sup.reload("--in-place")
    assert r.returncode == 1
    assert "init failed: database unreachable at db.invalid:5432" in r.stdout + r.stderr, r
    assert sup.active()["id"] == gen["id"]


def run_version():
    import subprocess
    from harness import BATON
    return subprocess.run([BATON, "version"], capture_output=True, text=True).stdout.split()[1]
