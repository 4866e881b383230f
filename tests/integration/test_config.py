# SPDX-License-Identifier: MIT
"""`baton config` (DESIGN.md "Configuration", a contract): the real binary loads a file, the
env file beside it, BATON_<SECTION>_<KEY> variables and --set, prints the merged result with
the origin of every value, and refuses bad input with exit 2 and FILE:LINE:COL messages."""
import json
import textwrap

import pytest

from harness import BATON, SANITIZER_MARKS

GOOD = textwrap.dedent("""\
    name: hello
    listen:                        # fd order follows this order
      http: 127.0.0.1:8080
      admin: unix:run/admin.sock
    app:
      command: [bin/baton-web, --module, modules/hello.so]
      dir: .
      env: {APP_ENV: production}
      workers: 2
      strategy: rolling
      ready: delay:2s
      drain_timeout: 30s
      restart: {initial: 100ms, max: 30s}
    control:
      socket: baton.sock
    log:
      format: json
    """)


def config(procs, *args, env=None, cwd=None):
    r = procs.run([BATON, "config", *args], env=env, cwd=cwd)
    for mark in SANITIZER_MARKS:
        assert mark not in r.stderr, r.stderr
    return r


def line_of(stdout, key):
    """The printed YAML line of a key, e.g. '  workers: 2   # baton.yaml:9:3'."""
    for line in stdout.splitlines():
        if line.lstrip().startswith(key + ":"):
            return line
    raise AssertionError(f"no line for {key} in:\n{stdout}")


def test_prints_merged_config_with_origins(procs):
    (procs.tmp / "baton.yaml").write_text(GOOD)
    r = config(procs)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert line_of(r.stdout, "name").split() == ["name:", "hello", "#", "baton.yaml:1:1"]
    assert line_of(r.stdout, "workers").split() == ["workers:", "2", "#", "baton.yaml:9:3"]
    assert line_of(r.stdout, "http").split() == ["http:", "127.0.0.1:8080", "#", "baton.yaml:3:3"]
    assert line_of(r.stdout, "admin").split()[1] == f"unix:{procs.tmp}/run/admin.sock"
    assert line_of(r.stdout, "ready").split()[:2] == ["ready:", "delay:2s"]
    assert line_of(r.stdout, "max_surge").split() == ["max_surge:", "1", "#", "default"]
    assert line_of(r.stdout, "socket").split()[1] == f"{procs.tmp}/baton.sock"
    assert line_of(r.stdout, "command").endswith("# baton.yaml:6:3")

    r = config(procs, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["config"]["app"]["workers"] == 2
    assert doc["config"]["app"]["command"] == ["bin/baton-web", "--module", "modules/hello.so"]
    assert doc["config"]["app"]["restart"] == {"initial": "100ms", "max": "30s"}
    assert doc["config"]["listen"] == {"http": "127.0.0.1:8080",
                                       "admin": f"unix:{procs.tmp}/run/admin.sock"}
    assert doc["config"]["log"]["format"] == "json"
    assert doc["origins"]["app.workers"] == "baton.yaml:9:3"
    assert doc["origins"]["app.env.APP_ENV"] == "baton.yaml:8:9"
    assert doc["origins"]["app.max_surge"] == "default"

    # What it prints is a configuration: it loads back to the same values.
    (procs.tmp / "printed.yaml").write_text(config(procs).stdout)
    again = config(procs, "-c", "printed.yaml", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["config"] == doc["config"]


def test_keys_not_supported_yet_are_refused_in_every_layer(procs):
    """canary.* and app.probe are documented for features not built yet: setting one is an
    error at its place, never a silent no-op."""
    (procs.tmp / "baton.yaml").write_text(GOOD + "canary:\n  workers: 3\n")
    r = config(procs)
    assert r.returncode == 2
    assert r.stderr == "baton.yaml:19:3: canary.workers: not supported yet\n"

    (procs.tmp / "baton.yaml").write_text(GOOD)
    r = config(procs, env={"BATON_CANARY_WORKERS": "2"})
    assert r.returncode == 2
    assert r.stderr == "environment BATON_CANARY_WORKERS: canary.workers: not supported yet\n"
    r = config(procs, "--set", "canary.workers=1", "--set", "canary.duration=1s")
    assert r.returncode == 2
    assert r.stderr == ("--set canary.workers=1: canary.workers: not supported yet\n"
                        "--set canary.duration=1s: canary.duration: not supported yet\n")
    # Built ones are accepted.
    r = config(procs, "--set", "release.root=/srv/hello", "--set", "app.probation=5s",
               "--set", "release.source.url=https://x/latest.json", "--set", "release.source.interval=2m")
    assert r.returncode == 0, r.stderr
    assert "root: /srv/hello" in r.stdout and "probation: 5s" in r.stdout, r.stdout
    assert "url: https://x/latest.json" in r.stdout and "interval: 2m" in r.stdout, r.stdout
    # `baton run` refuses the same file before it binds anything.
    (procs.tmp / "baton.yaml").write_text(GOOD + "canary: {workers: 1}\n")
    r = procs.run([BATON, "run"], timeout=20)
    assert r.returncode == 2
    assert "baton.yaml:18:10: canary.workers: not supported yet" in r.stderr
    # Unset (empty) is not a setting: accepted, and not printed.
    (procs.tmp / "baton.yaml").write_text(GOOD)
    r = config(procs, env={"BATON_CANARY_WORKERS": ""})
    assert r.returncode == 0, r.stderr
    assert "canary" not in r.stdout


def test_app_probe(procs):
    # Off by default: printed with its defaults and no path, and that loads back.
    (procs.tmp / "baton.yaml").write_text(GOOD)
    r = config(procs, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["config"]["app"]["probe"] == {
        "path": None, "timeout": "2s", "interval": "5s", "expect": 200}
    # Every layer sets it, with origins.
    (procs.tmp / "baton.yaml").write_text(
        GOOD.replace("  workers: 2\n", "  workers: 2\n  probe: {path: /healthz, timeout: 1s}\n"))
    r = config(procs, "--set", "app.probe.expect=204", env={"BATON_APP_PROBE_INTERVAL": "250ms"})
    assert r.returncode == 0, r.stderr
    assert line_of(r.stdout, "path").split() == ["path:", "/healthz", "#", "baton.yaml:10:11"]
    assert line_of(r.stdout, "timeout").split()[:2] == ["timeout:", "1s"]
    assert line_of(r.stdout, "interval").split() == ["interval:", "250ms", "#",
                                                     "BATON_APP_PROBE_INTERVAL"]
    assert line_of(r.stdout, "expect").split() == ["expect:", "204", "#", "--set"]
    (procs.tmp / "printed.yaml").write_text(r.stdout)
    again = config(procs, "-c", "printed.yaml", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["config"]["app"]["probe"] == {
        "path": "/healthz", "timeout": "1s", "interval": "250ms", "expect": 204}
    # Bad values, each with its place; a typo gets a suggestion.
    bad = {
        "{path: healthz}": "app.probe.path must be a request path starting with '/'",
        "{path: /x, timeout: 0s}": "app.probe.timeout must be at least 1ms, not '0s'",
        "{path: /x, interval: soon}": "app.probe.interval: bad duration 'soon'",
        "{path: /x, expect: 99}": "app.probe.expect must be an integer from 100 to 599, not '99'",
        "{path: /x, expect: 600}": "app.probe.expect must be an integer from 100 to 599, not '600'",
        "{path: /x, pth: /y}": "unknown key 'pth' in app.probe (did you mean 'path'?)",
        "{timeout: 3s}": "app.probe.timeout is set but app.probe.path is not",
        "/healthz": "app.probe must be a mapping of keys, not a value",
    }
    for value, message in bad.items():
        (procs.tmp / "baton.yaml").write_text(
            GOOD.replace("  workers: 2\n", f"  workers: 2\n  probe: {value}\n"))
        r = config(procs)
        assert r.returncode == 2, value
        assert r.stderr.startswith("baton.yaml:10:") and message in r.stderr, (value, r.stderr)
    (procs.tmp / "baton.yaml").write_text(GOOD)
    r = config(procs, "--set", "app.probe.path=/a b")
    assert r.returncode == 2 and "app.probe.path must be a request path" in r.stderr, r.stderr


def test_environment_and_set_override(procs):
    (procs.tmp / "baton.yaml").write_text(GOOD)
    env = {"BATON_APP_WORKERS": "4", "BATON_APP_DRAIN_TIMEOUT": "5s", "BATON_LOG_FORMAT": "text",
           "BATON_APP_RESTART_MAX": "1m"}
    r = config(procs, env=env)
    assert r.returncode == 0, r.stderr
    assert line_of(r.stdout, "workers").split() == ["workers:", "4", "#", "BATON_APP_WORKERS"]
    assert line_of(r.stdout, "drain_timeout").split() == ["drain_timeout:", "5s", "#",
                                                          "BATON_APP_DRAIN_TIMEOUT"]
    assert line_of(r.stdout, "max").split() == ["max:", "1m", "#", "BATON_APP_RESTART_MAX"]

    r = config(procs, "--set", "app.workers=6", "--set", "app.command=[srv, --port, '80']",
               "--set", "listen.http=[::1]:8080", "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["config"]["app"]["workers"] == 6
    assert doc["config"]["app"]["command"] == ["srv", "--port", "80"]
    assert doc["config"]["listen"]["http"] == "[::1]:8080"
    assert doc["origins"]["app.workers"] == "--set"
    assert doc["origins"]["app.drain_timeout"] == "BATON_APP_DRAIN_TIMEOUT"
    assert doc["origins"]["listen.http"] == "--set"


def test_env_file(procs):
    (procs.tmp / "baton.yaml").write_text(GOOD)
    (procs.tmp / "baton.prod.yaml").write_text("app:\n  workers: 8\n  env: {EXTRA: 'yes'}\n")
    for args, env in ((["--env", "prod"], None), ([], {"BATON_ENV": "prod"})):
        r = config(procs, "--json", *args, env=env)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["config"]["app"]["workers"] == 8
        assert doc["config"]["app"]["env"] == {"APP_ENV": "production", "EXTRA": "yes"}
        assert doc["origins"]["app.workers"] == "baton.prod.yaml:2:3"
        assert doc["origins"]["app.env.APP_ENV"] == "baton.yaml:8:9"

    r = config(procs, "--env", "staging")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == ("baton.staging.yaml: No such file or directory "
                        "(the file of --env staging)\n")


def test_other_directory(procs):
    conf = procs.tmp / "etc" / "hello"
    conf.mkdir(parents=True)
    (conf / "baton.yaml").write_text(GOOD.replace("dir: .", "dir: ../../app"))
    r = config(procs, "-c", "etc/hello/baton.yaml", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["config"]["app"]["dir"] == f"{conf}/../../app"
    assert doc["config"]["control"]["socket"] == f"{conf}/baton.sock"
    assert doc["origins"]["app.workers"] == "etc/hello/baton.yaml:9:3"


def test_json_file(procs):
    (procs.tmp / "baton.json").write_text(json.dumps(
        {"listen": {"http": ":8080"}, "app": {"command": ["srv"], "workers": 3}}))
    r = config(procs, "-c", "baton.json", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["config"]["app"]["workers"] == 3
    assert doc["origins"]["app.workers"] == "baton.json:1:59"


BAD = [
    ("unknown key", "app:\n  command: [x]\n  wrkers: 2\n",
     "baton.yaml:3:3: unknown key 'wrkers' in app (did you mean 'workers'?)"),
    ("bad duration", "app:\n  command: [x]\n  drain_timeout: 30 sec\n",
     "baton.yaml:3:18: app.drain_timeout: bad duration '30 sec': use 250ms, 30s, 5m"),
    ("bad address", "listen:\n  http: 127.0.0.1:http\napp: {command: [x]}\n",
     "baton.yaml:2:9: listen.http: bad address '127.0.0.1:http': port must be a number from 0 "
     "to 65535"),
    ("no command", "name: x\napp:\n  workers: 2\n",
     "baton.yaml:2:1: app.command is required"),
    ("negative workers", "app:\n  command: [x]\n  workers: -1\n",
     "baton.yaml:3:12: app.workers must be a positive integer, not '-1'"),
    ("unclosed bracket", "app:\n  command: [x, y\n  workers: 2\n",
     "flow sequence without a closing bracket (the one opened at 2:12)"),
    ("bad indentation", "app:\n  command: [x]\n workers: 2\n",
     "baton.yaml:3:2: invalid indentation in mapping"),
    ("wrong type", "app:\n  command: [x]\n  workers: {n: 2}\n",
     "baton.yaml:3:12: app.workers must be a positive integer, not a mapping"),
    ("shell command", "app:\n  command: bin/server --port 80\n",
     "baton.yaml:2:12: app.command must be a list such as [bin/server, --port, \"8080\"]: "
     "commands never go through a shell"),
    ("duplicate key", "app:\n  command: [x]\n  workers: 1\n  workers: 2\n",
     "baton.yaml:4:3: duplicate key 'workers' (first at 3:3)"),
    ("duplicate address", "listen:\n  a: 127.0.0.1:8080\n  b: 127.0.0.1:8080\napp: {command: [x]}\n",
     "baton.yaml:3:6: listen.b: address 127.0.0.1:8080 is already used by listener 'a'"),
    ("bad signal", "app:\n  command: [x]\n  stop_signal: TERMINATE\n",
     "baton.yaml:3:16: app.stop_signal: unknown signal 'TERMINATE'"),
]


@pytest.mark.parametrize("text, message", [(t, m) for _, t, m in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_input(procs, text, message):
    (procs.tmp / "baton.yaml").write_text(text)
    r = config(procs)
    assert r.returncode == 2, r.stdout
    assert r.stdout == ""
    assert message in r.stderr
    # Every line names the place: FILE:LINE:COL first.
    for line in r.stderr.splitlines():
        head = line.split(": ", 1)[0].split(":")
        assert head[0] == "baton.yaml" and head[1].isdigit() and head[2].isdigit(), line


def test_bad_environment_and_set(procs):
    (procs.tmp / "baton.yaml").write_text(GOOD)
    r = config(procs, env={"BATON_APP_WRKERS": "4"})
    assert r.returncode == 2
    assert r.stderr == ("environment BATON_APP_WRKERS: unknown configuration variable "
                        "(did you mean BATON_APP_WORKERS?)\n")
    r = config(procs, env={"BATON_APP_WORKERS": "-1"})
    assert r.returncode == 2
    assert r.stderr == ("environment BATON_APP_WORKERS: app.workers must be a positive integer, "
                        "not '-1'\n")
    r = config(procs, "--set", "app.drain_timeout=forever")
    assert r.returncode == 2
    assert r.stderr == ("--set app.drain_timeout=forever: app.drain_timeout: bad duration "
                        "'forever': use 250ms, 30s, 5m\n")


def test_missing_file_and_usage(procs):
    r = config(procs)
    assert r.returncode == 2
    assert r.stderr == "baton.yaml: No such file or directory\n"
    r = config(procs, "-c", "nowhere/x.yaml")
    assert r.returncode == 2
    assert r.stderr == "nowhere/x.yaml: No such file or directory\n"

    r = config(procs, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: baton config [-c FILE] [--env NAME] [--set KEY=VALUE]...")
    for argv, message in ((["--bogus"], "unknown option '--bogus'"),
                          (["extra"], "unexpected argument 'extra'"),
                          (["-c"], "-c needs a value")):
        r = config(procs, *argv)
        assert r.returncode == 2
        assert message in r.stderr
