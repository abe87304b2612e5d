"""IFS Edm.Date / Edm.DateTimeOffset -> the RFC 3339 date-time ShipBob declares."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from connector.errors import NeedsAttention
from connector.ifs.customer_orders import Address, CustomerOrder, LineKey, OrderLine
from connector.mappers.dates import shipbob_date_time
from connector.mappers.orders import plan_orders
from connector.mapping import Mapping
from sandbox.shipbob import validation

MAPPING = Mapping(sites={"S01": 156}, ship_via={"UPS-GND": "Standard"})
ADDRESS = Address(name="Ada Lovelace", address1="1 Main St", address2=None, city="Chicago", state=None,
                  zip_code=None, country="US", email=None, phone=None)
LINE = OrderLine(key=LineKey("1", "1", 0), part_no="P1", description=None, site="S01", qty_due=1,
                 qty_shipped=0, qty_returned=0, state="Released")


def order(date_entered):
    return CustomerOrder(order_no="C1", site="S01", state="Released", ship_via="UPS-GND",
                         date_entered=date_entered, shipbob_ids=())


@pytest.mark.parametrize("ifs_value,expected", [
    ("2026-12-05", "2026-12-05T00:00:00Z"),                      # Edm.Date
    ("2026-12-05T10:15:00Z", "2026-12-05T10:15:00Z"),            # Edm.DateTimeOffset, UTC
    ("2026-12-05T10:15:00.123Z", "2026-12-05T10:15:00Z"),        # Timestamp(3)
    ("2026-12-05T01:15:00+02:00", "2026-12-04T23:15:00Z"),       # with an offset
    ("2026-12-05T10:15:00", "2026-12-05T10:15:00Z"),             # no offset: UTC
    (date(2026, 12, 5), "2026-12-05T00:00:00Z"),
    (datetime(2026, 12, 5, 10, tzinfo=timezone(timedelta(hours=-5))), "2026-12-05T15:00:00Z"),
    (None, None),
])
def test_ifs_dates_and_timestamps_become_rfc3339_date_times(ifs_value, expected):
    assert shipbob_date_time(ifs_value) == expected


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-05", "05.12.2026"])
def test_what_is_not_a_date_is_refused(bad):
    with pytest.raises(ValueError, match="neither"):
        shipbob_date_time(bad)


@pytest.mark.parametrize("date_entered", ["2026-12-05", "2026-12-05T10:15:00+01:00"])
def test_purchase_date_fits_createordermodel_whichever_type_ifs_has(date_entered):
    [plan] = plan_orders(order(date_entered), [LINE], ADDRESS, MAPPING, {"P1"})
    assert plan.body["purchase_date"].startswith("2026-12-05T")
    spec = validation.load(str(validation.spec_path("2026-01")))
    assert spec.request_errors("Orders.CreateOrderModel", plan.body) == {}


def test_a_date_entered_that_is_no_date_parks_the_order():
    with pytest.raises(NeedsAttention, match="order date: 'soon' is neither"):
        plan_orders(order("soon"), [LINE], ADDRESS, MAPPING, {"P1"})


def test_the_shipbob_validator_refuses_a_bare_date_for_a_date_time():
    spec = validation.load(str(validation.spec_path("2026-01")))
    body = {"shipping_method": "Standard", "reference_id": "C1", "type": "DTC", "purchase_date": "2026-12-05",
            "recipient": {"name": "Ada", "address": {"address1": "1 Main St", "city": "Chicago",
                                                     "country": "US"}},
            "products": [{"reference_id": "P1", "name": "P1", "quantity": 1}]}
    assert "purchase_date" in spec.request_errors("Orders.CreateOrderModel", body)
    for fine in ("2026-12-05T00:00:00Z", "2026-12-05T10:15:00.5+01:00"):
        assert spec.request_errors("Orders.CreateOrderModel", dict(body, purchase_date=fine)) == {}
