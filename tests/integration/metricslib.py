# SPDX-License-Identifier: MIT
"""Helpers for the metrics endpoint's tests: a supervisor with metrics.listen, scraping, parsing
the Prometheus text format, promtool."""
import json
import re
import shutil
import subprocess

from harness import BATON_WEB, HELLO_MODULE, Supervisor, free_port, http_get, write_config

PROMTOOL = shutil.which("promtool")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def start(procs, port, command=None, workers=2, extra="", extra_app=None, control=None):
    """A supervisor serving metrics on a free port: returns (Supervisor, metrics port)."""
    mport = free_port()
    config = write_config(procs.tmp, port, command or [BATON_WEB, "--module", HELLO_MODULE],
                          workers=workers, extra_app=extra_app, control=control,
                          extra=f"metrics:\n  listen: 127.0.0.1:{mport}\n" + extra)
    sup = Supervisor(procs, config)
    return sup, mport


def scrape(mport, path="/metrics", timeout=5.0):
    status, headers, body = http_get(mport, path, timeout=timeout)
    assert status == 200, (status, body[:200])
    return body.decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def promtool_check(text):
    """promtool check metrics: returns its complaints (empty when clean)."""
    assert PROMTOOL, "promtool is missing: scripts/install-deps test"
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=30)
    out = (r.stdout + r.stderr).decode()
    return "" if r.returncode == 0 else out or f"promtool exit {r.returncode}"


def status(mport):
    return json.loads(scrape(mport, "/status"))
