"""One error taxonomy for every flow (shared/design.md, invariant 7).

Exceptions are named for what the caller must do with the work item:
retry it later, park it for a person, or stop and keep the reason.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class; `str(exc)` must never contain a secret."""


class ConfigError(ConnectorError):
    """A setting or mapping is missing or invalid; raised at start-up."""


class TransientError(ConnectorError):
    """Network trouble, 5xx, 429, a lost ETag race: retry with backoff.

    `retry_after` is the server's hint in seconds, when it gave one.
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class WaitingFor(TransientError):
    """The item depends on another job's work (events arrive in any order):
    retry with backoff, and sooner, as soon as that job (`flow`, `key`) is done.

    `counts_attempt` False: the wait may last as long as it must (a person has
    to act), so it never uses up the item's retries; `recheck_seconds` caps
    the backoff so the item looks again at least that often."""

    counts_attempt = True
    recheck_seconds: float | None = None

    def __init__(self, message: str, flow: str, key: str):
        super().__init__(message)
        self.flow, self.key = flow, key


# What jobs waiting for a ShipBob re-authorisation wait for (Job.waits_for);
# storing a new refresh token wakes them (`ifs-shipbob auth shipbob`).
SHIPBOB_AUTHORISATION = ("shipbob-oauth", "authorisation")


class ReauthorisationNeeded(WaitingFor):
    """ShipBob refused every refresh token the connector has (`invalid_grant`,
    e.g. the rotated one was lost with a worker killed mid-refresh). Not a
    failure of the item: it waits, re-checking every minute, and is woken as
    soon as a person stores a new token."""

    counts_attempt = False
    recheck_seconds = 60.0

    def __init__(self) -> None:
        super().__init__("waiting: ShipBob re-authorisation needed "
                         "(run `ifs-shipbob auth shipbob`)", *SHIPBOB_AUTHORISATION)
        self.retry_after = self.recheck_seconds


class RateLimited(TransientError):
    """429 from ShipBob or IFS; the whole pool pauses for `retry_after`."""


class PermanentError(ConnectorError):
    """The API rejected the request itself: stop, keep the reason, do not retry."""

    def __init__(self, message: str, status: int | None = None, body: object = None):
        super().__init__(message)
        self.status = status
        self.body = body


class NeedsAttention(ConnectorError):
    """A business exception (unknown SKU, unmapped site or ship-via, missing
    address, ...): park the item with `reason`; replay once data is fixed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
