"""Start the whole pipeline on one machine: both sandboxes (threads), the
receiver under gunicorn, Celery workers and beat (processes).

Used by `ifs-shipbob demo`, the end-to-end tests and the soak benchmark, so
they all exercise the real processes, not in-process shortcuts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:  # the sandboxes are the [sandbox] extra, absent in the image
    from sandbox.server import BackgroundServer


BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    """`env` holds the connector settings every process gets (DATABASE_URL, ...)."""

    env: dict[str, str]
    logdir: Path
    ifs_config: object | None = None
    shipbob_config: object | None = None
    ifs: BackgroundServer | None = None
    shipbob: BackgroundServer | None = None
    receiver_url: str | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _owned: list[BackgroundServer] = field(default_factory=list)

    # -- sandboxes (threads in this process) ---------------------------------

    def start_sandboxes(self) -> None:
        from sandbox.ifs.app import create_app as ifs_app
        from sandbox.server import BackgroundServer
        from sandbox.shipbob import create_app as shipbob_app

        self.ifs = BackgroundServer(ifs_app(self.ifs_config)).start()
        self.shipbob = BackgroundServer(shipbob_app(self.shipbob_config)).start()
        self._owned += [self.ifs, self.shipbob]
        self.env.update(IFS_BASE_URL=self.ifs.url, SHIPBOB_BASE_URL=self.shipbob.url)

    # -- our processes --------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = open(self.logdir / f"{name}.log", "ab")
        env = {**os.environ, **self.env}
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start_receiver(self, workers: int = 2) -> str:
        port = free_port()
        self._spawn("receiver", [str(BIN / "gunicorn"), "-c", "python:webhooks.gunicorn_conf",
                                 "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                                 "webhooks.wsgi:app"])
        self.receiver_url = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{self.receiver_url}/healthz", timeout=1).ok, 30, "receiver")
        return self.receiver_url

    def start_worker(self, name: str = "worker", concurrency: int = 2,
                     queues: list[str] | None = None, pool: str = "prefork") -> subprocess.Popen:
        from workers.app import QUEUES  # lazily: it reads the broker from this process's env
        return self._spawn(name, [
            str(BIN / "celery"), "-A", "workers.app", "worker", "-Q", ",".join(queues or QUEUES),
            "-c", str(concurrency), "-P", pool, "-n", f"{name}@%h", "--without-gossip",
            "--without-mingle", "--without-heartbeat", "-l", "INFO",
        ])

    def start_beat(self) -> subprocess.Popen:
        schedule = self.logdir / "celerybeat-schedule"
        return self._spawn("beat", [str(BIN / "celery"), "-A", "workers.app", "beat",
                                    "--schedule", str(schedule), "-l", "INFO"])

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_process(name)
        for server in self._owned:  # sandboxes handed in belong to the caller
            server.stop()
        self._owned.clear()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def env_for(settings, **overrides) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None or isinstance(value, (dict, list)):
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    env.update({k.upper(): str(v) for k, v in overrides.items()})
    return env


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(interval)
