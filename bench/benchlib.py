# SPDX-License-Identifier: MIT
"""What bench/reload and bench/http share: starting nginx, baton and the Go server on loopback
ports in a temporary directory, reading loadgen's reports and samples, and reading memory figures
from /proc. Standard library only.
"""
import array
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

NGINX = Path(shutil.which("nginx") or "/usr/sbin/nginx")
SOURCE = Path(__file__).resolve().parents[1]
CLASSES = ("ok", "non2xx", "refused", "lost_fresh", "lost_reused", "partial", "timeout")


def note(msg):
    """Progress on stderr, so that stdout holds only results."""
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.005, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - not yet
            last = exc
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}" + (f" ({last!r})" if last else ""))


def http_get(port, path="/", timeout=2.0):
    """One GET on a fresh connection: (status, body bytes)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def raw_get(port, path, timeout=1.0, any_status=False):
    """A minimal GET on a fresh connection, cheaper than urllib for tight polling: the body of a
    200 (of any response with any_status)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") and not (any_status and head.startswith(b"HTTP/1.")):
        raise RuntimeError(f"GET {path}: {head[:60]!r}")
    return body


def children(pid):
    """The pids of pid's child processes."""
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def memory_kib(pid):
    """(PSS, RSS) of pid in KiB from /proc/PID/smaps_rollup, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Pss:", "Rss:"):
            values[parts[0]] = int(parts[1])
    return values.get("Pss:", 0), values.get("Rss:", 0)


class MemorySampler(threading.Thread):
    """Peak PSS/RSS (KiB) of a server's master process and of its workers, every 50 ms."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.done = threading.Event()
        self.master_pss = self.master_rss = self.worker_pss = self.worker_rss = 0

    def sample(self):
        m = memory_kib(self.server.pid)
        if m:
            self.master_pss = max(self.master_pss, m[0])
            self.master_rss = max(self.master_rss, m[1])
        for pid in self.server.workers():
            w = memory_kib(pid)
            if w:
                self.worker_pss = max(self.worker_pss, w[0])
                self.worker_rss = max(self.worker_rss, w[1])

    def run(self):
        while not self.done.wait(0.05):
            self.sample()

    def stop(self):
        self.done.set()
        self.join()
        self.sample()


class Server:
    """A server under test: a master process (nginx master, baton supervisor, or the server
    itself) whose children are the workers."""

    name = "server"

    def __init__(self, tmp, port):
        self.tmp = Path(tmp)
        self.port = port
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def spawn(self, argv, log_name, env=None):
        log = open(self.tmp / log_name, "wb")
        self.proc = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.tmp, env=env,
                                     start_new_session=True)
        log.close()

    def workers(self):
        return children(self.pid)

    def settled(self):
        """True when exactly one generation of workers runs, all of them serving."""
        return len(self.workers()) == self.n_workers

    def wait_ready(self, workers):
        self.n_workers = workers
        wait_for(lambda: self.proc.poll() is None
                 and raw_get(self.port, "/", any_status=True) is not None,
                 what=f"{self.name} to answer")
        wait_for(self.settled, what=f"{self.name}'s workers")

    def reload(self):
        """Triggers a reload; returns at once."""
        os.kill(self.pid, signal.SIGHUP)

    def answer_pid(self):
        """The pid of the worker that answers a fresh connection; None when it cannot tell."""
        raise NotImplementedError

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        return "".join(p.read_text(errors="replace") for p in self.tmp.glob("*.log"))


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log notice;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000;
    sendfile on;
    tcp_nopush on;
    types {{ text/html html; application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port};
        location = / {{ return 200 "Hello, World!"; }}
        location = /pid {{ return 200 "$pid"; }}
        {static}
    }}
}}
"""


class Nginx(Server):
    """nginx with a master and `workers` workers, `return 200 "Hello, World!"` on /, its pid on
    /pid, and optionally the files of static_dir (/static/x is static_dir/static/x)."""

    name = "nginx"

    def __init__(self, tmp, port, workers=2, static_dir=None):
        super().__init__(tmp, port)
        self.conf = self.tmp / "nginx.conf"
        static = f"location /static/ {{ root {static_dir}; }}" if static_dir else ""
        self.conf.write_text(NGINX_CONF.format(tmp=self.tmp, port=port, workers=workers,
                                               static=static))
        self.spawn([NGINX, "-c", self.conf, "-p", self.tmp], "nginx.log")
        self.wait_ready(workers)

    def answer_pid(self):
        return int(raw_get(self.port, "/pid"))

    def stop(self):
        # SIGTERM is nginx's fast shutdown; SIGQUIT would wait for keep-alive clients.
        super().stop()


class Baton(Server):
    """`baton run -c baton.yaml` with `workers` workers of `command`: by default baton-web with
    the hello module (and --static static_dir when given)."""

    def __init__(self, tmp, port, build, workers=2, static_dir=None, command=None, name="baton",
                 backend=None):
        super().__init__(tmp, port)
        self.name = name
        self.build = Path(build)
        self.config = self.tmp / "baton.yaml"
        self.pid_from_api = command is None
        if command is None:
            command = [str(self.build / "bin/baton-web"), "--module",
                       str(self.build / "modules/hello.so")]
            if static_dir:
                command += ["--static", str(static_dir)]
            if backend:
                command += ["--backend", backend]
        self.config.write_text(
            "name: bench\n"
            f"listen:\n  http: 127.0.0.1:{port}\n"
            "app:\n"
            f"  command: {json.dumps([str(c) for c in command])}\n"
            f"  workers: {workers}\n"
            "  ready: notify\n"
            "  drain_timeout: 10s\n"
            f"control:\n  socket: {self.tmp / 'baton.sock'}\n"
            "log:\n  format: text\n  level: info\n")
        self.spawn([self.build / "bin/baton", "run", "-c", self.config], "baton.log")
        self.wait_ready(workers)

    def answer_pid(self):
        """baton-web's hello module says which worker answered (GET /api/time); other apps
        cannot tell, and give None."""
        if not self.pid_from_api:
            return None
        return int(json.loads(raw_get(self.port, "/api/time"))["pid"])

    def settled(self):
        gens = self.status()["generations"]
        return (len(gens) == 1 and gens[0]["state"] == "active"
                and len(gens[0]["workers"]) == self.n_workers
                and all(w["state"] == "ready" for w in gens[0]["workers"]))

    def status(self):
        out = subprocess.run([str(self.build / "bin/baton"), "status", "--json", "-c",
                              str(self.config)], capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise RuntimeError(f"baton status: {out.stderr.strip()}")
        return json.loads(out.stdout.strip().splitlines()[-1])


class GoPlain(Server):
    """bench/go-plain (a plain net/http hello world, one process), built into tmp."""

    name = "go"

    def __init__(self, tmp, port, binary):
        super().__init__(tmp, port)
        self.spawn([binary, f"127.0.0.1:{port}"], "go.log")
        self.wait_ready(1)

    def workers(self):
        return {self.pid}


def build_go_plain(tmp):
    """Builds bench/go-plain into tmp with the standard library only; returns the binary."""
    out = Path(tmp) / "go-plain"
    env = dict(os.environ, GOPROXY="off", GOFLAGS="-mod=mod", CGO_ENABLED="0",
               GOCACHE=str(Path(tmp) / "go-cache"), GOPATH=str(Path(tmp) / "go-path"))
    subprocess.run(["go", "build", "-trimpath", "-o", str(out), "."], check=True, env=env,
                   cwd=SOURCE / "bench/go-plain")
    return out


def baton_missing(build):
    """None when baton, baton-web and the hello module are built, else what is missing."""
    build = Path(build)
    missing = [str(p.relative_to(build)) for p in (build / "bin/baton", build / "bin/baton-web",
                                                    build / "modules/hello.so") if not p.exists()]
    return ", ".join(missing) or None


class Loadgen:
    """<build>/bin/loadgen (tests/tools/loadgen) in the background, with a JSON report and
    optionally samples."""

    def __init__(self, build, tmp, port, seconds, connections=64, close=False, samples=False,
                 path="/", timeout="5s"):
        tag = f"{port}-{'close' if close else 'ka'}-{time.monotonic_ns()}"
        self.report = Path(tmp) / f"loadgen-{tag}.json"
        self.samples = Path(tmp) / f"samples-{tag}.bin" if samples else None
        argv = [Path(build) / "bin/loadgen", "--port", port, "--connections", connections,
                "--duration", f"{int(seconds * 1000)}ms", "--path", path, "--timeout", timeout,
                "--json", self.report]
        if close:
            argv.append("--close")
        if samples:
            argv += ["--samples", self.samples]
        self.start_ns = time.monotonic_ns()
        self.proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.DEVNULL)

    def wait(self):
        rc = self.proc.wait()
        if rc != 0:
            raise RuntimeError(f"loadgen exited with {rc}")
        return json.loads(self.report.read_text())

    def read_samples(self):
        """(start_ns, latency_ns, class) arrays of every attempt."""
        raw = self.samples.read_bytes()
        if raw[:8] != b"LOADGEN1":
            raise RuntimeError(f"{self.samples}: not a loadgen samples file")
        flat = array.array("Q")
        flat.frombytes(raw[24:])
        return flat[0::3], flat[1::3], flat[2::3]


def quantile(values, q):
    """The q-quantile (nearest rank) of a sorted list; None when empty."""
    if not values:
        return None
    rank = max(1, min(len(values), int(q * len(values) + 0.999999)))
    return values[rank - 1]


def median(values):
    return statistics.median(values) if values else None


def fmt(value, digits=1, unit=""):
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}"
