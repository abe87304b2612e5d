"""Which WROs reconcile compares with a purchase order: every WRO under the
order's chunk numbers, for the orders with a WRO in the look-back window -
an older first chunk (or the WRO a split-off came from) included."""

from __future__ import annotations

from connector.context import Context
from connector.reconcile import _chunk_index, _purchase_order_wros
from connector.settings import Settings


class WindowedShipBob:
    """`wros()` as ShipBob answers it: by insert date, or by exact numbers."""

    def __init__(self, recent: list[dict], older: list[dict]):
        self.recent, self.all = recent, recent + older
        self.lookups: list[list[str]] = []

    def wros(self, **filters):
        if "PurchaseOrderNumbers" in filters:
            self.lookups.append(list(filters["PurchaseOrderNumbers"]))
            return [w for w in self.all if w["purchase_order_number"] in filters["PurchaseOrderNumbers"]]
        assert filters == {"InsertStartDate": "since"}
        return list(self.recent)


def wro(wro_id: int, number: str) -> dict:
    return {"id": wro_id, "purchase_order_number": number, "inventory_quantities": []}


def test_an_order_with_a_recent_chunk_is_read_whole():
    recent = [wro(5, "P1#2"), wro(6, "P2"), wro(7, "INVSYNC-20260101-10"), wro(8, "P3#draft")]
    older = [wro(1, "P1"), wro(2, "P1"), wro(3, "P9")]  # P1's first chunk and its split-off
    shipbob = WindowedShipBob(recent, older)
    ctx = Context(Settings())
    ctx.__dict__["shipbob"] = shipbob

    found = _purchase_order_wros(ctx, "since")  # type: ignore[arg-type]

    assert {po: [w["id"] for w in wros] for po, wros in found.items()} == {"P1": [1, 2, 5], "P2": [6]}
    assert shipbob.lookups == [["P1", "P1#2", "P2"]]


def test_chunk_numbers_the_connector_makes():
    assert [_chunk_index(n) for n in ("P1", "P1#2", "P1#12", "P1#1", "P1#x", "P1#")] == [1, 2, 12, None, None, None]
