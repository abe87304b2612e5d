"""Work rows: request, claim, finish. Plain SQLAlchemy, no Celery.

A task carries a job id only; whoever claims the row does the work, so a
duplicate wake-up (a redelivered message, the sweeper, a replay) is harmless.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Executable, and_, case, or_, select, update
from sqlalchemy.orm import Session

from connector.db.models import Job, JobAttempt, JobState, utcnow
from connector.db.session import dialect_insert

log = logging.getLogger(__name__)

# Every retry delay stays well below the broker's visibility timeout (1 h in
# workers/app.py) so a countdown never outlives its reservation.
MAX_RETRY_DELAY = 15 * 60
MAX_ATTEMPTS = 12
LEASE_SECONDS = 10 * 60


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a server's hint is a floor."""
    base = min(MAX_RETRY_DELAY, 2 ** min(attempt, 12))
    delay = random.uniform(base / 2, base)
    if retry_after is not None:
        delay = max(delay, retry_after + random.uniform(0, 1))
    return min(delay, MAX_RETRY_DELAY)


@dataclass(frozen=True)
class Requested:
    job_id: int
    wake: bool  # True when a wake-up message must be published for it


def request_job(
    session: Session,
    flow: str,
    key: str,
    *,
    payload: dict[str, Any] | None = None,
    ifs_ref: str | None = None,
    shipbob_refs: Sequence[str] = (),
    run_at: datetime | None = None,
    hurry: bool = True,
    revive_parked: bool = True,
) -> Requested:
    """Create the job or ask an existing one to run again (deduplicated).

    `hurry=False` is for polls, which find the same unfinished item on every
    run: a job backing off keeps its schedule. Every early run costs an
    attempt, so a poll hurrying a job whose cause lasts (a dependency not
    there yet, an outage) would wear it out in MAX_ATTEMPTS poll intervals.
    `revive_parked=False` is for polls too: a parked job waits for a person
    (or real news, a webhook), not for the next poll that sees it again."""
    now = utcnow()
    inserted = _insert_job(session, flow, key, next_run_at=run_at or now, payload=payload or {},
                           ifs_ref=ifs_ref, shipbob_refs=list(shipbob_refs)) is not None
    job = session.execute(
        select(Job).where(Job.flow == flow, Job.key == key).with_for_update()
    ).scalar_one()
    if inserted:
        return Requested(job.id, wake=True)
    job.requested_at = now
    # Counted in SQL: a run that claimed an older count runs again when it ends.
    job.request_seq = Job.request_seq + 1
    if payload:
        job.payload = {**job.payload, **payload}
    job.ifs_ref = job.ifs_ref or ifs_ref
    job.shipbob_refs = job.shipbob_refs or list(shipbob_refs)
    wake = False
    # New information may resolve a parked job; failed ones wait for a replay.
    revivable = (JobState.DONE.value, JobState.ATTENTION.value) if revive_parked else (JobState.DONE.value,)
    if job.state in revivable:
        job.state = JobState.PENDING.value
        job.attempts = 0
        job.reason = None
        wake = True
    elif hurry and job.state == JobState.PENDING.value and _aware(job.next_run_at) > now:
        wake = True  # backing off: the news is worth an early try
    if wake:
        job.next_run_at = run_at or now
    # A due pending job already has a wake-up on its way (or the sweeper's),
    # and a running one sees request_seq move and runs again: no message.
    session.flush()
    return Requested(job.id, wake=wake)


def ensure_job(session: Session, flow: str, key: str, *, ifs_ref: str | None = None,
               shipbob_refs: Sequence[str] = ()) -> int | None:
    """Create the job if it does not exist yet; returns the new id, else None.

    For pollers: seeing the same order again in an overlap window must not
    re-run work that is done, parked or failed.
    """
    return _insert_job(session, flow, key, next_run_at=utcnow(), payload={}, ifs_ref=ifs_ref,
                       shipbob_refs=list(shipbob_refs))


def set_shipbob_refs(session: Session, job_id: int, ids: Sequence[str]) -> None:
    """Record the ShipBob ids an item stands for, replacing earlier ones: a
    split order's push has one ShipBob order per site, in plan (site) order."""
    changed = _rows_changed(session, update(Job).where(Job.id == job_id)
                            .values(shipbob_refs=list(dict.fromkeys(ids))))
    if changed != 1:
        raise LookupError(f"no job {job_id} to record ShipBob ids {list(ids)} on")


def _insert_job(session: Session, flow: str, key: str, *, next_run_at: datetime, payload: dict[str, Any],
                ifs_ref: str | None, shipbob_refs: list[str]) -> int | None:
    """A new pending job due at `next_run_at`; None if (flow, key) exists."""
    now = utcnow()
    inserted: int | None = session.execute(
        dialect_insert(session)(Job)
        .values(flow=flow, key=key, state=JobState.PENDING.value, attempts=0, requested_at=now,
                created_at=now, updated_at=now, next_run_at=next_run_at, payload=payload,
                ifs_ref=ifs_ref, shipbob_refs=shipbob_refs)
        .on_conflict_do_nothing(index_elements=["flow", "key"])
        .returning(Job.id)
    ).scalar_one_or_none()
    return inserted


def claim(session: Session, job_id: int, lease_seconds: float = LEASE_SECONDS) -> Job | None:
    """Take the job if it is due and nobody holds a live lease on it."""
    now = utcnow()
    claimed = _rows_changed(
        session,
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                and_(Job.state == JobState.PENDING.value, Job.next_run_at <= now),
                and_(Job.state == JobState.RUNNING.value, Job.lease_until < now),
            ),
        )
        .values(
            state=JobState.RUNNING.value, claimed_at=now, claimed_seq=Job.request_seq,
            run_token=uuid.uuid4().hex,
            lease_until=now + timedelta(seconds=lease_seconds), attempts=Job.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if claimed != 1:
        return None
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:  # deleted since the claim (an operator's clean-up)
        return None
    session.expunge(job)  # a snapshot of the claim; the run writes through fenced updates
    return job


def extend_lease(session: Session, job: Job, seconds: float) -> bool:
    """A heartbeat for a running job, so the sweeper does not start a second
    run; False when the lease was already lost to another worker."""
    return _rows_changed(
        session,
        update(Job).where(Job.id == job.id, Job.run_token == job.run_token,
                          Job.state == JobState.RUNNING.value)
        .values(lease_until=utcnow() + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    ) == 1


def _record(session: Session, job: Job, outcome: str, detail: str | None) -> None:
    session.add(JobAttempt(job_id=job.id, started_at=job.claimed_at or utcnow(),
                           finished_at=utcnow(), outcome=outcome, detail=detail))


def _release(session: Session, job: Job, state: JobState, rerun_if_requested: bool,
             **values: object) -> str | None:
    """End the run in one fenced UPDATE: only the run holding the token may
    (a run whose lease was taken over writes nothing), and a request that
    arrived while it ran turns a done or parked end into a new run.
    Returns the state written, or None when the lease was lost."""
    new_state: str | ColumnElement[str] = state.value
    if rerun_if_requested:
        rerun = Job.request_seq > Job.claimed_seq
        new_state = case((rerun, JobState.PENDING.value), else_=state.value)
        values["next_run_at"] = case((rerun, utcnow()), else_=Job.next_run_at)
        values["attempts"] = case((rerun, 0), else_=Job.attempts)
    result: str | None = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.run_token == job.run_token)
        .values(state=new_state, lease_until=None, run_token=None, **values)
        .returning(Job.state)
    ).scalar_one_or_none()
    if result is None:
        log.warning("lease lost: another worker took this job over", extra={"job_id": job.id})
    return result


def finish(session: Session, job: Job, detail: str | None = None) -> bool:
    """Mark done, unless new work was requested while it ran (then it runs
    again). Returns True when the job needs another run."""
    _record(session, job, "done", detail)
    state = _release(session, job, JobState.DONE, True, reason=None, last_error=None)
    session.commit()
    return state == JobState.PENDING.value


def park(session: Session, job: Job, reason: str) -> bool:
    """A business exception: visible in `attention`, replayable. True when a
    request that arrived meanwhile makes it run again instead."""
    _record(session, job, "attention", reason)
    state = _release(session, job, JobState.ATTENTION, True, reason=reason)
    session.commit()
    return state == JobState.PENDING.value


def fail(session: Session, job: Job, error: str) -> None:
    _record(session, job, "failed", error)
    _release(session, job, JobState.FAILED, False, last_error=error)
    session.commit()


def retry_later(session: Session, job: Job, error: str, delay: float, count_attempt: bool = True,
                waits_for: tuple[str, str] | None = None) -> datetime:
    """Back to pending, due after `delay`; the sweeper picks it up if the
    retry message is lost. A rate-limit wait is not a failed attempt.
    `waits_for` (flow, key) lets that job's end wake this one sooner."""
    run_at = utcnow() + timedelta(seconds=delay)
    _record(session, job, "retry", error)
    extra: dict[str, object] = {} if count_attempt else {"attempts": Job.attempts - 1}
    _release(session, job, JobState.PENDING, False, last_error=error, next_run_at=run_at,
             waits_for=_job_ref(*waits_for) if waits_for else None, **extra)
    session.commit()
    return run_at


def wake_waiting(session: Session, flow: str, key: str) -> list[tuple[int, str, str]]:
    """Make the pending jobs that wait for job (flow, key) due now; returns
    their (id, flow, key) to dispatch. Called when that job is done."""
    rows = session.execute(
        update(Job)
        .where(Job.waits_for == _job_ref(flow, key), Job.state == JobState.PENDING.value)
        .values(next_run_at=utcnow(), waits_for=None)
        .returning(Job.id, Job.flow, Job.key)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return [(job_id, job_flow, job_key) for job_id, job_flow, job_key in rows]


def replay(session: Session, job_id: int) -> bool:
    """Make a parked, failed or done job due now; the flow is idempotent."""
    return _rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.state != JobState.RUNNING.value)
        .values(state=JobState.PENDING.value, next_run_at=utcnow(), requested_at=utcnow(),
                attempts=0, reason=None, request_seq=Job.request_seq + 1)
        .execution_options(synchronize_session=False)
    ) == 1


CLOSABLE = (JobState.ATTENTION.value, JobState.FAILED.value)


def close(session: Session, job_id: int, state: JobState, by: str, note: str) -> bool:
    """A person closes a parked or failed job (RESOLVED: fixed by hand;
    IGNORED: nothing to do), recording who, when and why. False when the job
    is not parked or failed. A replay reopens it."""
    assert state in (JobState.RESOLVED, JobState.IGNORED)
    return _rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.state.in_(CLOSABLE))
        .values(state=state.value, resolved_by=by, resolved_at=utcnow(), resolution_note=note)
        .execution_options(synchronize_session=False)
    ) == 1


def _rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE; the number of rows it matched."""
    result = session.execute(statement)
    if not isinstance(result, CursorResult):  # what an UPDATE without RETURNING gives
        raise TypeError(f"{type(result).__name__} has no row count")
    return result.rowcount


def _job_ref(flow: str, key: str) -> str:
    """How Job.waits_for names the awaited job."""
    return f"{flow}:{key}"


def due_job_ids(session: Session, grace_seconds: float = 0, limit: int = 500,
                queued_flows: frozenset[str] = frozenset()) -> list[tuple[int, str, str]]:
    """Jobs the sweeper should wake, stamped so that each is re-published at
    most once per grace period: due pending ones and expired leases. Pending
    jobs of `queued_flows` (whose queue still holds messages) are left to it."""
    now = utcnow()
    cutoff = now - timedelta(seconds=grace_seconds)
    rows = session.execute(
        select(Job.id, Job.flow, Job.key)
        .where(
            or_(
                and_(Job.state == JobState.PENDING.value, Job.next_run_at <= cutoff,
                     Job.flow.not_in(queued_flows)),
                and_(Job.state == JobState.RUNNING.value, Job.lease_until < now),
            ),
            or_(Job.swept_at.is_(None), Job.swept_at <= cutoff),
        )
        .order_by(Job.next_run_at)
        .limit(limit)
    ).all()
    if rows:
        session.execute(update(Job).where(Job.id.in_([r.id for r in rows])).values(swept_at=now)
                        .execution_options(synchronize_session=False))
    return [(r.id, r.flow, r.key) for r in rows]


def wake_targets(session: Session, job_ids: list[int]) -> list[tuple[int, str, str]]:
    """(id, flow, key) of these jobs, in the given order: a wake-up names
    the business key so the task list shows which order it is about."""
    if not job_ids:
        return []
    found = {row.id: (row.id, row.flow, row.key) for row in session.execute(
        select(Job.id, Job.flow, Job.key).where(Job.id.in_(job_ids)))}
    return [found[job_id] for job_id in job_ids if job_id in found]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
