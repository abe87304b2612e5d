"""A job that meets a ShipBob lockout waits, on real PostgreSQL: it never
uses up its retries, re-checks within a minute, and storing a token (which
calls wake_waiting) makes it due at once."""

from __future__ import annotations

from datetime import timedelta

from connector import jobs
from connector.context import Context
from connector.db.models import Job, JobState, utcnow
from connector.errors import SHIPBOB_AUTHORISATION, ReauthorisationNeeded
from connector.runner import run_job
from connector.settings import load_settings


def locked_out(ctx, job):
    raise ReauthorisationNeeded()


def test_a_job_waiting_for_reauthorisation_never_runs_out_of_retries(clean_db):
    ctx = Context(load_settings(database_url=clean_db))
    with ctx.session() as s:
        job_id = jobs.request_job(s, "order_push", "C1").job_id
        s.get(Job, job_id).attempts = jobs.MAX_ATTEMPTS  # one more counted failure would end it

    for _ in range(3):
        result = run_job(ctx, job_id, registry={"order_push": locked_out})
        assert result.status == "retry" and result.retry_in <= 60, result
        with ctx.session() as s:
            job = s.get(Job, job_id)
            assert (job.state, job.attempts) == (JobState.PENDING.value, jobs.MAX_ATTEMPTS)
            assert "waiting: ShipBob re-authorisation needed" in job.last_error
            assert job.next_run_at <= utcnow() + timedelta(seconds=60)
            job.next_run_at = utcnow()  # the minute's re-check, without waiting a minute

    with ctx.session() as s:
        s.get(Job, job_id).next_run_at = utcnow() + timedelta(seconds=60)
    with ctx.session() as s:
        assert jobs.wake_waiting(s, *SHIPBOB_AUTHORISATION) == [(job_id, "order_push", "C1")]
    assert run_job(ctx, job_id, registry={"order_push": lambda ctx, job: "pushed"}).status == "done"
