"""Run one job: claim the row, call its flow, record what happened.

The retry policy lives here as one plain function (connector.jobs.retry_delay);
Celery tasks, the CLI and tests all go through `run_job`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Callable

from connector import fencing, jobs, logs, metrics
from connector.context import Context
from connector.db.models import Job
from connector.errors import NeedsAttention, PermanentError, RateLimited, TransientError, WaitingFor

log = logging.getLogger(__name__)

FlowFn = Callable[[Context, Job], "str | None"]


class RunStatus(StrEnum):
    """How one run of a job ended."""

    DONE = "done"
    AGAIN = "again"          # done or parked, but news arrived meanwhile: run it again now
    RETRY = "retry"          # back to pending, due after `retry_in`
    ATTENTION = "attention"  # parked for a person
    FAILED = "failed"        # permanent error or retries exhausted
    SKIPPED = "skipped"      # not claimed: not due, or another run holds it
    LOST = "lost"            # the lease was lost mid-run; the job was handed back


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    retry_in: float | None = None    # seconds, for status RETRY
    detail: str | None = None
    flow: str | None = None
    key: str | None = None           # the business key, for the wake-up of status AGAIN
    woken: tuple[tuple[int, str, str], ...] = ()  # (id, flow, key) of jobs that waited for this one


def flows() -> dict[str, FlowFn]:
    # Imported lazily so a worker for one queue loads only what it runs.
    from connector.flows import (
        inbound_receipt,
        inventory_activity,
        inventory_sync,
        order_push,
        order_update,
        replenishment,
        return_voucher,
        shipment_voucher,
        stock_shortage,
    )

    return {
        "order_push": order_push.run,
        "order_update": order_update.run,
        "shipment_voucher": shipment_voucher.run,
        "return_voucher": return_voucher.run,
        "replenishment": replenishment.run,
        "inbound_receipt": inbound_receipt.run,
        "inventory_sync": inventory_sync.run,
        "inventory_activity": inventory_activity.run,
        "stock_shortage": stock_shortage.run,
    }


def run_job(ctx: Context, job_id: int, registry: dict[str, FlowFn] | None = None) -> RunResult:
    started = time.monotonic()
    result = _run(ctx, job_id, registry)
    if result.flow:
        metrics.JOB_RUNS.labels(result.flow, result.status).inc()
        metrics.JOB_SECONDS.labels(result.flow).observe(time.monotonic() - started)
    return result


def _run(ctx: Context, job_id: int, registry: dict[str, FlowFn] | None) -> RunResult:
    lease = ctx.settings.job_lease_seconds
    claimed_at = time.monotonic()
    with ctx.session() as session:
        job = jobs.claim(session, job_id, lease)
    if job is None:
        return RunResult(RunStatus.SKIPPED)
    fence = fencing.Fence(lambda: _confirm_lease(ctx, job, lease), lease, ctx.settings.fence_margin_seconds)
    fence.confirmed(claimed_at)
    flow = (registry or flows())[job.flow]
    logctx: dict[str, object] = {
        "job_id": job.id, "flow": job.flow, "key": job.key, "ifs_ref": job.ifs_ref,
        "shipbob_refs": job.shipbob_refs or None, "webhook_id": (job.payload or {}).get("webhook_id")}
    # No database session is held while the flow talks to the APIs.
    try:
        with logs.bound(**logctx), _Heartbeat(ctx, job, lease, fence), fencing.active(fence):
            detail = flow(ctx, job)
    except fencing.LeaseLost as exc:
        log.warning("stopped before a write: %s", exc, extra=logctx)
        try:  # fenced by the run token: a no-op if another run owns the row now
            _retry_or_fail(ctx, job, f"LeaseLost: {exc}", None, logctx, count=False)
        except Exception:  # the database is still away: the lease runs out, the sweeper re-runs it
            log.warning("could not hand the job back", exc_info=True, extra=logctx)
        return RunResult(RunStatus.LOST, detail=str(exc), flow=job.flow, key=job.key)
    except NeedsAttention as exc:
        with ctx.session() as session:
            again = jobs.park(session, job, exc.reason)
        log.warning("parked: %s%s", exc.reason, " (news arrived: runs again)" if again else "", extra=logctx)
        return RunResult(RunStatus.AGAIN if again else RunStatus.ATTENTION, detail=exc.reason,
                         flow=job.flow, key=job.key)
    except RateLimited as exc:
        return _retry_or_fail(ctx, job, f"{type(exc).__name__}: {exc}", exc.retry_after, logctx, count=False)
    except WaitingFor as exc:
        return _retry_or_fail(ctx, job, f"{type(exc).__name__}: {exc}", exc.retry_after, logctx,
                              count=exc.counts_attempt, waits_for=(exc.flow, exc.key),
                              recheck=exc.recheck_seconds)
    except TransientError as exc:
        return _retry_or_fail(ctx, job, f"{type(exc).__name__}: {exc}", exc.retry_after, logctx)
    except PermanentError as exc:
        with ctx.session() as session:
            jobs.fail(session, job, f"{type(exc).__name__}: {exc}")
        log.error("failed: %s", exc, extra=logctx)
        return RunResult(RunStatus.FAILED, detail=str(exc), flow=job.flow, key=job.key)
    except Exception as exc:  # a bug or an unforeseen answer: retry, bounded
        log.exception("unexpected error", extra=logctx)
        return _retry_or_fail(ctx, job, f"{type(exc).__name__}: {exc}", None, logctx)
    with ctx.session() as session:
        again = jobs.finish(session, job, detail)
        woken = jobs.wake_waiting(session, job.flow, job.key)
    woken += _woken_by_stock(ctx, job.flow)
    log.info("done%s", " (runs again)" if again else "", extra=logctx)
    return RunResult(RunStatus.AGAIN if again else RunStatus.DONE, detail=detail, flow=job.flow, key=job.key,
                     woken=tuple(woken))


def _woken_by_stock(ctx: Context, flow: str) -> list[tuple[int, str, str]]:
    """A receipt or the inventory sync may have brought stock: orders held for it
    and flagged shortages are checked again (connector/flows/stock_shortage.py)."""
    from connector.flows.stock_shortage import STOCK_ARRIVES, wake_after

    if flow not in STOCK_ARRIVES:
        return []
    try:
        return wake_after(ctx, flow)
    except Exception:  # noqa: BLE001 - the job is done; the held ones wait for the next chance
        log.warning("held orders not woken after %s", flow, exc_info=True)
        return []


def _confirm_lease(ctx: Context, job: Job, lease: float) -> bool:
    with ctx.session() as session:
        return jobs.extend_lease(session, job, lease)


class _Heartbeat:
    """Extends the job's lease while the flow runs, so a long run (rate-limit
    waits, a large sync) is not taken over by the sweeper as if its worker
    had died; a killed worker stops beating and its lease runs out. A beat
    that fails breaks the fence: the run writes nothing more."""

    def __init__(self, ctx: Context, job: Job, lease: float, fence: fencing.Fence):
        self.ctx, self.job, self.lease, self.fence = ctx, job, lease, fence
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stopped.wait(self.lease / 3):
            started = time.monotonic()
            try:
                held = _confirm_lease(self.ctx, self.job, self.lease)
            except Exception:  # the database is away: the lease may lapse
                log.warning("lease heartbeat failed", exc_info=True, extra={"job_id": self.job.id})
                self.fence.broken("the lease heartbeat could not reach the database")
                return
            if not held:
                self.fence.broken("another run took the job over")
                return
            self.fence.confirmed(started)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def _retry_or_fail(ctx: Context, job: Job, error: str, retry_after: float | None, logctx: dict[str, object],
                   count: bool = True, waits_for: tuple[str, str] | None = None,
                   recheck: float | None = None) -> RunResult:
    with ctx.session() as session:
        if count and job.attempts >= jobs.MAX_ATTEMPTS:
            jobs.fail(session, job, f"gave up after {job.attempts} attempts: {error}")
            log.error("retries exhausted: %s", error, extra=logctx)
            return RunResult(RunStatus.FAILED, detail=error, flow=job.flow, key=job.key)
        delay = jobs.retry_delay(job.attempts, retry_after)
        if recheck is not None:
            delay = min(delay, recheck)
        jobs.retry_later(session, job, error, delay, count_attempt=count, waits_for=waits_for)
    log.warning("retry in %.1fs: %s", delay, error, extra=logctx)
    return RunResult(RunStatus.RETRY, retry_in=delay, detail=error, flow=job.flow, key=job.key)
