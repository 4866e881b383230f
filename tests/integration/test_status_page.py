# SPDX-License-Identifier: MIT
"""The status page (GET / on metrics.listen) in headless Chromium: it renders without a
JavaScript error, a screenshot is taken, and the numbers it shows match /status."""
import re
import shutil
import subprocess

import pytest

from harness import http_get, wait_for
from metricslib import scrape, start, status

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="chromium missing: scripts/install-deps test")


def chromium(procs, url, *args):
    profile = procs.tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
            *args, url]
    return subprocess.run(argv, capture_output=True, timeout=120, cwd=procs.tmp)


def body_data(dom):
    m = re.search(r"<body([^>]*)>", dom)
    assert m, dom[:500]
    return dict(re.findall(r'data-([a-z0-9-]+)="([^"]*)"', m.group(1)))


def settled(mport):
    """/status once the workers' counters stopped moving (they report once a second)."""
    last = [None]

    def same():
        st = status(mport)
        now = st["stats"]["requests"]
        ok = last[0] == now
        last[0] = now
        return st if ok else None

    return wait_for(same, timeout=15, interval=1.5, what="the counters to settle")


def test_status_page_renders_and_matches_status(procs, port):
    sup, mport = start(procs, port, workers=2)
    sup.wait_ready(workers=2)
    for _ in range(25):
        assert http_get(port, "/")[0] == 200
    assert http_get(port, "/missing")[0] == 404
    assert sup.reload().returncode == 0
    sup.wait_ready(workers=2, generation=2)
    for _ in range(15):
        assert http_get(port, "/")[0] == 200
    st = settled(mport)
    assert st["stats"]["requests"] == 41

    url = f"http://127.0.0.1:{mport}/"
    r = chromium(procs, url, "--dump-dom")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    dom = r.stdout.decode()
    data = body_data(dom)
    assert "js-error" not in data, data["js-error"]
    assert "fetch-error" not in data, data["fetch-error"]
    assert data["state"] == "loaded"
    now = status(mport)
    assert int(data["generation"]) == now["generation"] == 2
    assert int(data["requests"]) == now["stats"]["requests"] == 41
    assert int(data["responses5xx"]) == now["stats"]["responses_5xx"]
    workers = sum(len(g["workers"]) for g in now["generations"])
    assert int(data["workers"]) == workers
    assert int(data["ready"]) == 2
    assert int(data["reloads"]) == 1
    assert int(data["samples"]) >= 1
    # What people read: the card and the reload table hold the same numbers.
    assert re.search(r'id="c-requests">41<', dom)
    assert "generation 2 is serving" in dom

    shot = procs.tmp / "status-page.png"
    r = chromium(procs, url, f"--screenshot={shot}", "--window-size=1280,1000")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
    # The page needs nothing but the endpoint: no external asset is referenced.
    page = scrape(mport, "/")
    assert not re.search(r'(src|href)="(https?:)?//', page)
