"""A deterministic, realistic IFS data set.

Customers with delivery addresses; parts from the shared `sandbox.catalog`
(so PartNo == ShipBob SKU under the default mapping); stock per site on
several locations and lots (one row each, ifs-cloud.md §5); Released
customer orders of 1-5 lines, some split across two sites; Released purchase
orders for the ShipBob sites. The same request always builds the same data
(only timestamps move with the clock).
"""

from __future__ import annotations

import random
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.catalog import catalog
from sandbox.ifs import inventory, orders, purchasing
from sandbox.ifs.store import Store

# The ship-vias of connector/default_mapping.yaml, and some it does not map.
MAPPED_SHIP_VIAS = ("UPS-GND", "UPS-GND", "UPS-GND", "UPS-2DAY", "FDX-ON")
UNMAPPED_SHIP_VIAS = ("DHL-EXP", "LTL-FREIGHT")

_FIRST = ["Ava", "Liam", "Mia", "Noah", "Emma", "Lucas", "Zoe", "Ethan", "Ivy", "Owen",
          "Chloe", "Mateo", "Grace", "Leo", "Nora", "Jack"]
_LAST = ["Smith", "Garcia", "Chen", "Johnson", "O'Brien", "Patel", "Nguyen", "Miller",
         "Davis", "Lopez", "Kim", "Brown", "Wilson", "Moore"]
_STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Lakeview Rd",
            "Sunset Blvd", "2nd Ave", "Park Pl"]
_CITIES = [("Chicago", "IL", "60601"), ("Austin", "TX", "73301"), ("Denver", "CO", "80202"),
           ("Seattle", "WA", "98101"), ("Miami", "FL", "33101"), ("Boston", "MA", "02108"),
           ("Phoenix", "AZ", "85001"), ("Portland", "OR", "97201"), ("Atlanta", "GA", "30303"),
           ("Columbus", "OH", "43004"), ("Riverside", "CA", "92501"), ("Nashville", "TN", "37201")]
_ABROAD = [("Toronto", "ON", "M5H 2N2", "CA"), ("London", None, "SW1A 1AA", "GB")]
_LINE_COUNTS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5)


class SeedRequest(BaseModel):
    """Body of POST /_sandbox/seed."""

    model_config = ConfigDict(extra="forbid")

    orders: int = Field(default=20, ge=0, le=200_000)
    parts: int = Field(default=50, ge=1, le=200_000)
    seed: int = 1
    sites: list[str] = Field(default_factory=lambda: ["S01", "S02"], min_length=1)
    split_ratio: float = Field(default=0.2, ge=0, le=1)
    stock_locations_per_part: int = Field(default=3, ge=0, le=20)
    purchase_orders: int = Field(default=5, ge=0, le=100_000)
    unmapped_ship_via_ratio: float = Field(default=0.0, ge=0, le=1)
    customers: int | None = Field(default=None, ge=1)

    @field_validator("sites")
    @classmethod
    def _distinct(cls, sites: list[str]) -> list[str]:
        if len(set(sites)) != len(sites):
            raise ValueError("sites must be distinct")
        return sites


def seed(store: Store, spec: SeedRequest) -> dict:
    """Replace the store's data with a generated world; returns a summary."""
    store.reset()
    rng = random.Random(spec.seed)
    parts = catalog(spec.parts, spec.seed)
    store.parts.update({p.part_no: p.description for p in parts})
    customers = _customers(store, rng, spec.customers or max(3, min(2000, spec.orders // 3 + 1)))
    stock_rows = _stock(store, rng, parts, spec)
    order_summary = _orders(store, rng, parts, customers, spec)
    po_lines = _purchase_orders(store, rng, parts, spec)
    return {
        "customers": len(customers), "parts": len(parts), "sites": spec.sites,
        "stock_rows": stock_rows, **order_summary,
        "purchase_orders": spec.purchase_orders, "purchase_order_lines": po_lines,
    }


def _customers(store: Store, rng: random.Random, count: int) -> list[str]:
    numbers = []
    for i in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        if rng.random() < 0.05:
            city, state, zip_code, country = rng.choice(_ABROAD)
        else:
            (city, state, zip_code), country = rng.choice(_CITIES), "US"
        number = f"CU{1001 + i}"
        store.customers[number] = {"name": f"{first} {last}", "address": {
            "Name": f"{first} {last}",
            "Address1": f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}",
            "Address2": f"Apt {rng.randint(1, 40)}" if rng.random() < 0.2 else None,
            "City": city, "State": state, "ZipCode": zip_code, "Country": country,
            "EmailAddress": f"{first}.{last}{i}@example.com".lower().replace("'", ""),
            "PhoneNo": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        }}
        numbers.append(number)
    return numbers


def _stock(store: Store, rng: random.Random, parts, spec: SeedRequest) -> int:
    now = store.now()
    count = 0
    locations = [f"{aisle}-{bay:02d}-{level:02d}" for aisle in "ABCD" for bay in range(1, 13)
                 for level in range(1, 5)]
    for site in spec.sites:
        for part in parts:
            if rng.random() < 0.1:
                continue  # not every part is stocked at every site
            for location in rng.sample(locations, min(spec.stock_locations_per_part, len(locations))):
                aisle, bay, level = location.split("-")
                onhand = rng.choice((0, 5, 12, 24, 36, 48, 60, 100, 150))
                inventory.put_stock(store, {
                    "Contract": site, "PartNo": part.part_no, "LocationNo": location,
                    "LotBatchNo": "*" if rng.random() < 0.6 else f"L{rng.randint(2400, 2699)}",
                    "QtyOnhand": onhand, "QtyReserved": rng.choice((0, 0, 0, 1, 2)) if onhand else 0,
                    "UoM": part.uom, "Warehouse": "WH1", "BayNo": aisle, "RowNo": bay,
                    "TierNo": level, "BinNo": "-", "LocationDescription": f"Aisle {aisle} bay {bay}",
                    "ReceiptDate": now - timedelta(days=rng.randint(1, 200)),
                })
                count += 1
    return count


def _orders(store: Store, rng: random.Random, parts, customers: list[str], spec: SeedRequest) -> dict:
    now = store.now()
    entered = sorted(now - timedelta(minutes=rng.randint(5, 3 * 24 * 60)) for _ in range(spec.orders))
    line_total = split_total = unmapped_total = 0
    for i, date_entered in enumerate(entered):
        site = rng.choice(spec.sites)
        unmapped = rng.random() < spec.unmapped_ship_via_ratio
        ship_via = rng.choice(UNMAPPED_SHIP_VIAS if unmapped else MAPPED_SHIP_VIAS)
        n_lines = min(rng.choice(_LINE_COUNTS), len(parts))
        split = len(spec.sites) > 1 and rng.random() < spec.split_ratio and len(parts) > 1
        if split:
            n_lines = max(n_lines, 2)
        chosen = rng.sample(parts, n_lines)
        other_site = rng.choice([s for s in spec.sites if s != site]) if split else site
        moved = rng.randint(1, n_lines - 1) if split else 0
        lines = [{
            "LineNo": str(number), "PartNo": part.part_no, "CatalogNo": part.part_no,
            "CatalogDesc": part.description, "SalesUnitMeas": part.uom,
            "BuyQtyDue": rng.choice((1, 1, 1, 2, 2, 3)),
            "SaleUnitPrice": round(4.5 + (int(part.part_no[1:]) * 37 % 9000) / 100, 2),
            "Contract": other_site if number > n_lines - moved else site,
        } for number, part in enumerate(chosen, start=1)]
        orders.create_order(store, {
            "Contract": site, "CustomerNo": rng.choice(customers),
            "CustomerPoNo": f"WEB-{100000 + i}", "CustRef": rng.choice(_FIRST),
            "ShipViaCode": ship_via, "DeliveryTerms": "DAP", "PayTermId": "30",
            "AuthorizeCode": "SBCOORD", "OrderId": "DTC", "DateEntered": date_entered,
            "WantedDeliveryDate": (date_entered + timedelta(days=rng.randint(3, 7))).replace(
                hour=0, minute=0, second=0),
        }, {orders.LINES: lines}, state="Released")
        line_total += n_lines
        split_total += split
        unmapped_total += unmapped
    return {"orders": spec.orders, "order_lines": line_total, "split_orders": split_total,
            "unmapped_ship_via_orders": unmapped_total}


def _purchase_orders(store: Store, rng: random.Random, parts, spec: SeedRequest) -> int:
    today = store.now().date()
    line_total = 0
    for i in range(spec.purchase_orders):
        wanted = today + timedelta(days=rng.randint(7, 21))
        chosen = rng.sample(parts, min(rng.randint(1, 4), len(parts)))
        purchasing.create_purchase_order(store, {
            "Contract": spec.sites[i % len(spec.sites)], "VendorNo": f"V{101 + i % 7}",
            "WantedReceiptDate": wanted, "Notes": "Replenishment to 3PL",
        }, [{"PartNo": part.part_no, "BuyQtyDue": 12 * rng.randint(2, 20),
             "BuyUnitMeas": part.uom, "PlannedReceiptDate": wanted} for part in chosen])
        line_total += len(chosen)
    return line_total
