# SPDX-License-Identifier: MIT
"""The Ansible role against three real hosts: systemd-nspawn containers, each with its own sshd
and its own loopback address (127.0.0.2-4), driven by the real `ansible-playbook`.

site.yml installs the package from this build directory, writes each host's configuration
(validated by `baton config` before it replaces anything), and enables baton@hello; every host
then answers on its own address. A second run changes nothing (idempotent); a changed config
reloads the service with a verdict; a host given an invalid configuration fails with baton's
message and keeps its old one.

deploy.yml then rolls signed releases (made with tar and the real minisign) through the fleet:
one host, then half, then the rest, each judged by `baton deploy --json`'s verdict. A release
that fails on host 2 stops the rollout there: host 1 keeps the new release, host 2 is rolled back
by baton, host 3 is not touched; after the fix a re-run converges (changed only where something
changed), and a host where baton is not running fails the play with the reason.
"""
import json
import os
import shutil
import subprocess
import uuid
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
    port, port2 = free_port(), free_port()
    containers = {name: nspawn.Container(tmp / name, f"baton-{name}") for name in HOSTS}
    try:
        def boot(name):
            c = containers[name].boot()
            c.quiet_apt()
            c.start_sshd(HOSTS[name], (tmp / "id.pub").read_text())
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(boot, HOSTS))
        inventory = tmp / "inventory.json"
        hosts = {name: {"ansible_host": addr, "baton_address": f"{addr}:{port}",
                        "fleet_address": f"{addr}:{port2}",
                        # host 2 alone serves static files: a release without public/ fails there
                        "fleet_extra_args": ["--static", "public"] if name == "h2" else []}
                 for name, addr in HOSTS.items()}
        inventory.write_text(json.dumps({"baton": {"hosts": hosts, "vars": {
            "ansible_user": "root", "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": "/usr/bin/python3"}}}))
        yield dict(tmp=tmp, deb=deb, inventory=inventory, port=port, port2=port2,
                   containers=containers, key=nspawn_key(tmp))
    finally:
        for c in containers.values():
            c.stop()


def nspawn_key(tmp):
    """The release signing key pair (minisign -G -W): (public, secret)."""
    pub, sec = tmp / "release.pub", tmp / "release.key"
    subprocess.run(["minisign", "-G", "-W", "-p", pub, "-s", sec], check=True, capture_output=True)
    return pub, sec


def ansible(fleet, book, variables, extra=()):
    """Runs a playbook of deploy/ansible with these variables: (rc, per-host recap, output)."""
    varsfile = fleet["tmp"] / f"vars-{uuid.uuid4().hex[:8]}.json"
    varsfile.write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_RETRY_FILES_ENABLED="False",
               ANSIBLE_PIPELINING="True")
    r = subprocess.run(["ansible-playbook", "-i", fleet["inventory"], ANSIBLE / book,
                        "-e", f"@{varsfile}", *extra],
                       capture_output=True, text=True, env=env, timeout=600 * TIME_SCALE)
    recap = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in HOSTS and len(parts) > 2 and parts[1] == ":":
            recap[parts[0]] = {k: int(v) for k, v in (p.split("=") for p in parts[2:])}
    return r.returncode, recap, r.stdout + r.stderr


def playbook(fleet, workers=2, extra=()):
    """Runs site.yml with the hello example's config; returns (rc, per-host recap, output)."""
    config = {
        "name": "hello",
        "listen": {"http": "{{ baton_address }}"},
        "app": {"command": ["/usr/bin/baton-web", "--module", "{{ baton_module }}"],
                "workers": workers},
    }
    return ansible(fleet, "site.yml", {"baton_package": str(fleet["deb"]), "baton_config": config},
                   extra)


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


# ---- the fleet rollout (deploy.yml) --------------------------------------------------------------

FLEET = {
    "name": "fleet",
    "listen": {"http": "{{ fleet_address }}"},
    "app": {"command": "{{ ['/usr/bin/baton-web', '--module', 'modules/hello.so'] + fleet_extra_args }}",
            "workers": 2},
    "release": {"root": "/var/lib/baton/fleet", "probation": "1s", "probation_requests": 0,
                "probation_timeout": "5s"},
}


def release(fleet, version, public=True):
    """hello-VERSION.tar.gz (the hello module, and public/ unless told), its .sha256 and its
    .minisig made by minisign with the trusted comment naming the file and the version."""
    src = fleet["tmp"] / f"release-{version}"
    (src / "modules").mkdir(parents=True)
    shutil.copy(BUILD / "modules" / "hello.so", src / "modules" / "hello.so")
    if public:
        (src / "public").mkdir()
        (src / "public" / "index.html").write_text(f"<p>{version}</p>\n")
    (src / "VERSION").write_text(version + "\n")
    artifact = fleet["tmp"] / f"hello-{version}.tar.gz"
    subprocess.run(["tar", "-C", src, "-czf", artifact, "."], check=True)
    subprocess.run(f"sha256sum {artifact.name} > {artifact.name}.sha256", shell=True, check=True,
                   cwd=fleet["tmp"])
    subprocess.run(["minisign", "-S", "-s", fleet["key"][1], "-m", artifact, "-t",
                    f"file:{artifact.name} version:{version}"], check=True, capture_output=True)
    return artifact


def fleet_status(fleet, name):
    r = fleet["containers"][name].run(["baton", "status", "--json", "-s",
                                       "/run/baton/fleet/control.sock"])
    return json.loads(r.stdout) if r.returncode == 0 else None


def releases_of(fleet):
    return {name: (fleet_status(fleet, name) or {}).get("release") for name in HOSTS}


def site_fleet(fleet, **overrides):
    return ansible(fleet, "site.yml", {"baton_name": "fleet", "baton_package": str(fleet["deb"]),
                                       "baton_config": FLEET, "baton_trust_key": str(fleet["key"][0]),
                                       **overrides})


def test_fleet_first_release_everywhere(fleet):
    rc, _, out = site_fleet(fleet)
    assert rc == 0, out[-4000:]
    # An empty release.root: every supervisor is up and waiting for its first deploy.
    assert all(st is None or st.get("release") in (None, "") for st in
               (fleet_status(fleet, n) for n in HOSTS))
    rc, recap, out = ansible(fleet, "deploy.yml", {"baton_name": "fleet",
                                                   "baton_artifact": str(release(fleet, "1.0.0"))})
    assert rc == 0, out[-4000:]
    assert all(r["changed"] > 0 and r["failed"] == 0 for r in recap.values()), out[-3000:]
    assert releases_of(fleet) == {n: "1.0.0" for n in HOSTS}
    for addr in HOSTS.values():
        assert http_get(fleet["port2"], "/", host=addr)[0] == 200


def test_a_failed_verdict_stops_the_rollout(fleet):
    before = {n: fleet["containers"][n].main_pid("baton@fleet") for n in HOSTS}
    # 2.0.0 has no public/: host 2 (which serves it) cannot start it.
    rc, recap, out = ansible(fleet, "deploy.yml", {"baton_name": "fleet",
                                                   "baton_artifact": str(release(fleet, "2.0.0", public=False))})
    assert rc != 0
    assert "h2: deploy of 2.0.0 failed" in out, out[-4000:]
    assert "h3" not in recap, "host 3 was touched after host 2 failed"
    assert releases_of(fleet) == {"h1": "2.0.0", "h2": "1.0.0", "h3": "1.0.0"}
    # Host 2 was rolled back by baton and serves; nothing reached host 3.
    assert http_get(fleet["port2"], "/", host=HOSTS["h2"])[0] == 200
    assert fleet["containers"]["h3"].run(["test", "-e", "/var/lib/baton/fleet/incoming/hello-2.0.0.tar.gz"]).returncode != 0
    assert {n: fleet["containers"][n].main_pid("baton@fleet") for n in HOSTS} == before


def test_rerun_after_the_fix_converges(fleet):
    # The fix: host 2 no longer needs public/.
    rc, _, out = site_fleet(fleet, fleet_extra_args=[])
    assert rc == 0, out[-4000:]
    args = {"baton_name": "fleet", "baton_artifact": str(fleet["tmp"] / "hello-2.0.0.tar.gz")}
    rc, recap, out = ansible(fleet, "deploy.yml", args)
    assert rc == 0, out[-4000:]
    assert recap["h1"]["changed"] == 0 and recap["h2"]["changed"] > 0 and recap["h3"]["changed"] > 0, recap
    assert releases_of(fleet) == {n: "2.0.0" for n in HOSTS}
    rc, recap, out = ansible(fleet, "deploy.yml", args)
    assert rc == 0 and all(r["changed"] == 0 for r in recap.values()), out[-3000:]


def test_a_host_without_baton_fails_the_play_with_the_reason(fleet):
    h1 = fleet["containers"]["h1"]
    h1.run(["systemctl", "stop", "baton@fleet"], check=True, timeout=120)
    try:
        rc, recap, out = ansible(fleet, "deploy.yml", {"baton_name": "fleet",
                                                       "baton_artifact": str(release(fleet, "3.0.0"))})
        assert rc != 0
        assert "no supervisor" in out or "cannot connect" in out or "No such file" in out, out[-3000:]
        assert set(recap) == {"h1"}, "the rollout went past the failed canary"
        assert releases_of(fleet)["h2"] == "2.0.0" and releases_of(fleet)["h3"] == "2.0.0"
    finally:
        h1.run(["systemctl", "start", "baton@fleet"], timeout=120)
