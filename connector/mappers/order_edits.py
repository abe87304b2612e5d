"""An IFS order edited after the push, against what ShipBob has. Pure functions.

The push keeps what it sent for each ShipBob order in the order binding
(`PushedPlan`: recipient, shipping method, lines). An edit is found by
planning the IFS order again and comparing with that: no ShipBob call for an
order nobody changed. Only what IFS changed is sent (`Edits`), and only where
the shipment differs from it, so a field someone changed at ShipBob and IFS
did not is left alone, and a run repeated after a crash sends nothing twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from connector.mappers.orders import LineRef, ShipBobOrderPlan
from connector.mappers.vouchers import shipped_quantities
from connector.shipbob.shipment_edits import ShipmentAddress

IFS_CHANGED = "ifs_changed"  # binding data: the IFS change stamp the stored plan is current for

# The recipient as compared and reported: (field, where in the create body, label).
_RECIPIENT = (("name", None, "recipient name"), ("address1", "address", "address line 1"),
              ("address2", "address", "address line 2"), ("city", "address", "city"),
              ("state", "address", "state"), ("zip_code", "address", "zip code"),
              ("country", "address", "country"), ("email", None, "email"),
              ("phone_number", None, "phone"))
# Shipment statuses in which ShipBob still takes an edit (Orders.OrderStatusEnum);
# the warehouse having picked or packed it is a status detail (docs/shipbob-lifecycle.md).
EDITABLE = frozenset({"None", "Processing", "Exception", "OnHold", "ImportReview"})
CANCELLED = "Cancelled"
_PICKED = frozenset({"Picked", "Packed"})


def _text(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def flat_recipient(recipient: Mapping[str, Any]) -> dict[str, str | None]:
    """A recipient (the create body's, or a ShipBob shipment's) as flat fields."""
    address = recipient.get("address") or {}
    return {name: _text((address if part else recipient).get(name)) for name, part, _ in _RECIPIENT}


@dataclass(frozen=True)
class PushedPlan:
    """One ShipBob order as the connector sent it, or as IFS now wants it."""

    recipient: dict[str, Any]
    shipping_method: str | None
    lines: tuple[LineRef, ...]

    @classmethod
    def of(cls, plan: ShipBobOrderPlan) -> PushedPlan:
        return cls(dict(plan.body.get("recipient") or {}), plan.body.get("shipping_method"),
                   tuple(plan.lines))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PushedPlan | None:
        """The plan an order binding stored; None for a binding made before
        plans were stored (its ShipBob order is compared field by field)."""
        if "recipient" not in data:
            return None
        return cls(dict(data["recipient"] or {}), data.get("shipping_method"),
                   tuple(LineRef.from_data(line) for line in data.get("lines") or []))

    def data(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "shipping_method": self.shipping_method,
                "lines": [asdict(line) for line in self.lines]}

    def quantities(self) -> dict[str, int]:
        """Units per SKU: what the shipment's line list must hold."""
        totals: Counter[str] = Counter()
        for line in self.lines:
            totals[line.sku] += int(line.quantity)
        return dict(totals)

    def line_facts(self) -> set[tuple[str, str, int, str, float]]:
        return {(ln.line_no, ln.rel_no, ln.line_item_no, ln.sku, ln.quantity) for ln in self.lines}


def pushed_facts(plan: ShipBobOrderPlan) -> dict[str, Any]:
    """What the push stores in a new order binding's data besides its keys."""
    return {**PushedPlan.of(plan).data(), IFS_CHANGED: plan.ifs_changed}


def at_shipbob(stored: PushedPlan | None, wanted: PushedPlan | None, applied: Edits) -> PushedPlan | None:
    """What the ShipBob order holds once the edits in `applied` went through:
    those fields as IFS wants them, the others as pushed before. None: not
    known (a binding made before plans were stored, partly edited)."""
    if wanted is None:
        if not applied.cancel:
            return stored
        return replace(stored, lines=()) if stored is not None else PushedPlan({}, None, ())
    if stored is None:
        return wanted if applied.address and applied.shipping_method and applied.lines else None
    return PushedPlan(wanted.recipient if applied.address else stored.recipient,
                      wanted.shipping_method if applied.shipping_method else stored.shipping_method,
                      wanted.lines if applied.lines else stored.lines)


def keep_line_ids(stored: PushedPlan | None, wanted: PushedPlan) -> PushedPlan:
    """`wanted` with each line that was pushed before keeping its
    external_line_id (the one on the ShipBob order); new lines numbered after."""
    known = {line.key: line.external_line_id for line in stored.lines} if stored else {}
    next_id = max(known.values(), default=0) + 1
    lines = []
    for line in wanted.lines:
        line_id = known.get(line.key)
        if line_id is None:
            line_id, next_id = next_id, next_id + 1
        lines.append(LineRef(line.line_no, line.rel_no, line.line_item_no, line.sku, line.quantity, line_id))
    return PushedPlan(wanted.recipient, wanted.shipping_method, tuple(lines))


@dataclass(frozen=True)
class Edits:
    """What IFS changed since the push, for one ShipBob order."""

    address: bool = False
    shipping_method: bool = False
    lines: bool = False
    cancel: bool = False  # no open line left: the shipment goes

    def __bool__(self) -> bool:
        return self.address or self.shipping_method or self.lines or self.cancel

    def names(self) -> list[str]:
        return [name for name in ("address", "shipping_method", "lines", "cancel") if getattr(self, name)]


def edits(stored: PushedPlan | None, wanted: PushedPlan | None) -> Edits:
    """What differs between the plan pushed (None: not stored) and the plan
    IFS wants now (None: nothing left to ship)."""
    if wanted is None:
        return Edits(cancel=stored is None or bool(stored.lines))
    if stored is None:
        return Edits(address=True, shipping_method=True, lines=True)
    return Edits(address=flat_recipient(stored.recipient) != flat_recipient(wanted.recipient),
                 shipping_method=stored.shipping_method != wanted.shipping_method,
                 lines=stored.line_facts() != wanted.line_facts())


@dataclass(frozen=True)
class ShipmentFacts:
    """A ShipBob shipment as far as an edit is concerned."""

    id: int
    status: str | None
    picked: bool  # picked or packed: the warehouse has it in hand
    address: dict[str, str | None]
    shipping_method: str | None
    quantities: dict[str, int]

    @property
    def live(self) -> bool:
        return self.status != CANCELLED

    @property
    def editable(self) -> bool:
        return str(self.status) in EDITABLE and not self.picked

    def stage(self) -> str:
        return "picked" if self.picked and str(self.status) in EDITABLE else str(self.status)


def shipment_facts(shipment: Mapping[str, Any]) -> ShipmentFacts:
    details = {str(d.get("name")) for d in shipment.get("status_details") or [] if isinstance(d, Mapping)}
    return ShipmentFacts(int(shipment["id"]), _text(shipment.get("status")), bool(details & _PICKED),
                         flat_recipient(shipment.get("recipient") or {}), _text(shipment.get("ship_option")),
                         shipped_quantities(dict(shipment)))


def differences(wanted: PushedPlan | None, shipment: ShipmentFacts, only: Edits | None = None) -> list[str]:
    """Each field and SKU on which the shipment differs from what IFS wants,
    with both values (`only`: just the fields IFS changed). `wanted` None:
    IFS has nothing left to ship, so every unit at ShipBob is a difference."""
    out: list[str] = []
    if wanted is not None and (only is None or only.address):
        ifs = flat_recipient(wanted.recipient)
        out += [f"{label}: IFS {ifs[name]!r}, ShipBob {shipment.address[name]!r}"
                for name, _part, label in _RECIPIENT if ifs[name] != shipment.address[name]]
    if wanted is not None and (only is None or only.shipping_method) \
            and wanted.shipping_method != shipment.shipping_method:
        out.append(f"shipping method: IFS {wanted.shipping_method!r}, ShipBob {shipment.shipping_method!r}")
    if wanted is None or only is None or only.lines or only.cancel:
        ifs_qty = wanted.quantities() if wanted is not None else {}
        for sku in sorted(set(ifs_qty) | set(shipment.quantities)):
            if ifs_qty.get(sku, 0) != shipment.quantities.get(sku, 0):
                out.append(f"SKU {sku}: IFS {ifs_qty.get(sku, 0)}, ShipBob {shipment.quantities.get(sku, 0)}")
    return out


def shipment_address(wanted: PushedPlan) -> ShipmentAddress:
    """The updateAddress body for what IFS wants (every field: None clears)."""
    r = flat_recipient(wanted.recipient)
    return ShipmentAddress(street_address1=r["address1"] or "", city=r["city"] or "",
                           street_address2=r["address2"], state=r["state"], zip_code=r["zip_code"],
                           country_code=r["country"], recipient_name=r["name"], email=r["email"],
                           phone_number=r["phone_number"])


def live_shipments(shipments: Iterable[Mapping[str, Any]]) -> list[ShipmentFacts]:
    """The shipments of a ShipBob order that are not cancelled, by id."""
    return sorted((f for f in map(shipment_facts, shipments) if f.live), key=lambda f: f.id)
