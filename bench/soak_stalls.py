"""The soak's stalls (bench/soak.py): the faults that leave a run alive but
not in charge, on top of bench/soak_day.py's SIGKILLs and restarts.

- Lease takeover: a worker is caught waiting for the answer to the read a
  flow makes right before its write (is the WRO, the receipt, the RMA there
  yet?), frozen with SIGSTOP while ShipBob or IFS answers, and kept frozen
  past its job lease until another worker has taken the job over and run
  it. Then SIGCONT: the first run wakes up holding an answer that is no
  longer true and goes on towards its write. One per flow that has no
  idempotency key at the far side: replenishment, inbound receipt, return
  voucher.
- Database partition: the worker behind bench/soak_proxy.py is caught in
  an API call, and its PostgreSQL link is cut right then, past its lease,
  then healed.
- Killed OAuth refresh: a worker is SIGKILLed while ShipBob's answer to its
  refresh grant is on the way, after ShipBob rotated the refresh token: the
  stored one is retired. The operator's recovery follows once ShipBob has
  refused it: a new consent (an authorisation code from the sandbox) stored
  with `ifs-shipbob auth shipbob`.

The requests are caught in the sandboxes (bench/soak_gates.py), so each
stall happens at its point for sure, however busy the machine is.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import request
from soak_gates import AnswerHold, worker_of_client_port
from soak_hooks import hook

from connector.flows.replenishment import base_po

WORKERS = ("w1", "w2", "w3", "w4")
TAKEOVER_FLOWS = ("replenishment", "inbound_receipt", "return_voucher")
REDIRECT_URI = "http://127.0.0.1/soak-operator"


@dataclass
class StallRecord:
    takeovers: list[dict] = field(default_factory=list)
    partitions: list[dict] = field(default_factory=list)
    killed_refreshes: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------ what to catch

def _filter_value(field_name: str) -> str | None:
    match = re.search(rf"{field_name} eq '((?:[^']|'')*)'", request.args.get("$filter", ""))
    return match.group(1).replace("''", "'") if match else None


def _found_nothing(response) -> bool:
    """A 200 answer listing nothing (ShipBob: a list; IFS: {"value": []})."""
    body = response.get_json(silent=True) if response.status_code == 200 else None
    if isinstance(body, dict):
        body = body.get("value", body.get("items"))
    return body == []


def _wro_check(response) -> str | None:
    """Replenishment's look-up of a purchase order's WRO that finds none: a
    create follows."""
    if request.method != "GET" or not request.path.endswith("/receiving"):
        return None
    numbers = [n for v in request.args.getlist("PurchaseOrderNumbers") for n in v.split(",") if n]
    if len(numbers) != 1 or numbers[0].startswith("INVSYNC-") or not _found_nothing(response):
        return None
    return base_po(numbers[0])


def _ifs_check(entity_set: str, field_name: str, empty_only: bool):
    """The IFS read a flow makes right before its write: the receipts posted
    so far for a purchase order, or the RMA for a return (none: a create follows)."""
    def match(response) -> str | None:
        if request.method != "GET" or not request.path.endswith(f"/{entity_set}"):
            return None
        if empty_only and not _found_nothing(response):
            return None
        return _filter_value(field_name)
    return match


def _is_refresh_grant() -> bool:
    return (request.method == "POST" and request.path == "/connect/token"
            and request.form.get("grant_type") == "refresh_token")


def _refresh_grant(response) -> str | None:
    """A refresh grant ShipBob granted: it has rotated the refresh token."""
    return "refresh_token" if _is_refresh_grant() and response.status_code == 200 else None


def _api_call(response) -> str | None:
    return None if request.path.startswith(("/_sandbox", "/connect", "/auth")) else "api"


class RefusedRefreshes:
    """Counts ShipBob's refusals of refresh grants (invalid_grant): how the
    operator learns of the lockout."""

    def __init__(self):
        self.count = 0

    def after_request(self, response):
        if _is_refresh_grant() and response.status_code == 400:
            self.count += 1
        return response


def install(ifs_app, shipbob_app, names) -> tuple[dict[str, AnswerHold], RefusedRefreshes]:
    """Hook the holds into both sandboxes (before they serve anything)."""
    refused = RefusedRefreshes()
    shipbob_app.after_request(refused.after_request)
    holds = {
        "replenishment": AnswerHold("replenishment", _wro_check),
        "inbound_receipt": AnswerHold("inbound_receipt",
                                      _ifs_check(names.purchase.receipt_set, "OrderNo", empty_only=False)),
        "return_voucher": AnswerHold("return_voucher",
                                     _ifs_check(names.returns.rma_set, "ExternalRef", empty_only=True)),
        "partition": AnswerHold("partition", _api_call),
        "refresh": AnswerHold("refresh", _refresh_grant),
    }
    for name in ("replenishment", "partition", "refresh"):
        shipbob_app.after_request(holds[name].after_request)
    for name in ("inbound_receipt", "return_voucher", "partition"):
        ifs_app.after_request(holds[name].after_request)
    return holds, refused


# ------------------------------------------------------------------- stalls

class Stalls:
    """Runs the stalls beside the Chaos thread; `stop()` ends and undoes them."""

    def __init__(self, soak, holds: dict[str, AnswerHold], refused: RefusedRefreshes, proxy,
                 partitioned_worker: str):
        self.soak = soak
        self.holds, self.refused, self.proxy = holds, refused, proxy
        self.partitioned_worker = partitioned_worker
        self.profile = soak.profile
        self.record = StallRecord()
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        # One frozen worker at a time (and the partitioned one): the pool keeps working.
        # Each flow's hold stays armed; whichever catches first while none is frozen goes.
        self._freezing = threading.Lock()
        self._frozen: dict[str, int] = {}        # worker -> process group, while stopped
        self._lock = threading.Lock()
        self.started_at = 0.0

    def say(self, message: str) -> None:
        self.soak.say(f"stall: {message}")

    def t(self) -> float:
        return time.monotonic() - self.started_at

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self.started_at = time.monotonic()
        p = self.profile
        plan: list[tuple[Callable[..., None], tuple]] = [(self._takeovers, (flow,)) for flow in TAKEOVER_FLOWS]
        plan.append((self._partition, (p.partition_at,)))
        if p.kill_refresh_at is not None:
            plan.append((self._killed_refresh, (p.kill_refresh_at,)))
        for target, args in plan:
            thread = threading.Thread(target=self._guarded, args=(target, *args), daemon=True,
                                      name=f"soak-stall-{target.__name__}")
            thread.start()
            self._threads.append(thread)

    def busy(self) -> bool:
        """Whether a planned stall has not happened yet (the fault phase waits for them)."""
        return any(thread.is_alive() for thread in self._threads)

    def mid_stall(self) -> bool:
        """Whether a worker is frozen right now: the fault phase never ends
        before its takeover is settled, however slow the machine (the wait
        is bounded by the lease, a sweep and a margin)."""
        with self._lock:
            return bool(self._frozen)

    def stop(self) -> None:
        self.stop_event.set()
        for hold in self.holds.values():
            hold.disarm()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.proxy.cut_now:
            self.proxy.restore()
        with self._lock:
            for name, group in list(self._frozen.items()):
                self._signal(group, signal.SIGCONT)
                del self._frozen[name]
                self.soak.chaos.spared.discard(name)

    def _guarded(self, target, *args) -> None:
        try:
            target(*args)
        except Exception as exc:  # noqa: BLE001 - record it, keep the soak going
            self.record.errors.append(f"{target.__name__}: {type(exc).__name__}: {exc}")
            self.say(f"{target.__name__} failed ({type(exc).__name__}: {exc})")

    # -- helpers --------------------------------------------------------------------

    def _groups(self) -> dict[str, int]:
        with self.soak.proc_lock:
            return {name: proc.pid for name, proc in self.soak.stack.processes.items()
                    if name in WORKERS and proc.poll() is None}

    def _catch(self, hold: AnswerHold, wanted=lambda worker, key: True,
               exclusive: bool = False) -> tuple[str, str, int] | None:
        """Arm `hold` until it catches a wanted worker's request; returns
        (worker, key, process group) with the answer still held (and, if
        `exclusive`, the freezing lock taken)."""
        while not self.stop_event.is_set():
            hold.arm()
            caught = None
            while caught is None and not self.stop_event.is_set():
                caught = hold.wait_caught(0.5)
            if caught is None:
                return None
            if exclusive and not self._freezing.acquire(blocking=False):
                hold.release()  # another worker is frozen right now: the next one, later
                continue
            groups = self._groups()
            worker = worker_of_client_port(caught.client_port, groups)
            if worker is not None and worker not in self._frozen and worker not in self.soak.chaos.down \
                    and wanted(worker, caught.key):
                return worker, caught.key, groups[worker]
            if exclusive:
                self._freezing.release()
            hold.release()
        return None

    @staticmethod
    def _signal(group: int, sig: int) -> None:
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            pass

    def _job(self, flow: str, key: str) -> tuple[str, datetime | None] | None:
        from sqlalchemy import select

        from connector.db.models import Job

        try:
            with self.soak.ctx.session() as session:
                row = session.execute(select(Job.state, Job.claimed_at)
                                      .where(Job.flow == flow, Job.key == key)).one_or_none()
        except Exception:  # noqa: BLE001 - PostgreSQL may be restarting
            return None
        return (row[0], row[1]) if row else None

    def _wait_taken_over(self, flow: str, key: str, claimed_at, limit: float) -> bool:
        """Until another run claimed the job and finished it, its write made
        (or `limit` seconds); whether another run claimed it at all."""
        deadline = time.monotonic() + limit
        taken = False
        while time.monotonic() < deadline and not self.stop_event.is_set():
            job = self._job(flow, key)
            if job is not None and job[1] != claimed_at:
                taken = True
                if job[0] in ("done", "attention", "failed"):
                    return True
            self.stop_event.wait(0.5)
        return taken

    # -- lease takeovers ------------------------------------------------------------

    def _takeovers(self, flow: str) -> None:
        hold = self.holds[flow]
        for _ in range(self.profile.takeovers_per_flow):
            if not self._takeover(flow, hold):
                return

    def _takeover(self, flow: str, hold: AnswerHold) -> bool:
        caught = self._catch(hold, lambda worker, key: worker != self.partitioned_worker
                             and self._job(flow, key) is not None and self._writes(flow, key), exclusive=True)
        if caught is None:
            return False
        try:
            self._freeze_until_taken_over(flow, hold, *caught)
        finally:
            self._freezing.release()
        return True

    def _freeze_until_taken_over(self, flow: str, hold: AnswerHold, worker: str, key: str, group: int) -> None:
        job = self._job(flow, key)
        with self._lock:
            self.soak.chaos.spared.add(worker)
            self._signal(group, signal.SIGSTOP)
            self._frozen[worker] = group
        hold.release()  # answered now; the frozen run reads it when it wakes
        frozen_at = time.monotonic()
        self.say(f"{worker} frozen (SIGSTOP) holding the answer of its {flow} check for {key}; "
                 f"waiting past its {self.profile.job_lease_seconds:g}s lease for a takeover")
        # The sweeper re-publishes a job at most once per grace period: a takeover
        # may wait for the lease and a grace period, and for a worker to get to it:
        # after the neighbour's burst the pool waits out ShipBob's 60 s window.
        limit = self.profile.job_lease_seconds + self.profile.sweep_grace_seconds + 60 + 30
        taken = self._wait_taken_over(flow, key, job[1] if job else None, limit)
        with self._lock:
            self._signal(group, signal.SIGCONT)
            self._frozen.pop(worker, None)
            self.soak.chaos.spared.discard(worker)
        seconds = time.monotonic() - frozen_at
        self.record.takeovers.append({"flow": flow, "key": key, "worker": worker, "at": round(self.t(), 1),
                                      "frozen_seconds": round(seconds, 1), "taken_over": taken})
        self.say(f"{worker} thawed (SIGCONT) after {seconds:.0f}s; {flow} {key} "
                 f"{'was taken over by another worker' if taken else 'was NOT taken over'}")

    def _writes(self, flow: str, key: str) -> bool:
        """Whether the run goes on to write (returns parked by design do not)."""
        return flow != "return_voucher" or int(key) not in self.soak.day.record.unknown_shipment_returns

    # -- database partition ---------------------------------------------------------

    def _partition(self, at: float) -> None:
        if self.stop_event.wait(at):
            return
        caught = self._catch(self.holds["partition"], lambda worker, key: worker == self.partitioned_worker)
        if caught is None:
            return
        worker = caught[0]
        self.proxy.cut()
        self.holds["partition"].release()
        seconds = self.profile.job_lease_seconds + 8  # its lease runs out; another worker takes over
        self.say(f"{worker}'s PostgreSQL link cut while its API call was in flight; healing in {seconds:.0f}s")
        self.stop_event.wait(seconds)
        self.proxy.restore()
        self.record.partitions.append({"worker": worker, "at": round(self.t() - seconds, 1),
                                       "seconds": seconds})
        self.say(f"{worker}'s PostgreSQL link restored")

    # -- killed OAuth refresh -------------------------------------------------------

    def _killed_refresh(self, at: float) -> None:
        if self.stop_event.wait(at):
            return
        hold = self.holds["refresh"]
        caught = self._catch(hold)
        if caught is None:
            return
        worker = caught[0]
        self.soak.chaos.kill_worker(worker)
        hold.release()  # to a dead socket: the rotated refresh token is lost
        killed_at = time.monotonic()
        self.say(f"{worker} SIGKILLed while ShipBob's answer to its refresh grant was on the way "
                 "(the stored refresh token is retired now)")
        refused_before = self.refused.count
        refused = self._wait(lambda: self.refused.count > refused_before, 60)
        self.say(("ShipBob refused the retired refresh token" if refused else "no refresh refused within 60s")
                 + "; the operator re-authorises: ifs-shipbob auth shipbob --code ...")
        ok, out = self._reauthorise()
        self.record.killed_refreshes.append({
            "worker": worker, "at": round(self.t(), 1), "refused_seen": refused,
            "recovered": ok, "recovery_after_seconds": round(time.monotonic() - killed_at, 1),
            "recovery_output": out[-300:]})
        self.say(f"re-authorised ({'ok' if ok else 'FAILED'}): {out.strip()[-200:]}")

    def _wait(self, condition, limit: float) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.stop_event.is_set():
            if condition():
                return True
            self.stop_event.wait(0.5)
        return False

    def _reauthorise(self) -> tuple[bool, str]:
        """The operator's consent (the sandbox's code hook stands in for the
        browser) and the one command that stores the new token."""
        from sandbox.shipbob.config import DEFAULT_SCOPES

        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        code = hook(self.soak.stack.shipbob.url, "oauth/code", {
            "redirect_uri": REDIRECT_URI, "code_challenge": challenge, "scope": " ".join(DEFAULT_SCOPES)})["code"]
        cli = Path(sys.executable).parent / "ifs-shipbob"
        run = subprocess.run([str(cli), "auth", "shipbob", "--code", code, "--redirect-uri", REDIRECT_URI,
                              "--code-verifier", verifier], env={**os.environ, **self.soak.stack.env},
                             capture_output=True, text=True, timeout=120)
        return run.returncode == 0, run.stdout + run.stderr
