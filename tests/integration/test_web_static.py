# SPDX-License-Identifier: MIT
"""baton-web --static: the real server on a temporary tree, spoken to over raw sockets.

Raw sockets, not http.client, because clients normalise `..` and percent-escapes away and the
point of half these tests is to send exactly the bytes an attacker would.
"""
import gzip
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from harness import IO_TIMEOUT, SANITIZE, RawConn, start_web

SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"
JS = b"console.log('fingerprinted');\n" * 20
JS_BR = b"BROTLI-BYTES-STAND-IN\x00\x01\x02"  # content is opaque to the server
MIB = 1 << 20


def request(port, target, method="GET", headers=None, timeout=IO_TIMEOUT):
    """One request with Connection: close on a fresh connection, then a clean EOF:
    (status, headers, body, raw response). `target` goes on the request line byte for byte (str
    is encoded as latin-1)."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}".encode("latin-1"))
    with RawConn(port, timeout=timeout) as c:
        c.send(b"\r\n".join(lines) + b"\r\n\r\n")
        resp = c.read_response(head=(method == "HEAD"))
        if method == "HEAD" and resp.status == 400:
            # The core's protocol-error path (not the static server's) closes with a body.
            resp.body = c.read_to_eof()
        else:
            c.expect_eof()  # and no body after a HEAD or a 304
    status, hdrs, body = resp
    return status, hdrs, body, resp.raw + (resp.body if method == "HEAD" else b"")


def get(site, target, **kw):
    status, hdrs, body, _ = request(site.port, target, **kw)
    return status, hdrs, body


class Site:
    def __init__(self, tmp_path, procs, wrapper=(), env=None):
        self.top = tmp_path
        self.root = tmp_path / "root"
        self.outside = tmp_path / "outside"
        self.root.mkdir()
        self.outside.mkdir()
        (self.outside / "secret.txt").write_bytes(SECRET)
        r = self.root
        (r / "index.html").write_bytes(b"<h1>home</h1>\n")
        (r / "hello.txt").write_bytes(b"hello, static world\n")
        (r / "empty.txt").write_bytes(b"")
        (r / "docs").mkdir()
        (r / "docs" / "index.html").write_bytes(b"<h1>docs</h1>\n")
        (r / "docs" / "noindex").mkdir()
        (r / "app.3f9a1c.js").write_bytes(JS)
        (r / "app.3f9a1c.js.br").write_bytes(JS_BR)
        (r / "app.3f9a1c.js.gz").write_bytes(gzip.compress(JS))
        (r / "style.css").write_bytes(b"body { color: red }\n" * 10)
        (r / "style.css.gz").write_bytes(gzip.compress(b"body { color: red }\n" * 10))
        self.big = os.urandom(MIB)
        (r / "data.bin").write_bytes(self.big)
        (r / ".env").write_bytes(SECRET)
        (r / ".git").mkdir()
        (r / ".git" / "config").write_bytes(SECRET)
        (r / ".well-known").mkdir()
        (r / ".well-known" / "security.txt").write_bytes(b"Contact: mailto:sec@example.org\n")
        # Symlinks inside the root (served) and leaving it (refused).
        (r / "sub").mkdir()
        os.symlink("hello.txt", r / "link-in.txt")
        os.symlink("../hello.txt", r / "sub" / "link-up.txt")
        os.symlink("docs", r / "docs-link")
        os.symlink("/etc/passwd", r / "passwd")
        os.symlink("../outside/secret.txt", r / "out-rel.txt")
        os.symlink("/etc", r / "dir-out")
        os.symlink("../outside", r / "dir-out-rel")
        os.symlink(str(self.outside), r / "dir-out-abs")
        os.symlink("/proc/self/root/etc/passwd", r / "magic")
        # A .br sibling that is a symlink out of the root must not be served either.
        (r / "leak.js").write_bytes(b"plain js\n")
        os.symlink("../outside/secret.txt", r / "leak.js.br")
        os.mkfifo(r / "fifo.txt")
        self.proc, self.port = start_web(procs, "--static", self.root, modules=(), wrapper=wrapper, env=env)


@pytest.fixture
def site(tmp_path, procs):
    return Site(tmp_path, procs)


def test_index_redirect_and_types(site):
    status, hdrs, body = get(site, "/")
    assert (status, body) == (200, b"<h1>home</h1>\n")
    assert hdrs["content-type"] == "text/html; charset=utf-8"
    assert hdrs["accept-ranges"] == "bytes"
    assert hdrs["cache-control"] == "no-cache"

    status, hdrs, _ = get(site, "/docs")
    assert status == 301 and hdrs["location"] == "/docs/"
    status, hdrs, _ = get(site, "/docs?lang=en&x=1")
    assert status == 301 and hdrs["location"] == "/docs/?lang=en&x=1"
    assert get(site, "/docs/")[::2] == (200, b"<h1>docs</h1>\n")
    assert get(site, "/docs/index.html")[::2] == (200, b"<h1>docs</h1>\n")
    assert get(site, "/docs-link/")[::2] == (200, b"<h1>docs</h1>\n")
    # No listings: a directory without index.html is not found.
    assert get(site, "/docs/noindex/")[0] == 404
    assert get(site, "/missing.txt")[0] == 404
    assert get(site, "/hello.txt/")[0] == 404
    assert get(site, "/fifo.txt", timeout=3)[0] == 404

    status, hdrs, body = get(site, "/hello.txt")
    assert (status, body) == (200, b"hello, static world\n")
    assert hdrs["content-type"] == "text/plain; charset=utf-8"
    status, hdrs, body = get(site, "/empty.txt")
    assert (status, body, hdrs["content-length"]) == (200, b"", "0")
    assert get(site, "/data.bin")[1]["content-type"] == "application/octet-stream"
    assert get(site, "/.well-known/security.txt")[0] == 200


def test_head_matches_get(site):
    _, get_hdrs, body = get(site, "/hello.txt")
    status, head_hdrs, head_body = get(site, "/hello.txt", method="HEAD")
    assert status == 200 and head_body == b""
    for name in ("content-length", "content-type", "etag", "last-modified", "cache-control",
                 "accept-ranges"):
        assert head_hdrs[name] == get_hdrs[name], name
    assert int(head_hdrs["content-length"]) == len(body)
    # Range is defined for GET only: HEAD with Range describes the whole file.
    status, hdrs, _ = get(site, "/hello.txt", method="HEAD", headers={"Range": "bytes=0-1"})
    assert status == 200 and hdrs["content-length"] == get_hdrs["content-length"]


def test_etag_revalidation(site):
    status, hdrs, _ = get(site, "/hello.txt")
    etag, last_modified = hdrs["etag"], hdrs["last-modified"]
    assert status == 200 and etag.startswith('"') and last_modified.endswith(" GMT")

    for inm in (etag, "W/" + etag, f'"nope", {etag}', "*"):
        status, hdrs, body = get(site, "/hello.txt", headers={"If-None-Match": inm})
        assert status == 304, inm
        assert body == b"" and hdrs["etag"] == etag and hdrs["cache-control"] == "no-cache"
    assert get(site, "/hello.txt", headers={"If-None-Match": '"nope"'})[0] == 200
    # If-Match / If-Unmodified-Since guard against a changed file.
    assert get(site, "/hello.txt", headers={"If-Match": '"nope"'})[0] == 412
    assert get(site, "/hello.txt", headers={"If-Match": etag})[0] == 200

    # A changed file gets a new tag: the old one no longer yields 304.
    path = site.root / "hello.txt"
    path.write_bytes(b"hello, changed world\n")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_007))
    status, hdrs, body = get(site, "/hello.txt", headers={"If-None-Match": etag})
    assert (status, body) == (200, b"hello, changed world\n")
    assert hdrs["etag"] != etag


def test_if_modified_since(site):
    _, hdrs, _ = get(site, "/hello.txt")
    lm = hdrs["last-modified"]
    status, hdrs2, body = get(site, "/hello.txt", headers={"If-Modified-Since": lm})
    assert (status, body) == (304, b"")
    assert hdrs2["etag"] == hdrs["etag"]
    # Also in the obsolete asctime form, and for a later date.
    assert get(site, "/hello.txt",
               headers={"If-Modified-Since": "Fri Dec 31 23:59:59 2100"})[0] == 304
    assert get(site, "/hello.txt",
               headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})[0] == 200
    assert get(site, "/hello.txt", headers={"If-Modified-Since": "garbage"})[0] == 200
    # If-None-Match present: If-Modified-Since is ignored.
    assert get(site, "/hello.txt",
               headers={"If-Modified-Since": lm, "If-None-Match": '"other"'})[0] == 200


def test_ranges(site):
    text = b"hello, static world\n"
    n = len(text)
    for spec, lo, hi in (("0-4", 0, 4), ("7-", 7, n - 1), ("-6", n - 6, n - 1),
                         ("3-3", 3, 3), ("5-100000", 5, n - 1), ("-1000", 0, n - 1)):
        status, hdrs, body = get(site, "/hello.txt", headers={"Range": f"bytes={spec}"})
        assert status == 206, spec
        assert body == text[lo:hi + 1], spec
        assert hdrs["content-range"] == f"bytes {lo}-{hi}/{n}", spec
        assert hdrs["content-length"] == str(hi - lo + 1)
    for spec in (f"bytes={n}-", "bytes=99999999999999999999999-", "bytes=-0"):
        status, hdrs, body = get(site, "/hello.txt", headers={"Range": spec})
        assert status == 416, spec
        assert hdrs["content-range"] == f"bytes */{n}"
        assert text not in body
    # Several ranges and malformed ones: the whole file.
    for spec in ("bytes=0-1,3-4", "bytes=5-2", "bytes=abc", "lines=1-2", "bytes=1-2-3"):
        status, hdrs, body = get(site, "/hello.txt", headers={"Range": spec})
        assert (status, body) == (200, text), spec
        assert "content-range" not in hdrs
    # If-Range: the current tag honours the range, any other sends everything.
    etag = get(site, "/hello.txt")[1]["etag"]
    assert get(site, "/hello.txt", headers={"Range": "bytes=0-4", "If-Range": etag})[::2] == \
        (206, b"hello")
    assert get(site, "/hello.txt", headers={"Range": "bytes=0-4", "If-Range": '"old"'})[::2] == \
        (200, text)


def test_big_file_exact(site):
    status, hdrs, body = get(site, "/data.bin", timeout=20)
    assert status == 200 and hdrs["content-length"] == str(MIB)
    assert body == site.big
    lo, hi = 123_457, 987_653
    status, hdrs, body = get(site, "/data.bin", headers={"Range": f"bytes={lo}-{hi}"})
    assert status == 206 and hdrs["content-range"] == f"bytes {lo}-{hi}/{MIB}"
    assert body == site.big[lo:hi + 1]
    status, _, body = get(site, "/data.bin", headers={"Range": "bytes=-65536"})
    assert status == 206 and body == site.big[-65536:]


def test_fingerprinted_caching(site):
    status, hdrs, body = get(site, "/app.3f9a1c.js")
    assert (status, body) == (200, JS)
    assert hdrs["cache-control"] == "public, max-age=31536000, immutable"
    assert hdrs["content-type"] == "text/javascript; charset=utf-8"
    assert get(site, "/style.css")[1]["cache-control"] == "no-cache"
    assert get(site, "/index.html")[1]["cache-control"] == "no-cache"


def test_precompressed_siblings(site):
    path = "/app.3f9a1c.js"
    _, plain, body = get(site, path)
    assert body == JS and "content-encoding" not in plain
    assert plain["vary"] == "Accept-Encoding"

    status, hdrs, body = get(site, path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert (status, body) == (200, JS_BR)
    assert hdrs["content-encoding"] == "br" and hdrs["vary"] == "Accept-Encoding"
    assert hdrs["content-type"] == "text/javascript; charset=utf-8"
    assert hdrs["cache-control"] == "public, max-age=31536000, immutable"
    br_etag = hdrs["etag"]
    assert br_etag != plain["etag"]

    status, hdrs, body = get(site, path, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and hdrs["content-encoding"] == "gzip"
    assert gzip.decompress(body) == JS
    gz_etag = hdrs["etag"]
    assert gz_etag not in (br_etag, plain["etag"])
    # q=0 refuses a coding; a higher q for gzip wins over br.
    assert get(site, path, headers={"Accept-Encoding": "br;q=0, gzip"})[1][
        "content-encoding"] == "gzip"
    assert get(site, path, headers={"Accept-Encoding": "br;q=0.5, gzip;q=0.9"})[1][
        "content-encoding"] == "gzip"
    assert get(site, path, headers={"Accept-Encoding": "*;q=0.1, gzip;q=0"})[1][
        "content-encoding"] == "br"
    status, hdrs, body = get(site, path, headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert body == JS and "content-encoding" not in hdrs
    # Only a .gz exists for style.css.
    status, hdrs, body = get(site, "/style.css", headers={"Accept-Encoding": "br, gzip"})
    assert hdrs["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"body { color: red }\n" * 10

    # Each representation revalidates against its own tag.
    assert get(site, path, headers={"Accept-Encoding": "br", "If-None-Match": br_etag})[0] == 304
    assert get(site, path, headers={"Accept-Encoding": "br",
                                    "If-None-Match": plain["etag"]})[0] == 200
    # Ranges apply to the representation selected.
    status, hdrs, body = get(site, path, headers={"Accept-Encoding": "br", "Range": "bytes=0-5"})
    assert (status, body) == (206, JS_BR[:6])
    assert hdrs["content-encoding"] == "br"
    assert hdrs["content-range"] == f"bytes 0-5/{len(JS_BR)}"

    # A sibling that is a symlink out of the root is skipped: the plain file is served.
    status, hdrs, body = get(site, "/leak.js", headers={"Accept-Encoding": "br"})
    assert (status, body) == (200, b"plain js\n") and "content-encoding" not in hdrs


def test_symlinks_inside_root_served(site):
    assert get(site, "/link-in.txt")[::2] == (200, b"hello, static world\n")
    assert get(site, "/sub/link-up.txt")[::2] == (200, b"hello, static world\n")
    assert get(site, "/docs-link/index.html")[::2] == (200, b"<h1>docs</h1>\n")


TRAVERSALS = [
    "/../etc/passwd",
    "/../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/a/..%2f..%2fetc/passwd",
    "/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e%2f%2e%2e%2f%2e%2e%2foutside/secret.txt",
    "/../outside/secret.txt",
    "/docs/../../outside/secret.txt",
    "/./../outside/secret.txt",
    "/%252e%252e/%252e%252e/etc/passwd",
    "/..\\..\\etc\\passwd",
    "//etc/passwd",
    "/%00",
    "/hello.txt%00.png",
    "/passwd",
    "/magic",
    "/out-rel.txt",
    "/dir-out/passwd",
    "/dir-out-rel/secret.txt",
    "/dir-out-abs/secret.txt",
    "/%64ir-out/passwd",
    "/.env",
    "/%2eenv",
    "/.git/config",
    "/%2egit/config",
    "/docs/../.env",
    "../../etc/passwd",
    "/dir-out/",
    "/dir-out-rel/",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_refused(site, target):
    passwd = Path("/etc/passwd").read_bytes()
    for method in ("GET", "HEAD"):
        status, _, body, raw = request(site.port, target, method=method)
        assert status in (400, 403, 404), (method, target, status)
        assert SECRET not in raw and passwd[:64] not in raw, (method, target)
        assert b"root:x:0:0" not in raw


def test_traversal_pipelined(site):
    """All the attempts pipelined on one keep-alive connection (the server may close it at the
    first one it finds malformed); nothing leaks and the server serves the next client."""
    reqs = b""
    for t in TRAVERSALS:
        reqs += b"GET " + t.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    reqs += b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as s:
        s.sendall(reqs)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 ")
    # Only the last request, for /hello.txt, may succeed.
    assert raw.count(b"HTTP/1.1 200 ") <= 1
    assert SECRET not in raw and b"root:x:0:0" not in raw
    assert get(site, "/hello.txt")[::2] == (200, b"hello, static world\n")


def strace_can_inject():
    if not shutil.which("strace"):
        return False
    r = subprocess.run(["strace", "-qq", "-o", "/dev/null", "-e", "trace=openat2",
                        "-e", "inject=openat2:error=ENOSYS", "true"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(not strace_can_inject(), reason="needs strace with ptrace permission")
def test_fallback_without_openat2(tmp_path, procs):
    """A kernel without openat2 (strace makes every openat2 fail with ENOSYS): the O_NOFOLLOW
    walk serves plain files, refuses every symlink (inside the root too) and every escape."""
    # LeakSanitizer cannot stop the world under a tracer.
    env = {"ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1"} if SANITIZE else None
    site = Site(tmp_path, procs, env=env,
                wrapper=["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=openat2",
                         "-e", "inject=openat2:error=ENOSYS"])
    try:
        assert get(site, "/hello.txt")[::2] == (200, b"hello, static world\n")
        assert get(site, "/docs/")[::2] == (200, b"<h1>docs</h1>\n")
        status, hdrs, body = get(site, "/hello.txt", headers={"Range": "bytes=0-4"})
        assert (status, body) == (206, b"hello")
        assert get(site, "/app.3f9a1c.js", headers={"Accept-Encoding": "br"})[2] == JS_BR
        for target in ("/link-in.txt", "/sub/link-up.txt", "/docs-link/index.html"):
            assert get(site, target)[0] == 404, target
        for target in TRAVERSALS:
            status, _, _, raw = request(site.port, target)
            assert status in (400, 403, 404), (target, status)
            assert SECRET not in raw and b"root:x:0:0" not in raw, target
        status, hdrs, body = get(site, "/leak.js", headers={"Accept-Encoding": "br"})
        assert body == b"plain js\n" and "content-encoding" not in hdrs
    finally:
        # strace 6.1 detaches rather than kills on SIGTERM: stop the server itself first.
        children = Path(f"/proc/{site.proc.pid}/task/{site.proc.pid}/children")
        for pid in children.read_text().split() if children.exists() else ():
            os.kill(int(pid), signal.SIGTERM)
        site.proc.wait(15)
