"""Helpers to run a baton supervisor in a test: write a config, start it, drive the CLI."""
import json
import signal

from conftest import BATON, TIME_SCALE, wait_for


def write_config(tmp, port, command, workers=2, extra_app=None, extra=""):
    """Writes tmp/baton.yaml for `command` on 127.0.0.1:port and returns its path."""
    app = {
        "command": [str(c) for c in command],
        "workers": workers,
        "ready_timeout": f"{int(10 * TIME_SCALE)}s",
        "drain_timeout": f"{int(10 * TIME_SCALE)}s",
    }
    app.update(extra_app or {})
    lines = ["name: test", "listen:", f"  http: 127.0.0.1:{port}", "app:"]
    for key, value in app.items():
        lines.append(f"  {key}: {json.dumps(value)}")
    lines += ["control:", "  socket: baton.sock", "log:", "  format: json", "  level: debug"]
    path = tmp / "baton.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


class Supervisor:
    def __init__(self, procs, config):
        self.procs = procs
        self.config = config
        self.proc = procs.start([BATON, "run", "-c", config], name="baton")

    def cli(self, *args, timeout=60):
        return self.procs.run([BATON, *args, "-c", self.config], timeout=timeout)

    def status(self):
        r = self.cli("status", "--json")
        assert r.returncode == 0, f"baton status failed ({r.returncode}): {r.stderr}"
        return json.loads(r.stdout)

    def active(self):
        """The active generation's status object, or None."""
        st = self.status()
        for gen in st.get("generations", []):
            if gen.get("state") == "active":
                return gen
        return None

    def wait_ready(self, workers, generation=None):
        def ready():
            if not self.proc.alive():
                raise AssertionError(f"supervisor exited:\n{self.proc.log()[-3000:]}")
            gen = self.active()
            if not gen or (generation is not None and gen["id"] != generation):
                return None
            ready_workers = [w for w in gen["workers"] if w.get("state") == "ready"]
            return gen if len(ready_workers) == workers else None

        return wait_for(ready, timeout=20, interval=0.05, what="workers ready")

    def reload(self, *args):
        return self.cli("reload", *args)

    def stop(self, fast=False):
        self.proc.signal(signal.SIGQUIT if fast else signal.SIGTERM)
        return self.proc.wait(timeout=30)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
