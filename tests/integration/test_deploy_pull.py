# SPDX-License-Identifier: MIT
"""Pull mode (DESIGN.md "Pull mode"): the supervisor polls a local update server's latest.json
every second with a conditional GET and deploys newer signed versions by itself; expired and
older metadata is refused with its reason in status; a version that failed to deploy is not
tried again until latest.json changes; phase 0 is never taken."""
import datetime
import time
import hashlib
import http.server
import json
import os
import subprocess
import threading

import pytest

from harness import (make_artifact, make_minisign_key, release_config, serving_version, Supervisor,
                     wait_for)


class UpdateServer:
    """A static file server for one directory on a free loopback port, with an ETag (the
    content's SHA-256) and Last-Modified on every file and 304 for a matching If-None-Match. It
    records every request as (path, headers, status)."""

    def __init__(self, root):
        self.root = root
        self.requests = []
        self.hang = threading.Event()     # set: every request hangs until release is set
        self.release = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if server.hang.is_set():
                    with server.lock:
                        server.requests.append((self.path, dict(self.headers), None))
                    server.release.wait(60)
                    return
                path = os.path.join(server.root, os.path.basename(self.path.split("?")[0]))
                status = 404
                try:
                    with open(path, "rb") as f:
                        body = f.read()
                    etag = '"%s"' % hashlib.sha256(body).hexdigest()
                    status = 304 if self.headers.get("If-None-Match") == etag else 200
                except OSError:
                    body = b"not found\n"
                with server.lock:
                    server.requests.append((self.path, dict(self.headers), status))
                self.send_response(status)
                if status != 404:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", self.date_time_string(os.stat(path).st_mtime))
                if status == 304:
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/latest.json"

    def seen(self, name):
        with self.lock:
            return [r for r in self.requests if r[0].endswith("/" + name)]

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def pull(procs, port):
    """(server dir, server, key, start()) where start() runs a supervisor on an empty
    release.root with release.trust and release.source polled every second."""
    d = procs.tmp / "updates"
    d.mkdir()
    server = UpdateServer(str(d))
    key = make_minisign_key(procs.tmp)
    root = procs.tmp / "root"

    def start():
        config = release_config(procs.tmp, port, root, probation="100ms", timeout="1s",
                                release_extra={"trust": str(key[0]),
                                               "source": {"url": server.url, "interval": "1s"}})
        sup = Supervisor(procs, config)
        wait_for(lambda: sup.cli("status", "--json").returncode == 0, what="the control socket")
        return sup

    yield d, server, key, root, start
    server.close()


def publish(d, key, version, app_args=(), expires=None, phase=None, extra=None, procs_tmp=None):
    """Builds and signs app-VERSION.tar.gz into d (unless there), then writes and signs
    latest.json naming it: artifact first, latest.json last, like a real publisher."""
    artifact = d / f"app-{version}.tar.gz"
    if not artifact.exists():
        made = make_artifact(procs_tmp, version, app_args, key=key)
        os.replace(made, artifact)
        os.replace(str(made) + ".minisig", str(artifact) + ".minisig")
    latest = {"version": version, "url": artifact.name,
              "sha256": hashlib.sha256(artifact.read_bytes()).hexdigest()}
    if expires is not None:
        latest["expires"] = expires
    if phase is not None:
        latest["phase"] = phase
    latest.update(extra or {})
    tmp = d / "latest.json.tmp"
    tmp.write_text(json.dumps(latest))
    subprocess.run(["minisign", "-S", "-s", key[1], "-m", tmp, "-x", d / "latest.json.minisig",
                    "-t", f"file:latest.json version:{version}"], check=True, capture_output=True)
    os.replace(tmp, d / "latest.json")


def source(sup):
    return sup.status()["source"]


def polls_after(sup, n):
    """Waits for n more completed polls; returns the status's source object then."""
    start = source(sup)["polls"]
    wait_for(lambda: source(sup)["polls"] >= start + n, timeout=20, what=f"{n} more polls")
    return source(sup)


def test_new_versions_pulled_and_unchanged_latest_answered_304(procs, port, pull):
    d, server, key, root, start = pull
    publish(d, key, "1.0", procs_tmp=procs.tmp)
    sup = start()
    wait_for(lambda: sup.status().get("release") == "1.0", timeout=30, what="1.0 pulled and deployed")
    assert serving_version(port) == "1.0"
    assert "pulled 1.0" in sup.proc.log()
    assert len(server.seen("app-1.0.tar.gz")) == 1 and len(server.seen("app-1.0.tar.gz.minisig")) == 1

    # Unchanged: conditional GETs answered 304, nothing downloaded again.
    st = polls_after(sup, 3)
    assert st["result"] in ("not modified", "up to date"), st
    later = server.seen("latest.json")[1:]
    assert any(r[2] == 304 for r in later), later
    for path, headers, status in later:
        if status == 304:
            assert "If-None-Match" in headers or "If-Modified-Since" in headers, headers
    assert len(server.seen("app-1.0.tar.gz")) == 1
    text = sup.cli("status").stdout
    assert "source: last poll " in text and "next poll " in text, text
    # The downloaded files were removed after the deploy.
    wait_for(lambda: not os.listdir(root / ".baton" / "downloads"), what="downloads removed")

    # A newer signed version: deployed by itself, status shows it.
    publish(d, key, "2.0", procs_tmp=procs.tmp)
    wait_for(lambda: sup.status().get("release") == "2.0", timeout=30, what="2.0 pulled")
    assert serving_version(port) == "2.0"
    assert "pulled 2.0" in sup.proc.log()
    def releases():
        return {r["version"]: r for r in json.loads(sup.cli("releases", "--json").stdout)["releases"]}
    wait_for(lambda: releases()["2.0"]["state"] == "committed", what="2.0 committed")
    assert releases()["2.0"]["current"]
    wait_for(lambda: source(sup)["result"] in ("up to date", "not modified"), what="up to date")


def test_expired_and_older_metadata_refused(procs, pull):
    d, server, key, root, start = pull
    publish(d, key, "2.0", procs_tmp=procs.tmp)
    sup = start()
    wait_for(lambda: sup.status().get("release") == "2.0", timeout=30, what="2.0 pulled")

    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    publish(d, key, "3.0", expires=past.strftime("%Y-%m-%dT%H:%M:%SZ"), procs_tmp=procs.tmp)
    wait_for(lambda: "expired" in source(sup)["reason"], timeout=20, what="expired refused")
    st = source(sup)
    assert st["result"] == "refused" and "3.0" in st["reason"], st
    assert "refused: latest.json (3.0) expired at" in sup.cli("status").stdout
    assert not server.seen("app-3.0.tar.gz")
    assert sup.status()["release"] == "2.0"

    publish(d, key, "1.5", procs_tmp=procs.tmp)
    wait_for(lambda: "older" in source(sup)["reason"], timeout=20, what="older refused")
    st = source(sup)
    assert st["result"] == "refused" and "1.5" in st["reason"] and "2.0" in st["reason"], st
    polls_after(sup, 2)
    assert not server.seen("app-1.5.tar.gz")
    assert sup.status()["release"] == "2.0"
    assert sorted(os.listdir(root / "releases")) == ["2.0"]


def test_failed_version_not_retried_until_latest_changes_and_phase_zero(procs, port, pull):
    d, server, key, root, start = pull
    publish(d, key, "1.0", procs_tmp=procs.tmp)
    sup = start()
    wait_for(lambda: sup.status().get("release") == "1.0", timeout=30, what="1.0 pulled")

    publish(d, key, "2.0", ["--exit-at-start", "1"], procs_tmp=procs.tmp)
    wait_for(lambda: "the deploy of 2.0 failed" in sup.proc.log(), timeout=30, what="2.0 failed")
    assert serving_version(port) == "1.0"
    st = polls_after(sup, 3)
    assert len(server.seen("app-2.0.tar.gz")) == 1, server.seen("app-2.0.tar.gz")
    assert st["result"] in ("held", "not modified"), st
    assert sup.status()["release"] == "1.0"

    # A restart remembers the failure (the journal): still not tried again.
    sup.stop()
    sup = start()
    wait_for(lambda: sup.status().get("release") == "1.0", timeout=30, what="restarted")
    st = polls_after(sup, 2)
    assert st["result"] in ("held", "not modified") and "2.0 failed to deploy" in st["reason"], st
    assert len(server.seen("app-2.0.tar.gz")) == 1

    # latest.json changes (any byte): 2.0 is judged again and tried again.
    publish(d, key, "2.0", extra={"note": "rebuilt"}, procs_tmp=procs.tmp)
    wait_for(lambda: len(server.seen("app-2.0.tar.gz")) == 2, timeout=20, what="2.0 tried again")
    wait_for(lambda: sup.proc.log().count("the deploy of 2.0 failed") == 1 and not sup.status().get("deploy"),
             timeout=30, what="the second try over")
    assert sup.status()["release"] == "1.0"

    # Phase 0: never taken, never downloaded.
    publish(d, key, "3.0", phase=0, procs_tmp=procs.tmp)
    wait_for(lambda: "phase" in source(sup)["reason"], timeout=20, what="phase 0 held")
    st = polls_after(sup, 3)
    assert st["result"] in ("held", "not modified") and "3.0" in st["reason"], st
    assert not server.seen("app-3.0.tar.gz")
    assert sup.status()["release"] == "1.0" and serving_version(port) == "1.0"


def test_stop_cancels_a_hanging_poll(procs, pull):
    """A poll stuck on a server that never answers (curl's stall timeout is 30 s) does not hold
    the supervisor's exit: baton_source_cancel() ends it at once."""
    d, server, key, root, start = pull
    server.hang.set()
    sup = start()
    wait_for(lambda: server.seen("latest.json"), what="the poll in flight")
    assert source(sup)["polling"] is True
    t0 = time.monotonic()
    assert sup.stop() == 0
    assert time.monotonic() - t0 < 5.0
    assert "supervisor stopped" in sup.proc.log()
