"""Helpers for the supervisor crash tests: the state file, orphans, process groups."""
import json
import os
import signal

from baton_helpers import pid_alive
from conftest import wait_for


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
