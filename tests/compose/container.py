"""Run one rendered compose service the way Docker would, without Docker.

bubblewrap builds the container's filesystem: the host's directories read-only
as the image's base layers, the image's /app (tests/compose/image.py)
read-only, then exactly the service's tmpfs mounts (mode 1777, as Docker's)
and volumes (bind mounts as given, `:ro` honoured; a named volume is a
directory of its own that starts with the ownership the image gives that
path, as Docker copies it), and the root remounted read-only. Inside, the
command runs with `setpriv` as the image's (or the service's) user, no
capabilities and no-new-privileges, with exactly the rendered environment
plus what Docker adds (PATH and the image's ENV, HOSTNAME, HOME), in its own
UTS (hostname), IPC and PID namespaces, as PID 1. The network is the host's:
the services reach the local PostgreSQL, Redis and sandboxes the .env names.

`exec` enters the running container's namespaces (healthchecks), as
`docker exec` does.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.compose.image import Image

SLIM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Not part of any image: provided by the runtime (or, here, by bwrap).
SKIP_TOP = {"proc", "dev", "sys", "tmp", "app"}


@dataclass(frozen=True)
class Mount:
    target: str
    kind: str  # tmpfs | bind | volume
    source: str = ""
    read_only: bool = False
    mode: str = "1777"


def mounts_of(service: dict) -> list[Mount]:
    mounts = []
    for entry in service.get("tmpfs") or []:
        target, _, options = entry.partition(":")
        mode = "1777"
        for option in filter(None, options.split(",")):
            key, _, value = option.partition("=")
            if key == "mode":
                mode = value
        mounts.append(Mount(target, "tmpfs", mode=mode))
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):  # Compose v2's long syntax
            mounts.append(Mount(entry["target"], entry["type"], entry.get("source", ""),
                                bool(entry.get("read_only"))))
            continue
        parts = entry.split(":")
        source, target = parts[0], parts[1]
        read_only = len(parts) > 2 and "ro" in parts[2].split(",")
        kind = "bind" if source.startswith(("/", ".")) else "volume"
        mounts.append(Mount(target, kind, source, read_only))
    return mounts


def command_of(value) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value)


def healthcheck_argv(service: dict) -> list[str] | None:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return None
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    if test[0] == "CMD":
        return list(test[1:])
    return None  # NONE


class Container:
    def __init__(self, name: str, service: dict, image: Image, workdir: Path,
                 command: list[str] | None = None):
        self.name = name
        self.service = service
        self.image = image
        self.workdir = workdir
        self.command = command or command_of(service.get("command") or [])
        self.hostname = secrets.token_hex(6)  # Docker's: the short container id
        self.log_path = workdir / "logs" / f"{name}-{self.hostname}.log"
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None  # the command's pid (PID 1 inside)

    # -- what the container is made of -------------------------------------

    @property
    def user(self) -> str:
        return str(self.service.get("user") or self.image.dockerfile.user)

    @property
    def uid(self) -> int:
        return self.image.uid(self.user.split(":")[0])

    def environment(self) -> dict[str, str]:
        env = {"PATH": f"{self.image.venv / 'bin'}:{SLIM_PATH}", "LANG": "C.UTF-8"}
        env.update(self.image.dockerfile.env)
        env["HOSTNAME"] = self.hostname
        env["HOME"] = self.image.home(self.user)
        rendered = self.service.get("environment") or {}
        if isinstance(rendered, list):
            rendered = dict(item.split("=", 1) for item in rendered)
        env.update({k: str(v) for k, v in rendered.items() if v is not None})
        return env

    def _volume_dir(self, name: str, target: str) -> Path:
        path = self.workdir / "volumes" / name
        if not path.exists():
            path.mkdir(parents=True)
            in_image = (self.image.app / os.path.relpath(target, self.image.dockerfile.workdir)).is_dir() \
                if target.startswith(self.image.dockerfile.workdir) else False
            owner = self.image.dockerfile.owner_of(target) if in_image else "root"
            uid = self.image.uid(owner)
            os.chown(path, uid, uid)
        return path

    def volume_path(self, name: str) -> Path:
        """The host directory behind a named volume (created on first use)."""
        return self.workdir / "volumes" / name

    def _passwd(self) -> Path:
        path = self.workdir / "etc-passwd"
        if not path.exists():
            lines = Path("/etc/passwd").read_text().rstrip("\n").splitlines()
            for user, uid in self.image.dockerfile.uids.items():
                if user != "root":
                    lines.append(f"{user}:x:{uid}:{uid}::{self.image.home(user)}:/usr/sbin/nologin")
            path.write_text("\n".join(lines) + "\n")
        return path

    def _bwrap(self, info_fd: int) -> list[str]:
        if self.service.get("read_only") is not True:
            raise AssertionError(f"{self.name}: only read-only containers are modelled (and expected)")
        args = ["bwrap", "--die-with-parent", "--unshare-uts", "--unshare-ipc", "--unshare-pid",
                "--as-pid-1", "--hostname", self.hostname]
        for entry in sorted(Path("/").iterdir()):
            if entry.name in SKIP_TOP:
                continue
            if entry.is_symlink():
                args += ["--symlink", os.readlink(entry), str(entry)]
            else:
                args += ["--ro-bind", str(entry), str(entry)]
        args += ["--ro-bind", "/sys", "/sys", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",
                 "--proc", "/proc"]
        args += ["--ro-bind", str(self.image.app), self.image.dockerfile.workdir,
                 "--ro-bind", str(self._passwd()), "/etc/passwd"]
        for mount in sorted(mounts_of(self.service), key=lambda m: m.target.count("/")):
            if mount.kind == "tmpfs":
                args += ["--perms", mount.mode, "--tmpfs", mount.target]
                continue
            source = Path(mount.source) if mount.kind == "bind" else self._volume_dir(mount.source, mount.target)
            if mount.target.startswith(self.image.dockerfile.workdir + "/"):
                # The mount point, made in the image's /app as Docker makes it.
                point = self.image.app / os.path.relpath(mount.target, self.image.dockerfile.workdir)
                if source.is_dir():
                    point.mkdir(parents=True, exist_ok=True)
                elif not point.exists():
                    point.parent.mkdir(parents=True, exist_ok=True)
                    point.touch()
            args += ["--ro-bind" if mount.read_only else "--bind", str(source), mount.target]
        args += ["--remount-ro", "/", "--chdir", self.image.dockerfile.workdir, "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        return args + ["--info-fd", str(info_fd), "--", *self._drop_privileges()]

    def _drop_privileges(self) -> list[str]:
        argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                "--inh-caps=-all"]
        if "ALL" in (self.service.get("cap_drop") or []):
            argv.append("--bounding-set=-all")
        if any(str(o).startswith("no-new-privileges") and not str(o).endswith("false")
               for o in self.service.get("security_opt") or []):
            argv.append("--no-new-privs")
        return argv + ["--"]

    # -- running -------------------------------------------------------------

    def start(self) -> "Container":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([*self._bwrap(write_end), *self.command], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            pass_fds=(write_end,), start_new_session=True)
        os.close(write_end)
        with os.fdopen(read_end) as info:
            raw = info.read()
        if not raw:
            self.process.wait(10)
            raise AssertionError(f"{self.name} did not start: {self.log()}")
        self.pid = json.loads(raw)["child-pid"]
        return self

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def exec(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        """Run argv inside this running container (as `docker exec` does)."""
        assert self.pid is not None and self.running(), f"{self.name} is not running"
        env = [f"{k}={v}" for k, v in self.environment().items()]
        return subprocess.run(
            ["nsenter", "-t", str(self.pid), "-m", "-u", "-i", "-p", "-r", "-w", "--",
             *self._drop_privileges(), "/usr/bin/env", "-i", *env, *argv],
            capture_output=True, text=True, timeout=timeout)

    def healthcheck(self) -> subprocess.CompletedProcess:
        argv = healthcheck_argv(self.service)
        if argv is None:
            raise AssertionError(f"{self.name} has no healthcheck")
        return self.exec(argv)

    def signal(self, signum: int) -> None:
        assert self.pid is not None
        os.kill(self.pid, signum)

    def children(self) -> set[int]:
        """Pids whose parent is the container's command (e.g. gunicorn workers)."""
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.pid:
                    found.add(int(entry.name))
        return found

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
