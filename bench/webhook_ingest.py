"""Benchmark of webhook ingestion through gunicorn on loopback. Not a test.

    .venv/bin/python bench/webhook_ingest.py [--duration 10] [--warmup 3] [--clients 4]
        [--workers 2] [--worker-class gthread] [--threads 8] [--targets bare postgres sqlite]

Targets, each served by gunicorn with the same settings (by default those of
webhooks/gunicorn_conf.py: 2 gthread workers x 8 threads, timeout 20):

- bare      a Flask app whose POST /webhooks/shipbob only answers 200 (the floor:
            gunicorn + Flask + loopback + the load generator);
- postgres  the real receiver (`webhooks.app:create_app()`): signature check,
            INSERT into a temporary PostgreSQL database, Celery publish to Redis
            under a unique key prefix;
- sqlite    the receiver on the embedded default: SQLite state and the SQLite
            (Kombu SQLAlchemy) broker, in a temporary directory.

The load generator is N client processes, each one closed-loop connection on
raw sockets (HTTP/1.1 keep-alive when the server allows it; gunicorn's sync
workers close after each response, so those requests include the TCP connect,
as ShipBob's would). Every request is pre-signed (`standardwebhooks`) with a
unique webhook-id before the clock starts. A warm-up is followed by a fixed
measuring window; latency is per request, from send (or connect) to the last
byte of the answer. Afterwards the inbox rows and broker messages are counted:
every accepted delivery must be stored once and published once.

The machine's cores are shared by the clients, gunicorn, PostgreSQL and
Redis, so a second table shows where the CPU went during each window.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PATH = "/webhooks/shipbob"
TOPIC = "order.shipped"
SECRET = "whsec_" + base64.b64encode(b"bench-webhook-secret-24b").decode()
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------ the bare app


def bare_app():
    """`gunicorn 'webhook_ingest:bare_app()'`: answers 200 and nothing else
    (the same JSON as the receiver, so the client treats both alike)."""
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.post(PATH)
    def shipbob():
        return jsonify(status="accepted"), 200

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


# ------------------------------------------------------------ load generator


def payload(order_id: int) -> bytes:
    """About 1 KB, shaped like an order.shipped hint (shipbob.md §6)."""
    return json.dumps({
        "event_time": "2026-01-15T15:55:09.3614767Z", "order_id": order_id,
        "reference_id": f"SO-{order_id}", "status": "Completed",
        "shipments": [{"id": order_id * 10 + 1, "status": "Completed", "location": {"id": 156},
                       "tracking": {"carrier": "USPS", "carrier_service": "ParcelSelect",
                                    "tracking_id": f"9261290306529427{order_id:06d}",
                                    "tracking_url": "https://tools.usps.com/go/TrackConfirmAction"},
                       "products": [{"reference_id": f"P{n:05d}", "quantity": n % 3 + 1,
                                     "name": f"Product {n}"} for n in range(8)]}],
        "recipient": {"name": "Ann Example", "address": {"address1": "1 Main St", "city": "Chicago",
                                                         "state": "IL", "country": "US", "zip_code": "60601"}},
    }).encode()


class Signer:
    def __init__(self, host: str, port: int, prefix: str):
        from standardwebhooks.webhooks import Webhook

        self._webhook = Webhook(SECRET)
        self._host = f"{host}:{port}"
        self._prefix = prefix
        self.count = 0

    def next(self) -> bytes:
        self.count += 1
        msg_id = f"{self._prefix}{self.count}"
        body = payload(self.count)
        at = datetime.now(timezone.utc)
        head = (f"POST {PATH} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nwebhook-id: {msg_id}\r\n"
                f"webhook-timestamp: {int(at.timestamp())}\r\n"
                f"webhook-signature: {self._webhook.sign(msg_id, at, body.decode())}\r\n"
                f"x-webhook-topic: {TOPIC}\r\n\r\n")
        return head.encode("latin-1") + body


class Connection:
    """One HTTP/1.1 connection on a raw socket; reconnects when the server closes."""

    def __init__(self, host: str, port: int):
        self.addr = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        return chunk

    def roundtrip(self, request: bytes) -> tuple[int, bytes]:
        reused = self.sock is not None
        try:
            return self._roundtrip(request)
        except (ConnectionError, OSError):
            self.close()
            if not reused:
                raise
            return self._roundtrip(request)  # an idle keep-alive connection timed out

    def _roundtrip(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        length = int(headers.get(b"content-length", b"0"))
        while len(rest) < length:
            rest += self._recv()
        body, self.buffer = rest[:length], rest[length:]
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""


def client(index: int, url_port: int, prefix: str, presign: int, warmup: float, duration: float,
           barrier, results) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signer = Signer("127.0.0.1", url_port, f"{prefix}c{index}-")
    requests = [signer.next() for _ in range(presign)]
    signed_live = 0
    conn = Connection("127.0.0.1", url_port)
    latencies: list[float] = []
    accepted = errors = warm = 0
    error_kinds: dict[str, int] = {}
    barrier.wait()
    cpu0 = time.process_time()
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration
    first = last = None
    i = 0
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            break
        if i < len(requests):
            request = requests[i]
            requests[i] = b""  # free it
        else:
            request, signed_live = signer.next(), signed_live + 1
        i += 1
        sent = time.perf_counter()
        try:
            status, body = conn.roundtrip(request)
            ok = status == 200 and b'"accepted"' in body
            kind = None if ok else f"HTTP {status}" if status != 200 else body[:40].decode(errors="replace")
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            conn.close()
            ok, kind = False, type(exc).__name__
        done = time.perf_counter()
        if sent < measure_from:
            warm += ok
            continue
        first = first if first is not None else sent
        last = done
        if ok:
            accepted += 1
            latencies.append(done - sent)
        else:
            errors += 1
            error_kinds[kind] = error_kinds.get(kind, 0) + 1
    conn.close()
    results.put({"latencies": latencies, "accepted": accepted, "errors": errors, "warm": warm,
                 "error_kinds": error_kinds, "first": first, "last": last,
                 "cpu": time.process_time() - cpu0, "signed_live": signed_live})


# ----------------------------------------------------------------- CPU use


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def process_tree(pid: int) -> list[int]:
    tree, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            tree += children
            frontier += children
    return tree


def tree_ticks(pid: int) -> int:
    return sum(_ticks(p) for p in process_tree(pid))


def machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# ------------------------------------------------------------------ targets


@dataclass
class Target:
    name: str
    app: str
    env: dict = field(default_factory=dict)
    pythonpath: str | None = None
    count_stored: object = None      # () -> rows in the inbox
    count_published: object = None   # () -> messages on the broker
    database_pids: object = None     # () -> PostgreSQL backends serving this target
    cwd: Path = ROOT                 # where gunicorn runs: relative defaults (state/, reports/) land here
    cleanup: list = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin(sql: str, *params) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def receiver_env(database_url: str, broker_url: str, prefix: str) -> dict:
    return {"DATABASE_URL": database_url, "BROKER_URL": broker_url, "REDIS_PREFIX": prefix,
            "SHIPBOB_WEBHOOK_SECRET": SECRET}


def postgres_target(run_id: str, workdir: Path) -> Target:
    import redis
    from sqlalchemy import text

    from connector.db.session import engine_for, migrate

    name = f"ifs_shipbob_bench_{run_id}"
    admin(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    prefix = f"ifs-shipbob-bench-{run_id}:"
    target = Target("postgres+redis", "webhooks.app:create_app()", receiver_env(url, REDIS_URL, prefix),
                    cwd=workdir)
    target.cleanup.append(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    target.cleanup.append(lambda: engine_for(url).dispose())

    def drop_keys():
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)

    target.cleanup.append(drop_keys)
    migrate(url)

    def stored() -> int:
        with engine_for(url).connect() as conn:
            return conn.execute(text("SELECT count(*) FROM webhook_events")).scalar_one()

    def published() -> int:
        client = redis.Redis.from_url(REDIS_URL)
        return client.llen(f"{prefix}webhooks")

    target.count_stored, target.count_published = stored, published
    target.database_pids = lambda: [pid for (pid,) in admin(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s", name)]
    return target


def sqlite_target(run_id: str, workdir: Path) -> Target:
    import sqlite3

    from connector.db.session import engine_for, migrate

    directory = workdir / "sqlite"
    directory.mkdir()
    url = f"sqlite:///{directory}/ifs-shipbob.db"
    broker = f"sqla+sqlite:///{directory}/broker.db"
    target = Target("sqlite (embedded)", "webhooks.app:create_app()",
                    receiver_env(url, broker, f"ifs-shipbob-bench-{run_id}:"), cwd=workdir)
    migrate(url)
    target.cleanup.append(lambda: engine_for(url).dispose())

    def count(path: Path, sql: str) -> int:
        if not path.exists():
            return 0
        with sqlite3.connect(path) as conn:
            try:
                return conn.execute(sql).fetchone()[0]
            except sqlite3.OperationalError:  # the broker never created its tables
                return 0

    target.count_stored = lambda: count(directory / "ifs-shipbob.db", "SELECT count(*) FROM webhook_events")
    target.count_published = lambda: count(directory / "broker.db", "SELECT count(*) FROM kombu_message")
    return target


# ---------------------------------------------------------------------- run


@dataclass
class Row:
    target: str
    requests: int
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_kinds: dict
    stored: str
    client_cpu: float
    server_cpu: float
    database_cpu: float
    other_cpu: float
    signed_live: int
    rates: list = field(default_factory=list)
    ratios: list = field(default_factory=list)
    latencies: list = field(default_factory=list, repr=False)


def start_gunicorn(target: Target, args, port: int, logdir: Path) -> subprocess.Popen:
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
            "--worker-class", args.worker_class, "--threads", str(args.threads), "--timeout", "20",
            "--backlog", "2048", "--log-level", "warning"]
    if target.pythonpath:
        argv += ["--pythonpath", target.pythonpath]
    argv.append(target.app)
    env = {**os.environ, **target.env}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(logdir / f"{target.name.split()[0]}.log", "ab") as log:
        process = subprocess.Popen(argv, env=env, cwd=target.cwd, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn for {target.name} did not start; see {logdir}")
        time.sleep(0.2)


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def measure(target: Target, args, run_id: str, logdir: Path) -> Row:
    port = free_port()
    server = start_gunicorn(target, args, port, logdir)
    try:
        ctx = multiprocessing.get_context("fork")
        barrier, results = ctx.Barrier(args.clients + 1), ctx.Queue()
        presign = int(args.max_rate * (args.warmup + args.duration) / args.clients) + 100
        prefix = f"msg_{run_id}_{target.name.split()[0]}_"
        clients = [ctx.Process(target=client, args=(i, port, prefix, presign, args.warmup, args.duration,
                                                    barrier, results)) for i in range(args.clients)]
        for process in clients:
            process.start()
        barrier.wait(timeout=600)
        time.sleep(args.warmup)
        db_pids = target.database_pids() if target.database_pids else []
        db0 = {pid: _ticks(pid) for pid in db_pids}
        server0, (busy0, total0) = tree_ticks(server.pid), machine_ticks()
        time.sleep(args.duration)
        server1, (busy1, total1) = tree_ticks(server.pid), machine_ticks()
        db_pids = target.database_pids() if target.database_pids else []
        db_ticks = sum(_ticks(pid) - db0.get(pid, 0) for pid in db_pids)
        outcomes = [results.get(timeout=args.duration + 120) for _ in clients]
        for process in clients:
            process.join(timeout=30)
    finally:
        stop_gunicorn(server)

    latencies = sorted(x for o in outcomes for x in o["latencies"])
    accepted = sum(o["accepted"] for o in outcomes)
    errors = sum(o["errors"] for o in outcomes)
    kinds: dict[str, int] = {}
    for o in outcomes:
        for kind, n in o["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    spans = [(o["first"], o["last"]) for o in outcomes if o["first"] is not None]
    elapsed = (max(s[1] for s in spans) - min(s[0] for s in spans)) if spans else args.duration

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    stored = "-"
    if target.count_stored is not None:
        total_accepted = accepted + sum(o["warm"] for o in outcomes)
        rows, published = target.count_stored(), target.count_published()
        stored = f"{rows}/{published}/{total_accepted}"
        if not rows == published == total_accepted:
            stored += " MISMATCH"
    cores = os.cpu_count() or 1
    machine = (busy1 - busy0) / ((total1 - total0) or 1) * 100 * cores  # % of one core
    client_cpu = sum(o["cpu"] for o in outcomes) / args.duration * 100
    server_cpu = (server1 - server0) / CLK_TCK / args.duration * 100
    database_cpu = db_ticks / CLK_TCK / args.duration * 100
    return Row(
        target=target.name, requests=accepted + errors, accepted_per_s=accepted / elapsed,
        p50_ms=pct(0.50), p99_ms=pct(0.99), errors=errors, error_kinds=kinds, stored=stored,
        client_cpu=client_cpu, server_cpu=server_cpu, database_cpu=database_cpu,
        other_cpu=max(0.0, machine - client_cpu - server_cpu - database_cpu),
        signed_live=sum(o["signed_live"] for o in outcomes), rates=[accepted / elapsed],
        latencies=latencies,
    )


def merge(rounds: list[Row]) -> Row:
    """One row per target over all rounds: summed counts, the median rate,
    percentiles of every latency, mean CPU."""
    import statistics

    latencies = sorted(x for r in rounds for x in r.latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    kinds: dict[str, int] = {}
    for r in rounds:
        for kind, n in r.error_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + n
    stored = "-"
    if rounds[0].stored != "-":
        counts = [[int(x) for x in r.stored.split()[0].split("/")] for r in rounds]
        stored = "/".join(str(sum(c[i] for c in counts)) for i in range(3))
        if any("MISMATCH" in r.stored for r in rounds):
            stored += " MISMATCH"
    n = len(rounds)
    return Row(
        target=rounds[0].target, requests=sum(r.requests for r in rounds),
        accepted_per_s=statistics.median(r.accepted_per_s for r in rounds),
        p50_ms=pct(0.50), p99_ms=pct(0.99), errors=sum(r.errors for r in rounds), error_kinds=kinds,
        stored=stored, client_cpu=sum(r.client_cpu for r in rounds) / n,
        server_cpu=sum(r.server_cpu for r in rounds) / n, database_cpu=sum(r.database_cpu for r in rounds) / n,
        other_cpu=sum(r.other_cpu for r in rounds) / n, signed_live=sum(r.signed_live for r in rounds),
        rates=[r.accepted_per_s for r in rounds], ratios=[x for r in rounds for x in r.ratios],
    )


def print_table(rows: list[Row], args) -> None:
    import statistics

    header = (f"{'target':<18} {'requests':>9} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'errors':>7} {'ratio vs bare':>14}")
    print()
    print(f"webhook ingest through gunicorn on loopback: {os.cpu_count()} cores; gunicorn "
          f"--workers {args.workers} --worker-class {args.worker_class} --threads {args.threads} "
          f"--timeout 20 for every target; {args.clients} client processes, 1 connection each; "
          f"{args.rounds} round(s) of {args.warmup:g} s warm-up + {args.duration:g} s measured per target, "
          f"targets interleaved")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = f"{statistics.median(r.ratios):.2f}x" if r.ratios else "-"
        print(f"{r.target:<18} {r.requests:>9} {r.accepted_per_s:>11.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
              f"{r.errors:>7} {ratio:>14}")
    print("accepted/s: median of the rounds; p50/p99: over every request of every round; "
          "ratio: median over rounds of accepted/s divided by bare flask's in the same round.")
    if args.rounds > 1:
        for r in rows:
            print(f"  {r.target:<18} accepted/s per round: " + ", ".join(f"{x:.0f}" for x in r.rates))
    print()
    header2 = (f"{'target':<18} {'clients':>8} {'gunicorn':>9} {'postgres':>9} {'other':>7}"
               f"  stored/published/accepted")
    print("CPU during the measured windows, % of one core (mean of the rounds); "
          "'other' = everything else on the machine, Redis included")
    print(header2)
    print("-" * len(header2))
    for r in rows:
        database = f"{r.database_cpu:.0f}%" if r.stored != "-" and "sqlite" not in r.target else "-"
        print(f"{r.target:<18} {r.client_cpu:>7.0f}% {r.server_cpu:>8.0f}% {database:>9} {r.other_cpu:>6.0f}%"
              f"  {r.stored}")
    print("stored/published/accepted: inbox rows, broker messages and 200 'accepted' answers, warm-up "
          "included, summed over the rounds; they must be equal.")
    for r in rows:
        if r.error_kinds:
            print(f"errors for {r.target}: {r.error_kinds}")
        if r.signed_live:
            print(f"note: {r.target} ran out of pre-signed requests; {r.signed_live} were signed during "
                  f"the run (raise --max-rate)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per target and round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the targets are interleaved in each")
    parser.add_argument("--clients", type=int, default=4, help="client processes, one connection each")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (compose: 2)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (compose: gthread)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (compose: 8)")
    parser.add_argument("--targets", nargs="+", default=["bare", "postgres", "sqlite"],
                        choices=["bare", "postgres", "sqlite"])
    parser.add_argument("--max-rate", type=float, default=8000,
                        help="requests/s to pre-sign for (more are signed on the fly)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    run_id = uuid.uuid4().hex[:10]
    rounds: dict[str, list[Row]] = {name: [] for name in args.targets}
    with tempfile.TemporaryDirectory(prefix="webhook-ingest-") as scratch:
        workdir = Path(scratch)
        logdir = workdir / "logs"
        logdir.mkdir()
        try:
            for number in range(args.rounds):
                for name in args.targets:
                    round_dir = workdir / f"{name}-{number}"
                    round_dir.mkdir()
                    round_id = f"{run_id}_{number}"
                    if name == "bare":
                        target = Target("bare flask", "webhook_ingest:bare_app()", pythonpath=str(BENCH_DIR),
                                        cwd=round_dir)
                    elif name == "postgres":
                        target = postgres_target(round_id, round_dir)
                    else:
                        target = sqlite_target(round_id, round_dir)
                    try:
                        print(f"round {number + 1}/{args.rounds}: {target.name} ...", file=sys.stderr, flush=True)
                        rounds[name].append(measure(target, args, round_id, logdir))
                    finally:
                        for step in reversed(target.cleanup):
                            step()
                bare = rounds.get("bare")
                if bare and len(bare) == number + 1 and bare[-1].accepted_per_s:
                    for name in args.targets:
                        last = rounds[name][-1]
                        last.ratios = [last.accepted_per_s / bare[-1].accepted_per_s]
        finally:
            for log in sorted(logdir.glob("*.log")):
                text = log.read_text(errors="replace").strip()
                if text:
                    print(f"--- gunicorn log of {log.stem} (last lines) ---", file=sys.stderr)
                    print("\n".join(text.splitlines()[-15:]), file=sys.stderr)
    print_table([merge(rows) for rows in rounds.values() if rows], args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
