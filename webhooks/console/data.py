"""What the console shows, read from the connector's tables: counts per
flow and state (as `ifs-shipbob status`), attention items grouped by the
pattern of their reason, and one order's timeline across its items."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector import kv, operator_actions
from connector.db.models import Flow, Job, JobAttempt, JobState, WebhookEvent
from connector.items import related_items
from connector.polls import POLL_NAMES

# Keys whose values never reach a page, at any depth of a stored body.
_SECRET_KEY = re.compile(r"secret|token|password|authori[sz]ation|api[_-]?key|signature|cookie", re.I)
_LINE_LABEL = re.compile(r"\bline \d+/\d+\b")
_SKU = re.compile(r"\bSKU '([^']+)'")
_PART = re.compile(r"\bpart '([^']+)'")
MASK = "***"


def when(value: datetime | str | None) -> str:
    """Every time on a page: ISO 8601, UTC, to the second (as the CLI)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def counts(session: Session) -> dict:
    """Per flow: items by state and the oldest pending; the last polls."""
    rows = session.execute(select(Job.flow, Job.state, func.count()).group_by(Job.flow, Job.state)).all()
    oldest = dict(session.execute(select(Job.flow, func.min(Job.created_at))
                                  .where(Job.state == JobState.PENDING.value).group_by(Job.flow)).all())
    flows = []
    for flow in Flow:
        row = {"flow": flow.value, **{s.value: 0 for s in JobState}, "oldest_pending": when(oldest.get(flow.value))}
        for f, state, n in rows:
            if f == flow.value:
                row[state] = n
        flows.append(row)
    polls = {name: when(kv.get(session, f"poll.{name}.last_success")) for name in POLL_NAMES}
    return {"flows": flows, "states": [s.value for s in JobState], "polls": polls}


@dataclass
class Group:
    id: str
    flow: str
    pattern: str
    headline: str
    items: list[Job] = field(default_factory=list)


def reason_pattern(job: Job) -> str:
    """The reason with what is particular to the item taken out (its own
    keys and line labels), so one cause parks many items under one pattern."""
    text = job.reason or job.last_error or ""
    text = _LINE_LABEL.sub("line …", text)
    # shipbob_refs is None on a Job not flushed yet (its default is set on insert).
    for ref in sorted({job.key, job.ifs_ref or "", *(job.shipbob_refs or ())} - {""},
                      key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(ref)}(?![\w-])", "…", text)
    return text


def _headline(flow: str, pattern: str, n: int) -> str:
    noun = {"order_push": "order", "order_update": "order"}.get(flow, "item")
    nouns = noun if n == 1 else noun + "s"
    blockers = sorted(set(_SKU.findall(pattern)) | set(_PART.findall(pattern)))
    if len(blockers) == 1:
        kind = "SKU" if _SKU.search(pattern) else "part"
        return f"{kind} {blockers[0]} blocks {n} {nouns}"
    return f"{n} {nouns}: {pattern}"


def attention_groups(session: Session, state: JobState = JobState.ATTENTION) -> list[Group]:
    """Parked (or failed) items grouped by flow and reason pattern, the
    biggest group first."""
    jobs = session.execute(select(Job).where(Job.state == state.value).order_by(Job.updated_at, Job.id)).scalars()
    groups: dict[tuple[str, str], Group] = {}
    for job in jobs:
        pattern = reason_pattern(job)
        key = (job.flow, pattern)
        if key not in groups:
            digest = hashlib.sha256(f"{state.value}\0{job.flow}\0{pattern}".encode()).hexdigest()[:16]
            groups[key] = Group(digest, job.flow, pattern, "")
        groups[key].items.append(job)
    for group in groups.values():
        group.headline = _headline(group.flow, group.pattern, len(group.items))
    return sorted(groups.values(), key=lambda g: (-len(g.items), g.flow, g.pattern))


def find_group(session: Session, group_id: str) -> Group | None:
    for state in (JobState.ATTENTION, JobState.FAILED):
        for group in attention_groups(session, state):
            if group.id == group_id:
                return group
    return None


def redact(value, secrets: list[str]):
    """A stored body fit for a page: values under secret-looking keys masked,
    and any configured secret masked wherever it appears."""
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEY.search(str(k)) else redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret:
                value = value.replace(secret, MASK)
    return value


@dataclass
class Entry:
    at: datetime | None
    item: Job
    what: str
    detail: str = ""
    body: str | None = None


def timeline(session: Session, ref: str, secrets: list[str]) -> tuple[list[Job], list[Entry], dict]:
    """The items of the order `ref` names, everything that happened to them
    in time order (created, each attempt, the webhooks that woke them, each
    person's action), and the audit per item."""
    items = related_items(session, ref)
    ids = [job.id for job in items]
    by_id = {job.id: job for job in items}
    entries = [Entry(job.created_at, job, "created", f"{job.flow} {job.key}") for job in items]
    if ids:
        for attempt in session.execute(select(JobAttempt).where(JobAttempt.job_id.in_(ids))
                                       .order_by(JobAttempt.id)).scalars():
            entries.append(Entry(attempt.finished_at or attempt.started_at, by_id[attempt.job_id],
                                 f"attempt: {attempt.outcome}", redact(attempt.detail or "", secrets)))
    hooks = {job.payload.get("webhook_id"): job for job in items if isinstance(job.payload, dict)
             and job.payload.get("webhook_id")}
    if hooks:
        for event in session.execute(select(WebhookEvent).where(WebhookEvent.webhook_id.in_(list(hooks)))).scalars():
            try:
                body = json.dumps(redact(json.loads(event.body), secrets), indent=2, sort_keys=True)
            except ValueError:
                body = "(not JSON; not shown)"
            entries.append(Entry(event.received_at, hooks[event.webhook_id], f"webhook {event.topic}",
                                 f"outcome {event.outcome or 'pending'}", body))
    audit: dict[int, list] = {job_id: [] for job_id in ids}
    for action in operator_actions.history(session, ids):
        audit[action.job_id].append(action)
        entries.append(Entry(action.at, by_id[action.job_id], f"{action.action} by {action.actor}", action.note))
    entries.sort(key=lambda e: (when(e.at), e.item.id))
    return items, entries, audit
