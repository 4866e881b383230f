# SPDX-License-Identifier: MIT
"""`make install` / `make uninstall`: what an installed baton offers a user and a module author.

The build directory is installed into a staging directory (DESTDIR), then used the way a user
would use an installed tree: a handler module built against it with find_package(baton) and with
pkg-config, an application linked against libbaton.so, the installed baton-web serving the
module, the units and completion in place. `make uninstall` then leaves nothing of baton's.
"""
import os
import subprocess
import textwrap

import pytest

from harness import BUILD, SANITIZE, SOURCE, wait_for, http_get, port_answers

PREFIX = "/usr/local"

EXPECTED = [
    "bin/baton",
    "bin/baton-web",
    "include/baton/baton.h",
    "include/baton/http.h",
    "include/baton/module.h",
    "lib/libbaton.a",
    "lib/libbaton.so",
    "lib/libbaton.so.0",
    "lib/pkgconfig/baton.pc",
    "lib/cmake/baton/batonConfig.cmake",
    "lib/cmake/baton/batonConfigVersion.cmake",
    "lib/cmake/baton/batonTargets.cmake",
    "lib/baton/modules/hello.so",
    "lib/systemd/system/baton@.service",
    "lib/systemd/system/baton@.socket",
    "lib/sysusers.d/baton.conf",
    "share/man/man1/baton.1",
    "share/man/man1/baton-web.1",
    "share/bash-completion/completions/baton",
    "share/bash-completion/completions/baton-web",
    "share/doc/baton/LICENSE",
    "share/doc/baton/examples/hello.yaml",
]

MODULE_C = textwrap.dedent("""\
    #include <baton/module.h>

    static int hi(baton_request *req, baton_response *res, void *data)
    {
        (void)req;
        (void)data;
        return baton_response_text(res, 200, "installed");
    }

    static const struct baton_route routes[] = {
        {"GET", "/", hi, NULL},
        {NULL, NULL, NULL, NULL},
    };

    BATON_MODULE_EXPORT const struct baton_module baton_module = {
        .abi = BATON_MODULE_ABI,
        .name = "installed",
        .version = "1.0.0",
        .routes = routes,
    };
    """)

APP_C = textwrap.dedent("""\
    #include <baton/baton.h>
    #include <stdio.h>

    int main(void)
    {
        /* No LISTEN_FDS: zero listeners, and no NOTIFY_SOCKET: notify is a no-op (0). */
        int n = baton_listen_fds(0);
        int r = baton_notify_ready();
        printf("%d %d\\n", n, r);
        return n == 0 && r == 0 ? 0 : 1;
    }
    """)

CMAKELISTS = textwrap.dedent("""\
    cmake_minimum_required(VERSION 3.20)
    project(consumer C)
    find_package(baton 0.1 REQUIRED)
    baton_add_module(installed module.c)
    add_executable(app app.c)
    target_link_libraries(app PRIVATE baton::baton)
    add_executable(app_static app.c)
    target_link_libraries(app_static PRIVATE baton::baton_static)
    """)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{argv} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """Installs BUILD into a staging directory; uninstalls (and checks it) at the end."""
    root = tmp_path_factory.mktemp("stage")
    manifest = BUILD / "install_manifest.txt"
    env = dict(os.environ, DESTDIR=str(root))
    run(["cmake", "--install", str(BUILD), "--prefix", PREFIX], env=env)
    yield root / PREFIX.lstrip("/")
    # `make uninstall` removes every file the install wrote, and baton's own directories.
    run(["make", "-s", "-C", str(SOURCE), "uninstall", f"BUILD={BUILD}", f"DESTDIR={root}"])
    left = [str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()]
    assert left == [], f"left behind by make uninstall: {left}"
    dirs = [str(p.relative_to(root)) for p in root.rglob("*") if "baton" in p.name]
    assert dirs == [], f"directories left behind: {dirs}"
    assert not manifest.exists()


def test_installs_every_part(stage):
    missing = [f for f in EXPECTED if not (stage / f).exists()]
    assert missing == []


def test_libbaton_has_a_soname(stage):
    out = run(["readelf", "-d", str(stage / "lib/libbaton.so.0.1.0")]).stdout
    assert "Library soname: [libbaton.so.0]" in out
    assert os.readlink(stage / "lib/libbaton.so") == "libbaton.so.0"


def test_units_name_the_installed_binary(stage):
    unit = (stage / "lib/systemd/system/baton@.service").read_text()
    assert f"ExecStart={PREFIX}/bin/baton run -c /etc/baton/%i.yaml" in unit
    assert "@BATON_" not in unit
    example = (stage / "share/doc/baton/examples/hello.yaml").read_text()
    assert f"{PREFIX}/lib/baton/modules/hello.so" in example


def test_cmake_package_builds_a_module_and_an_app(stage, tmp_path, procs, port):
    src = tmp_path / "src"
    src.mkdir()
    (src / "module.c").write_text(MODULE_C)
    (src / "app.c").write_text(APP_C)
    (src / "CMakeLists.txt").write_text(CMAKELISTS)
    flags = "-Wall -Werror" + (" -fsanitize=address,undefined" if SANITIZE else "")
    run(["cmake", "-S", str(src), "-B", str(tmp_path / "b"), f"-DCMAKE_PREFIX_PATH={stage}",
         f"-DCMAKE_C_FLAGS={flags}"])
    run(["cmake", "--build", str(tmp_path / "b")])
    module = tmp_path / "b" / "installed.so"
    assert module.exists()

    env = dict(os.environ, LD_LIBRARY_PATH=str(stage / "lib"))
    assert run([str(tmp_path / "b" / "app")], env=env).stdout == "0 0\n"
    assert run([str(tmp_path / "b" / "app_static")]).stdout == "0 0\n"
    # The app found the installed libbaton, not the build tree's.
    ldd = run(["ldd", str(tmp_path / "b" / "app")], env=env).stdout
    assert f"{stage}/lib/libbaton.so.0" in ldd

    # The installed baton-web serves the module built against the installed headers.
    procs.start([str(stage / "bin/baton-web"), "--listen", f"127.0.0.1:{port}", "--module",
                 str(module)], name="web")
    wait_for(lambda: port_answers(port), what="installed baton-web answers")
    status, _, body = http_get(port, "/")
    assert (status, body) == (200, b"installed")


def test_pkg_config_builds_a_module(stage, tmp_path):
    (tmp_path / "module.c").write_text(MODULE_C)
    env = dict(os.environ, PKG_CONFIG_PATH=str(stage / "lib/pkgconfig"))
    cflags = run(["pkg-config", "--cflags", "baton"], env=env).stdout.split()
    # baton.pc finds its prefix from its own location, so the moved tree still works.
    assert [os.path.normpath(f[2:]) for f in cflags if f.startswith("-I")] == [str(stage / "include")]
    run(["cc", "-Wall", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden", *cflags, "-o",
         str(tmp_path / "m.so"), str(tmp_path / "module.c")])
    libs = run(["pkg-config", "--libs", "baton"], env=env).stdout.split()
    assert "-lbaton" in libs


def test_every_source_file_carries_its_license():
    """An SPDX line in every tracked source file (scripts/spdx adds it to new ones)."""
    r = subprocess.run([SOURCE / "scripts" / "spdx", "--check"], capture_output=True, text=True)
    assert r.returncode == 0, f"files without an SPDX line (run scripts/spdx):\n{r.stdout}"
