"""A poll that finds the same unfinished item again does not hurry a job that
is already waiting its turn (found by the soak, bench/soak.py).

Every hurried run costs an attempt, so a job whose cause lasts (a return
completed before its shipment's voucher is in IFS, a shipment whose order is
not bound yet, an IFS outage) used to be worn out by the polls - 12 poll
intervals, a minute at the soak's 5 s - and end FAILED: the polls skip failed
jobs, so the RMA or voucher then waited for a person. News (a webhook, a job
that is done) still wakes a job at once.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from connector import jobs
from connector.db.models import Binding, Flow, Job, JobState, utcnow
from connector.flows.order_poll import poll_orders
from connector.flows.return_voucher import poll_completed_returns
from connector.flows.shipment_voucher import poll_untracked
from connector.runner import run_job
from tests.helpers import hook, ifs_rows, seed_world, shipbob_api

POLLS = 20  # well over MAX_ATTEMPTS


def _job(ctx, flow: str, key: str) -> Job:
    with ctx.session() as session:
        return session.execute(select(Job).where(Job.flow == flow, Job.key == key)).scalar_one_or_none()


def _run_due(ctx, flow: str) -> None:
    """What the pool does between two polls: run every job of the flow that is due."""
    with ctx.session() as session:
        due = session.execute(select(Job.id).where(
            Job.flow == flow, Job.state == JobState.PENDING.value, Job.next_run_at <= utcnow())).scalars().all()
    for job_id in due:
        run_job(ctx, job_id)


def _pushed_and_shipped(ctx, sandboxes) -> tuple[dict, dict]:
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=1, split_ratio=0)
    [push] = poll_orders(ctx)
    assert run_job(ctx, push).status == "done"
    [order] = hook(shipbob, "dump/orders", method="GET")
    hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    [shipment] = [s for s in hook(shipbob, "dump/shipments", method="GET") if s["order_id"] == order["id"]]
    return order, shipment


def test_a_return_waiting_for_its_shipment_voucher_outlasts_the_returns_polls(ctx, sandboxes):
    ifs, shipbob = sandboxes
    order, shipment = _pushed_and_shipped(ctx, sandboxes)   # its voucher is late: its job does not run
    sku = shipment["products"][0]["reference_id"]
    inventory_id = hook(shipbob, "seed", {"skus": [sku]})["inventory_ids"][sku]
    ret = shipbob_api(shipbob, "POST", "return", {
        "reference_id": "RMA-WAIT-1", "fulfillment_center": {"id": shipment["location"]["id"]},
        "original_shipment_id": shipment["id"],
        "inventory": [{"id": inventory_id, "quantity": 1, "requested_action": "Default"}]})
    hook(shipbob, f"returns/{ret['id']}/advance", {"status": "Completed"})

    for _ in range(POLLS):
        poll_completed_returns(ctx)
        _run_due(ctx, Flow.RETURN_VOUCHER.value)
    job = _job(ctx, Flow.RETURN_VOUCHER.value, str(ret["id"]))
    assert job.state == JobState.PENDING.value, (job.state, job.attempts, job.last_error)
    assert job.attempts < jobs.MAX_ATTEMPTS

    assert job.waits_for == f"{Flow.SHIPMENT_VOUCHER.value}:{order['id']}"
    assert job.next_run_at > utcnow()  # backing off

    # the voucher arrives: its job's end wakes the return at once, which posts the RMA
    with ctx.session() as session:
        voucher_job = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, str(order["id"])).job_id
    voucher_run = run_job(ctx, voucher_job)
    assert voucher_run.status == "done"
    assert voucher_run.woken == ((job.id, Flow.RETURN_VOUCHER.value, job.key),)
    woken = _job(ctx, Flow.RETURN_VOUCHER.value, str(ret["id"]))
    assert woken.next_run_at <= utcnow() and woken.waits_for is None
    assert run_job(ctx, job.id).status == "done"
    assert [r["ExternalRef"] for r in ifs_rows(ifs, "ReturnMaterialSet")] == [str(ret["id"])]


def test_a_shipment_waiting_for_its_order_binding_outlasts_the_tracking_polls(ctx, sandboxes):
    ifs, shipbob = sandboxes
    order, shipment = _pushed_and_shipped(ctx, sandboxes)
    with ctx.session() as session:  # the push created the order but died before binding it
        session.execute(delete(Binding).where(Binding.kind == "order"))

    # the tracking poll leaves an order it cannot link alone: no job to wear out
    for _ in range(POLLS):
        assert poll_untracked(ctx) == []
    assert _job(ctx, Flow.SHIPMENT_VOUCHER.value, str(order["id"])) is None
    assert ifs_rows(ifs, "FulfillmentVoucherSet") == []
    # the push's retry binds the order; the next poll posts the voucher
    with ctx.session() as session:
        push = session.execute(select(Job.id).where(Job.flow == Flow.ORDER_PUSH.value)).scalar_one()
        jobs.replay(session, push)
    assert run_job(ctx, push).status == "done"
    assert len(poll_untracked(ctx)) == 1
    _run_due(ctx, Flow.SHIPMENT_VOUCHER.value)
    assert len(ifs_rows(ifs, "FulfillmentVoucherSet")) == 1


def test_news_still_wakes_a_waiting_job_at_once(ctx, sandboxes):
    """A webhook's request (hurry=True, the default) brings a backing-off job forward."""
    with ctx.session() as session:
        requested = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, "300009999")
        session.execute(Job.__table__.update().where(Job.id == requested.job_id).values(
            attempts=3, next_run_at=utcnow().replace(year=utcnow().year + 1)))
    with ctx.session() as session:
        assert jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, "300009999").wake
    with ctx.session() as session:
        assert not jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, "300009999", hurry=False).wake


def test_a_shipment_waiting_for_its_order_binding_is_woken_by_the_push(ctx, sandboxes):
    order, _ = _pushed_and_shipped(ctx, sandboxes)
    with ctx.session() as session:  # the push created the order but died before binding it
        session.execute(delete(Binding).where(Binding.kind == "order"))
        voucher_job = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, str(order["id"])).job_id
    assert run_job(ctx, voucher_job).status == "retry"
    waiting = _job(ctx, Flow.SHIPMENT_VOUCHER.value, str(order["id"]))
    order_no = next(t["value"] for t in order["tags"] if t["name"] == "ifs_order_no")
    assert waiting.waits_for == f"{Flow.ORDER_PUSH.value}:{order_no}"

    with ctx.session() as session:
        push = session.execute(select(Job.id).where(Job.flow == Flow.ORDER_PUSH.value)).scalar_one()
        jobs.replay(session, push)
    with ctx.session() as session:
        voucher_key = session.get(Job, voucher_job).key
    assert run_job(ctx, push).woken == ((voucher_job, Flow.SHIPMENT_VOUCHER.value, voucher_key),)
    assert run_job(ctx, voucher_job).status == "done"
