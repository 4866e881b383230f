# SPDX-License-Identifier: MIT
"""The harness itself: what a test starts never outlives the test run, even when pytest is
killed (a ctest timeout sends SIGKILL, which no teardown sees)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

from harness import start_web, sweep_orphans, wait_for

# A stand-in for a pytest session: starts a real baton-web through the harness, says its pid and
# waits to be killed.
SESSION = r'''
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from harness import Procs, start_web
web = start_web(Procs(Path(sys.argv[2])))
print(web.proc.pid, flush=True)
time.sleep(600)
'''


def gone(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == b"Z"


def test_the_next_session_takes_down_what_a_killed_one_left(procs, tmp_path):
    mine = start_web(procs)
    session = subprocess.Popen([sys.executable, "-c", SESSION, str(Path(__file__).parent), str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    try:
        web_pid = int(session.stdout.readline())
    finally:
        session.kill()  # SIGKILL: no teardown runs
        session.wait()
        session.stdout.close()
    try:
        assert not gone(web_pid)  # left behind: its own session, reparented
        swept = sweep_orphans()
        assert web_pid in swept
        wait_for(lambda: gone(web_pid), what=f"baton-web {web_pid} to die")
        # A live session's processes are never swept.
        assert mine.proc.pid not in swept and mine.proc.alive()
    finally:
        if not gone(web_pid):
            os.kill(web_pid, signal.SIGKILL)
