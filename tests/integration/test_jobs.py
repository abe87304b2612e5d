"""Job rows on real PostgreSQL: dedupe, claim exclusivity, rerun, retry."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from connector import jobs
from connector.db.models import Job, JobState, utcnow
from connector.db.session import session_scope


def test_request_is_deduplicated_and_ensure_does_not_rerun(clean_db):
    with session_scope(clean_db) as s:
        first = jobs.request_job(s, "order_push", "C1")
        second = jobs.request_job(s, "order_push", "C1")
        assert first.job_id == second.job_id
        assert jobs.ensure_job(s, "order_push", "C1") is None
        assert jobs.ensure_job(s, "order_push", "C2") is not None


def test_only_one_of_many_concurrent_claims_wins(clean_db):
    with session_scope(clean_db) as s:
        job_id = jobs.request_job(s, "order_push", "C1").job_id

    def try_claim(_):
        with session_scope(clean_db) as s:
            return jobs.claim(s, job_id) is not None

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(try_claim, range(16)))
    assert wins.count(True) == 1


def test_a_request_during_a_run_makes_the_job_run_again(clean_db):
    with session_scope(clean_db) as s:
        job_id = jobs.request_job(s, "shipment_voucher", "42").job_id
        job = jobs.claim(s, job_id)
        jobs.request_job(s, "shipment_voucher", "42")  # an event arrives mid-run
        s.commit()
        assert jobs.finish(s, job) is True
        assert s.get(Job, job_id, populate_existing=True).state == JobState.PENDING.value
        job = jobs.claim(s, job_id)
        assert jobs.finish(s, job) is False
        assert s.get(Job, job_id, populate_existing=True).state == JobState.DONE.value


def test_retry_later_is_not_claimable_until_due_and_sweeper_sees_expired_leases(clean_db):
    with session_scope(clean_db) as s:
        job_id = jobs.request_job(s, "order_push", "C1").job_id
        job = jobs.claim(s, job_id)
        jobs.retry_later(s, job, "boom", delay=60)
        assert jobs.claim(s, job_id) is None
        assert jobs.due_job_ids(s) == []
        s.query(Job).filter_by(id=job_id).update({"next_run_at": utcnow() - timedelta(seconds=1)})
        s.commit()
        assert jobs.due_job_ids(s) == [(job_id, "order_push", "C1")]
        job = jobs.claim(s, job_id)
        s.query(Job).filter_by(id=job_id).update({"lease_until": utcnow() - timedelta(seconds=1)})
        s.commit()
        assert jobs.due_job_ids(s) == [(job_id, "order_push", "C1")]


def test_the_sweeper_leaves_pending_jobs_to_a_queue_that_still_holds_messages(clean_db):
    with session_scope(clean_db) as s:
        queued = jobs.request_job(s, "order_push", "C1").job_id
        lost = jobs.request_job(s, "shipment_voucher", "42").job_id
        died = jobs.request_job(s, "order_push", "C2").job_id
        jobs.claim(s, died)
        s.query(Job).update({"next_run_at": utcnow() - timedelta(minutes=2)})
        s.query(Job).filter_by(id=died).update({"lease_until": utcnow() - timedelta(seconds=1)})
        s.commit()
        due = jobs.due_job_ids(s, grace_seconds=60, queued_flows=frozenset({"order_push"}))
        # the backlogged flow's pending job waits in its queue; a dead worker's job does not
        assert sorted(due) == sorted([(lost, "shipment_voucher", "42"), (died, "order_push", "C2")])
        s.commit()
        assert jobs.due_job_ids(s, grace_seconds=60) == [(queued, "order_push", "C1")]  # its queue drained


def test_retry_delay_grows_with_jitter_and_respects_server_hint_and_cap():
    delays = [jobs.retry_delay(a) for a in range(1, 8)]
    assert all(d1 <= 2 ** a for a, d1 in zip(range(1, 8), delays))
    assert jobs.retry_delay(1, retry_after=30) >= 30
    assert jobs.retry_delay(50) <= jobs.MAX_RETRY_DELAY
    assert len({round(jobs.retry_delay(5), 6) for _ in range(20)}) > 1


def test_a_run_whose_lease_was_taken_over_writes_nothing(clean_db):
    with session_scope(clean_db) as s:
        job_id = jobs.request_job(s, "order_push", "C1").job_id
        stale = jobs.claim(s, job_id, lease_seconds=60)
        # the worker seems dead: its lease runs out and another worker takes over
        s.query(Job).filter_by(id=job_id).update({"lease_until": utcnow() - timedelta(seconds=1)})
        s.commit()
        fresh = jobs.claim(s, job_id, lease_seconds=60)
        assert fresh is not None and fresh.run_token != stale.run_token
        # the first worker wakes up and tries to finish and extend: fenced off
        assert jobs.extend_lease(s, stale, 60) is False
        assert jobs.finish(s, stale) is False
        assert s.get(Job, job_id, populate_existing=True).state == JobState.RUNNING.value
        assert jobs.extend_lease(s, fresh, 60) is True
        jobs.finish(s, fresh)
        assert s.get(Job, job_id, populate_existing=True).state == JobState.DONE.value


def test_news_during_a_run_that_ends_parked_runs_it_again(clean_db):
    with session_scope(clean_db) as s:
        job_id = jobs.request_job(s, "shipment_voucher", "42").job_id
        job = jobs.claim(s, job_id)
        jobs.request_job(s, "shipment_voucher", "42")  # e.g. the order.shipped that resolves it
        s.commit()
        assert jobs.park(s, job, "shipment is OnHold") is True
        assert s.get(Job, job_id, populate_existing=True).state == JobState.PENDING.value


def test_polls_do_not_revive_parked_jobs_and_rate_limit_waits_cost_no_attempt(clean_db):
    with session_scope(clean_db) as s:
        job_id = jobs.request_job(s, "order_push", "C1").job_id
        jobs.park(s, jobs.claim(s, job_id), "unknown SKU")
        assert jobs.request_job(s, "order_push", "C1", revive_parked=False).wake is False
        assert s.get(Job, job_id, populate_existing=True).state == JobState.ATTENTION.value
        jobs.replay(s, job_id)
        s.commit()
        job = jobs.claim(s, job_id)
        jobs.retry_later(s, job, "429", delay=0, count_attempt=False)
        assert s.get(Job, job_id, populate_existing=True).attempts == 0
