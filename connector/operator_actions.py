"""What a person does to items (replay, resolve, ignore), each recorded
with who, when and why in operator_actions. The state changes themselves
are connector.jobs' (the same as the CLI's); this adds the audit, in the
same transaction, for every item the action changed and only those."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import jobs
from connector.db.models import Job, JobState, OperatorAction

REPLAY = "replay"
RESOLVE = "resolve"
IGNORE = "ignore"
CLOSING = {RESOLVE: JobState.RESOLVED, IGNORE: JobState.IGNORED}


def replay(session: Session, job_ids: Iterable[int], actor: str, note: str) -> list[tuple[int, str, str]]:
    """Make the items due now; returns (id, flow, key) of each one replayed, for
    the caller to publish its wake-up after commit. A running item is left
    alone (its run ends first) and gets no audit row."""
    done = []
    for job_id in job_ids:
        if jobs.replay(session, job_id):
            flow, key = session.execute(select(Job.flow, Job.key).where(Job.id == job_id)).one()
            session.add(OperatorAction(job_id=job_id, action=REPLAY, actor=actor, note=note))
            done.append((job_id, flow, key))
    session.flush()
    return done


def close(session: Session, job_ids: Iterable[int], action: str, actor: str, note: str) -> list[int]:
    """Resolve or ignore parked or failed items; returns the ids closed."""
    state = CLOSING[action]
    done = []
    for job_id in job_ids:
        if jobs.close(session, job_id, state, actor, note):
            session.add(OperatorAction(job_id=job_id, action=action, actor=actor, note=note))
            done.append(job_id)
    session.flush()
    return done


def history(session: Session, job_ids: Iterable[int]) -> list[OperatorAction]:
    ids = list(job_ids)
    if not ids:
        return []
    return list(session.execute(select(OperatorAction).where(OperatorAction.job_id.in_(ids))
                                .order_by(OperatorAction.at, OperatorAction.id)).scalars())
