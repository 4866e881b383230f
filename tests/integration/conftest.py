"""Shared fixtures for baton's integration tests.

Every test runs the real binaries in its own temporary directory on free loopback ports,
waits on conditions (never fixed sleeps), and kills everything it started. At teardown each
test fails if a log holds a sanitizer report or an `alert`, or if a process it started (or any
descendant, found by a marker in its environment) is still alive.
"""
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

BUILD = Path(os.environ.get("BATON_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
SOURCE = Path(os.environ.get("BATON_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = BUILD / "bin"
BATON = BIN / "baton"
BATON_WEB = BIN / "baton-web"
LOADGEN = BIN / "loadgen"
GO_HELLO = BIN / "go-hello"
HELLO_MODULE = BUILD / "modules" / "hello.so"
SANITIZE = os.environ.get("BATON_SANITIZE", "0") in ("1", "ON", "TRUE", "true")

# A slower sanitizer build gets more time for every wait.
TIME_SCALE = 3.0 if SANITIZE else 1.0

SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "UndefinedBehaviorSanitizer",
)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A loopback TCP port the kernel just handed out and nobody listens on."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.01, what="condition"):
    """Polls predicate() until it returns a true value, which is returned; fails at timeout."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the condition may not hold yet
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def http_get(port, path="/", host="127.0.0.1", timeout=5.0, headers=None):
    """One GET on a fresh connection: returns (status, headers dict, body bytes)."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def port_answers(port, path="/"):
    try:
        return http_get(port, path, timeout=1.0)[0] > 0
    except OSError:
        return False


def open_sockets(pid):
    """The sockets (connections and listeners) a process holds open."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


class Proc:
    def __init__(self, popen, log_path, name):
        self.popen = popen
        self.log_path = log_path
        self.name = name

    @property
    def pid(self):
        return self.popen.pid

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait(self, timeout=10.0):
        return self.popen.wait(timeout * TIME_SCALE)

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        self.popen.send_signal(sig)


class Procs:
    """Starts processes for one test and takes them all down at teardown."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.marker = uuid.uuid4().hex
        self.procs = []

    def env(self, extra=None):
        env = dict(os.environ)
        env["BATON_TEST_MARKER"] = self.marker
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.pop("NOTIFY_SOCKET", None)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        env.pop("LISTEN_FDNAMES", None)
        if extra:
            env.update(extra)
        return env

    def start(self, argv, name=None, cwd=None, env=None, stdin=subprocess.DEVNULL):
        name = name or Path(str(argv[0])).name
        log_path = self.tmp / f"{name}.{len(self.procs)}.log"
        logf = open(log_path, "wb")
        popen = subprocess.Popen(
            [str(a) for a in argv],
            cwd=str(cwd or self.tmp),
            env=self.env(env),
            stdin=stdin,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logf.close()
        proc = Proc(popen, log_path, name)
        self.procs.append(proc)
        return proc

    def run(self, argv, timeout=30.0, env=None, cwd=None, input=None):
        """Runs a command to completion: returns CompletedProcess with text output."""
        return subprocess.run(
            [str(a) for a in argv],
            cwd=str(cwd or self.tmp),
            env=self.env(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout * TIME_SCALE,
        )

    def marked_pids(self):
        """Every live process whose environment carries this test's marker."""
        needle = f"BATON_TEST_MARKER={self.marker}".encode()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if state != b"Z" and needle in environ.split(b"\0"):
                pids.append(int(entry))
        return pids

    def teardown(self):
        problems = []
        for proc in reversed(self.procs):
            if proc.alive():
                proc.signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(15 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                problems.append(f"{proc.name} (pid {proc.pid}) ignored SIGTERM")
                proc.popen.kill()
                proc.popen.wait()
        try:
            wait_for(lambda: not self.marked_pids(), timeout=5, what="descendants to exit")
        except AssertionError:
            leaked = self.marked_pids()
            problems.append(f"leaked processes: {leaked}")
            for pid in leaked:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            text = proc.log()
            for mark in SANITIZER_MARKS:
                if mark in text:
                    problems.append(f"{proc.name}: sanitizer report in {proc.log_path}:\n{text[-4000:]}")
                    break
            if '"level":"alert"' in text or " alert " in text:
                problems.append(f"{proc.name}: alert in log {proc.log_path}")
        return problems


@pytest.fixture
def procs(tmp_path):
    manager = Procs(tmp_path)
    yield manager
    problems = manager.teardown()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def port():
    return free_port()


def loadgen(procs, port, seconds, connections=64, close=False, path="/", extra=()):
    """Starts bench/loadgen in the background with a JSON report; returns (Proc, report path)."""
    report = procs.tmp / f"loadgen-{uuid.uuid4().hex[:8]}.json"
    argv = [LOADGEN, "--host", "127.0.0.1", "--port", port, "--connections", connections,
            "--duration", f"{seconds}s", "--path", path, "--json", report, *extra]
    if close:
        argv.append("--close")
    return procs.start(argv, name="loadgen"), report


def read_report(path):
    return json.loads(Path(path).read_text())
