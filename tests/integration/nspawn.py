# SPDX-License-Identifier: MIT
"""Hosts with a real systemd for the tests: systemd-nspawn containers booting this machine's root.

Each container boots a copy-on-write overlay of `/` (every write goes to a throwaway upper
layer), shares the host's network namespace (so a test reaches its services on loopback ports
it chose), and has the services this machine enables masked so they do not start twice. See
shared/recipes/real-systemd.md. A container is stopped by the PID of its systemd-nspawn process
and its overlay unmounted, also when the test fails.
"""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness import wait_for


def build_deb(build, out):
    """The package of a build directory (cpack on its CPackConfig): returns its path."""
    r = subprocess.run(["cpack", "-G", "DEB", "--config", str(Path(build) / "CPackConfig.cmake"),
                        "-B", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    found = list(Path(out).glob("baton_*.deb"))
    assert len(found) == 1, r.stdout
    return found[0]


def available():
    """None when containers can be booted here, else why not."""
    if os.geteuid() != 0:
        return "booting a container needs root"
    if not shutil.which("systemd-nspawn"):
        return "systemd-nspawn is missing (scripts/install-deps test installs systemd-container)"
    if not os.path.exists("/lib/systemd/systemd"):
        return "no systemd to boot"
    return None


class Container:
    def __init__(self, tmp, name):
        self.tmp = Path(tmp)
        self.name = name
        self.root = self.tmp / "root"
        self.proc = None
        self.leader = None
        self.mounted = False
        self.console = self.tmp / "console.log"

    def boot(self, timeout=60):
        for d in ("upper", "work", "root"):
            (self.tmp / d).mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir=/,upperdir={self.tmp}/upper,workdir={self.tmp}/work",
                        str(self.root)], check=True)
        self.mounted = True
        # The machine's own enabled services stay off (nginx, databases, timers...).
        units = self.root / "etc/systemd/system"
        for wants in Path("/etc/systemd/system").glob("*.wants"):
            for unit in wants.iterdir():
                if unit.name.endswith(".target"):
                    continue
                mask = units / unit.name
                if mask.is_symlink() or mask.exists():
                    mask.unlink()
                mask.symlink_to("/dev/null")
        with open(self.console, "wb") as out:
            self.proc = subprocess.Popen(
                ["systemd-nspawn", "-q", "-D", str(self.root), "--register=no", "--keep-unit",
                 "-M", self.name, f"--hostname={self.name}", "-b", "--",
                 "systemd.firstboot=off"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_for(self._find_leader, timeout=timeout, what=f"container {self.name} to start systemd")
        # "degraded" is normal in a container; the wait is on the boot being over (the bus
        # appears a moment after PID 1 does).
        def booted():
            r = self.sh("systemctl is-system-running --wait", timeout=timeout)
            return r.stdout.strip() in ("running", "degraded")
        wait_for(booted, timeout=timeout, interval=0.2, what=f"container {self.name} to boot")
        return self

    def _find_leader(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited: {self.console.read_text(errors='replace')}")
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                try:
                    if os.readlink(f"/proc/{child}/exe").endswith("/systemd"):
                        self.leader = child
                        return True
                except OSError:
                    pass
                todo.append(child)
        return False

    def run(self, argv, timeout=120, check=False, input=None):
        """Runs argv inside the container (all its namespaces)."""
        if isinstance(input, str):
            input = input.encode()
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-a", *map(str, argv)],
                           capture_output=True, timeout=timeout, input=input)
        r.stdout = r.stdout.decode(errors="replace")
        r.stderr = r.stderr.decode(errors="replace")
        if check:
            assert r.returncode == 0, f"{argv}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def sh(self, script, **kw):
        return self.run(["sh", "-c", script], **kw)

    def write(self, path, data, mode=0o644):
        """Writes a file inside the container (its /etc, /run and /tmp are its own)."""
        self.run(["sh", "-c", f'mkdir -p "$(dirname "{path}")" && cat > "{path}" && chmod {mode:o} "{path}"'],
                 check=True, input=data)

    def copy_in(self, src, path):
        self.run(["sh", "-c", f'mkdir -p "$(dirname "{path}")" && cat > "{path}"'], check=True,
                 input=Path(src).read_bytes())

    def quiet_apt(self):
        """man-db's trigger takes ten seconds a package and matters nothing in a test host."""
        self.sh("echo 'man-db man-db/auto-update boolean false' | debconf-set-selections")

    def start_sshd(self, address, authorized_key):
        """An sshd on address:22 that lets root in with this public key (for Ansible).

        openssh-server is installed inside the container from apt's cache (scripts/install-deps
        test downloads it and never installs it on the machine), with its service kept from
        starting until its configuration is written: the containers share the machine's
        network, and a default sshd would take port 22 on every address."""
        if self.run(["test", "-x", "/usr/sbin/sshd"]).returncode != 0:
            self.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
            r = self.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download "
                        "--no-install-recommends openssh-server", timeout=300)
            self.run(["rm", "-f", "/usr/sbin/policy-rc.d"])
            assert r.returncode == 0, r.stdout + r.stderr
            self.run(["systemctl", "stop", "ssh.service", "ssh.socket"])
        self.write("/etc/ssh/sshd_config",
                   f"ListenAddress {address}\nPermitRootLogin prohibit-password\n"
                   "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                   "Subsystem sftp /usr/lib/openssh/sftp-server\n")
        self.sh("ssh-keygen -A >/dev/null && mkdir -p /run/sshd && "
                "(grep -q '^sshd:' /etc/passwd || "
                "echo 'sshd:x:101:65534::/run/sshd:/usr/sbin/nologin' >> /etc/passwd) && "
                "sed -i 's/^root:[^:]*:/root:*:/' /etc/shadow", check=True)
        self.write("/root/.ssh/authorized_keys", authorized_key, mode=0o600)
        self.run(["systemctl", "unmask", "ssh.service"], check=True)  # masked with the host's services
        self.run(["systemctl", "start", "ssh.service"], check=True)

    def journal(self, unit):
        return self.run(["journalctl", "-u", unit, "--no-pager", "-o", "cat"]).stdout

    def main_pid(self, unit):
        return int(self.run(["systemctl", "show", "-p", "MainPID", "--value", unit]).stdout.strip() or 0)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            if self.leader:
                subprocess.run(["nsenter", "-t", str(self.leader), "-a", "systemctl", "poweroff"],
                               capture_output=True, timeout=30)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.mounted:
            for _ in range(50):
                if subprocess.run(["umount", str(self.root)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                subprocess.run(["umount", "-l", str(self.root)])
            self.mounted = False
        shutil.rmtree(self.tmp, ignore_errors=True)
