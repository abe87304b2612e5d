"""Run one job: claim the row, call its flow, record what happened.

The retry policy lives here as one plain function (connector.jobs.retry_delay);
Celery tasks, the CLI and tests all go through `run_job`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select

from connector import jobs, logs, metrics
from connector.context import Context
from connector.db.models import Job
from connector.errors import NeedsAttention, PermanentError, TransientError

log = logging.getLogger(__name__)

FlowFn = Callable[[Context, Job], "str | None"]


@dataclass(frozen=True)
class RunResult:
    status: str                      # done | again | retry | attention | failed | skipped
    retry_in: float | None = None    # seconds, for status "retry"
    detail: str | None = None
    flow: str | None = None


def flows() -> dict[str, FlowFn]:
    # Imported lazily so a worker for one queue loads only what it runs.
    from connector.flows import (
        inbound_receipt,
        inventory_sync,
        order_push,
        replenishment,
        return_voucher,
        shipment_voucher,
    )

    return {
        "order_push": order_push.run,
        "shipment_voucher": shipment_voucher.run,
        "return_voucher": return_voucher.run,
        "replenishment": replenishment.run,
        "inbound_receipt": inbound_receipt.run,
        "inventory_sync": inventory_sync.run,
    }


def run_job(ctx: Context, job_id: int, registry: dict[str, FlowFn] | None = None) -> RunResult:
    started = time.monotonic()
    result = _run(ctx, job_id, registry)
    if result.flow:
        metrics.JOB_RUNS.labels(result.flow, result.status).inc()
        metrics.JOB_SECONDS.labels(result.flow).observe(time.monotonic() - started)
    return result


def _run(ctx: Context, job_id: int, registry: dict[str, FlowFn] | None) -> RunResult:
    with ctx.session() as session:
        job = jobs.claim(session, job_id, _lease(ctx, session, job_id))
        if job is None:
            return RunResult("skipped")
        flow = (registry or flows())[job.flow]
        logctx = {"job_id": job.id, "flow": job.flow, "key": job.key, "ifs_ref": job.ifs_ref,
                  "shipbob_ref": job.shipbob_ref, "webhook_id": (job.payload or {}).get("webhook_id")}
        try:
            with logs.bound(**logctx):
                detail = flow(ctx, job)
        except NeedsAttention as exc:
            jobs.park(session, job, exc.reason)
            log.warning("parked: %s", exc.reason, extra=logctx)
            return RunResult("attention", detail=exc.reason, flow=job.flow)
        except TransientError as exc:
            return _retry_or_fail(session, job, f"{type(exc).__name__}: {exc}", exc.retry_after, logctx)
        except PermanentError as exc:
            jobs.fail(session, job, f"{type(exc).__name__}: {exc}")
            log.error("failed: %s", exc, extra=logctx)
            return RunResult("failed", detail=str(exc), flow=job.flow)
        except Exception as exc:  # a bug or an unforeseen answer: retry, bounded
            log.exception("unexpected error", extra=logctx)
            return _retry_or_fail(session, job, f"{type(exc).__name__}: {exc}", None, logctx)
        again = jobs.finish(session, job, detail)
        log.info("done%s", " (runs again)" if again else "", extra=logctx)
        return RunResult("again" if again else "done", detail=detail, flow=job.flow)


def _lease(ctx: Context, session, job_id: int) -> float:
    # The daily inventory sync is long; everything else takes seconds.
    lease = ctx.settings.job_lease_seconds
    flow = session.execute(select(Job.flow).where(Job.id == job_id)).scalar_one_or_none()
    return max(lease, 3600) if flow == "inventory_sync" else lease


def _retry_or_fail(session, job: Job, error: str, retry_after: float | None, logctx) -> RunResult:
    if job.attempts >= jobs.MAX_ATTEMPTS:
        jobs.fail(session, job, f"gave up after {job.attempts} attempts: {error}")
        log.error("retries exhausted: %s", error, extra=logctx)
        return RunResult("failed", detail=error, flow=job.flow)
    delay = jobs.retry_delay(job.attempts, retry_after)
    jobs.retry_later(session, job, error, delay)
    log.warning("retry in %.1fs: %s", delay, error, extra=logctx)
    return RunResult("retry", retry_in=delay, detail=error, flow=job.flow)
