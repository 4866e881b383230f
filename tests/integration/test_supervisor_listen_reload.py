# SPDX-License-Identifier: MIT
"""Live listener changes: a reload whose `listen:` differs is applied, not warned about.

A new address is bound before the new generation starts and handed to it (LISTEN_FDS and
LISTEN_FDNAMES follow its `listen:`); an unchanged address keeps its very socket (the same kernel
socket, so nothing queued is lost); a removed one is closed only once no generation uses it; an
address that cannot be bound fails the reload with nothing changed.
"""
import json
import os
import signal
import socket

from harness import (BATON_WEB, HELLO_MODULE, TIME_SCALE, free_port, http_get, pid_alive, pyapp, read_state,
                     set_command, set_listen, Supervisor, wait_for, worker_env, write_config)


def listening_inode(port):
    """The inode of the TCP socket listening on 127.0.0.1:port (from /proc/net/tcp), or None."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return int(fields[9])
    return None


def holds(pid, inode):
    """True when process pid has the socket with this inode open."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return True
        except OSError:
            pass
    return False


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def listeners(sup):
    return {l["name"]: l for l in sup.status()["listeners"]}


def test_reload_adds_a_listener_and_keeps_the_old_socket(procs, port):
    config = write_config(procs.tmp, port, [BATON_WEB, "--module", HELLO_MODULE], workers=2)
    sup = Supervisor(procs, config)
    sup.wait_ready(workers=2)
    inode = listening_inode(port)
    assert inode and holds(sup.pid, inode)

    extra = free_port()
    set_listen(config, {"http": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{extra}"})
    r = sup.cli("reload", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"listening on 127.0.0.1:{extra} (admin), new in generation 2" in r.stdout
    assert "restart" not in r.stdout + r.stderr
    gen = sup.wait_ready(workers=2, generation=2)

    # Both serve; the old address is the very same socket, held by the supervisor throughout.
    assert http_get(extra)[0] == 200
    assert http_get(port)[0] == 200
    assert listening_inode(port) == inode and holds(sup.pid, inode)
    assert holds(sup.pid, listening_inode(extra))
    env = worker_env(gen["workers"][0]["pid"])
    assert env["LISTEN_FDS"] == "2" and env["LISTEN_FDNAMES"] == "http:admin"
    ls = listeners(sup)
    assert ls["http"]["fd"] == 3 and ls["admin"]["fd"] == 4
    assert ls["admin"]["state"] == "open" and ls["admin"]["generations"] == [2]
    # The state file (crash recovery) lists the current set.
    state = read_state(procs.tmp)
    assert [l["name"] for l in state["listeners"]] == ["http", "admin"]
    # `baton status` shows them to people too.
    text = sup.cli("status").stdout
    assert f"listen: admin 127.0.0.1:{extra} (fd 4)" in text, text

    # A re-exec keeps both, with the same sockets.
    extra_inode = listening_inode(extra)
    sup.proc.signal(signal.SIGUSR2)
    wait_for(lambda: "re-executed" in sup.proc.log(), timeout=10, what="re-exec")
    assert {l["name"] for l in sup.status()["listeners"]} == {"http", "admin"}
    assert holds(sup.pid, inode) and holds(sup.pid, extra_inode)
    assert http_get(extra)[0] == 200
    sup.stop()


def test_removed_listener_closes_after_the_old_generation_drained(procs, port):
    # Generation 1 ignores the stop signal: it drains for the whole drain_timeout, on both.
    old = free_port()
    config = write_config(procs.tmp, port, pyapp("--ignore-term"), workers=1,
                          extra_app={"drain_timeout": f"{int(3 * TIME_SCALE)}s"})
    set_listen(config, {"http": f"127.0.0.1:{port}", "old": f"127.0.0.1:{old}"})
    sup = Supervisor(procs, config)
    gen1 = sup.wait_ready(workers=1)
    old_inode = listening_inode(old)
    assert holds(sup.pid, old_inode)

    set_listen(config, {"http": f"127.0.0.1:{port}"})
    set_command(config, pyapp())
    r = sup.reload()
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"listener 127.0.0.1:{old} (old) is not in generation 2" in r.stdout + r.stderr
    gen2 = sup.wait_ready(workers=1, generation=2)
    assert worker_env(gen2["workers"][0]["pid"])["LISTEN_FDS"] == "1"

    # While generation 1 drains, the supervisor still holds its listener (closing).
    pid1 = gen1["workers"][0]["pid"]
    assert pid_alive(pid1)
    ls = listeners(sup)
    assert ls["old"]["state"] == "closing" and ls["old"]["generations"] == [1], ls
    assert "fd" not in ls["old"]
    assert holds(sup.pid, old_inode)
    assert [l["name"] for l in read_state(procs.tmp)["listeners"]] == ["http"]
    text = sup.cli("status").stdout
    assert f"listen: old 127.0.0.1:{old} (closing: used by generation 1)" in text, text

    # Generation 1 killed at its drain_timeout: the listener is gone, the address refuses.
    wait_for(lambda: not pid_alive(pid1), timeout=15 * TIME_SCALE, what="generation 1 to be killed")
    wait_for(lambda: "old" not in listeners(sup), timeout=5, what="the old listener to close")
    assert not holds(sup.pid, old_inode)
    assert refused(old)
    assert "closed the listener on 127.0.0.1:%d (old)" % old in sup.proc.log()
    assert http_get(port)[0] == 200
    sup.stop()


def test_address_in_use_fails_the_reload_and_changes_nothing(procs, port):
    config = write_config(procs.tmp, port, [BATON_WEB, "--module", HELLO_MODULE], workers=1)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    before = sup.status()["listeners"]

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    taken = busy.getsockname()[1]
    try:
        set_listen(config, {"http": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{taken}"})
        r = sup.cli("reload", "--json")
        assert r.returncode == 1, r.stdout + r.stderr
        verdict = json.loads(r.stdout.strip().splitlines()[-1])
        assert not verdict["ok"]
        assert verdict["reason"]["cause"] == "listen"
        assert verdict["error"] == f"listen admin: 127.0.0.1:{taken}: Address already in use"
        # Nothing changed: the same generation, the same workers, the same listeners.
        assert sup.active()["id"] == gen["id"]
        assert [w["pid"] for w in sup.active()["workers"]] == [w["pid"] for w in gen["workers"]]
        assert sup.status()["listeners"] == before
        assert http_get(port)[0] == 200
        # Plain output says why, too.
        r = sup.reload()
        assert r.returncode == 1 and "Address already in use" in r.stdout + r.stderr
    finally:
        busy.close()
    # Once the address is free the same change applies.
    r = sup.reload()
    assert r.returncode == 0, r.stdout + r.stderr
    assert http_get(taken)[0] == 200
    sup.stop()


def test_listener_of_a_failed_generation_closes_with_it(procs, port):
    config = write_config(procs.tmp, port, pyapp(), workers=1)
    sup = Supervisor(procs, config)
    gen = sup.wait_ready(workers=1)
    extra = free_port()
    set_listen(config, {"http": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{extra}"})
    set_command(config, pyapp("--exit-at-start", "3"))
    r = sup.reload()
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"listening on 127.0.0.1:{extra} (admin), new in generation 2" in r.stdout
    # Rolled back: generation 1 serves on its one listener; the new one went with generation 2.
    assert sup.active()["id"] == gen["id"]
    wait_for(lambda: [l["name"] for l in sup.status()["listeners"]] == ["http"], timeout=10,
             what="the failed generation's listener to close")
    assert refused(extra)
    assert http_get(port)[0] == 200
    sup.stop()

