"""Any IFS key works in every ShipBob look-up: commas, spaces, quotes,
unicode. ShipBob splits list filters (`ReferenceIds`, `PurchaseOrderNumbers`,
`SKU=any:`) at every comma, so `K,123` asked as a list is `K` and `123`: the
flows must still adopt the one ShipBob object whose key is exactly theirs.

Real PostgreSQL, Redis and an own ShipBob sandbox over HTTP that loses the
answer to each first create (the object is created, the client times out);
decoy orders keyed `K` and `123` are what a split look-up would find instead.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from flask import request
from sqlalchemy import select

from connector.db.models import Binding, Flow, Job
from connector.flows.order_poll import poll_orders
from connector.flows.replenishment import poll_replenishment
from connector.runner import run_job
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL, WEBHOOK_SECRET
from tests.helpers import eventually, hook, shipbob_api

KEYS = ["K,123", "A B", "O'Brien", "Ünï"]
DECOYS = ["K", "123"]
SKU = "AK,1 ü"  # part numbers are IFS keys too: the SKU look-up must cope
ADDRESS = {"Name": "Ann Smith", "Address1": "1 Main St", "City": "Chicago", "ZipCode": "60607",
           "State": "IL", "Country": "US"}
HTTP_TIMEOUT = 2.0


class LostAnswers:
    """Holds the answer to the first successful create of each of `keys`
    until released (or until the client sends that create again, so it has
    given up on this answer): ShipBob has the object, the client never hears so."""

    def __init__(self, path: str, key_field: str, keys: list[str]):
        self.path, self.key_field, self.keys = path, key_field, set(keys)
        self.lost: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _key(self) -> str | None:
        if request.method != "POST" or request.path != self.path:
            return None
        key = (request.get_json(silent=True) or {}).get(self.key_field)
        return key if key in self.keys else None

    def before(self):
        key = self._key()
        with self._lock:
            if key in self.lost:
                self.lost[key].set()

    def after(self, response):
        key = self._key()
        if key is None or response.status_code != 201:
            return response
        with self._lock:
            if key in self.lost:
                return response
            self.lost[key] = released = threading.Event()
        released.wait(60)
        return response

    def release(self) -> None:
        with self._lock:
            for event in self.lost.values():
                event.set()


@pytest.fixture
def lossy(request_path):
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig, create_app

    gate = LostAnswers(*request_path, keys=KEYS)
    app = create_app(ShipBobSandboxConfig(rate_limit_per_minute=FAST_RATE_LIMIT, webhook_retry_time_scale=0.001))
    app.before_request_funcs.setdefault(None, []).insert(0, gate.before)
    app.after_request(gate.after)
    server = BackgroundServer(app).start()
    server.gate = gate
    yield server
    gate.release()
    server.stop()


@pytest.fixture
def lossy_ctx(clean_db, clean_redis, ifs_sandbox, lossy, tmp_path):
    from connector.context import Context
    from connector.settings import load_settings

    hook(ifs_sandbox, "reset")
    return Context(load_settings(
        database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis, ifs_base_url=ifs_sandbox.url,
        shipbob_base_url=lossy.url, shipbob_webhook_secret=WEBHOOK_SECRET,
        shipbob_rate_limit_per_minute=FAST_RATE_LIMIT, http_timeout_seconds=HTTP_TIMEOUT,
        reports_dir=tmp_path / "reports"))


def decoy_order(ref: str) -> dict:
    return {"reference_id": ref, "shipping_method": "Standard", "type": "DTC",
            "recipient": {"name": "Decoy", "address": {"address1": "2 Side St", "city": "Chicago",
                                                       "state": "IL", "country": "US", "zip_code": "60607"}},
            "products": [{"reference_id": SKU, "sku": SKU, "name": SKU, "quantity": 1}]}


def bound(ctx, kind: str) -> dict[str, str]:
    with ctx.session() as session:
        return {b.ifs_key: b.shipbob_id for b in session.execute(
            select(Binding).where(Binding.kind == kind)).scalars()}


def run_until_done(ctx, job_id: int) -> None:
    """Run the job whenever it is due until it is done (a lost answer makes
    some runs end in a retry); condition-based, no sleeps of our own."""
    def done() -> bool:
        result = run_job(ctx, job_id)
        assert result.status not in ("attention", "failed"), result
        return result.status == "done"

    eventually(done, 120, f"job {job_id} to be done", interval=0.2)


@pytest.mark.parametrize("request_path", [("/2026-01/order", "reference_id")])
def test_order_push_adopts_the_exact_order_after_a_lost_create(lossy_ctx, ifs_sandbox, lossy):
    ctx, ifs, shipbob = lossy_ctx, ifs_sandbox, lossy
    hook(shipbob, "seed", {"skus": [SKU]})
    hook(ifs, "orders", {"orders": [{"OrderNo": key, "Contract": "S01", "ShipViaCode": "UPS-GND",
                                     "lines": [{"PartNo": SKU, "BuyQtyDue": 1}], "address": ADDRESS}
                                    for key in KEYS]})
    decoys = {ref: shipbob_api(shipbob, "POST", "/order", decoy_order(ref))["id"] for ref in DECOYS}
    job_ids = poll_orders(ctx)
    assert len(job_ids) == len(KEYS)

    for job_id in job_ids:
        run_until_done(ctx, job_id)

    assert sorted(shipbob.gate.lost) == sorted(KEYS)  # every first create answer was lost
    statuses = hook(shipbob, "stats", method="GET")["statuses"]
    assert statuses.get("422", 0) >= len(KEYS)  # the retry met the duplicate reference
    orders = hook(shipbob, "dump/orders", method="GET")
    assert Counter(o["reference_id"] for o in orders) == Counter(KEYS + DECOYS)
    exact = {o["reference_id"]: str(o["id"]) for o in orders}
    assert bound(ctx, "order") == {key: exact[key] for key in KEYS}  # adopted: its own order
    assert not set(bound(ctx, "order").values()) & {str(i) for i in decoys.values()}
    with ctx.session() as session:
        refs = {j.key: j.shipbob_refs for j in session.execute(
            select(Job).where(Job.flow == Flow.ORDER_PUSH.value)).scalars()}
    assert refs == {key: [exact[key]] for key in KEYS}


@pytest.mark.parametrize("request_path", [("/2026-01/receiving", "purchase_order_number")])
def test_replenishment_finds_the_exact_wro_after_a_lost_create(lossy_ctx, ifs_sandbox, lossy):
    ctx, ifs, shipbob = lossy_ctx, ifs_sandbox, lossy
    hook(shipbob, "seed", {"skus": [SKU]})
    hook(ifs, "purchase_orders", {"purchase_orders": [
        {"OrderNo": key, "lines": [{"PartNo": SKU, "BuyQtyDue": 5}]} for key in KEYS]})
    job_ids = poll_replenishment(ctx)
    assert len(job_ids) == len(KEYS)

    # A WRO create is not retried in place (no idempotency key): the run ends
    # in a retry, and the next run must find the WRO instead of making another.
    assert {run_job(ctx, job_id).status for job_id in job_ids} == {"retry"}
    shipbob.gate.release()
    for job_id in job_ids:
        run_until_done(ctx, job_id)

    assert sorted(shipbob.gate.lost) == sorted(KEYS)
    wros = hook(shipbob, "dump/receiving", method="GET")
    assert Counter(w["purchase_order_number"] for w in wros) == Counter(KEYS)  # never a second WRO
    assert bound(ctx, "wro") == {w["purchase_order_number"]: str(w["id"]) for w in wros}
