"""The connector's state: the database is the source of truth, the queue only
a wake-up call (shared/design.md, invariant 1)."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[str]: JSON}


class JobState(str, enum.Enum):
    PENDING = "pending"      # due at next_run_at
    RUNNING = "running"      # claimed until lease_until
    DONE = "done"
    ATTENTION = "attention"  # parked: a business exception a person must fix
    FAILED = "failed"        # permanent error or retries exhausted
    # Closed by a person (`ifs-shipbob resolve` / `ignore`): no longer counted
    # as waiting; who, when and why are in resolved_by/_at/resolution_note.
    RESOLVED = "resolved"    # fixed by hand outside the connector
    IGNORED = "ignored"      # needs nothing done


class Flow(str, enum.Enum):
    ORDER_PUSH = "order_push"
    ORDER_UPDATE = "order_update"  # IFS edits after the push
    SHIPMENT_VOUCHER = "shipment_voucher"
    RETURN_VOUCHER = "return_voucher"
    REPLENISHMENT = "replenishment"
    INBOUND_RECEIPT = "inbound_receipt"
    INVENTORY_SYNC = "inventory_sync"
    INVENTORY_ACTIVITY = "inventory_activity"
    # An order pushed short at ShipBob (mapping `shortage: flag`): a record of
    # its own, keyed by the IFS order, so the push item stays done.
    STOCK_SHORTAGE = "stock_shortage"


class Job(Base):
    """One unit of work per (flow, key), e.g. (order_push, IFS OrderNo)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("flow", "key", name="uq_jobs_flow_key"),
        Index("ix_jobs_due", "state", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=JobState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Counted up by every request for work; a run remembers the count it
    # claimed, and runs again if the count moved meanwhile (events that
    # arrive mid-run). A counter, not clocks: hosts' clocks differ.
    request_seq: Mapped[int] = mapped_column(Integer, default=0)
    claimed_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Set by each claim; only the run holding it may end or extend the run.
    run_token: Mapped[str | None] = mapped_column(String(32), default=None)
    # When the sweeper last re-published it: a job waiting in a long queue is
    # not lost, so it is re-published at most once per grace period.
    swept_at: Mapped[datetime | None] = mapped_column(default=None)
    # "<flow>:<key>" of the job this one waits for (WaitingFor); that job's
    # end wakes it at once instead of after its backoff.
    waits_for: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    ifs_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    # The ShipBob ids of the item: one for a shipment's or a return's voucher,
    # one per site's ShipBob order for a split order's push.
    shipbob_refs: Mapped[list[str]] = mapped_column(default=list)
    # The audit of a resolve/ignore (kept after a later replay reopens it).
    resolved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobAttempt(Base):
    """History of a job's runs, for `ifs-shipbob show ID`."""

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text, default=None)


class WebhookEvent(Base):
    """The inbox: every verified ShipBob webhook, unique on webhook-id."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(200), unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None until the event has been turned into a job (or ignored).
    processed_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    swept_at: Mapped[datetime | None] = mapped_column(default=None)


class Binding(Base):
    """Our row <-> their id: the backbone of exactly-once.

    kind: "order" (IFS OrderNo <-> ShipBob order id), "shipment" (ShipBob
    shipment id <-> IFS voucher), "return" (ShipBob return <-> RMA), "wro".
    """

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("kind", "ifs_key", name="uq_bindings_ifs"),
        UniqueConstraint("kind", "shipbob_id", name="uq_bindings_shipbob"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ifs_key: Mapped[str] = mapped_column(String(200))
    shipbob_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KeyValue(Base):
    """Small durable state: poll cursors, the rotated ShipBob refresh token,
    subscription secrets, last successful runs."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InventorySnapshot(Base):
    """One row per inventory-sync run: the summary and the drift report path."""

    __tablename__ = "inventory_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    dry_run: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rows: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StockDrift(Base):
    """A stock difference the inventory sync found and has not seen go away:
    per site and part (or ShipBob SKU; "" where one side has none), since when
    (its age) and what the latest run saw. Deleted once a run of the site no
    longer finds it."""

    __tablename__ = "stock_drift"

    site: Mapped[str] = mapped_column(String(50), primary_key=True)
    part: Mapped[str] = mapped_column(String(200), primary_key=True)
    sku: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    # What ShipBob accounts for less what IFS holds (None: not compared).
    difference: Mapped[float | None] = mapped_column(Float, default=None)
    detail: Mapped[str] = mapped_column(Text, default="")


class OperatorAction(Base):
    """The audit of what a person did to an item from the console: who,
    when, what (replay, resolve, ignore) and why. Kept forever."""

    __tablename__ = "operator_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
