"""The order's whole life in the soak's day (bench/soak.py), and its scorecard.

`Life` plays what happens to orders after their push. The warehouse holds a
few orders it would otherwise ship at once, so the merchant can change them
in IFS: an edit before the pick (the address moved to Seattle, a line one
unit more), an edit after the pick (ShipBob cannot take it: an attention
item), a line cancelled in IFS (the shipment shrinks), and an order of more
units than ShipBob holds (a shortage, flagged). A held order ships once its
edit is at ShipBob (the order edited after the pick: once the connector
parked it), so a lost edit keeps the day from ending (the drain says which). ShipBob-side cancellations and the inventory history are the
rest of the day's doing; `card()` checks all of it from both sandboxes'
own data, never from the connector's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from soak_hooks import hook
from soak_hooks import ifs_rows as rows

PO_LINES = "PurchaseOrderLineArray"  # the purchase order lines navigation (the sandbox default)
PO_RAISE = 12                 # units a buyer adds to a line after its WRO exists
SEATTLE = {"Address1": "400 Broad St", "City": "Seattle", "State": "WA", "ZipCode": "98109"}
MAPPED_FCS = (156, 157)       # the fulfillment centers of S01 and S02
# The short order's part: no other order takes it, so its shortage is the only one.
SHORT_PART, SHORT_ON_HAND, SHORT_UNITS = "P-SHORT-01", 3, 5   # at S01 / FC 156, in both systems
# The n-th ShipBob order the warehouse sees (ours, not cancelled) is held for this.
HOLD_AT = {12: "edit", 16: "edit-after-pick", 20: "line-cancel"}
EXPECTED_REASONS = {"edit-after-pick": ("order_update", "ShipBob cannot take it"),
                    "short": ("stock_shortage", "pushed short at ShipBob")}


def units_at_shipbob(order: dict) -> Counter:
    """Units per SKU over the order's shipments that are not cancelled."""
    out: Counter = Counter()
    for shipment in order.get("shipments") or []:
        if shipment.get("status") != "Cancelled":
            for product in shipment.get("products") or []:
                out[product["sku"]] += sum(i["quantity"] for i in product.get("inventory_items") or [])
    return +out


def city_at_shipbob(order: dict) -> str | None:
    live = [s for s in order.get("shipments") or [] if s.get("status") != "Cancelled"]
    return live[0]["recipient"]["address"]["city"] if live else None


@dataclass
class LifePlan:
    kind: str                  # edit, edit-after-pick, line-cancel, short
    order_no: str
    order_id: int | None = None
    stage: str = "waiting"     # waiting (for the push's write-back), edited, shipped; placed (short)
    line_no: str = ""
    part: str = ""
    qty: float = 0             # the line's units IFS wants after the change (0: cancelled)


@dataclass
class LifeRecord:
    plans: dict[str, LifePlan] = field(default_factory=dict)   # IFS order no -> plan
    po_raised: str | None = None   # "<PO> line <n>: a -> b", once a buyer raised it
    po_raised_part: tuple[str, str] | None = None   # (PO, part): one further WRO for it is due


class Life:
    """Called by the day: `hold()` on each new ShipBob order, `step()` each tick."""

    def __init__(self, ifs_url: str, shipbob_url: str, ship, update_parked):
        """`ship(order_id)` ships a held order; `update_parked(order_no)` says
        whether the connector parked the order's update (an attention item)."""
        self.ifs, self.sb, self.ship, self.update_parked = ifs_url, shipbob_url, ship, update_parked
        self.record = LifeRecord()
        self._seen = 0

    # -- the merchant's short order ----------------------------------------------------

    def place_short_order(self, customer: str) -> None:
        [created] = hook(self.ifs, "orders", {"orders": [{
            "Contract": "S01", "CustomerNo": customer, "ShipViaCode": "UPS-GND",
            "lines": [{"PartNo": SHORT_PART, "BuyQtyDue": SHORT_UNITS}]}]})["orders"]
        self.record.plans[created["OrderNo"]] = LifePlan("short", created["OrderNo"], part=SHORT_PART,
                                                         qty=SHORT_UNITS, stage="placed")

    # -- the buyer: a purchase order line raised after its WRO exists ------------------------

    def raise_po_line(self, po: str) -> None:
        """The connector must send the extra units as a further WRO (WROs cannot be edited)."""
        [order] = [o for o in rows(self.ifs, f"PurchaseOrderSet?expand={PO_LINES}") if o["OrderNo"] == po]
        line = order[PO_LINES][0]
        qty = float(line["BuyQtyDue"])
        hook(self.ifs, f"purchase_orders/{po}/lines/{line['LineNo']}/{line['ReleaseNo']}",
             {"BuyQtyDue": qty + PO_RAISE})
        self.record.po_raised = f"{po} line {line['LineNo']}: {qty:g} -> {qty + PO_RAISE:g}"
        self.record.po_raised_part = (po, line["PartNo"])

    # -- the warehouse: which orders it holds ----------------------------------------------

    def hold(self, order: dict, order_no: str) -> bool:
        """Whether the warehouse keeps this new ShipBob order back (not shipped now)."""
        plan = self.record.plans.get(order_no)
        if plan is not None and plan.kind == "short":  # it waits for stock that never comes
            plan.order_id = order["id"]
            return True
        if plan is not None:
            return False  # another ShipBob order of a held IFS order (none today): shipped as usual
        self._seen += 1
        kinds = [k for n, k in HOLD_AT.items() if self._seen >= n
                 and not any(p.kind == k for p in self.record.plans.values())]
        if not kinds:
            return False
        lines = [line for line in rows(self.ifs, "CustomerOrderLineSet") if line["OrderNo"] == order_no]
        if len({line["Contract"] for line in lines}) != 1 or (kinds[0] == "line-cancel" and len(lines) < 2):
            return False  # a split order (two ShipBob orders), or one line only
        line = lines[-1]
        cancel = kinds[0] == "line-cancel"
        self.record.plans[order_no] = LifePlan(
            kinds[0], order_no, order["id"], line_no=str(line["LineNo"]), part=line["PartNo"],
            qty=0 if cancel else float(line["BuyQtyDue"]) + (1 if kinds[0] == "edit" else 0))
        return True

    def held(self) -> list[str]:
        """Held orders still to ship (the short one never ships)."""
        return sorted(no for no, p in self.record.plans.items() if p.kind != "short" and p.stage != "shipped")

    # -- each tick ---------------------------------------------------------------------------

    def step(self, orders: list[dict]) -> None:
        waiting = [p for p in self.record.plans.values() if p.stage == "waiting"]
        if waiting:
            written_back = {o["OrderNo"] for o in rows(self.ifs, "CustomerOrderSet")
                            if o.get("Cf_Shipbob_Order_Id")}
            for plan in waiting:
                if plan.order_no in written_back:
                    self._change(plan)
        by_id = {o["id"]: o for o in orders}
        for plan in self.record.plans.values():
            if plan.stage == "edited" and self._may_ship(plan, by_id[plan.order_id]):
                self.ship(plan.order_id)
                plan.stage = "shipped"

    def _change(self, plan: LifePlan) -> None:
        """The merchant's change in IFS, once the push has written the ShipBob id back."""
        line_key = {"OrderNo": plan.order_no, "LineNo": plan.line_no, "RelNo": "1", "LineItemNo": 0}
        if plan.kind == "edit-after-pick":
            [shipment] = [s for s in hook(self.sb, "dump/shipments", method="GET") if s["order_id"] == plan.order_id]
            hook(self.sb, f"shipments/{shipment['id']}/pick")
        if plan.kind in ("edit", "edit-after-pick"):
            bump(self.ifs, "CustomerOrderAddresses", {"OrderNo": plan.order_no}, SEATTLE)
        if plan.kind == "edit":
            bump(self.ifs, "CustomerOrderLineSet", line_key, {"BuyQtyDue": plan.qty})
        if plan.kind == "line-cancel":
            bump(self.ifs, "CustomerOrderLineSet", line_key, {"Objstate": "Cancelled"})
        plan.stage = "edited"

    def _may_ship(self, plan: LifePlan, order: dict) -> bool:
        if plan.kind == "edit-after-pick":
            return self.update_parked(plan.order_no)
        units = units_at_shipbob(order)
        if plan.kind == "line-cancel":
            return plan.part not in units
        return city_at_shipbob(order) == SEATTLE["City"] and units.get(plan.part) == plan.qty


def bump(ifs_url: str, entity_set: str, key: dict, changes: dict) -> None:
    """A user's edit in IFS."""
    hook(ifs_url, "bump", {"set": entity_set, "key": key, "changes": changes})


def expected_parked(record: LifeRecord) -> dict[tuple[str, str], str]:
    return {(EXPECTED_REASONS[p.kind][0], p.order_no): EXPECTED_REASONS[p.kind][1]
            for p in record.plans.values() if p.kind in EXPECTED_REASONS}


# ---------------------------------------------------------------- the scorecard

def history_not_recorded(ifs_url: str, sb_url: str) -> tuple[list[int], list[str], list[str], int]:
    """ShipBob's inventory history of the mapped FCs against IFS's activity
    records: (events not recorded, references recorded twice, references of
    no event, records in IFS)."""
    events = {e["inventory_audit_event_id"] for e in hook(sb_url, "dump/inventory_history", method="GET")
              if (e.get("increment") or e.get("decrement") or {}).get("facility_id") in MAPPED_FCS}
    refs = Counter(r["ExternalRef"] for r in rows(ifs_url, "ExternalInventoryActivitySet"))
    missing = sorted(e for e in events if str(e) not in refs)
    doubled = sorted(ref for ref, n in refs.items() if n > 1)
    orphan = sorted(ref for ref in refs if not ref.isdigit() or int(ref) not in events)
    return missing, doubled, orphan, sum(refs.values())


def card(ifs_url: str, sb_url: str, record: LifeRecord, cancelled_at_shipbob: set[int],
         parked: dict[tuple[str, str], str], shipbob_orders: list[dict]) -> dict:
    sb_orders = {o["id"]: o for o in shipbob_orders}
    address = {a["OrderNo"]: a for a in rows(ifs_url, "CustomerOrderAddresses")}
    open_units: dict[str, Counter] = {}
    for line in rows(ifs_url, "CustomerOrderLineSet"):
        if line.get("Objstate") != "Cancelled":
            open_units.setdefault(line["OrderNo"], Counter())[line["PartNo"]] += float(line["BuyQtyDue"])
    lost, after_pick_silent, short_silent = [], [], []
    counts: Counter = Counter()
    for plan in record.plans.values():
        counts[plan.kind] += 1
        order = sb_orders.get(plan.order_id) or {}
        reason = parked.get((EXPECTED_REASONS.get(plan.kind, ("", ""))[0], plan.order_no), "")
        if plan.kind in ("edit", "line-cancel"):
            want_city = (address.get(plan.order_no) or {}).get("City")
            got = (city_at_shipbob(order), dict(units_at_shipbob(order)))
            want = (want_city, {k: v for k, v in open_units.get(plan.order_no, Counter()).items() if v})
            if got != want:
                lost.append(f"{plan.kind} {plan.order_no}: IFS {want}, ShipBob {got}")
        elif plan.kind == "edit-after-pick" and EXPECTED_REASONS[plan.kind][1] not in reason:
            after_pick_silent.append(f"{plan.order_no}: {reason or 'no attention item'}")
        elif plan.kind == "short" and (EXPECTED_REASONS[plan.kind][1] not in reason or plan.part not in reason):
            short_silent.append(f"{plan.order_no} ({plan.part} x{plan.qty:g}): {reason or 'no attention item'}")
    cancels_silent = []
    for order_id in sorted(cancelled_at_shipbob):
        order_no = next((t["value"] for t in (sb_orders.get(order_id) or {}).get("tags") or []
                         if t.get("name") == "ifs_order_no"), None)
        in_ifs = order_no is not None and not open_units.get(order_no)
        if not in_ifs and "was cancelled at ShipBob" not in parked.get(("shipment_voucher", str(order_id)), ""):
            cancels_silent.append(f"ShipBob order {order_id} (IFS {order_no})")
    missing, doubled, orphan, recorded = history_not_recorded(ifs_url, sb_url)
    return {
        "edits_before_pick": counts["edit"], "line_cancels_in_ifs": counts["line-cancel"],
        "edits_after_pick": counts["edit-after-pick"], "short_orders": counts["short"],
        "shipbob_cancels": len(cancelled_at_shipbob), "po_line_raised": record.po_raised,
        "edits_lost": len(lost), "edits_lost_list": lost,
        "edits_after_pick_silent": len(after_pick_silent), "edits_after_pick_silent_list": after_pick_silent,
        "shipbob_cancels_silent": len(cancels_silent), "shipbob_cancels_silent_list": cancels_silent[:20],
        "shortages_silent": len(short_silent), "shortages_silent_list": short_silent,
        "history_events_recorded": recorded,
        "history_missing": len(missing), "history_missing_list": missing[:20],
        "history_doubled": len(doubled), "history_doubled_list": doubled[:20],
        "history_orphan": len(orphan), "history_orphan_list": orphan[:20],
    }


ZERO_LINES = [
    ("IFS edits and line cancels not at ShipBob", "life", "edits_lost"),
    ("edits after the pick without an attention item", "life", "edits_after_pick_silent"),
    ("ShipBob cancellations neither in IFS nor parked", "life", "shipbob_cancels_silent"),
    ("shortages without an attention item naming the SKU", "life", "shortages_silent"),
    ("inventory history events not recorded in IFS", "life", "history_missing"),
    ("inventory history events recorded twice", "life", "history_doubled"),
    ("IFS activity records of no ShipBob event", "life", "history_orphan"),
]
