"""Warehouse activity at the ShipBob sandbox, as the demo and the soak drive it:
ship (with splits), deliver, cancel, returns, receiving. All through the
sandbox's public API and `/_sandbox` hooks over HTTP.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import requests

SHIPPED = "Completed"


@dataclass
class Warehouse:
    url: str
    rng: random.Random
    pat: str = "sandbox-pat"
    channel_id: int = 128944

    def hook(self, path: str, body: dict | None = None, method: str = "POST"):
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def api(self, method: str, path: str, body: dict | None = None):
        response = requests.request(
            method, f"{self.url}/2026-01/{path}", json=body, timeout=60,
            headers={"Authorization": f"Bearer {self.pat}", "shipbob_channel_id": str(self.channel_id)})
        response.raise_for_status()
        return response.json() if response.content else None

    def orders(self) -> list[dict]:
        return self.hook("dump/orders", method="GET")

    def shipments(self) -> list[dict]:
        return self.hook("dump/shipments", method="GET")

    def ship(self, order: dict, max_parts: int = 3, with_tracking: bool = True) -> None:
        """Ship one order, split into up to `max_parts` shipments."""
        units = [(p["reference_id"], p["quantity"]) for p in order["products"]]
        parts = min(len(units), max_parts, self.rng.choice([1, 1, 1, 2, 3]))
        groups = [units[i::parts] for i in range(parts)]
        self.hook(f"orders/{order['id']}/ship", {
            "shipments": [[{"sku": s, "quantity": q} for s, q in g] for g in groups],
            "with_tracking": with_tracking})

    def add_tracking(self, shipment_id: int) -> None:
        self.hook(f"shipments/{shipment_id}/tracking", {
            "carrier": "UPS", "carrier_service": "Ground",
            "tracking_number": f"1Z{shipment_id:016d}",
            "tracking_url": f"https://www.ups.com/track?tracknum=1Z{shipment_id:016d}"})

    def deliver(self, shipment_id: int) -> None:
        self.hook(f"shipments/{shipment_id}/deliver")

    def cancel(self, order_id: int) -> None:
        self.api("POST", f"order/{order_id}:cancel")

    def inventory_ids(self) -> dict[str, int]:
        return {row["sku"]: row["inventory_id"] for row in self.hook("dump/inventory", method="GET")}

    def start_return(self, shipment: dict, fc_id: int, reference: str, partial: bool = False,
                     unknown_shipment: bool = False) -> dict:
        """A customer return of (part of) a shipment; returns the ShipBob return."""
        ids = self.inventory_ids()
        items = []
        for product in shipment["products"]:
            qty = sum(i["quantity"] for i in product["inventory_items"])
            qty = max(1, qty // 2) if partial else qty
            items.append({"id": ids[product["reference_id"]], "quantity": qty,
                          "requested_action": "Default"})
        body = {"reference_id": reference, "fulfillment_center": {"id": fc_id}, "inventory": items,
                "original_shipment_id": 999_999_999 if unknown_shipment else shipment["id"]}
        return self.api("POST", "return", body)

    def complete_return(self, ret: dict, actions: list[str]) -> None:
        """Arrive, process with the given actions (cycled per item), complete."""
        self.hook(f"returns/{ret['id']}/advance", {"status": "Arrived"})
        taken = [{"inventory_id": item["id"], "action": actions[i % len(actions)],
                  "quantity_processed": item["quantity"]}
                 for i, item in enumerate(ret["inventory"])]
        self.hook(f"returns/{ret['id']}/advance", {"status": "Completed", "actions": taken})

    def wros(self) -> list[dict]:
        return self.hook("dump/receiving", method="GET")

    def receive(self, wro: dict, fraction: float = 1.0, split: bool = False) -> dict | None:
        """Stow a fraction of what is still expected on each line of a WRO;
        returns the hook's answer (the WROs touched), None when nothing was open."""
        items = []
        for q in wro["inventory_quantities"]:
            open_qty = q["expected_quantity"] - q["stowed_quantity"]
            qty = open_qty if fraction >= 1 else int(open_qty * fraction)
            if qty > 0:
                items.append({"inventory_id": q["inventory_id"], "stowed": qty})
        if not items:
            return None
        return self.hook(f"receiving/{wro['id']}/receive", {"items": items, "split_into_new_wro": split})

    def flush_webhooks(self) -> dict:
        return self.hook("webhooks/flush", {"fast_forward": True})
