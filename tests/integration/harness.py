# SPDX-License-Identifier: MIT
"""The one module of helpers for baton's integration tests; every test imports from here
(conftest.py holds only the pytest fixtures, built on these).

- paths to the binaries under test (BATON, BATON_WEB, LOADGEN, ...) and TIME_SCALE;
- waiting on conditions (wait_for), free loopback ports, processes started for one test and all
  taken down at teardown (Procs, Proc), pid_alive;
- HTTP: http_get (one request through http.client), RawConn (the raw-socket client: send bytes,
  read responses one by one, check for a clean EOF), request/chunked/get (build raw requests);
- baton-web: start_web (the one way to start it);
- the supervisor: write_config (the one way to write a baton.yaml), set_command, set_listen,
  worker_env, Supervisor (the one way to start `baton run` and drive the CLI against it), pyapp;
- libbaton's side of systemd's protocol: Notify (a NOTIFY_SOCKET receiver);
- the load client (tests/tools/loadgen): loadgen, read_report.

Every test runs the real binaries in its own temporary directory on free loopback ports, waits on
conditions (never fixed sleeps), and kills everything it started. At teardown each test fails if
a log holds a sanitizer report or an `alert`, or if a process it started (or any descendant,
found by a marker in its environment) is still alive.
"""
import json
import os
import re
import signal
import socket
import struct
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
TEST_MODULES = BUILD / "modules" / "test"
READYAPP = BIN / "readyapp"
PYAPP = SOURCE / "tests" / "integration" / "apps" / "pyapp.py"
PUBLIC = SOURCE / "examples" / "hello" / "public"
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


def _start_time(pid):
    """A process's start time in clock ticks since boot (with the pid, names it across pid reuse)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[19].decode()


# Every process a test starts carries its pytest's pid and start time: if pytest itself is killed
# (a ctest timeout, ^C twice), the next pytest session takes down what it left behind.
OWNER = f"{os.getpid()}:{_start_time(os.getpid())}"


def live_processes():
    """(pid, environment entries) of every process that is not a zombie and can be read."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            yield entry, environ


def sweep_orphans():
    """Kills (SIGKILL) test processes whose pytest is gone; returns their pids. Processes of a
    pytest that still runs (another ctest job, another checkout) are never touched."""
    swept = []
    for entry, environ in live_processes():
        owner = next((e[len(b"BATON_TEST_OWNER="):].decode() for e in environ
                      if e.startswith(b"BATON_TEST_OWNER=")), None)
        if not owner or ":" not in owner:
            continue
        pid, start = owner.split(":", 1)
        try:
            if _start_time(int(pid)) == start:
                continue  # its pytest still runs
        except (OSError, ValueError):
            pass
        try:
            os.kill(int(entry), signal.SIGKILL)
            swept.append(int(entry))
        except ProcessLookupError:
            pass
    return swept


class Procs:
    """Starts processes for one test and takes them all down at teardown."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.marker = uuid.uuid4().hex
        self.procs = []

    def env(self, extra=None):
        env = dict(os.environ)
        env["BATON_TEST_MARKER"] = self.marker
        env["BATON_TEST_OWNER"] = OWNER
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
        return [int(pid) for pid, environ in live_processes() if needle in environ]

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


def write_config(tmp, port, command, workers=2, extra_app=None, extra="", name="test", socket="baton.sock",
                 control=None):
    """The one way to write a baton.yaml: tmp/baton.yaml for `command` on 127.0.0.1:port, JSON
    logs at debug level; extra_app and control add keys to app: and control:, `extra` is
    appended as text. Returns its path."""
    app = {
        "command": [str(c) for c in command],
        "workers": workers,
        "ready_timeout": f"{int(10 * TIME_SCALE)}s",
        "drain_timeout": f"{int(10 * TIME_SCALE)}s",
    }
    app.update(extra_app or {})
    lines = [f"name: {name}", "listen:", f"  http: 127.0.0.1:{port}", "app:"]
    for key, value in app.items():
        lines.append(f"  {key}: {json.dumps(value)}")
    lines += ["log:", "  format: json", "  level: debug", "control:", f"  socket: {json.dumps(str(socket))}"]
    # Tests rewrite the file and reload when they mean to: the config watch would reload on its
    # own as well (test_load_config_watch.py tests the watch).
    control = {"watch": False, **(control or {})}
    for key, value in control.items():
        lines.append(f"  {key}: {json.dumps(value)}")
    path = tmp / "baton.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def set_command(config, command):
    """Rewrites app.command in a config written by write_config()."""
    text = config.read_text()
    line = "  command: " + json.dumps([str(c) for c in command])
    text = re.sub(r"(?m)^  command: .*$", lambda m: line, text)  # no escapes read in `line`
    config.write_text(text)


def set_listen(config, listeners):
    """Rewrites the `listen:` block of a config written by write_config() (name -> address, in
    order)."""
    block = "listen:\n" + "".join(f"  {name}: {addr}\n" for name, addr in listeners.items())
    text = re.sub(r"(?m)^listen:\n(?:  .*\n)+", lambda m: block, config.read_text())
    config.write_text(text)


def worker_env(pid):
    """The environment a process started with (/proc/PID/environ) as a dict."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(e.split("=", 1) for e in f.read().decode().split("\0") if "=" in e)


def pyapp(*args):
    """The command line of tests/integration/apps/pyapp.py."""
    return ["/usr/bin/python3", PYAPP, *args]


class Supervisor:
    """The one way to start `baton run` in a test: with `-c config` (or no -c when config is None,
    so that baton finds ./baton.yaml in cwd), then `args`, with `env` added to its environment.
    `proc`: a `baton run` already started another way (start_activated) to drive instead. cli()
    runs the baton command against it the same way."""

    def __init__(self, procs, config=None, args=(), cwd=None, env=None, proc=None):
        self.procs = procs
        self.config = config
        self.cwd = cwd
        target = ["-c", config] if config is not None else []
        self.proc = proc or procs.start([BATON, "run", *target, *args], name="baton", cwd=cwd, env=env)

    @property
    def pid(self):
        return self.proc.pid

    def cli(self, *args, timeout=60):
        target = ["-c", self.config] if self.config is not None else []
        return self.procs.run([BATON, *args, *target], timeout=timeout, cwd=self.cwd)

    def status(self):
        r = self.cli("status", "--json")
        assert r.returncode == 0, f"baton status failed ({r.returncode}): {r.stderr}"
        return json.loads(r.stdout)

    def active(self):
        """The active generation's status object, or None."""
        st = self.status()
        for gen in st.get("generations", []):
            if gen.get("state") == "active":
                return gen
        return None

    def wait_ready(self, workers, generation=None):
        def ready():
            if not self.proc.alive():
                raise AssertionError(f"supervisor exited:\n{self.proc.log()[-3000:]}")
            gen = self.active()
            if not gen or (generation is not None and gen["id"] != generation):
                return None
            ready_workers = [w for w in gen["workers"] if w.get("state") == "ready"]
            return gen if len(ready_workers) == workers else None

        return wait_for(ready, timeout=20, interval=0.05, what="workers ready")

    def reload(self, *args):
        return self.cli("reload", *args)

    def stop(self, fast=False):
        self.proc.signal(signal.SIGQUIT if fast else signal.SIGTERM)
        return self.proc.wait(timeout=30)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ---- HTTP over raw sockets ----------------------------------------------------------------------

IO_TIMEOUT = 5.0 * TIME_SCALE
STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ?([^\r\n]*)$")


class Response:
    def __init__(self, status, reason, headers, body, raw):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name lowercased, value)] in order
        self.body = body
        self.raw = raw

    def header(self, name):
        """The value of `name` (joined with ", " when repeated), or None."""
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None

    def count(self, name):
        return sum(1 for k, _ in self.headers if k == name.lower())

    def closes(self):
        """The response announces that the server closes the connection after it."""
        conn = self.header("connection") or ""
        return "close" in [t.strip().lower() for t in conn.split(",")]

    def __iter__(self):
        """Unpacks as (status, {lowercased name: value, repeated names joined}, body)."""
        headers = {}
        for k, v in self.headers:
            headers[k] = headers[k] + ", " + v if k in headers else v
        return iter((self.status, headers, self.body))

    def __getitem__(self, i):
        return tuple(self)[i]

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"


class RawConn:
    """One TCP connection with a receive buffer: send raw bytes, read HTTP responses."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, what):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            raise AssertionError(f"connection reset while reading {what} (buffered {self.buf[:200]!r})")
        except socket.timeout:
            raise AssertionError(f"no {what} within {self.timeout:.1f}s (buffered {self.buf[:200]!r})")
        if not chunk:
            raise EOFError(f"EOF while reading {what} (buffered {self.buf[:200]!r})")
        self.buf += chunk

    def _take_line(self, what, limit=1 << 16):
        while b"\r\n" not in self.buf:
            assert len(self.buf) < limit, f"{what} longer than {limit} bytes"
            self._fill(what)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n, what):
        while len(self.buf) < n:
            self._fill(what)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, head=False):
        """Reads exactly one response (interim 1xx responses included) and returns it."""
        status_line = self._take_line("status line")
        m = STATUS_LINE.match(status_line)
        assert m, f"bad status line {status_line!r}"
        status = int(m.group(1))
        headers = []
        while True:
            line = self._take_line("header line")
            if line == b"":
                break
            name, sep, value = line.partition(b":")
            assert sep and name and name == name.strip(), f"bad response header line {line!r}"
            headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
        resp = Response(status, m.group(2).decode("latin-1"), headers, b"", b"")
        if head or status < 200 or status in (204, 304):
            body = b""
        elif (resp.header("transfer-encoding") or "").lower() == "chunked":
            body = self._read_chunked()
        elif resp.header("content-length") is not None:
            assert resp.count("content-length") == 1, f"several Content-Length in {headers}"
            body = self._take(int(resp.header("content-length")), "response body")
        else:
            # Close-delimited: only legal when the server closes the connection after it.
            body = self.read_to_eof()
        resp.body = body
        resp.raw = status_line + b"\r\n" + b"\r\n".join(
            f"{k}: {v}".encode("latin-1") for k, v in headers) + b"\r\n\r\n" + body
        return resp

    def read_to_eof(self):
        """Every byte until the server closes the connection (fails on a reset)."""
        data, self.buf = self.buf, b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                raise AssertionError(f"connection reset before EOF (read {data[:200]!r})")
            if not chunk:
                return data
            data += chunk

    def _read_chunked(self):
        body = b""
        while True:
            size_line = self._take_line("chunk size")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while self._take_line("trailer") != b"":
                    pass
                return body
            body += self._take(size, "chunk data")
            assert self._take(2, "chunk CRLF") == b"\r\n"

    def read_final(self, head=False):
        """Reads responses until a final (non-1xx) one: returns (interim list, final)."""
        interim = []
        while True:
            resp = self.read_response(head=head)
            if resp.status >= 200:
                return interim, resp
            interim.append(resp)

    def expect_eof(self, timeout=3.0):
        """Asserts the server closes the connection cleanly (FIN, no more bytes, no RST)."""
        self.sock.settimeout(timeout * TIME_SCALE)
        try:
            data = self.buf or self.sock.recv(65536)
        except ConnectionResetError:
            raise AssertionError("connection reset instead of a clean close")
        except socket.timeout:
            raise AssertionError(f"connection still open {timeout * TIME_SCALE:.1f}s after the response")
        finally:
            self.sock.settimeout(self.timeout)
        assert data == b"", f"unexpected bytes after the response: {data[:200]!r}"

    def is_closed_now(self):
        """True when the server has closed (EOF or RST already received), without blocking."""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(self.timeout)


def refused(port, raw, status):
    """Sends raw on a new connection: the answer must be `status`, then a clean close."""
    with RawConn(port) as s:
        s.send(raw)
        st, h, _ = s.read_response()
        assert st == status, (raw[:80], st)
        assert h["connection"] == "close"
        s.expect_eof()


def request(method="GET", target="/", headers=(("Host", "test"),), body=b"", version="HTTP/1.1"):
    """Builds a well-formed request; headers is a sequence of (name, value)."""
    head = f"{method} {target} {version}\r\n".encode()
    for name, value in headers:
        head += f"{name}: {value}\r\n".encode("latin-1")
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        head += f"Content-Length: {len(body)}\r\n".encode()
    return head + b"\r\n" + body


GOOD = request()


def chunked(body, sizes):
    """Encodes body as chunks of the given sizes (cycled), then the last chunk."""
    out, i, k = b"", 0, 0
    while i < len(body):
        n = max(1, sizes[k % len(sizes)])
        k += 1
        piece = body[i:i + n]
        i += len(piece)
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def get(path, host="x", extra=""):
    """A GET request for `path` with a Host header and `extra` header lines."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def exchange(port, raw, count=1, head=False):
    """Sends raw bytes on a new connection and reads `count` responses."""
    with RawConn(port) as c:
        c.send(raw)
        return [c.read_response(head=head) for _ in range(count)]


class Web:
    """A baton-web started by start_web(); unpacks as (proc, port)."""

    def __init__(self, proc, port):
        self.proc = proc
        self.port = port

    def __iter__(self):
        return iter((self.proc, self.port))

    def conn(self):
        """A new RawConn to this server."""
        return RawConn(self.port)

    def alive(self):
        return self.proc.alive()


def start_web(procs, *args, modules=(HELLO_MODULE,), port=None, env=None, name="baton-web", config=None,
              wrapper=()):
    """The one way to start a standalone baton-web: on 127.0.0.1:port (a free one by default),
    JSON logs, the given modules, then `args`; `config` (text) is written to a file and passed as
    --config; `wrapper` is a command that execs the rest (prlimit ... --), so the pid stays the
    server's. Waits until it answers; returns a Web."""
    port = port or free_port()
    argv = [BATON_WEB, "--listen", f"127.0.0.1:{port}", "--log-format", "json"]
    for m in modules:
        argv += ["--module", m]
    argv += list(args)
    if config is not None:
        path = procs.tmp / f"{name}.yaml"
        path.write_text(config)
        argv += ["--config", path]
    proc = procs.start([*wrapper, *argv], name=name, env=env)

    def up():
        if not proc.alive():
            raise AssertionError(f"{name} exited ({proc.popen.returncode}):\n{proc.log()[-3000:]}")
        return port_answers(port)

    wait_for(up, timeout=10, interval=0.02, what=f"{name} on port {port}")
    return Web(proc, port)


# ---- systemd's protocol, libbaton's side --------------------------------------------------------

# Passes the listener (at fd $1 in the shell) as fd 3 and sets LISTEN_PID to the pid the
# program will have: `exec` keeps the shell's pid. Commands are never run through a shell by
# baton itself; here the shell is only the test's fork-exec helper.
LAUNCH = r'''
fd=$1; shift
if [ "$fd" != 3 ]; then exec 3<&"$fd"; exec {fd}<&-; fi
export LISTEN_PID=$$
exec "$@"
'''


def listening_socket():
    """A loopback listener on a free port: returns (socket, port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s, s.getsockname()[1]


def accept_queue(listener):
    """How many connections wait in a TCP listener's accept queue (TCP_INFO's tcpi_unacked,
    which the kernel fills with the queue length for a listening socket)."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 24)[0]


def start_activated(procs, argv, listener, notify=None, names=None, env=None, name=None):
    """Starts argv with `listener` as fd 3 (LISTEN_FDS=1, LISTEN_PID its own pid), as baton's
    supervisor would hand it over; `notify` a Notify for NOTIFY_SOCKET."""
    extra = {"LISTEN_FDS": "1"}
    if names is not None:
        extra["LISTEN_FDNAMES"] = names
    if notify is not None:
        extra["NOTIFY_SOCKET"] = notify.env
    extra.update(env or {})
    name = name or os.path.basename(str(argv[0]))
    log_path = procs.tmp / f"{name}.{len(procs.procs)}.log"
    with open(log_path, "wb") as logf:
        popen = subprocess.Popen(
            ["/bin/bash", "-c", LAUNCH, "launch", str(listener.fileno()), *map(str, argv)],
            cwd=str(procs.tmp), env=procs.env(extra), stdin=subprocess.DEVNULL,
            stdout=logf, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),),
            start_new_session=True)
    proc = Proc(popen, log_path, name)
    procs.procs.append(proc)
    return proc


class Notify:
    """A NOTIFY_SOCKET receiver that records (sender pid, message) as a supervisor would."""

    def __init__(self, tmp_path, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if abstract:
            name = f"baton-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.env = str(tmp_path / f"notify-{time.monotonic_ns()}")
            self.sock.bind(self.env)
        self.sock.setblocking(False)
        self.messages = []

    def poll(self):
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(12))
            except BlockingIOError:
                return self.messages
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:12])[0]
            self.messages.append((pid, data.decode()))

    def seen(self, text):
        """Some message received so far holds `text`."""
        return any(text in m for _, m in self.poll())

    def from_pid(self, pid):
        return [m for p, m in self.poll() if p == pid]

    def wait(self, pid, line, timeout=10.0):
        """Waits until `pid` sent a message holding the assignment `line`; returns it."""
        def found():
            return next((m for m in self.from_pid(pid) if line in m.split("\n")), None)
        return wait_for(found, timeout=timeout, what=f"{line} from pid {pid}")

    def close(self):
        self.sock.close()


def loadgen(procs, port, seconds, connections=64, close=False, path="/", extra=()):
    """Starts tests/tools/loadgen in the background with a JSON report; returns (Proc, report path)."""
    report = procs.tmp / f"loadgen-{uuid.uuid4().hex[:8]}.json"
    argv = [LOADGEN, "--host", "127.0.0.1", "--port", port, "--connections", connections,
            "--duration", f"{seconds}s", "--path", path, "--json", report, *extra]
    if close:
        argv.append("--close")
    return procs.start(argv, name="loadgen"), report


def end_load(client, timeout=30):
    """Ends a loadgen run once the test's work is done (SIGTERM: no new request is sent, every
    one in flight is still answered or counted) and waits for it to write its report."""
    if client.alive():
        client.popen.send_signal(signal.SIGTERM)
    client.wait(timeout=timeout)


def read_report(path):
    return json.loads(Path(path).read_text())


LOADGEN_FAILURES = ("non2xx", "refused", "lost_fresh", "lost_reused", "partial", "timeout")


def assert_lost_nothing(report, sent_over, what="load"):
    """Reads a loadgen report: more than `sent_over` requests were sent and every one was answered
    with a 2xx (no failure of any class). Returns the report."""
    result = read_report(report)
    assert result["sent"] > sent_over, result
    failures = {k: result[k] for k in LOADGEN_FAILURES}
    assert result["failed"] == 0 and not any(failures.values()) and result["ok"] == result["sent"], (
        f"{what}: {result['failed']} of {result['sent']} requests failed: {failures}")
    return result


# ---- supervisor crash recovery: the state file, orphans, process groups ----------------------


def state_path(tmp):
    return tmp / "baton.sock.state"


def read_state(tmp):
    return json.loads(state_path(tmp).read_text())


def state_pids(state):
    return sorted(w["pid"] for g in state["generations"] for w in g["workers"])


def start_time(pid):
    """Field 22 of /proc/PID/stat, as the supervisor records it."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def crash(sup):
    """kill -9 of the supervisor; returns the workers it leaves behind (pids from its status)."""
    pids = sorted(w["pid"] for g in sup.status()["generations"] for w in g["workers"])
    sup.proc.signal(signal.SIGKILL)
    sup.proc.wait(timeout=10)
    assert all(pid_alive(p) for p in pids), "the workers died with the supervisor"
    return pids


def stop_orphans(pids, timeout=15):
    """Drains orphans by hand (their process groups get SIGTERM) and waits for them."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=timeout, what="orphans to exit")


def leftovers(tmp):
    """The dead supervisor's files still there."""
    return [p.name for p in (tmp / "baton.sock", state_path(tmp), tmp / "baton.sock.state.tmp")
            if os.path.lexists(p)]


# ---- deploys (release.root, baton deploy) ----------------------------------------------------

def make_artifact(tmp, version, app_args=(), name="app", key=None, comment=None, prehash=True):
    """Builds tmp/NAME-VERSION.tar.gz: a release whose bin/app execs readyapp (with BATON_STATS
    every 50 ms, answering with the body VERSION, plus app_args), made with tar like a user would.
    With key (a make_minisign_key() pair) it is signed by the real minisign tool, the trusted
    comment naming the file and version unless `comment` is given. Returns its path."""
    src = tmp / f"src-{name}-{version}-{uuid.uuid4().hex[:6]}"
    (src / "bin").mkdir(parents=True)
    args = " ".join(f"'{a}'" for a in ["--stats-interval", "50", "--body", version, *map(str, app_args)])
    script = src / "bin" / "app"
    script.write_text(f"#!/bin/sh\nexec '{READYAPP}' {args} \"$@\"\n")
    script.chmod(0o755)
    (src / "VERSION").write_text(version + "\n")
    artifact = tmp / f"{name}-{version}.tar.gz"
    subprocess.run(["tar", "-C", src, "-czf", artifact, "."], check=True)
    if key is not None:
        sign_artifact(artifact, key, comment or f"file:{artifact.name} version:{version}", prehash)
    return artifact


def make_minisign_key(tmp, name="release"):
    """A minisign key pair made by `minisign -G -W` (no password): returns (public, secret)."""
    pub, sec = tmp / f"{name}.pub", tmp / f"{name}.key"
    subprocess.run(["minisign", "-G", "-W", "-p", pub, "-s", sec], check=True, capture_output=True)
    return pub, sec


def sign_artifact(artifact, key, comment, prehash=True):
    """Signs with the minisign tool: `-H` prehashed (the default) or a legacy signature."""
    argv = ["minisign", "-S", "-s", key[1], "-m", artifact, "-t", comment]
    if not prehash:
        argv.insert(2, "-l")
    subprocess.run(argv, check=True, capture_output=True)


def release_config(tmp, port, root, workers=2, probation="1s", requests=0, timeout="3s",
                   extra_app=None, release_extra=None):
    """write_config() for an app run from release.root (app.command bin/app in `current`)."""
    rel = {"root": str(root), "probation": probation, "probation_requests": requests,
           "probation_timeout": timeout}
    rel.update(release_extra or {})
    extra = "release:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in rel.items())
    return write_config(tmp, port, ["bin/app"], workers=workers, extra_app=extra_app, extra=extra)


def deploy_json(sup, *args, timeout=60):
    """`baton deploy ... --json` (or rollback): (exit code, progress events, result object)."""
    r = sup.cli(*args, "--json", timeout=timeout)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    result = lines[-1] if lines else {}
    return r.returncode, lines[:-1], result, r


def serving_version(port):
    """The body of one GET: the version make_artifact() releases answer with."""
    return http_get(port)[2].decode().strip()


# ---- reload verdicts ---------------------------------------------------------------------------


def reload_json(sup, *args):
    """`baton reload --json`: (exit code, the verdict: its last JSON line)."""
    r = sup.cli("reload", "--json", *args)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert lines, f"no output from reload ({r.returncode}): {r.stderr}"
    return r.returncode, lines[-1]


def pids(gen):
    return sorted(w["pid"] for w in gen["workers"])


def still_serving(sup, port, gen_before, body=None):
    """The old generation is active with exactly the same workers, ready, and answers (with
    `body` in its answer when given)."""
    gen = sup.active()
    assert gen["id"] == gen_before["id"]
    assert pids(gen) == pids(gen_before)
    assert all(w["state"] == "ready" for w in gen["workers"])
    status, _, answer = http_get(port)
    assert status == 200
    if body is not None:
        assert body in answer.decode(), answer
