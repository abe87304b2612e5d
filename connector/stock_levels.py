"""ShipBob's fulfillable stock per SKU and fulfillment center, shared by the pool,
less what our own pushes have taken since it was read.

One `GET /inventory-level/locations` call reads up to 250 items, so the order poll
reads its batch's SKUs at once (`snapshots`, as the SKU warm-up does) and each push
finds them cached. A snapshot lives CACHE_SECONDS; a push that misses one reads its
own SKUs together with every SKU read recently, so one call serves the whole pool
again (the push stays at about one ShipBob call per order: bench/order_push.py).

ShipBob counts an order in `committed` once it exists, but a snapshot read before
that does not. So every push reserves what it takes, per ShipBob order reference, in
a ledger per SKU (`reserve`), confirms it once the order exists (`confirm`) or gives
it back (`release`); available = the snapshot's fulfillable less the reservations the
snapshot cannot contain yet. Two orders of one batch for the last 2 units: the
second sees 0. Snapshots and ledgers change under one pool-wide lock, so two
workers never both take the last units.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from connector.context import Context
from connector.shipbob.client import LEVELS_BATCH
from connector.shipbob.stock import ItemStock
from connector.sku_lookup import inventory_ids_for

CACHE_SECONDS = 120.0
# How long after an order exists ShipBob's levels may still leave it out: a
# reservation confirmed less than this before a read keeps counting against it.
# 0: the levels count an order once it exists, as the ShipBob sandbox does and as
# `committed_quantity` reads. ⚠ Third-party guidance says levels lag orders by about
# a minute; a margin here would double-count every order pushed in that minute (a
# false shortage, and a held order kept waiting for the next stock news), so none is
# kept until ShipBob's own documents say so.
LEVELS_LAG_SECONDS = 0.0
# A reservation whose push never confirmed nor released it (the worker died): the
# lease has long run out and its retry has reserved again by then.
UNCONFIRMED_SECONDS = 900.0
LEDGER_SECONDS = 3600.0
RECENT_SECONDS = 600.0
LOCK = "stock-ledger"
_SNAPSHOT, _LEDGER, _RECENT = "stock:", "stock-ledger:", "stock-recent"


@dataclass(frozen=True)
class CenterLevel:
    fulfillable: int
    on_hand: int
    committed: int


@dataclass(frozen=True)
class Snapshot:
    """One SKU's levels per fulfillment center, read at `read_at` (epoch seconds,
    when the call began)."""

    sku: str
    inventory_id: int
    read_at: float
    centers: Mapping[int, CenterLevel] = field(default_factory=dict)

    def fulfillable(self, center: int) -> int:
        level = self.centers.get(center)
        return level.fulfillable if level else 0

    def overcommitted(self, center: int) -> int:
        """Units committed at `center` beyond what is on hand there (0: none)."""
        level = self.centers.get(center)
        return max(0, level.committed - level.on_hand) if level else 0

    def to_json(self) -> str:
        return json.dumps({"inventory_id": self.inventory_id, "read_at": self.read_at, "centers": {
            str(fc): [c.fulfillable, c.on_hand, c.committed] for fc, c in self.centers.items()}})

    @classmethod
    def from_json(cls, sku: str, text: str) -> Snapshot:
        data = json.loads(text)
        return cls(sku, int(data["inventory_id"]), float(data["read_at"]),
                   {int(fc): CenterLevel(*map(int, v)) for fc, v in data["centers"].items()})

    @classmethod
    def of(cls, sku: str, inventory_id: int, read_at: float, stock: ItemStock | None) -> Snapshot:
        centers = {fc: CenterLevel(c.fulfillable, c.on_hand, c.committed)
                   for fc, c in (stock.centers.items() if stock else ())}
        return cls(sku, inventory_id, read_at, centers)


@dataclass(frozen=True)
class Need:
    """What one ShipBob order (`holder`, its reference) takes of a SKU at its center."""

    holder: str
    sku: str
    center: int
    quantity: int


@dataclass(frozen=True)
class Shortfall:
    holder: str
    sku: str
    center: int
    need: int
    available: int

    def as_data(self) -> dict[str, object]:
        return {"holder": self.holder, "sku": self.sku, "center": self.center, "need": self.need,
                "available": self.available}

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> Shortfall:
        return cls(str(data["holder"]), str(data["sku"]), _int(data["center"]), _int(data["need"]),
                   _int(data["available"]))


def _int(value: object) -> int:
    if isinstance(value, (int, float, str)):
        return int(value)
    raise ValueError(f"not a number: {value!r}")


# ----------------------------------------------------------------- snapshots

def snapshots(ctx: Context, skus: Iterable[str], fresh_after: float | None = None) -> dict[str, Snapshot]:
    """A snapshot per SKU ShipBob knows: cached ones, the rest (or those read before
    `fresh_after`) read in one call per 250 SKUs, with the recently read SKUs whose
    snapshots ran out added to the same call."""
    found: dict[str, Snapshot] = {}
    missing: list[str] = []
    for sku in sorted(set(skus)):
        cached = ctx.coordinator.cache_get(_SNAPSHOT + sku)
        snap = Snapshot.from_json(sku, cached) if cached else None
        if snap is None or (fresh_after is not None and snap.read_at < fresh_after):
            missing.append(sku)
        else:
            found[sku] = snap
    if missing:
        ids = inventory_ids_for(ctx, missing)
        room = max(0, LEVELS_BATCH - len(ids))
        extra = {sku: i for sku, i in _recent(ctx).items() if sku not in ids and sku not in found}
        for sku in list(extra)[:room]:
            ids[sku] = extra[sku]
        read = refresh(ctx, ids)
        found.update({sku: read[sku] for sku in missing if sku in read})
    return found


def refresh(ctx: Context, inventory_ids: Mapping[str, int]) -> dict[str, Snapshot]:
    """Read these SKUs' levels now (one call per 250) and share them."""
    if not inventory_ids:
        return {}
    read_at = time.time()
    levels = ctx.shipbob.fulfillable_levels(inventory_ids.values())
    read = {sku: Snapshot.of(sku, i, read_at, levels.get(i)) for sku, i in inventory_ids.items()}
    with ctx.coordinator.lock(LOCK):
        for sku, snap in read.items():
            ctx.coordinator.cache_set(_SNAPSHOT + sku, snap.to_json(), CACHE_SECONDS)
            ledger = _ledger(ctx, sku)
            kept = {h: r for h, r in ledger.items() if not _contained(r, read_at) and not _stale(r, read_at)}
            if kept != ledger:
                _save_ledger(ctx, sku, kept)
        _remember(ctx, {sku: snap.inventory_id for sku, snap in read.items()}, read_at)
    return read


def forget(ctx: Context, skus: Iterable[str]) -> None:
    """Drop these SKUs' snapshots: the next push reads ShipBob again."""
    for sku in set(skus):
        ctx.coordinator.cache_delete(_SNAPSHOT + sku)


def _recent(ctx: Context) -> dict[str, int]:
    """SKU -> inventory id of the SKUs read in the last RECENT_SECONDS, newest first."""
    text = ctx.coordinator.cache_get(_RECENT)
    entries: dict[str, list[float]] = json.loads(text) if text else {}
    newest = sorted(entries.items(), key=lambda item: -item[1][1])
    return {sku: int(inventory_id) for sku, (inventory_id, _at) in newest}


def _remember(ctx: Context, read: Mapping[str, int], at: float) -> None:
    text = ctx.coordinator.cache_get(_RECENT)
    entries: dict[str, list[float]] = json.loads(text) if text else {}
    entries.update({sku: [inventory_id, at] for sku, inventory_id in read.items()})
    fresh = sorted(((s, v) for s, v in entries.items() if v[1] >= at - RECENT_SECONDS),
                   key=lambda item: -item[1][1])[:LEVELS_BATCH]
    ctx.coordinator.cache_set(_RECENT, json.dumps(dict(fresh)), RECENT_SECONDS)


# --------------------------------------------------------------- reservations

@dataclass(frozen=True)
class _Reservation:
    center: int
    quantity: int
    at: float
    confirmed: float | None


def _contained(r: _Reservation, read_at: float) -> bool:
    """The order existed at ShipBob long enough before a read to be in it."""
    return r.confirmed is not None and r.confirmed < read_at - LEVELS_LAG_SECONDS


def _stale(r: _Reservation, now: float) -> bool:
    return r.confirmed is None and r.at < now - UNCONFIRMED_SECONDS


def _ledger(ctx: Context, sku: str) -> dict[str, _Reservation]:
    text = ctx.coordinator.cache_get(_LEDGER + sku)
    if not text:
        return {}
    return {holder: _Reservation(int(v["center"]), int(v["quantity"]), float(v["at"]),
                                 None if v.get("confirmed") is None else float(v["confirmed"]))
            for holder, v in json.loads(text).items()}


def _save_ledger(ctx: Context, sku: str, ledger: Mapping[str, _Reservation]) -> None:
    if not ledger:
        ctx.coordinator.cache_delete(_LEDGER + sku)
        return
    ctx.coordinator.cache_set(_LEDGER + sku, json.dumps({h: {
        "center": r.center, "quantity": r.quantity, "at": r.at, "confirmed": r.confirmed}
        for h, r in ledger.items()}), LEDGER_SECONDS)


def reserve(ctx: Context, needs: Sequence[Need], all_or_nothing: bool = False) -> list[Shortfall]:
    """Take `needs` against the shared stock, in order; returns those that exceed what
    is available. Each is reserved all the same (`release` gives them back), unless
    `all_or_nothing` and one is short: then none is, so an order that will not be
    pushed never makes another short meanwhile. A need reserved again (a retry)
    replaces its earlier reservation."""
    if not needs:
        return []
    read = snapshots(ctx, {n.sku for n in needs})
    now = time.time()
    short: list[Shortfall] = []
    with ctx.coordinator.lock(LOCK):
        ledgers: dict[str, dict[str, _Reservation]] = {}
        for need in needs:
            # Re-read inside the lock: a newer snapshot may have pruned the ledger.
            cached = ctx.coordinator.cache_get(_SNAPSHOT + need.sku)
            snap = Snapshot.from_json(need.sku, cached) if cached else read.get(need.sku)
            ledger = ledgers.setdefault(need.sku, {h: r for h, r in _ledger(ctx, need.sku).items()
                                                   if not _stale(r, now)})
            ledger.pop(need.holder, None)
            available = 0
            if snap is not None:
                taken = sum(r.quantity for r in ledger.values()
                            if r.center == need.center and not _contained(r, snap.read_at))
                available = snap.fulfillable(need.center) - taken
            if need.quantity > available:
                short.append(Shortfall(need.holder, need.sku, need.center, need.quantity, max(0, available)))
            ledger[need.holder] = _Reservation(need.center, need.quantity, now, None)
        if short and all_or_nothing:  # nor does it keep what an earlier try reserved
            holders = {n.holder for n in needs}
            ledgers = {sku: {h: r for h, r in ledger.items() if h not in holders}
                       for sku, ledger in ledgers.items()}
        for sku, ledger in ledgers.items():
            _save_ledger(ctx, sku, ledger)
    return short


def confirm(ctx: Context, needs: Sequence[Need]) -> None:
    """These orders exist at ShipBob now: their reservations count until a read
    contains them."""
    _settle(ctx, needs, keep=True)


def release(ctx: Context, needs: Sequence[Need]) -> None:
    """These orders were not created: give their units back."""
    _settle(ctx, needs, keep=False)


def _settle(ctx: Context, needs: Sequence[Need], keep: bool) -> None:
    if not needs:
        return
    now = time.time()
    with ctx.coordinator.lock(LOCK):
        for sku in sorted({n.sku for n in needs}):
            ledger = _ledger(ctx, sku)
            for need in (n for n in needs if n.sku == sku):
                found = ledger.pop(need.holder, None)
                if keep:
                    ledger[need.holder] = _Reservation(need.center, need.quantity,
                                                       found.at if found else now, now)
            _save_ledger(ctx, sku, ledger)
