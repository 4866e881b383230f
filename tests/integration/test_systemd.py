# SPDX-License-Identifier: MIT
"""baton under a real systemd: the .deb, baton@.service and baton@.socket in a booted container.

One container (systemd 252 booting a copy-on-write view of this machine, see nspawn.py) gets
the package built from this build directory with `apt-get install ./baton_*.deb`, then runs the
hello example as baton@hello the way a user would: start, `systemctl reload` under the
accounting load client (0 failed requests), a reload that fails (non-zero, the old generation
keeps serving), a missing and an invalid config, `kill -9` of the supervisor (systemd restarts
it with the listeners from its fd store: no connection refused), socket activation, stop, and
finally `apt-get remove`. The load client runs on the host: the container shares its loopback.
"""
import json
import re
import shutil
import subprocess

import pytest

import nspawn
from harness import BUILD, LOADGEN, TIME_SCALE, free_port, http_get, port_answers, read_report, wait_for

pytestmark = pytest.mark.skipif(nspawn.available() is not None, reason=str(nspawn.available()))

SOCK = "/run/baton/hello/control.sock"
FAILURES = ("non2xx", "refused", "lost_fresh", "lost_reused", "partial", "timeout")


EXAMPLE = "/usr/share/doc/baton/examples/hello.yaml"


def hello_config(host, port, command=None):
    """The packaged example config, on this port (and with another command)."""
    text = host.run(["cat", EXAMPLE], check=True).stdout
    assert "127.0.0.1:8080" in text, text
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    if command:
        text = text.replace("/usr/bin/baton-web", command)
    return text + "  drain_timeout: 10s\n"


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """The package of this build directory (cpack on its CPackConfig)."""
    return nspawn.build_deb(BUILD, tmp_path_factory.mktemp("deb"))


@pytest.fixture(scope="module")
def host(tmp_path_factory, deb):
    c = nspawn.Container(tmp_path_factory.mktemp("sd"), "baton-sd")
    try:
        c.boot()
        c.quiet_apt()
        c.copy_in(deb, f"/var/lib/baton-test/{deb.name}")
        r = c.sh(f"cd /var/lib/baton-test && DEBIAN_FRONTEND=noninteractive "
                 f"apt-get install -y -q /var/lib/baton-test/{deb.name}", timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def hello(host):
    """baton@hello serving on its own port."""
    port = free_port()
    host.write("/etc/baton/hello.yaml", hello_config(host, port))
    r = host.run(["systemctl", "start", "baton@hello"], timeout=120)
    assert r.returncode == 0, r.stderr + host.journal("baton@hello")[-3000:]
    wait_for(lambda: port_answers(port), timeout=10 * TIME_SCALE, what="baton@hello to answer")
    return port


def status(host):
    r = host.run(["baton", "status", "--json", "-s", SOCK], check=True)
    return json.loads(r.stdout)


def active_generation(host):
    s = status(host)
    gens = [g for g in s["generations"] if g["state"] == "active"]
    assert len(gens) == 1, s
    return gens[0]


def start_load(procs, port, seconds, close=False):
    report = procs.tmp / f"load-{port}-{int(close)}.json"
    argv = [LOADGEN, "--host", "127.0.0.1", "--port", port, "--connections", 64,
            "--duration", f"{seconds}s", "--json", report]
    if close:
        argv.append("--close")
    return procs.start(argv, name="loadgen"), report


def test_package_installed_the_user_and_units(host):
    assert host.run(["id", "baton"]).returncode == 0
    r = host.run(["systemctl", "cat", "baton@.service", "baton@.socket"], check=True)
    assert "FileDescriptorStoreMax=" in r.stdout and "ListenStream=" in r.stdout


def test_unit_verifies_and_scores_as_hardened(host, hello):
    r = host.run(["systemd-analyze", "verify", "baton@hello.service"])
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    r = host.run(["systemd-analyze", "security", "baton@hello.service"], check=True)
    m = re.search(r"Overall exposure level for baton@hello.service: ([0-9.]+)", r.stdout)
    assert m and float(m.group(1)) <= 4.0, r.stdout[-500:]


@pytest.mark.parametrize("close", [False, True], ids=["keepalive", "close"])
def test_systemctl_reload_under_load_loses_nothing(host, hello, procs, close):
    before = active_generation(host)["id"]
    client, report = start_load(procs, hello, int(12 * TIME_SCALE), close=close)
    wait_for(client.alive, timeout=2, what="loadgen to start")
    for _ in range(4):
        assert client.alive(), "load ended before the reloads did"
        r = host.run(["systemctl", "reload", "baton@hello"], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr + host.journal("baton@hello")[-2000:]
    client.wait(timeout=60)
    result = read_report(report)
    assert result["sent"] > 500, result
    assert result["failed"] == 0 and not any(result[k] for k in FAILURES), result
    assert active_generation(host)["id"] == before + 4


def test_failed_reload_fails_systemctl_and_keeps_serving(host, hello):
    gen = active_generation(host)
    host.write("/etc/baton/hello.yaml", hello_config(host, hello, command="/usr/bin/false"))
    try:
        r = host.run(["systemctl", "reload", "baton@hello"], timeout=120)
        assert r.returncode != 0
        assert http_get(hello, "/")[0] == 200
        assert active_generation(host)["id"] == gen["id"]
        assert host.run(["systemctl", "is-active", "baton@hello"]).stdout.strip() == "active"
    finally:
        host.write("/etc/baton/hello.yaml", hello_config(host, hello))


def test_missing_config_fails_the_start(host):
    r = host.run(["systemctl", "start", "baton@nothere"], timeout=60)
    assert r.returncode != 0
    journal = host.journal("baton@nothere")
    assert "/etc/baton/nothere.yaml: No such file or directory" in journal, journal
    # A configuration error is not retried in a loop.
    assert host.run(["systemctl", "show", "-p", "NRestarts", "--value", "baton@nothere"]).stdout.strip() == "0"


def test_invalid_config_fails_the_start_with_its_position(host):
    port = free_port()
    host.write("/etc/baton/broken.yaml", hello_config(host, port).replace("workers: 2", "workers: two"))
    r = host.run(["systemctl", "start", "baton@broken"], timeout=60)
    assert r.returncode != 0
    journal = host.journal("baton@broken")
    assert re.search(r"/etc/baton/broken\.yaml:\d+:\d+", journal), journal[-2000:]


def test_supervisor_killed_is_restarted_with_its_listeners(host, hello, procs):
    """kill -9 of the supervisor: systemd restarts it and hands back the listening socket from
    its fd store, so connections made meanwhile wait in the same queue - none is refused. The
    workers of the dead supervisor are killed by systemd (KillMode=mixed), so requests in
    flight on them at that instant fail; the test reports how many."""
    old = host.main_pid("baton@hello")
    client, report = start_load(procs, hello, int(8 * TIME_SCALE), close=True)
    wait_for(client.alive, timeout=2, what="loadgen to start")
    wait_for(lambda: report.exists() or True, timeout=1)
    host.run(["kill", "-9", old], check=True)
    wait_for(lambda: host.main_pid("baton@hello") not in (0, old), timeout=30 * TIME_SCALE,
             what="systemd to restart the supervisor")
    wait_for(lambda: host.run(["systemctl", "is-active", "baton@hello"]).stdout.strip() == "active",
             timeout=30 * TIME_SCALE, what="the new supervisor to be ready")
    client.wait(timeout=60)
    result = read_report(report)
    journal = host.journal("baton@hello")
    assert "inherited the listener" in journal.split(f"[{old}]")[-1] or "inherited" in journal
    assert result["refused"] == 0, result
    in_flight = result["lost_fresh"] + result["lost_reused"] + result["partial"]
    print(f"kill -9 of the supervisor under load: {result['sent']} sent, {result['refused']} refused, "
          f"{in_flight} in flight lost, {result['timeout']} timed out")
    # Only requests in flight on the killed workers may fail: a handful, never the queue.
    assert result["failed"] <= 64 + result["sent"] // 100, result
    assert http_get(hello, "/")[0] == 200


def test_socket_activation_hands_the_listener_to_baton(host):
    port = free_port()
    host.write("/etc/baton/sock.yaml", hello_config(host, port).replace("name: hello", "name: sock"))
    host.write("/etc/systemd/system/baton@sock.socket.d/listen.conf",
               f"[Socket]\nListenStream=\nListenStream=127.0.0.1:{port}\nFileDescriptorName=http\n")
    host.run(["systemctl", "daemon-reload"], check=True)
    host.run(["systemctl", "start", "baton@sock.socket"], check=True)
    assert host.run(["systemctl", "is-active", "baton@sock.service"]).stdout.strip() != "active"
    # The first connection starts the service; it is answered, not refused.
    status_code = http_get(port, "/", timeout=30 * TIME_SCALE)[0]
    assert status_code == 200
    assert "inherited the listener" in host.journal("baton@sock")


def test_systemctl_reload_during_a_deploy_is_refused(host, tmp_path):
    """While a deploy runs (here: held on probation), `systemctl reload` fails (busy) and the
    deploy goes on to commit."""
    port = free_port()
    text = hello_config(host, port).replace("name: hello", "name: rel")
    # The app runs from the release: the module comes with it.
    text = text.replace(text[text.index("--module, ") + 10:text.index("]", text.index("--module, "))],
                        "modules/hello.so")
    text += "release:\n  root: /var/lib/baton/rel\n  probation: 4s\n  probation_requests: 0\n"
    host.write("/etc/baton/rel.yaml", text)
    host.run(["systemctl", "start", "baton@rel"], check=True, timeout=120)
    src = tmp_path / "rel"
    (src / "modules").mkdir(parents=True)
    shutil.copy(BUILD / "modules" / "hello.so", src / "modules" / "hello.so")
    artifact = tmp_path / "hello-1.0.0.tar.gz"
    subprocess.run(["tar", "-C", src, "-czf", artifact, "."], check=True)
    host.copy_in(artifact, "/var/lib/baton/rel-incoming/hello-1.0.0.tar.gz")
    deploy = subprocess.Popen(["nsenter", "-t", str(host.leader), "-a", "baton", "deploy", "--json",
                               "-s", "/run/baton/rel/control.sock",
                               "/var/lib/baton/rel-incoming/hello-1.0.0.tar.gz"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (status := host.run(["baton", "status", "--json", "-s",
                                              "/run/baton/rel/control.sock"])).returncode == 0
                 and json.loads(status.stdout).get("deploy"), timeout=30 * TIME_SCALE,
                 what="the deploy to be running")
        r = host.run(["systemctl", "reload", "baton@rel"], timeout=60)
        assert r.returncode != 0, "systemctl reload succeeded while a deploy ran"
        assert "busy" in host.journal("baton@rel"), host.journal("baton@rel")[-2000:]
        out, err = deploy.communicate(timeout=60 * TIME_SCALE)
        assert deploy.returncode == 0, out + err
        assert http_get(port, "/")[0] == 200
    finally:
        if deploy.poll() is None:
            deploy.kill()
            deploy.wait()
        host.run(["systemctl", "stop", "baton@rel"], timeout=120)


def test_stop_drains_and_leaves_nothing(host, hello):
    pids = [host.main_pid("baton@hello")] + [w["pid"] for g in status(host)["generations"]
                                              for w in g["workers"]]
    host.run(["systemctl", "stop", "baton@hello"], check=True, timeout=120)
    r = host.run(["systemctl", "show", "-p", "ActiveState", "-p", "Result", "baton@hello"])
    assert "ActiveState=inactive" in r.stdout and "Result=success" in r.stdout, r.stdout
    # Nothing of the service is left running.
    assert [p for p in pids if host.run(["kill", "-0", p]).returncode == 0] == []
    journal = host.journal("baton@hello")
    assert "drain" in journal.lower(), journal[-2000:]


def test_package_removes_cleanly(host):
    host.run(["systemctl", "stop", "baton@sock.socket", "baton@sock.service"], timeout=120)
    r = host.sh("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q baton", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for path in ("/usr/bin/baton", "/usr/bin/baton-web", "/lib/systemd/system/baton@.service",
                 "/usr/include/baton/baton.h"):
        assert host.run(["test", "-e", path]).returncode != 0, path
    assert host.run(["dpkg", "-s", "baton"]).returncode != 0 or \
        "deinstall" in host.run(["dpkg", "-s", "baton"]).stdout
