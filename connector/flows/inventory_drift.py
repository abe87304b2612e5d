"""What the inventory sync remembers of the stock differences it finds: when
each was first seen (its age), kept until a run no longer finds it; and one
attention item per site that lists them, oldest first, for as long as the
site has any.

The item is a job of the inventory sync (key `stock-drift:<site>`): it shows
in `attention`, `status` and the console like any parked item, and a replay
syncs that site again (the item closes itself when nothing differs any
more). A person may resolve or ignore it; it stays closed until the site's
differences change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector import jobs
from connector.db.models import Flow, Job, JobAttempt, JobState, StockDrift, utcnow
from connector.db.session import dialect_insert
from connector.mappers.inventory import DriftRow

KEY_PREFIX = "stock-drift:"
LISTED = 5          # differences named in an item's reason (the report has them all)
UPSERT_BATCH = 1000

Key = tuple[str, str, str]  # (site, part, SKU); "" where a side has none


def item_key(site: str) -> str:
    return f"{KEY_PREFIX}{site}"


def site_of(key: str) -> str | None:
    """The site of a drift item's key; None for any other key."""
    return key[len(KEY_PREFIX):] if key.startswith(KEY_PREFIX) else None


def first_seen(session: Session, sites: Iterable[str]) -> dict[Key, datetime]:
    """When each difference still on record for these sites was first seen."""
    rows = session.execute(select(StockDrift.site, StockDrift.part, StockDrift.sku, StockDrift.first_seen)
                           .where(StockDrift.site.in_(list(sites))))
    return {(site, part, sku): _aware(seen) for site, part, sku, seen in rows}


def record(session: Session, sites: Iterable[str], run_at: datetime, differences: list[DriftRow]) -> int:
    """This run's differences for `sites`: new ones are first seen now, known
    ones keep their first sighting; those of these sites the run did not find
    are gone and forgotten. Returns how many went."""
    insert = dialect_insert(session)
    for start in range(0, len(differences), UPSERT_BATCH):
        values = [{"site": row.site, "part": row.part or "", "sku": row.sku or "", "status": row.status.value,
                   "first_seen": row.first_seen or run_at, "last_seen": run_at,
                   "difference": row.difference, "detail": row.action}
                  for row in differences[start:start + UPSERT_BATCH]]
        statement = insert(StockDrift).values(values)
        session.execute(statement.on_conflict_do_update(
            index_elements=["site", "part", "sku"],
            set_={name: statement.excluded[name] for name in ("status", "last_seen", "difference", "detail")}))
    gone = session.execute(delete(StockDrift).where(StockDrift.site.in_(list(sites)),
                                                    StockDrift.last_seen < run_at))
    return int(getattr(gone, "rowcount", 0) or 0)


# ------------------------------------------------------------ attention items

@dataclass(frozen=True)
class SiteDrift:
    """A site's remaining differences, for its attention item."""

    site: str
    fc: int
    rows: list[DriftRow]  # every remaining difference (they are few; the report holds all rows)

    def reason(self, run_at: datetime, report: str | None) -> str:
        ordered = sorted(self.rows, key=lambda r: (r.first_seen or run_at, r.part or r.sku or ""))
        oldest = ordered[0].first_seen or run_at
        listed = "; ".join(f"{r.part or r.sku}: {_what(r)}, since {_day(r.first_seen or run_at)}"
                           for r in ordered[:LISTED])
        more = len(ordered) - LISTED
        tail = f"; and {more} more" if more > 0 else ""
        where = f" (report: {report})" if report else ""
        return (f"{len(ordered)} stock difference(s) between IFS site {self.site} and ShipBob FC {self.fc}, "
                f"the oldest since {_day(oldest)} ({_days(run_at, oldest)}): {listed}{tail}{where}")

    def fingerprint(self) -> str:
        """Changes when the set of differences or their quantities change (not with their age)."""
        text = "\n".join(sorted(f"{r.part}|{r.sku}|{r.status.value}|{r.difference}" for r in self.rows))
        return hashlib.sha1(text.encode()).hexdigest()


def update_item(session: Session, site: str, drift: SiteDrift | None, reason: str | None,
                running_id: int | None = None) -> str:
    """Bring the site's item in line with what the run found (`drift` None:
    no difference left). `running_id`: the item whose own run this is (the
    runner sets its state). Returns what happened to the item."""
    key = item_key(site)
    job = _item(session, key)
    if drift is None or reason is None:
        if job is None or job.state != JobState.ATTENTION.value or job.id == running_id:
            return "none"
        job.state, job.reason = JobState.DONE.value, None
        _attempt(session, job, "done", f"no stock difference left at {site}")
        return "closed"
    fingerprint = drift.fingerprint()
    if job is None:
        jobs.ensure_job(session, Flow.INVENTORY_SYNC.value, key, ifs_ref=site)
        job = _item(session, key)
        assert job is not None
    elif job.id == running_id:
        job.payload = {**(job.payload or {}), "site": site, "fingerprint": fingerprint}
        return "running"
    elif job.state in (JobState.PENDING.value, JobState.RUNNING.value):
        return "replay due"  # a replay is about to sync the site itself
    unchanged = (job.payload or {}).get("fingerprint") == fingerprint
    if job.state in (JobState.RESOLVED.value, JobState.IGNORED.value) and unchanged:
        return f"{job.state} by {job.resolved_by}"
    news = job.state != JobState.ATTENTION.value or not unchanged
    job.state, job.reason, job.attempts = JobState.ATTENTION.value, reason, 0
    job.payload = {**(job.payload or {}), "site": site, "fingerprint": fingerprint}
    job.updated_at = utcnow()
    if news:
        _attempt(session, job, "attention", reason)
        return "raised"
    return "updated"


def _item(session: Session, key: str) -> Job | None:
    return session.execute(select(Job).where(Job.flow == Flow.INVENTORY_SYNC.value, Job.key == key)
                           .with_for_update()).scalar_one_or_none()


def _attempt(session: Session, job: Job, outcome: str, detail: str) -> None:
    now = utcnow()
    session.add(JobAttempt(job_id=job.id, started_at=now, finished_at=now, outcome=outcome, detail=detail))


def _what(row: DriftRow) -> str:
    return row.action.removeprefix("report: ")


def _day(when: datetime) -> str:
    return when.date().isoformat()


def _days(now: datetime, since: datetime) -> str:
    days = max(0, (now - since).days)
    return "new today" if days == 0 else f"{days} day{'s' if days != 1 else ''}"


def _aware(when: datetime) -> datetime:
    # SQLite hands naive datetimes back; every stamp here is UTC.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
