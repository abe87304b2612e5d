"""What became of a webhook: the `outcome` of the receivers' answers (their
metrics and log lines) and of a stored event (`webhook_events.outcome`)."""

from __future__ import annotations

from enum import StrEnum


class DeliveryOutcome(StrEnum):
    """The ShipBob receiver's answer to one delivery (webhooks/receiver.py)."""

    ACCEPTED = "accepted"                # stored; a worker routes it
    DUPLICATE = "duplicate"              # this webhook-id was stored before
    IGNORED = "ignored"                  # a topic the connector does not handle: stored as processed
    REJECTED_SIGNATURE = "rejected_signature"
    TOO_LARGE = "too_large"
    BODY_TIMEOUT = "body_timeout"
    BAD_REQUEST = "bad_request"
    BAD_JSON = "bad_json"
    DB_UNAVAILABLE = "db_unavailable"    # 503: ShipBob retries
    ENQUEUE_FAILED = "enqueue_failed"    # stored, the wake-up was lost: the sweeper re-publishes it


class IfsEventOutcome(StrEnum):
    """The IFS event receiver's answer to one event (webhooks/ifs_events.py)."""

    QUEUED = "queued"                    # a job was recorded and woken
    KNOWN = "known"                      # the job exists and needs no wake-up
    IGNORED = "ignored"                  # nothing to do for this key
    REJECTED_KEY = "rejected_key"
    UNKNOWN_EVENT = "unknown_event"
    TOO_LARGE = "too_large"
    BODY_TIMEOUT = "body_timeout"
    BAD_BODY = "bad_body"
    DB_UNAVAILABLE = "db_unavailable"
    ENQUEUE_FAILED = "enqueue_failed"


class StoredOutcome(StrEnum):
    """`webhook_events.outcome` of a processed event; an event routed to a
    job holds `routed_to(job_id)` instead."""

    IGNORED = "ignored"  # unhandled topic, or a body that names nothing to do
    FAILED = "failed"    # cannot be routed (e.g. a WRO ShipBob does not know)


ROUTED_PREFIX = "job:"


def routed_to(job_id: int) -> str:
    """The outcome of an event turned into (or folded into) job `job_id`."""
    return f"{ROUTED_PREFIX}{job_id}"
