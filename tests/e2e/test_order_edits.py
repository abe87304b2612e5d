"""A merchant's week after the push, through the real pipeline: the IFS
sandbox (a tenant whose orders carry a change stamp that every write to the
order, its lines or its address moves) -> the orders poll, sent to a real
Celery worker -> PostgreSQL jobs -> Redis -> the order push and update flows
-> the ShipBob sandbox's shipment edits, all over HTTP.

The order goes out to Portland, 2 of its second line, Standard. Then IFS
changes the address to Seattle, line 2 to 7 and the ship-via to FDX-ON:
after one poll ShipBob has Seattle, 7, Overnight; a line cancelled in IFS
shrinks the shipment. A poll that finds nothing new, and one that finds the
order touched without a change that matters to ShipBob, cost no ShipBob
call. Once the warehouse has picked a shipment, an edit parks its update
with the exact difference and `ifs-shipbob reconcile` exits 1.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from cli.stack import BIN, Stack, env_for
from connector import kv, mapping
from connector.context import Context
from connector.db.models import Job, JobState
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import eventually, hook, ifs_rows

pytestmark = pytest.mark.integration

STAMP = "LastChanged"
QUEUES = ["order_push", "order_update", "polls"]  # by name: the test is the same for code without the flow
PORTLAND = {"Name": "Ada Lovelace", "Address1": "1 Pine St", "City": "Portland", "State": "OR",
            "ZipCode": "97201", "Country": "US", "EmailAddress": "ada@example.com"}
SEATTLE = {"Address1": "400 Broad St", "City": "Seattle", "State": "WA", "ZipCode": "98109"}


@pytest.fixture(scope="module")
def stamped_ifs():
    """An IFS tenant with a change stamp on its orders."""
    from sandbox.ifs.app import create_app
    from sandbox.ifs.config import IfsSandboxConfig
    from sandbox.ifs.tenant import TenantRenames
    from sandbox.server import BackgroundServer

    server = BackgroundServer(create_app(IfsSandboxConfig(
        tenant=TenantRenames(change_stamps={"CustomerOrder": STAMP})))).start()
    yield server
    server.stop()


@pytest.fixture
def world(clean_db, clean_redis, stamped_ifs, shipbob_sandbox, tmp_path):
    from connector.settings import load_settings

    for server in (stamped_ifs, shipbob_sandbox):
        hook(server, "reset")
    data = yaml.safe_load(Path(mapping.__file__).with_name("default_mapping.yaml").read_text())
    data["ifs"] = {"customer_order": {"changed_field": STAMP}}  # the poll reads the tenant's stamp
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(yaml.safe_dump(data))
    settings = load_settings(database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis,
                             ifs_base_url=stamped_ifs.url, shipbob_base_url=shipbob_sandbox.url,
                             shipbob_rate_limit_per_minute=FAST_RATE_LIMIT, mapping_file=mapping_file,
                             reports_dir=tmp_path / "reports")
    env = env_for(settings, broker_url=REDIS_URL, order_poll_seconds=3600, unpushed_poll_seconds=3600,
                  tracking_poll_seconds=3600, shipments_poll_seconds=3600, replenishment_poll_seconds=3600,
                  receiving_poll_seconds=3600, returns_poll_seconds=3600, sweep_seconds=1,
                  sweep_grace_seconds=2, worker_metrics_port=0)
    hook(stamped_ifs, "seed", {"orders": 0, "parts": 5, "seed": 7, "sites": ["S01"], "split_ratio": 0,
                               "purchase_orders": 0})
    hook(shipbob_sandbox, "seed", {"count": 5, "seed": 7, "level_range": [500, 1000]})
    with Stack(env=env, logdir=tmp_path / "logs", ifs=stamped_ifs, shipbob=shipbob_sandbox) as stack:
        stack.start_worker("flows", concurrency=2, queues=QUEUES)
        yield Context(settings), stamped_ifs, shipbob_sandbox, stack, tmp_path


# ------------------------------------------------------------------ helpers

def poll_once(ctx, stack) -> None:
    """One orders poll, run by the worker; returns once it ran and every job
    it woke has finished."""
    with ctx.session() as session:
        before = kv.get(session, "poll.orders.last_success")
    code = "from workers.app import app\napp.send_task('workers.tasks.poll', args=['orders'], queue='polls')\n"
    subprocess.run([str(BIN / "python"), "-c", code], env={**os.environ, **stack.env}, check=True, timeout=60)

    def polled_and_settled() -> bool:
        with ctx.session() as session:
            if kv.get(session, "poll.orders.last_success") == before:
                return False
            busy = session.execute(select(Job.id).where(Job.state.in_(
                [JobState.PENDING.value, JobState.RUNNING.value]))).first()
        return busy is None

    eventually(polled_and_settled, 90, "the poll and the jobs it woke to finish")


def place_order(ifs) -> str:
    [created] = hook(ifs, "orders", {"orders": [{
        "CustomerNo": "CU1001", "ShipViaCode": "UPS-GND", "address": PORTLAND,
        "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}, {"PartNo": "P00002", "BuyQtyDue": 2}]}]})["orders"]
    return created["OrderNo"]


def edit(ifs, entity_set: str, key: dict, changes: dict) -> None:
    """A user's edit in IFS."""
    hook(ifs, "bump", {"set": entity_set, "key": key, "changes": changes})


def line_key(order_no: str, line_no: str) -> dict:
    return {"OrderNo": order_no, "LineNo": line_no, "RelNo": "1", "LineItemNo": 0}


def shipment(shipbob, reference_id: str) -> dict:
    [order] = [o for o in hook(shipbob, "dump/orders", method="GET") if o["reference_id"] == reference_id]
    [found] = order["shipments"]
    return found


def units(found: dict) -> dict[str, int]:
    return {p["sku"]: sum(i["quantity"] for i in p["inventory_items"]) for p in found["products"]}


def shipbob_calls(shipbob) -> int:
    return hook(shipbob, "stats", method="GET")["total"]


def jobs_of(ctx, flow: str) -> dict[str, Job]:
    with ctx.session() as session:
        return {j.key: j for j in session.execute(select(Job).where(Job.flow == flow)).scalars()}


def push(ctx, ifs, shipbob, stack) -> str:
    order_no = place_order(ifs)
    poll_once(ctx, stack)
    assert jobs_of(ctx, "order_push")[order_no].state == JobState.DONE.value
    [header] = [o for o in ifs_rows(ifs, "CustomerOrderSet") if o["OrderNo"] == order_no]
    assert header["Cf_Shipbob_Order_Id"]
    return order_no


# -------------------------------------------------------------------- tests

def test_edits_after_the_push_reach_shipbob_within_one_poll(world):
    ctx, ifs, shipbob, stack, _tmp = world
    order_no = push(ctx, ifs, shipbob, stack)
    pushed = shipment(shipbob, order_no)
    assert (pushed["recipient"]["address"]["city"], units(pushed), pushed["ship_option"]) == (
        "Portland", {"P00001": 1, "P00002": 2}, "Standard")

    # The merchant's edits, then one poll.
    edit(ifs, "CustomerOrderAddresses", {"OrderNo": order_no}, SEATTLE)
    edit(ifs, "CustomerOrderLineSet", line_key(order_no, "2"), {"BuyQtyDue": 7})
    edit(ifs, "CustomerOrderSet", {"OrderNo": order_no}, {"ShipViaCode": "FDX-ON"})
    poll_once(ctx, stack)
    now = shipment(shipbob, order_no)
    assert (now["recipient"]["address"]["city"], now["recipient"]["address"]["address1"],
            units(now), now["ship_option"]) == ("Seattle", "400 Broad St", {"P00001": 1, "P00002": 7},
                                                "Overnight")
    assert now["id"] == pushed["id"]  # edited in place, never cancelled and created again
    assert len([o for o in hook(shipbob, "dump/orders", method="GET") if o["reference_id"] == order_no]) == 1

    # A line cancelled in IFS: the shipment shrinks.
    edit(ifs, "CustomerOrderLineSet", line_key(order_no, "1"), {"Objstate": "Cancelled"})
    poll_once(ctx, stack)
    assert units(shipment(shipbob, order_no)) == {"P00002": 7}
    assert jobs_of(ctx, "order_update")[order_no].state == JobState.DONE.value


def test_an_order_polled_again_without_a_change_costs_no_shipbob_call(world):
    ctx, ifs, shipbob, stack, _tmp = world
    order_no = push(ctx, ifs, shipbob, stack)
    poll_once(ctx, stack)  # the write-back moved the stamp: the update finds nothing to send
    update = jobs_of(ctx, "order_update").get(order_no)
    assert update is not None and (update.state, update.attempts) == (JobState.DONE.value, 1), update

    # A poll that finds nothing new, and one that finds the order touched in
    # IFS without a change ShipBob cares about: its update runs, and no ShipBob call.
    before = shipbob_calls(shipbob)
    poll_once(ctx, stack)
    edit(ifs, "CustomerOrderSet", {"OrderNo": order_no}, {"CustRef": "Ada, phone first"})
    poll_once(ctx, stack)
    assert shipbob_calls(shipbob) == before
    again = jobs_of(ctx, "order_update")[order_no]
    assert (again.state, again.updated_at > update.updated_at) == (JobState.DONE.value, True)


def test_an_edit_after_the_pick_is_parked_with_the_exact_difference_and_reconcile_fails(world):
    ctx, ifs, shipbob, stack, tmp = world
    order_no = push(ctx, ifs, shipbob, stack)
    picked = shipment(shipbob, order_no)
    hook(shipbob, f"shipments/{picked['id']}/pick")

    edit(ifs, "CustomerOrderAddresses", {"OrderNo": order_no}, {"City": "Seattle"})
    edit(ifs, "CustomerOrderLineSet", line_key(order_no, "2"), {"BuyQtyDue": 7})
    poll_once(ctx, stack)

    update = jobs_of(ctx, "order_update").get(order_no)
    assert update is not None and update.state == JobState.ATTENTION.value, update
    assert update.reason == (f"order {order_no} was edited in IFS after the push and ShipBob cannot take it: "
                             f"ShipBob shipment {picked['id']} is picked: city: IFS 'Seattle', "
                             "ShipBob 'Portland', SKU P00002: IFS 7, ShipBob 2")
    after = shipment(shipbob, order_no)
    assert (after["recipient"]["address"]["city"], units(after)) == ("Portland", {"P00001": 1, "P00002": 2})

    run = subprocess.run([str(BIN / "ifs-shipbob"), "reconcile", "--json"], env={**os.environ, **stack.env},
                         cwd=tmp, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    [check] = [c for c in json.loads(run.stdout) if c["check"] == "IFS edits not at ShipBob"]
    assert check["unexplained"] == 1
    assert check["items"][0]["detail"] == "city: IFS 'Seattle', ShipBob 'Portland'; SKU P00002: IFS 7, ShipBob 2"
