"""A tenant whose CustomerOrder.DateEntered is an Edm.Date ("2026-12-05"):
ShipBob's CreateOrderModel declares purchase_date `format: date-time`, so the
push sends a date-time, and the WRO's expected_arrival_date is one too,
whatever IFS typed the source field."""

from __future__ import annotations

import pytest

from connector.context import Context
from connector.flows.order_poll import poll_unpushed
from connector.runner import run_job
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import hook, ifs_rows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def date_tenant():
    from sandbox.ifs.app import create_app
    from sandbox.ifs.config import IfsSandboxConfig
    from sandbox.server import BackgroundServer

    server = BackgroundServer(create_app(IfsSandboxConfig(date_entered_type="Edm.Date"))).start()
    yield server
    server.stop()


@pytest.fixture
def ctx(clean_db, clean_redis, date_tenant, shipbob_sandbox, tmp_path):
    from connector.settings import load_settings

    for server in (date_tenant, shipbob_sandbox):
        hook(server, "reset", {})
    settings = load_settings(database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis,
                             ifs_base_url=date_tenant.url, shipbob_base_url=shipbob_sandbox.url,
                             shipbob_rate_limit_per_minute=FAST_RATE_LIMIT,
                             reports_dir=tmp_path / "reports")
    return Context(settings)


def test_orders_of_a_tenant_with_an_edm_date_reach_shipbob_with_a_date_time(ctx, date_tenant,
                                                                            shipbob_sandbox):
    hook(date_tenant, "seed", {"orders": 5, "parts": 10, "seed": 7, "sites": ["S01"],
                               "split_ratio": 0, "purchase_orders": 0})
    hook(shipbob_sandbox, "seed", {"count": 10, "seed": 7, "level_range": [500, 1000]})
    orders = {o["OrderNo"]: o for o in ifs_rows(date_tenant, "CustomerOrderSet")}
    released = {no for no, o in orders.items() if o["Objstate"] == "Released"}
    assert released and all(len(o["DateEntered"]) == 10 for o in orders.values())  # "YYYY-MM-DD"

    results = [run_job(ctx, job_id) for job_id in poll_unpushed(ctx)]

    assert [r.status for r in results] == ["done"] * len(released), [r.detail for r in results]
    pushed = hook(shipbob_sandbox, "dump/orders", method="GET")
    assert {o["reference_id"] for o in pushed} == released
    for order in pushed:
        entered = orders[order["reference_id"]]["DateEntered"]
        assert order["purchase_date"].startswith(f"{entered}T00:00:00")
