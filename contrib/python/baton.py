# SPDX-License-Identifier: MIT
"""baton's protocols (systemd's) for a Python web service, standard library only.

    import baton
    sock = baton.listen("http", "127.0.0.1:8080")   # the supervisor's socket, or bind alone
    baton.serve_wsgi(app, sock)                      # or baton.serve(MyHandler, sock)

- listeners() / listen(): adopt the sockets the supervisor passes (LISTEN_FDS, LISTEN_PID,
  LISTEN_FDNAMES), strictly, as libbaton does; listen() binds by itself when run alone.
- notify() / ready() / status() / stopping(): messages to NOTIFY_SOCKET (path or @abstract).
- serve() (an http.server request handler class) and serve_wsgi() (a WSGI application): serve
  until SIGTERM or SIGINT, then drain without losing a request (docs/protocol.md section 3) and
  return once every connection is closed.

Copy this one file next to your application; it needs Python 3.7 or later.
"""
import errno
import fcntl
import io
import os
import resource
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

__all__ = ["listeners", "listen", "notify", "ready", "status", "stopping", "serve", "serve_wsgi",
           "IDLE_GRACE", "UNKNOWN_NAME"]

LISTEN_FDS_START = 3
FDNAME_MAX = 255
UNKNOWN_NAME = "unknown"
IDLE_GRACE = 1.0    # seconds a connection must be idle before a drain closes it
NOTIFY_TIMEOUT = 2.0

_adopted = None
_adopt_lock = threading.Lock()


# -- socket hand-over ------------------------------------------------------------------------

def _invalid(variable, value, why):
    return OSError(errno.EINVAL, f"invalid {variable}={value!r}: {why}")


def _parse_count(s, maximum):
    """A whole string of decimal digits no larger than maximum, or None."""
    if not s or not all("0" <= c <= "9" for c in s):
        return None
    value = int(s)
    return value if value <= maximum else None


def _fds_max():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 2**31 - 1 - LISTEN_FDS_START
    if soft != resource.RLIM_INFINITY and soft < limit + LISTEN_FDS_START:
        limit = max(soft - LISTEN_FDS_START, 0)
    return limit


def _parse_names(value, n):
    names = [UNKNOWN_NAME] * n
    if value is None:
        return names
    parts = value.split(":")
    if len(parts) > n:
        raise _invalid("LISTEN_FDNAMES", value, f"more names than the {n} fds")
    for i, name in enumerate(parts):
        if len(name) > FDNAME_MAX or not all(" " <= c <= "~" for c in name):
            raise _invalid("LISTEN_FDNAMES", value, "a name is not printable ASCII of at most 255")
        if name:
            names[i] = name
    return names


def _adopt():
    pid_s = os.environ.pop("LISTEN_PID", None)
    fds_s = os.environ.pop("LISTEN_FDS", None)
    names_s = os.environ.pop("LISTEN_FDNAMES", None)
    if pid_s is None:
        return {}
    pid = _parse_count(pid_s, 2**31 - 1)
    if not pid:
        raise _invalid("LISTEN_PID", pid_s, "not a pid")
    if pid != os.getpid():
        return {}       # meant for another process: a parent that did not clean up
    if fds_s is None:
        return {}
    n = _parse_count(fds_s, _fds_max())
    if not n:
        raise _invalid("LISTEN_FDS", fds_s, "not a count in 1..RLIMIT_NOFILE-3")
    names = _parse_names(names_s, n)
    fds = range(LISTEN_FDS_START, LISTEN_FDS_START + n)
    for fd in fds:
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError as e:
            raise OSError(e.errno, f"LISTEN_FDS={n} but fd {fd}: {e.strerror}") from None
        os.set_inheritable(fd, False)   # programs we run must not inherit the listeners
    out = {}
    for fd, name in zip(fds, names):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as e:
            raise OSError(e.errno, f"fd {fd} ({name}) is not a socket: {e.strerror}") from None
        if (sock.type != socket.SOCK_STREAM
                or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
            sock.detach()
            raise OSError(errno.EINVAL, f"fd {fd} ({name}) is not a listening stream socket")
        out.setdefault(name, []).append(sock)
    return out


def listeners():
    """The listening sockets passed by the supervisor (baton or systemd) as {name: [socket]}.

    Empty when none were passed (LISTEN_PID or LISTEN_FDS unset, or LISTEN_PID naming another
    process). Malformed variables, an fd that is not open (EBADF) or not a listening stream
    socket, more names than fds or a bad name raise OSError. Missing and empty names are
    "unknown". The variables are removed from the environment (on success and failure alike),
    the sockets are made non-inheritable, and later calls return the same sockets.
    """
    global _adopted
    with _adopt_lock:
        if _adopted is None:
            try:
                _adopted = _adopt()
            except OSError as e:
                _adopted = e
        if isinstance(_adopted, OSError):
            raise _adopted
        return _adopted


def _parse_addr(addr):
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


def listen(name, addr):
    """The first socket named `name` passed by the supervisor (or the first socket, when none
    has a name). Run alone, binds and listens on addr ("host:port", "[::1]:port", ":port")
    itself, so the same program works with and without a supervisor. A process given named
    sockets but none called `name` gets an OSError: binding by itself would collide."""
    socks = listeners()
    if not socks:
        host, port = _parse_addr(addr)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        sock.listen(1024)
        return sock
    if socks.get(name):
        return socks[name][0]
    if len(socks) == 1 and socks.get(UNKNOWN_NAME):
        return socks[UNKNOWN_NAME][0]
    raise OSError(errno.ENOENT, f"no listener named {name!r} was passed (LISTEN_FDNAMES; "
                                f"under systemd, set FileDescriptorName={name})")


# -- readiness and status --------------------------------------------------------------------

def notify(state):
    """Sends one datagram of NAME=value lines to NOTIFY_SOCKET. Returns False when the process
    is not supervised (NOTIFY_SOCKET unset or empty), True when sent; raises OSError otherwise
    (EAFNOSUPPORT for a name that is neither an absolute path nor @abstract; EAGAIN when the
    receiver's queue stays full for 2 s)."""
    name = os.environ.get("NOTIFY_SOCKET", "")
    if not name:
        return False
    if name[0] == "@":
        address = "\0" + name[1:]
    elif name[0] == "/":
        address = name
    else:
        raise OSError(errno.EAFNOSUPPORT, f"NOTIFY_SOCKET={name!r} is neither a path nor @abstract")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.settimeout(NOTIFY_TIMEOUT)
        try:
            s.sendto(state.encode(), socket.MSG_NOSIGNAL, address)
        except socket.timeout:
            raise OSError(errno.EAGAIN, "notify: the receiver's queue is full") from None
    return True


def ready():
    """READY=1: this process serves; the supervisor may drain the generation it replaces.
    serve() and serve_wsgi() send it themselves."""
    return notify("READY=1")


def status(text):
    """STATUS=text, shown by `baton status` and in failure reports (newlines become spaces)."""
    return notify("STATUS=" + str(text).replace("\n", " ").replace("\r", " "))


def stopping():
    """STOPPING=1: this process began to drain. serve() sends it itself."""
    return notify("STOPPING=1")


# -- serving and draining --------------------------------------------------------------------

class _Drain:
    """The state a drain shares with every connection thread."""

    def __init__(self):
        self.started = None            # time.monotonic() when the drain began
        self.event = threading.Event()
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)

    def begin(self):
        if self.started is None:
            self.started = time.monotonic()
            self.event.set()
            os.write(self.wake_w, b"x")     # never read: stays readable for every waiter

    def close(self):
        os.close(self.wake_r)
        os.close(self.wake_w)


class _DrainingHandler:
    """Mixed in before the application's handler class: serves keep-alive connections, answers
    with Connection: close once draining, and closes a connection only after it has been idle
    for IDLE_GRACE since the later of its last response and the start of the drain."""

    _drain = None   # set per server

    def handle(self):
        self.close_connection = False
        idle_since = time.monotonic()
        while not self.close_connection:
            if not self._wait_for_request(idle_since):
                break
            self.handle_one_request()
            idle_since = time.monotonic()

    def _buffered(self):
        """True when the next request's bytes are already read into rfile (or the socket has
        them): a non-blocking peek."""
        timeout = self.connection.gettimeout()
        self.connection.settimeout(0)
        try:
            return bool(self.rfile.peek(1))
        except (BlockingIOError, socket.timeout):
            return False
        except OSError:
            return True     # let handle_one_request see the error and close
        finally:
            self.connection.settimeout(timeout)

    def _wait_for_request(self, idle_since):
        drain = self._drain
        while True:
            if self._buffered():
                return True
            if drain.started is None:
                timeout, fds = self.timeout, [self.connection, drain.wake_r]
            else:
                idle = max(idle_since, drain.started)
                timeout = idle + IDLE_GRACE - time.monotonic()
                if timeout <= 0:
                    return False    # idle for the whole grace period: close cleanly
                fds = [self.connection]
            readable, _, _ = select.select(fds, [], [], timeout)
            if self.connection in readable:
                return True         # a request, or EOF: handle_one_request reads it
            if not readable and drain.started is None:
                return False        # the handler's own idle timeout (self.timeout)

    def end_headers(self):
        if self._drain.started is not None and self.request_version != "HTTP/0.9":
            self.send_header("Connection", "close")   # also sets close_connection
        super().end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = False      # server_close() joins every connection thread
    block_on_close = True

    def __init__(self, sock, handler_class):
        super().__init__(("", 0), handler_class, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.address_family = sock.family
        self.server_address = sock.getsockname()
        # The listener is shared with the other generation: another worker may take a
        # connection between select() and accept(); never block in accept().
        sock.setblocking(False)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            super().handle_error(request, client_address)


def _drain_class(handler_class, drain):
    return type(handler_class.__name__, (_DrainingHandler, handler_class), {"_drain": drain})


def serve(handler_class, sock, signals=(signal.SIGTERM, signal.SIGINT)):
    """Serves HTTP on sock with an http.server.BaseHTTPRequestHandler subclass, one thread per
    connection, until one of `signals` arrives; then drains without losing a request and
    returns once every connection is closed. Sends READY=1 once it serves and STOPPING=1 when
    the drain begins. Call it from the main thread (it installs the signal handlers). Set
    protocol_version = "HTTP/1.1" on the handler class (and send Content-Length) for keep-alive.

    The drain: stop accepting (close this process's copy of the shared socket: the other
    generation keeps accepting on it); finish requests in flight; answer every further request
    with Connection: close; close a connection only once it has been idle for IDLE_GRACE since
    the later of its last response and the start of the drain, so a request already on the
    wire is answered rather than reset. A second signal during the drain exits at once. When
    READY=1 cannot be sent, it drains at once and raises that OSError.
    """
    drain = _Drain()
    server = _Server(sock, _drain_class(handler_class, drain))

    def on_signal(signum, frame):
        if drain.started is not None:
            os._exit(128 + signum)      # a second signal: stop now
        drain.begin()

    previous = {s: signal.signal(s, on_signal) for s in signals}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="baton-accept", daemon=True)
    thread.start()
    error = None
    try:
        # The socket listened before serving began: connections wait in the kernel's queue.
        try:
            ready()
        except OSError as e:
            error = e           # the supervisor cannot hear us: drain and report it
            drain.begin()
        while not drain.event.wait(0.5):
            pass
        server.shutdown()       # the accept loop ends
        sock.close()            # our copy of the shared listener; never shutdown() it
        if error is None:
            stopping()          # after the close: STOPPING=1 means we no longer accept
        server.server_close()   # joins the connection threads: returns when all are closed
        if error is not None:
            raise error
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        drain.close()


class _WSGIHandler(BaseHTTPRequestHandler):
    """Runs a WSGI application for each request, HTTP/1.1 with keep-alive."""

    protocol_version = "HTTP/1.1"
    app = None

    def log_message(self, format, *args):
        pass

    def _run(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.send_error(411, "chunked request bodies are not supported")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return
        path, _, query = self.path.partition("?")
        addr = self.server.server_address
        server_name, server_port = (str(addr[0]), str(addr[1])) if isinstance(addr, tuple) else ("localhost", "80")
        env = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length) if length else "",
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
            "REMOTE_ADDR": str(self.client_address[0]) if isinstance(self.client_address, tuple) else "",
            "SERVER_PROTOCOL": self.request_version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(self.rfile.read(length)) if length else io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            key = key.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                continue
            key = "HTTP_" + key
            env[key] = env[key] + "," + value if key in env else value
        started = []

        def start_response(status, headers, exc_info=None):
            if exc_info and started and started[0] == "sent":
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return lambda data: body_parts.append(data)

        body_parts = []
        result = self.app(env, start_response)
        try:
            for part in result:
                if part:
                    body_parts.append(part)
        finally:
            if hasattr(result, "close"):
                result.close()
        body = b"".join(body_parts)
        status_line, headers = started
        code, _, reason = status_line.partition(" ")
        self.send_response(int(code), reason)
        has_length = False
        for k, v in headers:
            if k.lower() == "content-length":
                has_length = True
            if k.lower() in ("connection", "transfer-encoding"):
                continue
            self.send_header(k, v)
        if not has_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def __getattr__(self, attr):
        if attr.startswith("do_"):
            return self._run
        raise AttributeError(attr)


def serve_wsgi(app, sock, signals=(signal.SIGTERM, signal.SIGINT)):
    """Serves the WSGI application `app` on sock with serve()'s drain (HTTP/1.1 keep-alive, one
    thread per connection). Request bodies need a Content-Length; a response without one is
    buffered to compute it."""
    handler = type("WSGIHandler", (_WSGIHandler,), {"app": staticmethod(app)})
    serve(handler, sock, signals)
