# SPDX-License-Identifier: MIT
"""/metrics under churn: 50 reloads (`make soak`, BATON_SOAK=1: 1,000), worker SIGKILLs (4; soak:
100) and one supervisor re-exec (SIGUSR2) under the accounting load client, scraping every 100 ms. No `_total` series (nor histogram bucket or
count) ever decreases, promtool accepts every scrape, the series count stays bounded, and the
request total at the end matches what the load client got answered (within what the killed
workers had not reported yet: baton-web reports once a second, and a final time when it exits)."""
import os
import re
import signal
import threading
import time

from harness import TIME_SCALE, end_load, loadgen, read_report, wait_for
from metricslib import promtool_check, samples, scrape, start

SOAK = os.environ.get("BATON_SOAK") == "1"
RELOADS = 1000 if SOAK else 50
KILLS_AT = set(range(10, RELOADS + 1, 10)) if SOAK else {10, 20, 30, 40}
REEXEC_AT = RELOADS // 2
MONOTONIC = re.compile(r"(_total|_bucket|_count|_sum)(\{|$)")


class Scraper(threading.Thread):
    def __init__(self, mport):
        super().__init__(daemon=True)
        self.mport = mport
        self.texts = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.texts.append(scrape(self.mport, timeout=2))
            except (OSError, AssertionError):
                self.failures += 1  # the few ms of a re-exec: the endpoint is bound again
            self.stop.wait(0.1)


def test_counters_never_decrease_under_churn(procs, port):
    sup, mport = start(procs, port, workers=2)
    sup.wait_ready(workers=2)
    scraper = Scraper(mport)
    scraper.start()
    # The load runs until the last reload is done, then is ended early (SIGTERM).
    seconds = 3600 if SOAK else int(25 * TIME_SCALE)
    client, report = loadgen(procs, port, seconds, connections=16)
    wait_for(lambda: client.alive(), timeout=2, what="loadgen to start")
    kills = 0
    try:
        for i in range(1, RELOADS + 1):
            r = sup.reload()
            assert r.returncode == 0, f"reload {i} failed: {r.stdout}{r.stderr}"
            if i in KILLS_AT:
                gen = sup.wait_ready(workers=2)
                victim = gen["workers"][0]["pid"]
                os.kill(victim, signal.SIGKILL)
                kills += 1
                wait_for(lambda: victim not in {w["pid"] for w in sup.wait_ready(workers=2)["workers"]},
                         timeout=10, what="the killed worker to be replaced")
            if i == REEXEC_AT:
                os.kill(sup.pid, signal.SIGUSR2)
                wait_for(lambda: "re-executed" in sup.proc.log(), timeout=10,
                         what="the supervisor to re-execute")
                wait_for(lambda: scrape(mport, timeout=1), timeout=10,
                         what="the endpoint after the re-exec")
        assert client.alive(), f"the load ended before the {RELOADS} reloads: make it longer"
        end_load(client)
        result = read_report(report)
        seconds = result["duration_s"]

        # Every live worker sends its counters within a second of a change.
        last = [None]

        def settled():
            now = samples(scrape(mport))["baton_http_requests_total"]
            same, last[0] = last[0] == now, now
            return same

        wait_for(settled, timeout=15, interval=1.5, what="the counters to settle")
    finally:
        scraper.stop.set()
        scraper.join(timeout=10)

    texts = scraper.texts
    # One scrape every 100 ms for as long as the churn lasted (a busy machine slows the scraper).
    assert len(texts) >= seconds * 10 / 3, (
        f"only {len(texts)} scrapes in {seconds:.0f} s ({scraper.failures} failed)")
    assert scraper.failures < 20
    previous = {}
    series = 0
    for n, text in enumerate(texts):
        s = samples(text)
        series = max(series, len(s))
        for name, value in s.items():
            if MONOTONIC.search(name) and name in previous:
                assert value >= previous[name], (
                    f"scrape {n}: {name} went down from {previous[name]} to {value}")
        previous.update(s)
    # Live generations only: a handful of per-generation series, however many reloads.
    assert series < 150, f"{series} series"
    first_series = len(samples(texts[0]))
    for n, text in enumerate(texts):
        problems = promtool_check(text)
        assert problems == "", f"scrape {n}: {problems}"

    final = samples(scrape(mport))
    assert final['baton_reloads_total{result="ok"}'] == RELOADS
    assert final["baton_worker_restarts_total"] >= kills
    answered = result["ok"] + result["non2xx"]
    counted = final["baton_http_requests_total"]
    # A killed worker's last second of requests was answered but never reported; one whose
    # connections were reset may have counted a response the client never read.
    rate = answered / seconds
    print(f"metrics soak: {RELOADS} reloads, {kills} worker kills, 1 re-exec in {seconds:.0f} s; "
          f"scrapes {len(texts)} (failed {scraper.failures}), series first {first_series} max "
          f"{series}, answered {answered}, counted {counted:.0f}")
    assert answered - kills * rate * 1.5 <= counted <= answered + kills * 16, (
        f"counted {counted}, answered {answered}, {kills} workers killed, {rate:.0f}/s")
    if kills == 0:
        assert counted == answered
