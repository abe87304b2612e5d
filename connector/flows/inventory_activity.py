"""Flow 6: ShipBob's inventory history (picks, stows, receipts, adjustments,
restocks) becomes IFS-side activity records, each event exactly once.

One job per fulfillment center mapped from an IFS site (key: the FC id),
requested by the beat's `inventory_activity` poll. A run:

1. reads ShipBob's inventory history of the FC (`POST
   /inventory/history:query`) after the stored cursor (the last event id
   recorded, kv `inventory_activity.cursor.<fc>`), page by page, oldest
   first; with no cursor yet ShipBob starts 90 days back, its longest range;
2. turns each page's events into records of the FC's IFS site
   (mappers/inventory_activity.py) and hands them to the mapping's posting
   step (ctx.inventory_activity), which skips those it recorded already;
3. only then stores the page's cursor. A crash in between reads the page
   again and the posting recognises what it recorded: each event is recorded
   once, and the job's lease keeps two runs of one FC from overlapping.

An event whose SKU maps to no IFS part parks the job, after the events
before it are recorded and the cursor kept. `ifs.inventory_activity.enabled:
false` in the mapping turns the flow off: the poll requests nothing and a
run reads nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, Sequence

from connector import jobs, kv
from connector.context import Context
from connector.db.models import Flow, Job, KeyValue
from connector.errors import NeedsAttention
from connector.ifs.errors import IfsBusinessError
from connector.ifs.inventory_activity import ActivitiesPosted, InventoryActivity
from connector.mappers.inventory_activity import activity_of
from connector.shipbob.stock import HistoryPage

log = logging.getLogger(__name__)

CURSOR_KEY = "inventory_activity.cursor."

History = Callable[[int | None], Iterable[HistoryPage]]


class ActivityPosting(Protocol):
    """What the flow needs of the gateway (ctx.inventory_activity)."""

    @property
    def enabled(self) -> bool: ...

    def post(self, activities: Sequence[InventoryActivity]) -> ActivitiesPosted: ...


class Cursor(Protocol):
    """Where a fulfillment center's history resumes: the last event id recorded."""

    def load(self) -> int | None: ...

    def keep(self, cursor: int) -> None: ...


@dataclass
class ActivityRun:
    fc: int
    site: str
    cursor: int | None  # as the run ends
    pages: int = 0
    events: int = 0
    created: int = 0
    already: int = 0  # recorded by an earlier, interrupted run

    def summary(self) -> str:
        again = f", {self.already} recorded before" if self.already else ""
        return (f"inventory activity FC {self.fc} -> {self.site}: {self.events} events in {self.pages} "
                f"pages, {self.created} recorded{again}; cursor {self.cursor}")


def run(ctx: Context, job: Job) -> str:
    fc = int(job.key)
    activities = ctx.inventory_activity
    if not activities.enabled:
        return f"inventory activity FC {fc}: off in the mapping, nothing read"
    site = site_of(ctx, fc)
    shipbob = ctx.shipbob
    result = record_history(lambda cursor: shipbob.inventory_history(fc, cursor=cursor), activities,
                            KvCursor(ctx, fc), site, fc, ctx.mapping.part_for)
    log.info("inventory activity recorded", extra={"fc": fc, "site": site, "events": result.events,
                                                    "recorded": result.created, "cursor": result.cursor})
    return result.summary()


def record_history(history: History, activities: ActivityPosting, cursor: Cursor, site: str, fc: int,
                   part_for: Callable[[str], str | None]) -> ActivityRun:
    """Record every event after the stored cursor, page by page, keeping the
    cursor after each page's events are recorded."""
    result = ActivityRun(fc, site, cursor.load())
    for page in history(result.cursor):
        result.pages += 1
        records: list[InventoryActivity] = []
        unmapped: NeedsAttention | None = None
        for event in page.events:
            try:
                records.append(activity_of(event, site, part_for))
            except NeedsAttention as exc:
                unmapped = exc
                break
        if records:
            _post(activities, records, result, fc)
        result.events += len(records)
        if unmapped is None:
            _keep(cursor, page.cursor, result)
            continue
        if records:  # the events after an unmapped one wait with it
            _keep(cursor, int(records[-1].external_ref), result)
        raise unmapped
    return result


def _post(activities: ActivityPosting, records: list[InventoryActivity], result: ActivityRun, fc: int) -> None:
    try:
        posted = activities.post(records)
    except IfsBusinessError as exc:
        # An IFS rule against a record is data for a person; the page is posted again after a replay.
        raise NeedsAttention(f"inventory history of FC {fc}: IFS refused an activity record of events "
                             f"{records[0].external_ref}..{records[-1].external_ref}: "
                             f"{exc.ifs_message or exc}") from None
    result.created += len(posted.created)
    result.already += len(posted.already)


def _keep(cursor: Cursor, kept: int | None, result: ActivityRun) -> None:
    if kept is not None and kept != result.cursor:
        cursor.keep(kept)
        result.cursor = kept


def site_of(ctx: Context, fc: int) -> str:
    """The one IFS site mapped to `fc`."""
    sites = [site for site, mapped in ctx.mapping.sites.items() if int(mapped) == fc]
    if len(sites) != 1:
        what = "no IFS site" if not sites else f"several IFS sites ({', '.join(sorted(sites))})"
        # Two sites' events at one FC cannot be told apart: recording them means guessing.
        raise NeedsAttention(f"inventory history of FC {fc}: {what} in the mapping")
    return sites[0]


class KvCursor:
    """The cursor in the kv table. It only moves forward: a run that lost its
    lease and stores an older cursor late does not move it back."""

    def __init__(self, ctx: Context, fc: int):
        self.ctx = ctx
        self.key = f"{CURSOR_KEY}{fc}"

    def load(self) -> int | None:
        with self.ctx.session() as session:
            value = kv.get(session, self.key)
        return int(value) if value else None

    def keep(self, cursor: int) -> None:
        with self.ctx.session() as session:
            row = session.get(KeyValue, self.key, with_for_update=True)
            if row is None:
                kv.upsert(session, self.key, str(cursor))
            elif int(row.value) < cursor:
                row.value = str(cursor)


def fulfillment_centers(ctx: Context) -> list[int]:
    """The FCs of the mapped sites (settings.sites, else every site in the mapping)."""
    return sorted({int(ctx.mapping.sites[site]) for site in ctx.settings.mapped_sites()
                   if site in ctx.mapping.sites})


def request_runs(ctx: Context) -> list[int]:
    """The beat's poll: a run per mapped FC; the ids of the jobs to wake.
    Parked and failed jobs wait for a person's replay."""
    if not ctx.inventory_activity.enabled:
        return []
    wake: list[int] = []
    with ctx.session() as session:
        for fc in fulfillment_centers(ctx):
            requested = jobs.request_job(session, Flow.INVENTORY_ACTIVITY.value, str(fc),
                                         hurry=False, revive_parked=False)
            if requested.wake:
                wake.append(requested.job_id)
    return wake
