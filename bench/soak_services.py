"""Private PostgreSQL and Redis for the soak test (bench/soak.py).

The soak restarts both mid-run, so it never touches the machine's shared
servers: it runs its own PostgreSQL cluster (initdb into a temporary
directory owned by the `postgres` OS user) and its own `redis-server` without
persistence, each on a free port. A Redis restart is a SIGKILL and a fresh
start on the same port: everything queued is gone, exactly like a crashed
broker without AOF/RDB. A PostgreSQL restart is `pg_ctl restart -m fast`:
every connection is cut, committed rows survive.

Everything is removed again by `Services.stop()` (also on Ctrl-C: use it as a
context manager).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cli.stack import wait_for

PG_VERSIONS_DIR = Path("/usr/lib/postgresql")
PG_OS_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian layout)."""
    versions = sorted((p for p in PG_VERSIONS_DIR.glob("*/bin/initdb")),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not versions:
        raise RuntimeError(f"no PostgreSQL server binaries under {PG_VERSIONS_DIR}")
    return versions[-1].parent


def _as_user(user: str, argv: list[str]) -> list[str]:
    """Run as `user` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", user, "--", *argv]


# ---------------------------------------------------------------------- Redis

@dataclass
class RedisServer:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "redis.log", "ab")
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
             "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.ping, 20, f"redis-server on port {self.port}")

    def ping(self) -> bool:
        import redis

        return bool(redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1).ping())

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_seconds: float = 1.0) -> float:
        """SIGKILL and start again empty on the same port; returns the seconds it was down."""
        started = time.monotonic()
        self.kill()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1
        return time.monotonic() - started

    def stop(self) -> None:
        self.kill()


# ------------------------------------------------------------------ PostgreSQL

@dataclass
class PostgresCluster:
    workdir: Path
    port: int = field(default_factory=free_port)
    database: str = "soak"
    restarts: int = 0
    _running: bool = False

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def sockdir(self) -> Path:
        return self.workdir / "sock"

    @property
    def logfile(self) -> Path:
        return self.workdir / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{PG_OS_USER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{PG_OS_USER}@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = _as_user(PG_OS_USER, [str(pg_bin_dir() / tool), *args])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
        return result

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._pg("pg_ctl", "-D", str(self.datadir), "-o", options, "-l", str(self.logfile),
                 "-w", "-t", "60", *extra, action)

    def init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam(PG_OS_USER)
            for path in (self.workdir, self.sockdir):
                os.chown(path, user.pw_uid, user.pw_gid)
            # the parent temp dir must be traversable by the postgres user
            os.chmod(self.workdir.parent, 0o755)
        self._pg("initdb", "-D", str(self.datadir), "-A", "trust", "-U", PG_OS_USER,
                 "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self._pg_ctl("start")
        self._running = True
        wait_for(self._accepts, 30, f"PostgreSQL on port {self.port}")

    def _accepts(self) -> bool:
        import psycopg2

        psycopg2.connect(self.admin_url, connect_timeout=2).close()
        return True

    def create_database(self) -> str:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()
        return self.url

    def restart(self, down_seconds: float = 0.0) -> float:
        """A fast shutdown (every session is cut, committed work survives),
        `down_seconds` of outage, and a start; returns the seconds it was down."""
        started = time.monotonic()
        if down_seconds <= 0:
            self._pg_ctl("restart", "-m", "fast")
        else:
            self._pg_ctl("stop", "-m", "fast")
            time.sleep(down_seconds)
            self._pg_ctl("start")
        wait_for(self._accepts, 30, f"PostgreSQL on port {self.port}")
        self.restarts += 1
        return time.monotonic() - started

    def stop(self) -> None:
        if not self._running:
            return
        try:
            self._pg_ctl("stop", "-m", "immediate")
        except Exception:  # noqa: BLE001 - best effort at cleanup
            pass
        self._running = False


# ------------------------------------------------------------------- together

@dataclass
class Services:
    """PostgreSQL + Redis in one temporary directory; a context manager."""

    root: Path | None = None
    keep: bool = False
    postgres: PostgresCluster | None = None
    redis: RedisServer | None = None
    _owned_root: bool = False

    def start(self) -> "Services":
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="ifs-shipbob-soak-"))
            self._owned_root = True
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.postgres = PostgresCluster(self.root / "pg")
        self.redis = RedisServer(self.root / "redis")
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        return self

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self._owned_root and not self.keep and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Services":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
