# SPDX-License-Identifier: MIT
"""Torture: many reloads, chaos and exhausted resources, under the accounting load client.

`make test` runs short versions; `make soak` (BATON_SOAK=1) the long ones the reliability
figures come from (docs/reliability.md): 1,000 reloads, 5 minutes of chaos. Each test prints its
figures (run pytest with -s, or read the test log).

- Reloads: keep-alive and Connection: close load at once during every reload; 0 failed
  requests; the supervisor's fds and memory and the workers' memory sampled every 10 % of the
  run, with stated bounds on their growth.
- Chaos: random SIGKILLs of workers of every generation, reloads, in-place reloads, a failing
  release every tenth reload, one supervisor re-exec. The only requests allowed to fail are
  those in flight on a worker at the instant it was SIGKILLed: the failures must fit within the
  connections the killed workers held, and be of the classes such a kill causes.
- Exhaustion: the supervisor at its fd limit during a reload; 10,000 idle control connections.
"""
import os
import random
import resource
import signal
import socket
import subprocess
import time

import pytest

from harness import Supervisor, pid_alive, write_config
from harness import (BATON, BATON_WEB, HELLO_MODULE, LOADGEN, SANITIZE, TIME_SCALE, http_get,
                     open_sockets, read_report, wait_for)

SOAK = os.environ.get("BATON_SOAK") == "1"
FAILURES = ("non2xx", "refused", "lost_fresh", "lost_reused", "partial", "timeout")
WEB = [BATON_WEB, "--module", HELLO_MODULE]


def memory_kb(pid):
    """(RSS, PSS) of a process in KiB."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_load(procs, port, connections, close):
    """A load client that runs until stopped (SIGTERM ends it early and writes the report)."""
    report = procs.tmp / f"load-{'close' if close else 'keepalive'}-{time.monotonic_ns()}.json"
    argv = [LOADGEN, "--host", "127.0.0.1", "--port", port, "--connections", connections,
            "--duration", "2h", "--json", report]
    if close:
        argv.append("--close")
    return procs.start(argv, name="loadgen"), report


def stop_load(clients):
    results = []
    for proc, report in clients:
        proc.signal(signal.SIGTERM)
    for proc, report in clients:
        proc.wait(timeout=30)
        results.append(read_report(report))
    return results


def workers_of(status):
    return [(g["id"], g["state"], w["pid"]) for g in status["generations"] for w in g["workers"]
            if w.get("pid")]


def test_many_reloads_keep_memory_and_fds_bounded(procs, port):
    reloads = 1000 if SOAK else 50
    every = reloads // 10
    config = write_config(procs.tmp, port, WEB, workers=2)
    sup = Supervisor(procs, config)
    base = sup.wait_ready(workers=2)["id"]
    clients = [start_load(procs, port, 32, close=False), start_load(procs, port, 32, close=True)]
    wait_for(lambda: all(c.alive() for c, _ in clients), timeout=2, what="load clients")

    samples = []
    started = time.monotonic()
    for i in range(1, reloads + 1):
        # --wait: with app.max_draining generations still draining, a reload waits its turn.
        r = sup.reload("--wait")
        assert r.returncode == 0, f"reload {i}: {r.stdout}{r.stderr}"
        if i % every == 0 or i == 1:
            gen = sup.wait_ready(workers=2, generation=base + i)
            # Sampled once the old generations are gone, so that their pipes are not counted.
            wait_for(lambda: len(sup.status()["generations"]) == 1, timeout=30,
                     what="the old generations to finish draining")
            workers = [w["pid"] for w in gen["workers"]]
            samples.append((i, fd_count(sup.proc.pid), *memory_kb(sup.proc.pid),
                            sum(memory_kb(p)[1] for p in workers) // len(workers)))
    elapsed = time.monotonic() - started
    results = stop_load(clients)

    print(f"\n{reloads} reloads in {elapsed:.0f} s under keep-alive + close load")
    print(" reload  sup_fds  sup_rss_kb  sup_pss_kb  worker_pss_kb")
    for s in samples:
        print(f" {s[0]:6d}  {s[1]:7d}  {s[2]:10d}  {s[3]:10d}  {s[4]:13d}")
    for res, mode in zip(results, ("keep-alive", "close")):
        classes = {k: res[k] for k in FAILURES if res[k]}
        print(f" {mode}: {res['sent']} sent, {res['failed']} failed {classes or ''}")
        assert res["failed"] == 0 and not classes, (mode, classes, res)
        assert res["sent"] > reloads, res
    # No fd growth in the supervisor; memory growth bounded (the first sample is after one
    # reload, so allocator warm-up is inside it).
    first, last = samples[0], samples[-1]
    # (+1: the `baton status` connection that sampled it may be open or not yet.)
    assert last[1] <= first[1] + 1, f"supervisor fds grew: {first[1]} -> {last[1]}"
    if SANITIZE:
        # ASan keeps freed memory in its quarantine (256 MiB by default) on purpose, so memory
        # grows there by design; its leak checker judges leaks at each process's exit instead.
        return
    assert last[3] - first[3] <= 1024, f"supervisor PSS grew by {last[3] - first[3]} KiB"
    assert last[4] - first[4] <= 1024, f"worker PSS grew by {last[4] - first[4]} KiB"


def test_chaos_loses_only_what_was_in_flight_on_killed_workers(procs, port):
    seconds = 300 if SOAK else int(30 * TIME_SCALE)
    rnd = random.Random(int(os.environ.get("BATON_CHAOS_SEED", "1")))
    good = write_config(procs.tmp, port, WEB, workers=2,
                        extra_app={"restart": {"initial": "50ms", "max": "500ms"}})
    good_text = good.read_text()
    bad_text = good_text.replace(str(BATON_WEB), "/bin/false", 1)
    sup = Supervisor(procs, good)
    sup.wait_ready(workers=2)
    clients = [start_load(procs, port, 32, close=False), start_load(procs, port, 32, close=True)]
    wait_for(lambda: all(c.alive() for c, _ in clients), timeout=2, what="load clients")

    counts = dict(reload=0, failed_reload=0, in_place=0, kill=0, reexec=0)
    kill_budget = 0   # connections held by the workers at the instant they were SIGKILLed
    reexec_at = rnd.uniform(0.3, 0.7) * seconds
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        action = rnd.choices(["reload", "in_place", "kill"], weights=[4, 2, 3])[0]
        if counts["reexec"] == 0 and time.monotonic() - started > reexec_at:
            pid = sup.proc.pid
            sup.proc.signal(signal.SIGUSR2)
            wait_for(lambda: sup.status().get("reexecs", 1) >= 1 and pid_alive(pid), timeout=10)
            counts["reexec"] += 1
        elif action == "reload":
            if (counts["reload"] + counts["failed_reload"] + 1) % 10 == 0:
                good.write_text(bad_text)
                r = sup.reload("--wait")
                good.write_text(good_text)
                assert r.returncode == 1, f"a failing release was accepted: {r.stdout}{r.stderr}"
                counts["failed_reload"] += 1
            else:
                r = sup.reload("--wait")
                assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{sup.proc.log()[-3000:]}"
                counts["reload"] += 1
        elif action == "in_place":
            r = sup.reload("--in-place", "--wait")
            assert r.returncode == 0, f"{r.stdout}{r.stderr}"
            counts["in_place"] += 1
        else:
            victims = [w for w in workers_of(sup.status()) if pid_alive(w[2])]
            if not victims:
                continue
            _, _, pid = rnd.choice(victims)
            try:
                # Everything the worker holds: its connections (and its listener, so the
                # bound is generous by one).
                held = open_sockets(pid)
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError):
                continue
            # ...plus the few it may accept between the count and the kill (Connection: close
            # clients connect ~20 times a millisecond).
            kill_budget += held + 2
            counts["kill"] += 1
        time.sleep(rnd.uniform(0.05, 0.3))  # pacing between chaos actions, not a wait
    assert sup.proc.alive(), sup.proc.log()[-3000:]
    sup.wait_ready(workers=2)
    results = stop_load(clients)

    failed = sum(r["failed"] for r in results)
    classes = {k: sum(r[k] for r in results) for k in FAILURES}
    sent = sum(r["sent"] for r in results)
    print(f"\nchaos for {seconds} s: {counts}; {sent} requests sent, {failed} failed {classes}; "
          f"the killed workers held {kill_budget} sockets")
    # Refusals, non-2xx answers and timeouts are never explained by a kill.
    assert classes["refused"] == 0 and classes["non2xx"] == 0 and classes["timeout"] == 0, classes
    assert failed <= kill_budget, f"{failed} failed but the killed workers held {kill_budget}"
    assert counts["kill"] > 0 and counts["reload"] > 0 and counts["reexec"] == 1
    assert http_get(port, "/")[0] == 200


def test_reload_at_the_fd_limit_keeps_serving(procs, port):
    config = write_config(procs.tmp, port, WEB, workers=2)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    pid = sup.proc.pid
    used = fd_count(pid)
    soft, hard = (int(x) for x in subprocess.run(
        ["prlimit", f"--pid={pid}", "--nofile", "--raw", "--noheadings", "--output=SOFT,HARD"],
        check=True, capture_output=True, text=True).stdout.split())
    # Room for nothing more than what it holds: the next generation's pipes cannot be made.
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={used}:{hard}"], check=True)
    clients = [start_load(procs, port, 16, close=True)]
    r = sup.reload()
    assert sup.proc.alive(), sup.proc.log()[-3000:]
    assert http_get(port, "/")[0] == 200
    if r.returncode != 0:
        # Refused with the reason, and the old generation kept serving.
        assert "open files" in (r.stdout + r.stderr).lower() or "EMFILE" in r.stdout + r.stderr, r
        assert sup.active()["id"] == gen["id"]
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={soft}:{hard}"], check=True)
    r = sup.reload()
    assert r.returncode == 0, r.stdout + r.stderr
    results = stop_load(clients)
    assert results[0]["failed"] == 0, results


def test_reload_completes_beside_10000_idle_control_connections(procs, port):
    n = 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 200:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {n + 200}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 200), hard))
    config = write_config(procs.tmp, port, WEB, workers=2)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=2)
    path = str(procs.tmp / "baton.sock")
    conns = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                s.close()
                break
            conns.append(s)
        started = time.monotonic()
        r = sup.reload()
        took = time.monotonic() - started
        print(f"\n{len(conns)} idle control connections: reload exit {r.returncode} in {took:.2f} s; "
              f"supervisor holds {fd_count(sup.proc.pid)} fds")
        assert r.returncode == 0, r.stdout + r.stderr
        assert took < 10 * TIME_SCALE
        sup.wait_ready(workers=2, generation=gen["id"] + 1)
    finally:
        for s in conns:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_full_log_destination_supervision_goes_on(procs, port):
    """The supervisor's log on a tiny tmpfs that fills up: reloads under load still lose
    nothing, and once there is room again one line says how many lines were lost."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    logfs = procs.tmp / "logfs"
    logfs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(logfs)], check=True)
    try:
        config = write_config(procs.tmp, port, WEB, workers=2)
        log = logfs / "baton.log"
        sup_proc = procs.start(["sh", "-c", f'exec "$0" run -c "$1" >> "{log}" 2>&1', str(BATON),
                                config], name="baton")
        sup = Supervisor(procs, config, proc=sup_proc)
        gen = sup.wait_ready(workers=2)
        # Fill what is left of the file system.
        subprocess.run(["dd", "if=/dev/zero", f"of={logfs}/filler", "bs=4k"], capture_output=True)
        clients = [start_load(procs, port, 16, close=False), start_load(procs, port, 16, close=True)]
        for i in range(5):
            r = sup.reload("--wait")
            assert r.returncode == 0, r.stdout + r.stderr
        gen = sup.wait_ready(workers=2, generation=gen["id"] + 5)
        results = stop_load(clients)
        assert all(res["failed"] == 0 for res in results), results
        assert sup.proc.alive()
        (logfs / "filler").unlink()
        r = sup.reload()
        assert r.returncode == 0
        sup.wait_ready(workers=2, generation=gen["id"] + 1)
        text = log.read_text(errors="replace")
        notices = [line for line in text.splitlines() if "could not be written" in line]
        print(f"\nlog full during 5 reloads: {notices}")
        assert len(notices) == 1 and "No space left on device" in notices[0], notices
        sup.stop()
    finally:
        subprocess.run(["umount", "-l", str(logfs)])
