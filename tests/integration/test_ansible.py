"""The Ansible role against three real hosts: systemd-nspawn containers, each with its own sshd
and its own loopback address (127.0.0.2-4), driven by the real `ansible-playbook`.

site.yml installs the package from this build directory, writes each host's configuration
(validated by `baton config` before it replaces anything), and enables baton@hello; every host
then answers on its own address. A second run changes nothing (idempotent); a changed config
reloads the service with a verdict; a host given an invalid configuration fails with baton's
message and keeps its old one.
"""
import json
import os
import shutil
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

import nspawn
from harness import BUILD, SOURCE, TIME_SCALE, free_port, http_get, wait_for

why_not = nspawn.available() or (None if shutil.which("ansible-playbook") else
                                 "ansible-playbook is missing (scripts/install-deps test)")
pytestmark = pytest.mark.skipif(why_not is not None, reason=str(why_not))

HOSTS = {"h1": "127.0.0.2", "h2": "127.0.0.3", "h3": "127.0.0.4"}
ANSIBLE = SOURCE / "deploy" / "ansible"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    deb = nspawn.build_deb(BUILD, tmp / "deb")
    key = tmp / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    port = free_port()
    containers = {name: nspawn.Container(tmp / name, f"baton-{name}") for name in HOSTS}
    try:
        def boot(name):
            c = containers[name].boot()
            c.quiet_apt()
            c.start_sshd(HOSTS[name], (tmp / "id.pub").read_text())
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(boot, HOSTS))
        inventory = tmp / "inventory.ini"
        lines = ["[baton]"]
        for name, addr in HOSTS.items():
            lines.append(f"{name} ansible_host={addr} baton_address={addr}:{port}")
        lines += ["", "[baton:vars]", "ansible_user=root", f"ansible_ssh_private_key_file={key}",
                  "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
                  "ansible_python_interpreter=/usr/bin/python3"]
        inventory.write_text("\n".join(lines) + "\n")
        yield dict(tmp=tmp, deb=deb, inventory=inventory, port=port, containers=containers)
    finally:
        for c in containers.values():
            c.stop()


def playbook(fleet, workers=2, extra=()):
    """Runs site.yml with the hello example's config; returns (rc, per-host recap, output)."""
    config = {
        "name": "hello",
        "listen": {"http": "{{ baton_address }}"},
        "app": {"command": ["/usr/bin/baton-web", "--module", "{{ baton_module }}"],
                "workers": workers},
    }
    varsfile = fleet["tmp"] / "vars.json"
    varsfile.write_text(json.dumps({"baton_package": str(fleet["deb"]), "baton_config": config}))
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_PIPELINING="True")
    r = subprocess.run(["ansible-playbook", "-i", fleet["inventory"], ANSIBLE / "site.yml",
                        "-e", f"@{varsfile}", *extra],
                       capture_output=True, text=True, env=env, timeout=600 * TIME_SCALE)
    recap = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in HOSTS and len(parts) > 2 and parts[1] == ":":
            recap[parts[0]] = {k: int(v) for k, v in (p.split("=") for p in parts[2:])}
    return r.returncode, recap, r.stdout + r.stderr


def test_site_installs_and_starts_every_host(fleet):
    rc, recap, out = playbook(fleet, extra=["-e", "baton_module=/usr/lib/baton/modules/hello.so"])
    assert rc == 0, out[-4000:]
    assert set(recap) == set(HOSTS) and all(r["failed"] == 0 and r["changed"] > 0
                                            for r in recap.values()), out[-3000:]
    for addr in HOSTS.values():
        wait_for(lambda: http_get(fleet["port"], "/", host=addr)[0] == 200, timeout=10 * TIME_SCALE,
                 what=f"{addr} to answer")
        assert http_get(fleet["port"], "/", host=addr)[2] == b"Hello, World!"


def test_second_run_changes_nothing(fleet):
    rc, recap, out = playbook(fleet, extra=["-e", "baton_module=/usr/lib/baton/modules/hello.so"])
    assert rc == 0, out[-4000:]
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), out[-3000:]


def test_changed_config_reloads_with_a_verdict(fleet):
    before = {n: c.main_pid("baton@hello") for n, c in fleet["containers"].items()}
    rc, recap, out = playbook(fleet, workers=3,
                              extra=["-e", "baton_module=/usr/lib/baton/modules/hello.so"])
    assert rc == 0, out[-4000:]
    assert all(r["changed"] > 0 for r in recap.values())
    for name, c in fleet["containers"].items():
        # The same supervisor (a reload, not a restart), now with three workers.
        assert c.main_pid("baton@hello") == before[name]
        st = json.loads(c.run(["baton", "status", "--json", "-s", "/run/baton/hello/control.sock"],
                              check=True).stdout)
        active = [g for g in st["generations"] if g["state"] == "active"]
        assert len(active) == 1 and len(active[0]["workers"]) == 3, st


def test_invalid_config_fails_and_changes_nothing(fleet):
    rc, recap, out = playbook(fleet, workers=-1,
                              extra=["-e", "baton_module=/usr/lib/baton/modules/hello.so"])
    assert rc != 0
    assert "app.workers" in out, out[-3000:]
    for name, c in fleet["containers"].items():
        text = c.run(["cat", "/etc/baton/hello.yaml"], check=True).stdout
        assert "workers: 3" in text
        assert http_get(fleet["port"], "/", host=HOSTS[name])[0] == 200
