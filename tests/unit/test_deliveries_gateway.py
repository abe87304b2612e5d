"""The delivery gateway under a renamed `ifs.fulfillment` section: every name
it reads, filters on or sends comes from the mapping, and the posting step
is the class the mapping names. IFS is an in-memory fake of the four client
calls the gateway makes (query, read_many, update, bound_action), holding
rows under the tenant's names; the real client against the IFS sandbox is
covered by tests/integration and tests/e2e."""

from __future__ import annotations

import re

import pytest

from connector.errors import ConfigError, TransientError
from connector.ifs import odata
from connector.ifs.customer_orders import LineKey
from connector.ifs.deliveries import (
    Deliveries,
    Delivery,
    DeliveryLine,
    RegisterFulfillmentAction,
    Voucher,
    VoucherChanges,
)
from connector.ifs.names import IfsNames
from connector.ifs.names.customer_orders import CustomerOrderNames
from connector.ifs.names.deliveries import FulfillmentNames

RENAMED = {
    "action": "CustomerOrder_Deliver3pl",
    "params": {"external_ref": "ThirdPartyRef", "shipment_ref": "ThirdPartyOrder", "carrier": "CarrierId",
               "tracking_no": "TrackingNumber", "tracking_url": "TrackingLink", "ship_date": "DeliveryDate",
               "lines": "DeliveryLines"},
    "line": {"line_no": "LineNumber", "rel_no": "ReleaseNumber", "line_item_no": "ItemNumber",
             "qty": "QtyToDeliver"},
    "voucher_projection": "DeliveryNoteHandling",
    "voucher_set": "DeliveryNoteSet",
    "voucher_key": "DelivNo",
    "voucher": {"external_ref": "Cf_Shipbob_Shipment", "carrier": "CarrierId", "tracking_no": "TrackingNumber",
                "tracking_url": "TrackingLink", "delivered_date": "ArrivalDate"},
    "voucher_lines_nav": "DeliveryNoteLineArray",
    "voucher_line_qty_field": "QtyDelivered",
}
ORDERS = CustomerOrderNames.model_validate({"projection": "SalesOrderHandling", "order_set": "SalesOrderSet",
                                            "order": {"order_no": "SalesOrderNo"}})
LINE = LineKey("1", "2", 0)


class FakeIfs:
    """Entity sets of one tenant in memory, under whatever names it has."""

    def __init__(self):
        self.rows: dict[tuple[str, str], list[dict]] = {}
        self.lines: dict[tuple[str, str], list[dict]] = {}  # (projection, navigation path) -> rows
        self.orders: dict[tuple[str, str], dict] = {}  # (projection, key path) -> entity
        self.calls: list[tuple] = []
        self.on_action = lambda projection, path, action, body: None

    def query(self, projection, path, *, filter=None, select=None, orderby=None, page_size=1000):
        self.calls.append(("query", projection, path, filter, orderby))
        rows = list(self.rows.get((projection, path), []))
        if filter:
            field, value = re.fullmatch(r"(\w+) eq '(.*)'", filter).groups()
            rows = [row for row in rows if str(row.get(field)) == value]
        if orderby:
            [field] = [o.removesuffix(" asc") for o in orderby]
            rows.sort(key=lambda row: row[field])
        yield from rows

    def read_many(self, projection, reads):
        self.calls.append(("read_many", projection, [read.path for read in reads]))
        return [self.lines[(projection, read.path)] for read in reads]

    def update(self, projection, path, apply, attempts=5, current=None):
        set_name, key_field, key = re.fullmatch(r"(\w+)\((\w+)=(.*)\)", path).groups()
        [row] = [row for row in self.rows[(projection, set_name)] if odata.literal(row[key_field]) == key]
        changes = apply(dict(row))
        self.calls.append(("update", projection, path, changes))
        if not changes:
            return None
        row.update(changes)
        return row

    def bound_action(self, projection, entity_path, action_name, body, attempts=5, check=None):
        entity = self.orders[(projection, entity_path)]
        if check is not None and check(entity):
            self.calls.append(("action skipped", projection, entity_path, action_name))
            return None
        self.calls.append(("action", projection, entity_path, action_name, body))
        return self.on_action(projection, entity_path, action_name, body)


@pytest.fixture
def names() -> FulfillmentNames:
    return FulfillmentNames.model_validate(RENAMED)


@pytest.fixture
def ifs() -> FakeIfs:
    fake = FakeIfs()
    fake.orders[("SalesOrderHandling", "SalesOrderSet(SalesOrderNo='C1')")] = {"SalesOrderNo": "C1"}
    return fake


def note(number: str, ref: str, **fields) -> dict:
    return {"DelivNo": number, "Cf_Shipbob_Shipment": ref, "CarrierId": None, "TrackingNumber": None,
            "TrackingLink": None, "ArrivalDate": None, **fields}


def a_delivery(ref: str = "501") -> Delivery:
    return Delivery("C1", ref, "9001", "UPS", "1Z999", None, "2026-12-04", (DeliveryLine(LINE, 3.0),))


def test_a_voucher_is_found_by_the_renamed_reference_and_read_under_the_renamed_fields(ifs, names):
    ifs.rows[("DeliveryNoteHandling", "DeliveryNoteSet")] = [
        note("DN1", "500"), note("DN2", "501", CarrierId="UPS", TrackingNumber="1Z999",
                                 TrackingLink="https://ups.example/1Z999", ArrivalDate="2026-12-06")]

    voucher = Deliveries(ifs, names, ORDERS).find("501")

    assert voucher == Voucher("DN2", "501", "UPS", "1Z999", "https://ups.example/1Z999", "2026-12-06")
    assert ifs.calls == [("query", "DeliveryNoteHandling", "DeliveryNoteSet", "Cf_Shipbob_Shipment eq '501'", None)]
    assert Deliveries(ifs, names, ORDERS).find("502") is None


def test_the_default_posting_calls_the_renamed_action_on_the_renamed_order_with_renamed_parameters(ifs, names):
    def register(projection, path, action, body):  # IFS creates the note
        ifs.rows.setdefault(("DeliveryNoteHandling", "DeliveryNoteSet"), []).append(note("DN9", body["ThirdPartyRef"]))
        return "DN9"
    ifs.on_action = register

    voucher = Deliveries(ifs, names, ORDERS).post(a_delivery())

    assert voucher.key == "DN9"
    [action] = [call for call in ifs.calls if call[0] == "action"]
    assert action == ("action", "SalesOrderHandling", "SalesOrderSet(SalesOrderNo='C1')", "CustomerOrder_Deliver3pl", {
        "ThirdPartyRef": "501", "ThirdPartyOrder": "9001", "CarrierId": "UPS", "TrackingNumber": "1Z999",
        "TrackingLink": None, "DeliveryDate": "2026-12-04",
        "DeliveryLines": [{"LineNumber": "1", "ReleaseNumber": "2", "ItemNumber": 0, "QtyToDeliver": 3}]})


def test_the_default_posting_does_not_call_the_action_when_the_voucher_is_there(ifs, names):
    # e.g. the action's answer was lost and the job runs again
    ifs.rows[("DeliveryNoteHandling", "DeliveryNoteSet")] = [note("DN9", "501")]

    RegisterFulfillmentAction(ifs, names, ORDERS).post(a_delivery())

    assert [call[0] for call in ifs.calls] == ["query", "action skipped"]


def test_a_posting_ifs_accepted_whose_voucher_is_not_listed_yet_is_retried_later(ifs, names):
    with pytest.raises(TransientError, match="shipment 501"):
        Deliveries(ifs, names, ORDERS).post(a_delivery())


def test_tracking_is_written_under_the_renamed_fields_and_nothing_is_sent_without_changes(ifs, names):
    ifs.rows[("DeliveryNoteHandling", "DeliveryNoteSet")] = [note("DN2", "501", CarrierId="UPS")]
    deliveries = Deliveries(ifs, names, ORDERS)
    seen: list[Voucher] = []

    def changes(voucher: Voucher) -> VoucherChanges:
        seen.append(voucher)
        return VoucherChanges(tracking_no="1Z999", delivered_date="2026-12-06")

    assert deliveries.update("DN2", changes)
    assert seen[0].carrier == "UPS"
    assert ifs.calls[-1] == ("update", "DeliveryNoteHandling", "DeliveryNoteSet(DelivNo='DN2')",
                             {"TrackingNumber": "1Z999", "ArrivalDate": "2026-12-06"})
    assert not deliveries.update("DN2", lambda voucher: None)
    assert deliveries.field_names(VoucherChanges(carrier="UPS", delivered_date="2026-12-06")) == [
        "ArrivalDate", "CarrierId"]


def test_a_numeric_voucher_key_is_written_unquoted(ifs):
    names = FulfillmentNames.model_validate({**RENAMED, "voucher_key_numeric": True})
    ifs.rows[("DeliveryNoteHandling", "DeliveryNoteSet")] = [note(19, "501")]

    assert Deliveries(ifs, names, ORDERS).update("19", lambda v: VoucherChanges(carrier="DHL"))
    assert ifs.calls[-1][2] == "DeliveryNoteSet(DelivNo=19)"
    with pytest.raises(ConfigError, match="voucher_key_numeric"):
        Deliveries(ifs, names, ORDERS).update("DN2", lambda v: None)


def test_reconcile_reads_every_voucher_in_key_order_and_its_lines_through_the_renamed_navigation(ifs, names):
    keys = [f"DN{n:03d}" for n in range(120)]
    ifs.rows[("DeliveryNoteHandling", "DeliveryNoteSet")] = [note(key, key) for key in reversed(keys)]
    for n, key in enumerate(keys):
        ifs.lines[("DeliveryNoteHandling", f"DeliveryNoteSet(DelivNo='{key}')/DeliveryNoteLineArray")] = [
            {"QtyDelivered": 1}, {"QtyDelivered": n}]
    deliveries = Deliveries(ifs, names, ORDERS)

    vouchers = list(deliveries.vouchers())
    booked = deliveries.booked_quantities(v.key for v in vouchers)

    assert [v.key for v in vouchers] == keys
    assert ifs.calls[0][4] == ["DelivNo asc"]
    assert booked == {key: 1 + n for n, key in enumerate(keys)}
    assert [len(call[2]) for call in ifs.calls if call[0] == "read_many"] == [50, 50, 20]  # one $batch each


class TenantPosting:
    """A tenant's own posting step, named in the mapping by import path."""

    def __init__(self, ifs, names, orders):
        self.ifs, self.names, self.orders = ifs, names, orders
        self.posted: list[Delivery] = []

    def post(self, delivery: Delivery) -> None:
        self.posted.append(delivery)


def test_the_mapping_selects_a_tenants_own_posting_by_import_path(ifs, names):
    custom = names.model_copy(update={"posting": f"{__name__}:TenantPosting"})

    deliveries = Deliveries(ifs, custom, ORDERS)

    assert isinstance(deliveries.posting, TenantPosting)
    assert (deliveries.posting.names, deliveries.posting.orders) == (custom, ORDERS)
    with pytest.raises(TransientError):  # it posted nothing IFS lists: retried, never assumed done
        deliveries.post(a_delivery())
    assert deliveries.posting.posted == [a_delivery()]


@pytest.mark.parametrize("path, error", [
    ("connector.ifs.no_such_module:Posting", "mapping ifs.fulfillment.posting: cannot import"),
    ("connector.ifs.deliveries:NoSuchClass", "mapping ifs.fulfillment.posting: .* has no class NoSuchClass"),
    ("connector.ifs.deliveries", "not a 'package.module:ClassName' path"),
    ("connector.ifs.deliveries:Voucher", "mapping ifs.fulfillment.posting: .* cannot be built"),
    ("connector.ifs.deliveries:VoucherChanges", "has no post\\(delivery\\) method"),
])
def test_a_posting_that_cannot_be_loaded_is_a_config_error_naming_the_key(ifs, names, path, error):
    with pytest.raises(ConfigError, match=error):
        Deliveries(ifs, names.model_copy(update={"posting": path}), ORDERS)


def test_doctor_checks_the_renamed_names_and_the_default_action_only_with_the_default_posting():
    def described(fulfillment: dict) -> list[str]:
        needs = IfsNames.model_validate({"fulfillment": fulfillment}).needs()
        return [need.describe() for projection in needs.projections.values() for need in projection.needs
                if "Deliver3pl" in need.describe() or "DeliveryNote" in need.describe()]

    assert described(RENAMED) == [
        "action CustomerOrder_Deliver3pl on CustomerOrderSet",
        *(f"action parameter {p} of CustomerOrder_Deliver3pl" for p in RENAMED["params"].values()),
        "entity set DeliveryNoteSet",
        "key DelivNo on DeliveryNoteSet",
        *(f"property {f} on DeliveryNoteSet" for f in RENAMED["voucher"].values()),
        "navigation DeliveryNoteLineArray on DeliveryNoteSet",
        "property QtyDelivered on DeliveryNoteSet/DeliveryNoteLineArray",
    ]
    own_posting = described({**RENAMED, "posting": f"{__name__}:TenantPosting"})
    assert not [need for need in own_posting if "CustomerOrder_Deliver3pl" in need]
    assert "key DelivNo on DeliveryNoteSet" in own_posting
