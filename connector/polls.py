"""The scheduled polls, by name: each returns the flow and the job ids to wake.

Beat tasks and `ifs-shipbob poll` share this table; a successful poll is
stamped in the kv table for `ifs-shipbob status`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from connector import kv
from connector.context import Context
from connector.db.models import Flow


def _poll_orders(ctx: Context) -> list[int]:
    from connector.flows.order_poll import poll_cancellations, poll_orders
    from connector.flows.order_update import poll_edits

    return poll_orders(ctx) + poll_cancellations(ctx) + poll_edits(ctx)


def _poll_unpushed(ctx: Context) -> list[int]:
    from connector.flows.order_poll import poll_unpushed

    return poll_unpushed(ctx)


def _poll_tracking(ctx: Context) -> list[int]:
    from connector.flows.shipment_voucher import poll_untracked

    return poll_untracked(ctx)


def _poll_shipments(ctx: Context) -> list[int]:
    from connector.flows.shipment_voucher import poll_shipment_changes

    return poll_shipment_changes(ctx)


def _poll_replenishment(ctx: Context) -> list[int]:
    from connector.flows.replenishment import poll_replenishment

    return poll_replenishment(ctx)


def _poll_receiving(ctx: Context) -> list[int]:
    from connector.flows.inbound_receipt import poll_receiving

    return poll_receiving(ctx)


def _poll_returns(ctx: Context) -> list[int]:
    from connector.flows.return_voucher import poll_completed_returns

    return poll_completed_returns(ctx)


def _poll_inventory_activity(ctx: Context) -> list[int]:
    from connector.flows.inventory_activity import request_runs

    return request_runs(ctx)


_TABLE: dict[str, tuple[Flow, Callable[[Context], list[int]]]] = {
    "orders": (Flow.ORDER_PUSH, _poll_orders),
    "unpushed": (Flow.ORDER_PUSH, _poll_unpushed),
    "tracking": (Flow.SHIPMENT_VOUCHER, _poll_tracking),
    "shipments": (Flow.SHIPMENT_VOUCHER, _poll_shipments),
    "replenishment": (Flow.REPLENISHMENT, _poll_replenishment),
    "receiving": (Flow.INBOUND_RECEIPT, _poll_receiving),
    "returns": (Flow.RETURN_VOUCHER, _poll_returns),
    "inventory_activity": (Flow.INVENTORY_ACTIVITY, _poll_inventory_activity),
}


def run_poll(ctx: Context, name: str) -> tuple[str, list[int]]:
    flow, poll = _TABLE[name]
    job_ids = poll(ctx)
    with ctx.session() as session:
        kv.put(session, f"poll.{name}.last_success", datetime.now(timezone.utc).isoformat())
    return flow.value, job_ids


POLL_NAMES = list(_TABLE)
