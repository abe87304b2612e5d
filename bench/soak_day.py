"""The soak's day and its trouble (bench/soak.py).

`Day` plays the merchant and the warehouse over HTTP, as people would: new
IFS orders and purchase orders arrive in waves; the warehouse ships what
ShipBob holds (splitting some into 2-3 shipments, some labels without
tracking that is added later, a few orders cancelled), delivers a share,
receives customer returns of every kind, stows purchase-order WROs in parts
(splitting some) and stows the inventory sync's own WROs. It records what it
did, so the scorecard can check the connector against the warehouse's own
account rather than against the connector's.

`Chaos` is the trouble: SIGKILL of a random worker every few seconds (and a
restart shortly after), one Redis restart without persistence, one
PostgreSQL restart, ShipBob 429 bursts, 5xx and expired OAuth tokens, IFS
stale ETags, MI_MODIFIED_ERROR, 5xx, 429, lost responses and slow responses.
The webhook faults (duplicates, reordering, delay, loss, bad signatures) are
switched on for the whole fault phase.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import signal
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import requests
from soak_hooks import hook, ifs_rows
from soak_life import Life

from connector.flows.replenishment import base_po
from sandbox.warehouse import Warehouse

PARKED_RETURN_KINDS = ("no-shipment", "foreign-shipment")
RETURN_KINDS = ["full-restock", "partial-quarantine", "mixed-actions", "dispose", "cancelled",
                "other-fc-restock", "two-partials"]
ACTIONS = ("Restock", "Quarantine", "Dispose")


def shipbob_api(url: str, method: str, path: str, body: dict | None = None):
    """The merchant's own calls (PAT). They meet the injected 429s and 5xx too, which
    answer before anything is done, so retrying them is safe."""
    for _attempt in range(30):
        response = requests.request(method, f"{url}/2026-01/{path}", json=body, timeout=60,
                                    headers={"Authorization": "Bearer sandbox-pat",
                                             "shipbob_channel_id": "128944"})
        if response.status_code not in (429, 500, 502, 503):
            break
        time.sleep(min(2.0, float(response.headers.get("x-retry-after") or 0.5)))
    response.raise_for_status()
    return response.json() if response.content else None


@dataclass
class ReturnPlan:
    kind: str
    shipment_id: int | None
    order_id: int | None
    fc_id: int
    items: list[dict]                        # [{"id": inventory_id, "quantity": q, "sku": s}]
    actions: list[dict]                      # what the warehouse will do on completion
    expected: dict[tuple[str, str], int]     # (sku, action) -> units, for the RMA
    return_id: int | None = None
    stage: str = "planned"                   # planned, created, arrived, processing, done
    due: float = 0.0
    reference: str = ""


@dataclass
class DayRecord:
    """What the warehouse and the merchant did (the scorecard's expectations)."""

    orders_created: list[str] = field(default_factory=list)   # IFS OrderNos from waves
    pos_created: list[str] = field(default_factory=list)
    shipped_orders: set[int] = field(default_factory=set)
    cancelled_orders: set[int] = field(default_factory=set)
    late_tracking: set[int] = field(default_factory=set)       # shipment ids
    delivered: set[int] = field(default_factory=set)
    returns: dict[int, ReturnPlan] = field(default_factory=dict)
    unknown_shipment_returns: set[int] = field(default_factory=set)   # parked by design
    completed_webhook_lost: set[int] = field(default_factory=set)     # return.completed dropped on purpose
    stow_rounds: Counter = field(default_factory=Counter)      # PO -> rounds done
    split_wros: int = 0
    split_off_wros: set[int] = field(default_factory=set)       # WROs the warehouse split off, not the connector's
    invsync_wros_stowed: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


class Day(threading.Thread):
    """The merchant and the warehouse, one step every `tick` seconds."""

    def __init__(self, ifs_url: str, shipbob_url: str, profile, rng: random.Random,
                 parked_order_nos: set[str], say, update_parked, tick: float = 1.5):
        super().__init__(name="soak-day", daemon=True)
        self.ifs, self.sb, self.profile, self.rng = ifs_url, shipbob_url, profile, rng
        self.warehouse = Warehouse(shipbob_url, rng)
        self.parked_order_nos = parked_order_nos
        self.say = say
        self.tick = tick
        self.record = DayRecord()
        self.stop_event = threading.Event()
        self.started_at = 0.0
        self.waves: list[tuple[float, int]] = []
        self.po_waves: list[tuple[float, int]] = []
        self._seen_orders: set[int] = set()
        self._seen_shipments: set[int] = set()
        self._deliver_due: dict[int, float] = {}
        self._tracking_due: dict[int, float] = {}
        self._return_candidates: list[tuple[float, dict]] = []
        self._po_due: dict[str, float] = {}
        self._invsync_due: dict[int, float] = {}
        self._inventory_ids: dict[str, int] = {}
        self._parts: list[str] = []
        self._customers: list[str] = []
        self._kind_index = 0
        self._unknown_done = False
        self.foreign_shipment: dict | None = None
        # Set by the soak while the fault phase runs; guards the webhook fault switches.
        self.faults_on = False
        self.webhook_lock = threading.Lock()
        self._completions = 0
        self.ifs_pos: set[str] = set()
        self.lock = threading.Lock()
        self.life = Life(ifs_url, shipbob_url, self._ship_held, update_parked)
        self._short_placed = False

    # -- plan ------------------------------------------------------------------------

    def plan(self, wave_orders: int, wave_span: float, late_pos: int) -> None:
        """Spread `wave_orders` new IFS orders over `wave_span` seconds of the
        fault phase, and `late_pos` purchase orders over its middle."""
        n_waves = max(1, min(10, wave_orders // 10))
        per = [wave_orders // n_waves + (1 if i < wave_orders % n_waves else 0) for i in range(n_waves)]
        self.waves = [(wave_span * (i + 1) / (n_waves + 1), n) for i, n in enumerate(per) if n]
        self.po_waves = [(wave_span * (0.3 + 0.4 * i / max(1, late_pos)), 1) for i in range(late_pos)]
        parts = {row["PartNo"] for row in ifs_rows(self.ifs, "CustomerOrderLineSet")}
        self._parts = sorted(p for p in parts if p.startswith("P0"))
        self._customers = sorted({row["CustomerNo"] for row in ifs_rows(self.ifs, "CustomerOrderSet")})
        self.ifs_pos = {po["OrderNo"] for po in ifs_rows(self.ifs, "PurchaseOrderSet")
                        if po["Objstate"] == "Released"}
        self._inventory_ids = {row["sku"]: row["inventory_id"]
                               for row in hook(self.sb, "dump/inventory", method="GET")}
        self.foreign_shipment = self._foreign_shipment()

    def _foreign_shipment(self) -> dict:
        """A shipment of an order placed at ShipBob directly (a web shop), not from IFS."""
        sku = self._parts[0]
        order = shipbob_api(self.sb, "POST", "order", {
            "reference_id": "WEBSHOP-SOAK-1", "type": "DTC", "shipping_method": "Standard", "location_id": 156,
            "recipient": {"name": "Web Shop", "address": {"address1": "1 Main St", "city": "Chicago", "state": "IL",
                                                          "zip_code": "60601", "country": "US"}},
            "products": [{"reference_id": sku, "quantity": 1, "name": sku}]})
        hook(self.sb, f"orders/{order['id']}/ship", {"with_tracking": True})
        return next(s for s in hook(self.sb, "dump/shipments", method="GET") if s["order_id"] == order["id"])

    # -- the thread ------------------------------------------------------------------

    def run(self) -> None:
        self.started_at = time.monotonic()
        while not self.stop_event.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - a hiccup of ours must not end the day
                self.record.errors.append(f"{type(exc).__name__}: {exc}")
                if len(self.record.errors) <= 3:
                    self.say(f"day: step failed ({type(exc).__name__}: {exc}); carrying on")
                    traceback.print_exc()
            self.stop_event.wait(self.tick)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=60)

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self.started_at else 0.0

    def step(self) -> None:
        now = time.monotonic()
        self._merchant(now)
        orders = hook(self.sb, "dump/orders", method="GET")
        self._ship_or_cancel(orders)
        self.life.step(orders)
        shipments = hook(self.sb, "dump/shipments", method="GET")
        self._after_shipping(shipments, now)
        self._returns(now)
        self._receiving(now)

    # -- the merchant: orders and purchase orders arrive -----------------------------

    def _merchant(self, now: float) -> None:
        t = now - self.started_at
        while self.waves and self.waves[0][0] <= t:
            _, count = self.waves.pop(0)
            self._new_orders(count)
            if not self._short_placed:  # more units than ShipBob holds: a shortage
                self.life.place_short_order(self._customers[0])
                self._short_placed = True
        while self.po_waves and self.po_waves[0][0] <= t:
            self.po_waves.pop(0)
            self._new_purchase_order()

    def _new_orders(self, count: int) -> None:
        orders = []
        for _ in range(count):
            site = self.rng.choice(["S01", "S02"])
            n_lines = self.rng.choice([1, 1, 1, 2, 2, 3, 4])
            parts = self.rng.sample(self._parts, n_lines)
            split = n_lines > 1 and self.rng.random() < 0.15
            other = "S02" if site == "S01" else "S01"
            lines = [{"PartNo": p, "BuyQtyDue": self.rng.choice([1, 1, 1, 2, 2, 3]),
                      **({"Contract": other} if split and i == n_lines - 1 else {})}
                     for i, p in enumerate(parts)]
            orders.append({"Contract": site, "CustomerNo": self.rng.choice(self._customers),
                           "ShipViaCode": self.rng.choice(["UPS-GND", "UPS-GND", "UPS-2DAY", "FDX-ON"]),
                           "lines": lines})
        created = hook(self.ifs, "orders", {"orders": orders})["orders"]
        with self.lock:
            self.record.orders_created += [o["OrderNo"] for o in created]

    def _new_purchase_order(self) -> None:
        parts = self.rng.sample(self._parts, self.rng.randint(1, 3))
        site = "S01" if len(self.record.pos_created) % 2 == 0 else "S02"
        [po] = hook(self.ifs, "purchase_orders", {"purchase_orders": [{
            "Contract": site, "WantedReceiptDate": "2030-03-01",
            "lines": [{"PartNo": p, "BuyQtyDue": 12 * self.rng.randint(1, 6)} for p in parts]}]})["purchase_orders"]
        with self.lock:
            self.record.pos_created.append(po["OrderNo"])
            self.ifs_pos.add(po["OrderNo"])

    # -- the warehouse: shipping -------------------------------------------------------

    def _ship_or_cancel(self, orders: list[dict]) -> None:
        for order in orders:
            if order["id"] in self._seen_orders or order["status"] != "Processing":
                continue
            if not any(t.get("name") == "ifs_order_no" for t in order.get("tags") or []):
                continue  # not one of ours (the foreign order of the returns)
            self._seen_orders.add(order["id"])
            order_no = next(t["value"] for t in order["tags"] if t.get("name") == "ifs_order_no")
            if self.life.hold(order, order_no):
                continue  # shipped by Life once its change is at ShipBob
            # At least one cancellation a day (from the tenth order on, until one
            # lands), whatever the dice say: the scorecard checks the flow each run.
            first_due = not self.record.cancelled_orders and len(self._seen_orders) >= 10
            if first_due or self.rng.random() < self.profile.cancel_rate:
                try:
                    shipbob_api(self.sb, "POST", f"order/{order['id']}:cancel")
                    self.record.cancelled_orders.add(order["id"])
                    continue
                except requests.HTTPError as exc:
                    self.record.errors.append(f"cancel {order['id']}: {exc}")
            units = [(p["reference_id"], p["quantity"]) for p in order["products"]]
            parts = min(len(units), self.rng.choice([1, 1, 1, 2, 3]))
            groups = [units[i::parts] for i in range(parts)]
            with_tracking = self.rng.random() >= self.profile.late_tracking_rate
            hook(self.sb, f"orders/{order['id']}/ship", {
                "shipments": [[{"sku": s, "quantity": q} for s, q in g] for g in groups],
                "with_tracking": with_tracking})
            self.record.shipped_orders.add(order["id"])

    def _ship_held(self, order_id: int) -> None:
        hook(self.sb, f"orders/{order_id}/ship", {"with_tracking": True})
        self.record.shipped_orders.add(order_id)

    def _after_shipping(self, shipments: list[dict], now: float) -> None:
        for shipment in shipments:
            if shipment["status"] != "Completed" or shipment["id"] in self._seen_shipments:
                continue
            if shipment["order_id"] not in self.record.shipped_orders:
                continue  # the web shop's own order
            self._seen_shipments.add(shipment["id"])
            if not (shipment.get("tracking") or {}).get("tracking_number"):
                self._tracking_due[shipment["id"]] = now + self.rng.uniform(2, 8)
            if self.rng.random() < self.profile.deliver_rate:
                self._deliver_due[shipment["id"]] = now + self.rng.uniform(2, 12)
            if self.rng.random() < self.profile.return_rate:
                self._return_candidates.append((now + self.rng.uniform(3, 15), shipment))
            if not self._unknown_done:
                self._unknown_done = True
                self._return_candidates.append((now + 2, {**shipment, "_special": "no-shipment"}))
                self._return_candidates.append((now + 3, {**self.foreign_shipment, "_special": "foreign-shipment"}))
        for sid, due in list(self._tracking_due.items()):
            if due <= now:
                hook(self.sb, f"shipments/{sid}/tracking", {
                    "carrier": "UPS", "carrier_service": "Ground", "tracking_number": f"1Z{sid:016d}",
                    "tracking_url": f"https://www.ups.com/track?tracknum=1Z{sid:016d}"})
                self.record.late_tracking.add(sid)
                del self._tracking_due[sid]
        for sid, due in list(self._deliver_due.items()):
            if due <= now and sid not in self._tracking_due:
                hook(self.sb, f"shipments/{sid}/deliver")
                self.record.delivered.add(sid)
                del self._deliver_due[sid]

    # -- the warehouse: customer returns -------------------------------------------------

    def _returns(self, now: float) -> None:
        for due, shipment in list(self._return_candidates):
            if due > now:
                continue
            self._return_candidates.remove((due, shipment))
            for plan in self._plan_returns(shipment):
                self._create_return(plan, now)
        for plan in list(self.record.returns.values()):
            if plan.stage in ("done", "planned") or plan.due > now:
                continue
            self._advance_return(plan, now)

    def _plan_returns(self, shipment: dict) -> list[ReturnPlan]:
        items = [{"id": self._inventory_ids[p["reference_id"]], "sku": p["reference_id"],
                  "quantity": sum(i["quantity"] for i in p["inventory_items"])}
                 for p in shipment["products"]]
        fc = shipment["location"]["id"]
        special = shipment.get("_special")
        if special:  # parked by design: nothing to link the return to
            item = {**items[0], "quantity": 1}
            return [ReturnPlan(special, shipment["id"] if special == "foreign-shipment" else None, None, fc, [item],
                               [{"inventory_id": item["id"], "action": "Restock", "quantity_processed": 1}], {})]
        kind = RETURN_KINDS[self._kind_index % len(RETURN_KINDS)]
        self._kind_index += 1
        base = dict(shipment_id=shipment["id"], order_id=shipment["order_id"], fc_id=fc)
        if kind == "two-partials":
            item = next((i for i in items if i["quantity"] >= 2), None)
            if item is None:
                kind = "full-restock"
            else:
                return [self._simple(kind, base, [{**item, "quantity": 1}], "Restock"),
                        self._simple(kind, base, [{**item, "quantity": 1}], "Dispose")]
        if kind == "partial-quarantine":
            first = items[0]
            return [self._simple(kind, base, [{**first, "quantity": max(1, first["quantity"] // 2)}], "Quarantine")]
        if kind == "mixed-actions":
            actions, expected = [], Counter()
            for n, item in enumerate(items):
                q = item["quantity"]
                split = ([1, 1, q - 2] if q >= 3 else [1, 1] if q == 2 else [1])
                names = list(ACTIONS) if q >= 3 else (["Restock", "Dispose"] if q == 2 else [ACTIONS[n % 3]])
                for qty, action in zip(split, names):
                    actions.append({"inventory_id": item["id"], "action": action, "quantity_processed": qty})
                    expected[(item["sku"], action)] += qty
            return [ReturnPlan(kind, **base, items=items, actions=actions, expected=dict(expected))]
        if kind == "dispose":
            return [self._simple(kind, base, items, "Dispose")]
        if kind == "other-fc-restock":
            other = 157 if fc == 156 else 156
            return [self._simple(kind, {**base, "fc_id": other}, items, "Restock")]
        if kind == "cancelled":
            return [ReturnPlan(kind, **base, items=items, actions=[], expected={})]
        return [self._simple(kind, base, items, "Restock")]

    @staticmethod
    def _simple(kind: str, base: dict, items: list[dict], action: str) -> ReturnPlan:
        actions = [{"inventory_id": i["id"], "action": action, "quantity_processed": i["quantity"]} for i in items]
        expected = Counter()
        for i in items:
            expected[(i["sku"], action)] += i["quantity"]
        return ReturnPlan(kind, **base, items=items, actions=actions, expected=dict(expected))

    def _create_return(self, plan: ReturnPlan, now: float) -> None:
        n = len(self.record.returns) + 1
        plan.reference = f"RMA-SOAK-{n:04d}"
        body = {"reference_id": plan.reference, "fulfillment_center": {"id": plan.fc_id},
                "inventory": [{"id": i["id"], "quantity": i["quantity"], "requested_action": "Default"}
                              for i in plan.items],
                **({"original_shipment_id": plan.shipment_id} if plan.shipment_id else {})}
        created = shipbob_api(self.sb, "POST", "return", body)
        plan.return_id = created["id"]
        plan.stage, plan.due = "created", now + self.rng.uniform(1, 5)
        with self.lock:
            self.record.returns[plan.return_id] = plan
            if plan.kind in PARKED_RETURN_KINDS:
                self.record.unknown_shipment_returns.add(plan.return_id)

    def _advance_return(self, plan: ReturnPlan, now: float) -> None:
        rid = plan.return_id
        if plan.kind == "cancelled":
            shipbob_api(self.sb, "POST", f"return/{rid}:cancel")
            plan.stage = "done"
            return
        if plan.stage == "created":
            hook(self.sb, f"returns/{rid}/advance", {"status": "Arrived"})
            plan.stage = "arrived"
        elif plan.stage == "arrived":
            hook(self.sb, f"returns/{rid}/advance", {"status": "Processing"})
            plan.stage = "processing"
        else:
            self._completions += 1
            with self.webhook_lock:
                # Every 4th return completed under faults loses its return.completed for sure
                # (on top of the random drops): only the returns poll can find it.
                lose = self.faults_on and self._completions % 4 == 0 and plan.kind not in PARKED_RETURN_KINDS
                if lose:
                    hook(self.sb, "faults", {"webhooks": {"drop_rate": 1.0}})
                try:
                    hook(self.sb, f"returns/{rid}/advance", {"status": "Completed", "actions": plan.actions})
                finally:
                    if lose:
                        hook(self.sb, "faults", {"webhooks": {"drop_rate": WEBHOOK_FAULTS["drop_rate"]}})
            if lose:
                self.record.completed_webhook_lost.add(rid)
            plan.stage = "done"
        plan.due = now + self.rng.uniform(1, 5)

    # -- the warehouse: receiving ----------------------------------------------------------

    def _receiving(self, now: float) -> None:
        wros = hook(self.sb, "dump/receiving", method="GET")
        by_po: dict[str, list[dict]] = defaultdict(list)
        for wro in wros:
            number = wro.get("purchase_order_number") or ""
            if number.startswith("INVSYNC-"):
                if wro["id"] in self.record.invsync_wros_stowed or wro["status"] in ("Completed", "Cancelled"):
                    continue
                due = self._invsync_due.setdefault(wro["id"], now + self.rng.uniform(2, 6))
                if due <= now:
                    self.warehouse.receive(wro)
                    self.record.invsync_wros_stowed.add(wro["id"])
                continue
            by_po[base_po(number)].append(wro)
        for po in sorted(self.ifs_pos):
            its = by_po.get(po)
            if not its:
                continue
            rounds = self.record.stow_rounds[po]
            if self.life.record.po_raised is None:  # a buyer adds units: a further WRO follows
                self.life.raise_po_line(po)
            if rounds >= 2:
                continue
            due = self._po_due.setdefault(po, now + self.rng.uniform(2, 6))
            if due > now:
                continue
            split = rounds == 0 and sorted(self.ifs_pos).index(po) % 2 == 0
            for wro in its:
                if wro["status"] not in ("Completed", "Cancelled"):
                    touched = self.warehouse.receive(wro, 0.5 if rounds == 0 else 1.0, split=split)
                    if split and touched:
                        self.record.split_off_wros |= {w["id"] for w in touched["wros"] if w["id"] != wro["id"]}
            self.record.split_wros += int(split)
            self.record.stow_rounds[po] += 1
            self._po_due[po] = now + self.rng.uniform(6, 12)

    # -- done? ---------------------------------------------------------------------------

    def outstanding(self, expected_shipbob_orders: int | None) -> list[str]:
        """What the day still has to do (empty = its script is played out)."""
        left = []
        if self.waves or self.po_waves:
            left.append(f"{len(self.waves)} order wave(s), {len(self.po_waves)} purchase order(s) to come")
        seen = len(self._seen_orders)
        if expected_shipbob_orders is not None and seen < expected_shipbob_orders:
            left.append(f"{expected_shipbob_orders - seen} ShipBob order(s) not shipped yet")
        held = self.life.held()
        if held:
            left.append(f"held order(s) {', '.join(held)}: their IFS change not at ShipBob yet")
        if self._tracking_due or self._deliver_due:
            left.append(f"{len(self._tracking_due)} tracking / {len(self._deliver_due)} deliveries to do")
        open_returns = len(self._return_candidates) + sum(
            1 for p in self.record.returns.values() if p.stage != "done")
        if open_returns:
            left.append(f"{open_returns} return(s) in progress")
        waiting_pos = [po for po in self.ifs_pos if self.record.stow_rounds[po] < 2]
        if waiting_pos:
            left.append(f"{len(waiting_pos)} purchase order(s) not fully stowed")
        invsync_open = [w for w in self._invsync_due if w not in self.record.invsync_wros_stowed]
        if invsync_open:
            left.append(f"{len(invsync_open)} inventory-sync WRO(s) to stow")
        return left


# ---------------------------------------------------------------------------- chaos

@dataclass
class ChaosRecord:
    kills: list[tuple[float, str]] = field(default_factory=list)
    worker_starts: int = 0
    unexpected_exits: list[tuple[float, str, int | None]] = field(default_factory=list)
    redis_restarts: list[tuple[float, float]] = field(default_factory=list)     # (at, seconds down)
    postgres_restarts: list[tuple[float, float]] = field(default_factory=list)
    shipbob_faults: Counter = field(default_factory=Counter)   # requested: kind -> count
    neighbour_calls: int = 0      # calls of the other installation sharing the rate limit
    neighbour_429s: int = 0
    ifs_faults: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


WEBHOOK_FAULTS = {"duplicate_rate": 0.25, "shuffle": 3, "delay_seconds": 0.5, "drop_rate": 0.1,
                  "bad_signature_rate": 0.03}
IFS_OFF = {"mi_modified": 0, "unavailable": 0, "too_many": 0, "stale_etag": 0, "lost_response": 0,
           "latency_ms": 0, "error_rate": 0}


class Chaos(threading.Thread):
    """Injects the faults of the fault phase; `stop()` ends them all."""

    def __init__(self, stack, services, workers: list[str], start_worker, profile, rng: random.Random,
                 say, proc_lock: threading.Lock, day: Day):
        super().__init__(name="soak-chaos", daemon=True)
        self.stack, self.services, self.workers = stack, services, workers
        self.start_worker = start_worker
        self.profile, self.rng, self.say = profile, rng, say
        self.proc_lock = proc_lock
        self.day = day
        self.record = ChaosRecord()
        self.stop_event = threading.Event()
        self.down: dict[str, float] = {}   # killed worker -> when to start it again
        self.spared: set[str] = set()      # frozen by the stalls: not to be killed meanwhile
        self.started_at = 0.0

    def t(self) -> float:
        return time.monotonic() - self.started_at

    def run(self) -> None:
        self.started_at = time.monotonic()
        p, rng = self.profile, self.rng
        next_kill = self.started_at + rng.uniform(*p.kill_every)
        next_sb = self.started_at + rng.uniform(2, 6)
        next_ifs = self.started_at + rng.uniform(2, 6)
        redis_at = self.started_at + p.redis_restart_at
        pg_at = self.started_at + p.postgres_restart_at
        neighbours = [self.started_at + at for at in p.neighbour_bursts_at]
        latency_until = 0.0
        try:
            with self.day.webhook_lock:
                hook(self.stack.shipbob.url, "faults", {"webhooks": WEBHOOK_FAULTS})
                self.day.faults_on = True
            hook(self.stack.ifs.url, "faults", {"error_rate": p.ifs_error_rate})
        except Exception as exc:  # noqa: BLE001
            self.record.errors.append(f"switching faults on: {exc}")
        while not self.stop_event.wait(0.2):
            now = time.monotonic()
            try:
                self._restart_due(now)
                if now >= next_kill:
                    self._kill_one(now)
                    next_kill = now + rng.uniform(*p.kill_every)
                if redis_at and now >= redis_at:
                    redis_at = 0
                    self.say("chaos: restarting Redis without persistence (everything queued is lost)")
                    down = self.services.redis.restart(down_seconds=rng.uniform(1, 3))
                    self.record.redis_restarts.append((self.t(), down))
                    self.say(f"chaos: Redis back after {down:.1f}s, empty")
                if pg_at and now >= pg_at:
                    pg_at = 0
                    self.say("chaos: restarting PostgreSQL (fast shutdown: every session cut)")
                    down = self.services.postgres.restart(down_seconds=rng.uniform(1, 3))
                    self.record.postgres_restarts.append((self.t(), down))
                    self.say(f"chaos: PostgreSQL back after {down:.1f}s")
                if neighbours and now >= neighbours[0]:
                    neighbours.pop(0)
                    self._neighbour_burst(p.neighbour_burst_seconds)
                if now >= next_sb:
                    self._shipbob_fault()
                    next_sb = now + rng.uniform(*p.shipbob_fault_every)
                if now >= next_ifs:
                    latency_until = self._ifs_fault(now, latency_until)
                    next_ifs = now + rng.uniform(*p.ifs_fault_every)
                if latency_until and now >= latency_until:
                    hook(self.stack.ifs.url, "faults", {"latency_ms": 0})
                    latency_until = 0.0
            except Exception as exc:  # noqa: BLE001 - keep the trouble coming
                self.record.errors.append(f"{type(exc).__name__}: {exc}")
                if len(self.record.errors) <= 3:
                    self.say(f"chaos: step failed ({type(exc).__name__}: {exc})")

    def _neighbour_token(self) -> str:
        """An access token for the same ShipBob user and application as the
        connector's, by its own authorization-code grant (the connector's
        refresh token is not touched)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        redirect = "http://127.0.0.1/soak-neighbour"
        code = hook(self.stack.shipbob.url, "oauth/code", {"redirect_uri": redirect, "code_challenge": challenge})["code"]
        response = requests.post(f"{self.stack.shipbob.url}/connect/token", timeout=30, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier,
            "client_id": "sb-client", "client_secret": "sb-secret"})
        response.raise_for_status()
        return response.json()["access_token"]

    def _neighbour_burst(self, seconds: float) -> None:
        """Another installation on the same ShipBob user and application (the
        limit is per user + application) takes what the window has left, up to
        a third of the limit, within `seconds`: the connector meets the
        sandbox's own 429s, not injected ones. (Those calls stay in the sliding
        window for a minute, so the pool runs slower for that long.)"""
        budget = self.profile.shipbob_rate_limit // 3
        self.say(f"chaos: a neighbour on the same ShipBob app takes up to {budget} calls of the rate limit "
                 f"within {seconds:.0f}s")
        token = self._neighbour_token()
        end = time.monotonic() + seconds
        start_calls = self.record.neighbour_calls
        while (time.monotonic() < end and not self.stop_event.is_set()
               and self.record.neighbour_calls - start_calls < budget):
            response = requests.get(f"{self.stack.shipbob.url}/2026-01/fulfillment-center", timeout=30,
                                    headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 401:
                token = self._neighbour_token()
            elif response.status_code == 429:
                self.record.neighbour_429s += 1
                time.sleep(min(0.25, max(0.0, end - time.monotonic())))
            elif response.status_code < 400:
                self.record.neighbour_calls += 1
        self.record.shipbob_faults["neighbour burst"] += 1

    def _kill_one(self, now: float) -> None:
        with self.proc_lock:
            alive = [w for w in self.workers if w not in self.down and w not in self.spared
                     and (proc := self.stack.processes.get(w)) is not None and proc.poll() is None]
            if len(alive) <= 1 + len(self.spared):  # a frozen worker does no work either
                return
            victim = self.rng.choice(alive)
            self.stack.stop_process(victim, signal.SIGKILL)
        self.record.kills.append((self.t(), victim))
        self.down[victim] = now + self.rng.uniform(*self.profile.restart_after)

    def kill_worker(self, name: str) -> None:
        """SIGKILL one given worker (a stall's), restarted like the others."""
        with self.proc_lock:
            self.stack.stop_process(name, signal.SIGKILL)
        self.record.kills.append((self.t(), name))
        self.down[name] = time.monotonic() + self.rng.uniform(*self.profile.restart_after)

    def _restart_due(self, now: float) -> None:
        for name, due in list(self.down.items()):
            if due <= now:
                with self.proc_lock:
                    self.start_worker(name)
                self.record.worker_starts += 1
                del self.down[name]

    def _shipbob_fault(self) -> None:
        kind = self.rng.choice(["429", "429", "5xx", "5xx", "expire_tokens"])
        if kind == "429":
            body = {"too_many": self.rng.randint(5, 15), "retry_after": self.rng.randint(1, 2)}
            self.record.shipbob_faults["429 burst"] += 1
        elif kind == "5xx":
            body = {"server_errors": self.rng.randint(3, 8)}
            self.record.shipbob_faults["5xx burst"] += 1
        else:
            body = {"expire_tokens": True}
            self.record.shipbob_faults["expire tokens"] += 1
        hook(self.stack.shipbob.url, "faults", body)

    def _ifs_fault(self, now: float, latency_until: float) -> float:
        kind = self.rng.choice(["stale_etag", "mi_modified", "unavailable", "too_many",
                                "lost_response", "latency"])
        if kind == "latency":
            hook(self.stack.ifs.url, "faults", {"latency_ms": self.rng.choice([50, 100, 200])})
            self.record.ifs_faults["latency window"] += 1
            return now + self.rng.uniform(3, 8)
        count = {"stale_etag": (2, 6), "mi_modified": (2, 6), "unavailable": (2, 5),
                 "too_many": (1, 4), "lost_response": (1, 2)}[kind]
        hook(self.stack.ifs.url, "faults", {kind: self.rng.randint(*count)})
        self.record.ifs_faults[kind] += 1
        return latency_until

    def stop(self) -> None:
        """End the trouble: faults off, every killed worker started again."""
        self.stop_event.set()
        self.join(timeout=60)
        for name in list(self.down):
            with self.proc_lock:
                self.start_worker(name)
            self.record.worker_starts += 1
            del self.down[name]
        with self.day.webhook_lock:
            self.day.faults_on = False
            hook(self.stack.shipbob.url, "faults", {"clear": True})
        hook(self.stack.ifs.url, "faults", IFS_OFF)
