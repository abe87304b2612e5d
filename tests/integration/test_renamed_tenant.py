"""A tenant whose IFS names differ from the mapping's defaults
(tests/renamed_tenant.py): the IFS sandbox serves its own model under the
renamed names, so nothing the connector assumes is served back to it.

With a mapping naming the tenant's names, doctor passes and a released order
goes to ShipBob, gets its ShipBob id written back, and its shipment comes
back as a voucher; with the default mapping, doctor fails and names every
name the tenant lacks, of every kind."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from cli.stack import env_for
from connector.context import Context
from connector.flows.order_poll import poll_orders
from connector.flows.shipment_voucher import poll_shipment_changes
from connector.reconcile import reconcile
from connector.runner import run_job
from tests import renamed_tenant
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import hook, ifs_rows, seed_world

pytestmark = pytest.mark.integration


def _ifs_server(tenant):
    from sandbox.ifs.app import create_app
    from sandbox.ifs.config import IfsSandboxConfig
    from sandbox.server import BackgroundServer

    return BackgroundServer(create_app(IfsSandboxConfig(tenant=tenant))).start()


@pytest.fixture(scope="module")
def renamed_ifs():
    server = _ifs_server(renamed_tenant.tenant())
    yield server
    server.stop()


@pytest.fixture
def settings_for(clean_db, clean_redis, shipbob_sandbox, tmp_path):
    """Connector settings against an IFS sandbox, with a mapping file (None:
    the packaged default mapping)."""
    from connector.settings import load_settings

    def make(ifs, mapping_file=None):
        for server in (ifs, shipbob_sandbox):
            hook(server, "reset", {})
        return load_settings(database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis,
                             ifs_base_url=ifs.url, shipbob_base_url=shipbob_sandbox.url,
                             shipbob_rate_limit_per_minute=FAST_RATE_LIMIT,
                             reports_dir=tmp_path / "reports", mapping_file=mapping_file)

    return make


@pytest.fixture
def renamed_mapping(tmp_path):
    return renamed_tenant.write_mapping(tmp_path / "renamed-mapping.yaml")


def doctor(settings, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the CLI reads ./.env: not a developer's own
    for name, value in env_for(settings, broker_url="memory://").items():
        monkeypatch.setenv(name, value)
    if settings.mapping_file is None:
        monkeypatch.delenv("MAPPING_FILE", raising=False)
    return CliRunner().invoke(main, ["doctor"], catch_exceptions=False)


def failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL")]


def test_doctor_passes_with_the_mapping_that_names_the_tenant(
        renamed_ifs, settings_for, renamed_mapping, monkeypatch, tmp_path):
    result = doctor(settings_for(renamed_ifs, renamed_mapping), monkeypatch, tmp_path)
    assert result.exit_code == 0 and failed_lines(result.output) == [], result.output
    assert "ok   ifs $metadata PurchaseArrivalHandling" in result.output


def test_the_default_mapping_fails_doctor_naming_each_renamed_name(
        renamed_ifs, settings_for, monkeypatch, tmp_path):
    result = doctor(settings_for(renamed_ifs), monkeypatch, tmp_path)
    assert result.exit_code == 1
    failed = failed_lines(result.output)
    missing = [item for item in renamed_tenant.doctor_failures() if item not in "\n".join(failed)]
    assert missing == [], result.output
    # only the IFS names fail, one line per projection that lacks some
    assert {line.split(":", 1)[0] for line in failed} == {
        f"FAIL ifs $metadata {p}" for p in (
            "CustomerOrderHandling", "FulfillmentVoucherHandling", "ReturnMaterialAuthorizationHandling",
            "PurchaseOrderHandling", "PurchaseReceiptHandling", "InventoryPartInStockHandling",
            "ExternalStockLevelHandling", "ExternalInventoryActivityHandling", "InventoryPartCountHandling")}


def test_doctor_names_an_action_parameter_the_tenant_calls_otherwise(settings_for, monkeypatch, tmp_path):
    """Only the parameter differs (the action keeps its name): doctor names
    it, and `ifs.fulfillment.params` is where the mapping sets it."""
    from sandbox.ifs.tenant import TenantRenames

    server = _ifs_server(TenantRenames(action_parameters={
        "CustomerOrder_RegisterFulfillment": {"TrackingNo": "TrackingNumber"}}))
    try:
        result = doctor(settings_for(server), monkeypatch, tmp_path)
    finally:
        server.stop()
    assert result.exit_code == 1
    assert failed_lines(result.output) == [
        "FAIL ifs $metadata CustomerOrderHandling: missing action parameter TrackingNo of "
        "CustomerOrder_RegisterFulfillment -> fix: set the tenant's names in the mapping file under `ifs:`"]


def test_a_released_order_goes_to_shipbob_and_its_shipment_comes_back_as_a_voucher(
        renamed_ifs, shipbob_sandbox, settings_for, renamed_mapping):
    ctx = Context(settings_for(renamed_ifs, renamed_mapping))
    ifs, shipbob = renamed_ifs, shipbob_sandbox
    seed_world((ifs, shipbob), orders=3, split_ratio=0)
    released = {o["OrderNo"] for o in ifs_rows(ifs, "CustomerOrderSet") if o["Objstate"] == "Approved"}
    assert released

    pushes = poll_orders(ctx)  # the renamed state, enum type and change stamp in the filter
    results = [run_job(ctx, job_id) for job_id in pushes]
    assert [r.status for r in results] == ["done"] * len(released), [r.detail for r in results]
    pushed = {o["reference_id"]: o for o in hook(shipbob, "dump/orders", method="GET")}
    assert set(pushed) == released
    orders = {o["OrderNo"]: o for o in ifs_rows(ifs, "CustomerOrderSet")}
    for order_no in released:  # written back into the renamed custom field
        assert orders[order_no]["Cf_Sb_Order_Ref"] == str(pushed[order_no]["id"])
        assert "Cf_Shipbob_Order_Id" not in orders[order_no]
    assert poll_orders(ctx) == []  # a pushed order is not polled again
    [at_shipbob] = [c for c in reconcile(ctx) if c.name == "IFS orders released but not at ShipBob"]
    assert (at_shipbob.checked, at_shipbob.differences) == (len(released), [])

    for order in pushed.values():
        hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    results = [run_job(ctx, job_id) for job_id in poll_shipment_changes(ctx)]
    assert {r.status for r in results} == {"done"}, [r.detail for r in results]
    vouchers = ifs_rows(ifs, "FulfillmentVoucherSet?expand=FulfillmentVoucherLineArray")
    assert {v["OrderNo"] for v in vouchers} == released
    assert all("DelnoteNo" in v and v["TrackingNo"] for v in vouchers)
    for line in ifs_rows(ifs, "CustomerOrderLines"):
        assert line["QtyShipped"] == line["BuyQtyDue"], line

    # reconcile reads vouchers, their lines (renamed quantity), RMAs, receipts
    # and stock through the renamed names
    report = {check.name: check for check in reconcile(ctx)}
    for name in ("ShipBob shipments without an IFS voucher", "IFS vouchers posted more than once",
                 "voucher quantities that differ from the shipment",
                 "vouchers behind ShipBob on tracking or delivery"):
        assert report[name].checked == len(vouchers) and report[name].differences == [], report[name]


def test_shipbob_inventory_history_is_recorded_under_the_tenants_names(
        renamed_ifs, settings_for, renamed_mapping, shipbob_sandbox):
    from connector.polls import run_poll

    ctx = Context(settings_for(renamed_ifs, renamed_mapping))
    hook(shipbob_sandbox, "seed", {"count": 1, "levels": {"P00001": {"156": 5}}})
    event_ids = [hook(shipbob_sandbox, "inventory/adjust", {"sku": "P00001", "fulfillment_center_id": 156,
                                                            "quantity_change": change})["inventory_audit_event_id"]
                 for change in (-2, 3)]

    _, job_ids = run_poll(ctx, "inventory_activity")
    assert [run_job(ctx, job_id).status.value for job_id in job_ids] == ["done", "done"]
    again = run_poll(ctx, "inventory_activity")[1]
    assert [run_job(ctx, job_id).status.value for job_id in again] == ["done", "done"]

    rows = ifs_rows(renamed_ifs, "ThirdPartyMovementSet")
    assert [(r["Cf_Shipbob_Event"], r["Contract"], r["Quantity"]) for r in rows] == [
        (str(event_ids[0]), "S01", -2), (str(event_ids[1]), "S01", 3)]


def test_a_shipbob_cancellation_cancels_the_ifs_lines_in_the_tenants_names(
        renamed_ifs, shipbob_sandbox, settings_for, tmp_path):
    data = renamed_tenant.mapping_data()
    data["on_shipbob_cancel"] = "cancel_in_ifs"
    ctx = Context(settings_for(renamed_ifs, renamed_tenant.write_mapping(tmp_path / "cancel.yaml", data)))
    ifs, shipbob = renamed_ifs, shipbob_sandbox
    seed_world((ifs, shipbob), orders=3, split_ratio=0)
    assert {run_job(ctx, job_id).status for job_id in poll_orders(ctx)} == {"done"}
    pushed = hook(shipbob, "dump/orders", method="GET")
    for order in pushed:
        hook(shipbob, f"orders/{order['id']}/cancel")  # in ShipBob's dashboard: the poll finds it

    results = [run_job(ctx, job_id) for job_id in poll_shipment_changes(ctx)]
    assert [r.status for r in results] == ["done"] * len(pushed), [r.detail for r in results]
    cancelled = {o["reference_id"] for o in pushed}
    assert {o["OrderNo"]: o["Objstate"] for o in ifs_rows(ifs, "CustomerOrderSet")
            if o["OrderNo"] in cancelled} == dict.fromkeys(cancelled, "Canceled")  # the tenant's member
    assert {line["Objstate"] for line in ifs_rows(ifs, "CustomerOrderLines") if line["OrderNo"] in cancelled} == {
        "Cancelled"}
    [check] = [c for c in reconcile(ctx) if c.name == "ShipBob cancellations not in IFS"]
    assert (check.checked, check.differences) == (len(pushed), [])
