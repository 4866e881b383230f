# SPDX-License-Identifier: MIT
"""scripts/release: the hello example's signed, reproducible release artifact.

Checked with the real tools a user and `baton deploy` rely on: sha256sum -c, minisign -V (the
trusted comment binds the file name and the version), tar (relative names, fixed owner and
mtime), and byte-for-byte equality of two runs. Refusals: no key, a wrong version string, a
build that is missing.
"""
import json
import os
import subprocess
import tarfile

import pytest

from harness import BUILD, SOURCE

RELEASE = SOURCE / "scripts" / "release"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    subprocess.run(["minisign", "-G", "-W", "-p", d / "k.pub", "-s", d / "k.sec"], check=True,
                   capture_output=True)
    return d / "k.pub", d / "k.sec"


def release(*args, env=None):
    e = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    for k in ("BATON_RELEASE_KEY", "BATON_RELEASE_KEY_FILE"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([RELEASE, *map(str, args)], capture_output=True, text=True, env=e,
                          timeout=120)


def test_artifact_is_signed_and_verifiable(keys, tmp_path):
    pub, sec = keys
    r = release("1.4.0", "--key", sec, "--build", BUILD, "--out", tmp_path, "--latest")
    assert r.returncode == 0, r.stderr
    art = tmp_path / "hello-1.4.0.tar.gz"
    assert r.stdout.strip() == str(art)
    subprocess.run(["sha256sum", "-c", "hello-1.4.0.tar.gz.sha256"], cwd=tmp_path, check=True,
                   capture_output=True)
    v = subprocess.run(["minisign", "-V", "-p", pub, "-m", art], capture_output=True, text=True)
    assert v.returncode == 0, v.stderr
    assert "Trusted comment: file:hello-1.4.0.tar.gz version:1.4.0" in v.stdout
    with tarfile.open(art) as t:
        members = t.getmembers()
    names = {m.name for m in members}
    assert {"./bin/baton-web", "./modules/hello.so", "./public/index.html", "./VERSION"} <= names
    assert all(not m.name.startswith("/") and ".." not in m.name.split("/") for m in members)
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 1700000000 for m in members)
    assert all(m.isfile() or m.isdir() for m in members)
    # Pull-mode metadata, signed too, naming the artifact and its hash.
    meta = json.loads((tmp_path / "latest.json").read_text())
    sha = (tmp_path / "hello-1.4.0.tar.gz.sha256").read_text().split()[0]
    assert meta == {"version": "1.4.0", "url": "hello-1.4.0.tar.gz", "sha256": sha}
    v = subprocess.run(["minisign", "-V", "-p", pub, "-m", tmp_path / "latest.json"],
                       capture_output=True, text=True)
    assert v.returncode == 0 and "version:1.4.0" in v.stdout
    # A tampered artifact no longer verifies.
    data = bytearray(art.read_bytes())
    data[len(data) // 2] ^= 1
    art.write_bytes(bytes(data))
    assert subprocess.run(["minisign", "-V", "-p", pub, "-m", art], capture_output=True).returncode != 0


def test_same_input_gives_the_same_bytes(keys, tmp_path):
    _, sec = keys
    for d in ("a", "b"):
        assert release("2.0.0-rc.1", "--key", sec, "--build", BUILD, "--out", tmp_path / d).returncode == 0
    a = (tmp_path / "a" / "hello-2.0.0-rc.1.tar.gz").read_bytes()
    b = (tmp_path / "b" / "hello-2.0.0-rc.1.tar.gz").read_bytes()
    assert a == b


def test_key_from_the_environment(keys, tmp_path):
    pub, sec = keys
    r = release("1.0.1", "--build", BUILD, "--out", tmp_path / "text",
                env={"BATON_RELEASE_KEY": sec.read_text()})
    assert r.returncode == 0, r.stderr
    r = release("1.0.1", "--build", BUILD, "--out", tmp_path / "file",
                env={"BATON_RELEASE_KEY_FILE": str(sec)})
    assert r.returncode == 0, r.stderr
    for d in ("text", "file"):
        assert subprocess.run(["minisign", "-V", "-p", pub, "-m",
                               tmp_path / d / "hello-1.0.1.tar.gz"], capture_output=True).returncode == 0


def test_without_a_key_nothing_is_made(tmp_path):
    r = release("1.0.0", "--build", BUILD, "--out", tmp_path)
    assert r.returncode == 2 and "no signing key" in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("version", ["", "v1.0", "1.0/../x", "latest", "1..2", "1.0 beta"])
def test_a_wrong_version_is_refused(keys, tmp_path, version):
    _, sec = keys
    r = release(version, "--key", sec, "--build", BUILD, "--out", tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "version" in r.stderr or "usage" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_build_is_refused(keys, tmp_path):
    _, sec = keys
    r = release("1.0.0", "--key", sec, "--build", tmp_path / "nothing", "--out", tmp_path / "out")
    assert r.returncode == 2 and "build first" in r.stderr
    assert not (tmp_path / "out").exists()
