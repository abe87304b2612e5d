"""IFS error envelopes -> the connector's error taxonomy, in one place.

Envelope (ifs-cloud.md §9): {"error":{"code","message","details":[{"code","message"}]}}.
Classification (design.md invariant 7, ifs-cloud.md §7 and §9):

    412                          -> EtagConflict (transient: re-read, re-apply)
    428 / ODP_MISSING_PRECONDITION -> IfsPreconditionRequired (permanent: a bug)
    429                          -> RateLimited(retry_after)
    503 with Retry-After         -> RateLimited(retry_after); without -> TransientError
    500 MI_MODIFIED_ERROR        -> IfsMetadataModified (transient; the client has
                                    already retried it once)
    ORA-20000..20999 in details  -> IfsBusinessError(.ora_code) (permanent; flows
                                    decide whether to park it)
    other 5xx                    -> TransientError (not 501/505: the request
                                    itself is unsupported, e.g. ODP_NOT_IMPLEMENTED)
    404                          -> IfsNotFound
    401                          -> IfsAuthError (after one re-authentication)
    other 4xx                    -> IfsRejected with the IFS code and message

Messages carry the method, the path below the projection and the IFS code and
message - never request headers, tokens or secrets.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import requests

from connector.errors import PermanentError, RateLimited, TransientError
from connector.json_types import JsonObject

_ORA = re.compile(r"ORA-(\d{4,5})")
_MAX_TEXT = 500

MI_MODIFIED_ERROR = "MI_MODIFIED_ERROR"
ODP_MISSING_PRECONDITION = "ODP_MISSING_PRECONDITION"


# ------------------------------------------------------------------- classes

class IfsRejected(PermanentError):
    """IFS refused the request (4xx, or a 5xx it will not change its mind on)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 ifs_message: str | None = None, body: object = None):
        super().__init__(message, status=status, body=body)
        self.code = code
        self.ifs_message = ifs_message


class IfsNotFound(IfsRejected):
    """404 / ODP_RESOURCE_NOTFOUND: no such entity set, key or action."""


class IfsAuthError(IfsRejected):
    """401 even with a fresh token, 403, or the token endpoint refused our
    client credentials: fix the IAM client, do not retry."""


class IfsPreconditionRequired(IfsRejected):
    """ODP_MISSING_PRECONDITION (428): If-Match was missing where required."""


class IfsBusinessError(IfsRejected):
    """A PL/SQL business rule said no (`ORA-20xxx: ...`, §9). `ora_code` is
    e.g. "ORA-20110"; flows decide whether to park the item (NeedsAttention)."""

    def __init__(self, message: str, *, ora_code: str, status: int | None = None, code: str | None = None,
                 ifs_message: str | None = None, body: object = None):
        super().__init__(message, status=status, code=code, ifs_message=ifs_message, body=body)
        self.ora_code = ora_code


class EtagConflict(TransientError):
    """412: the entity changed since we read its ETag (§7). Re-read, re-apply."""


class IfsMetadataModified(TransientError):
    """MI_MODIFIED_ERROR survived the immediate retry (§9)."""


class IfsServerError(TransientError):
    """Any other 5xx; carries the IFS code when there was an envelope."""

    def __init__(self, message: str, retry_after: float | None = None, *,
                 status: int | None = None, code: str | None = None):
        super().__init__(message, retry_after)
        self.status = status
        self.code = code


# ---------------------------------------------------------------- parsing

@dataclass(frozen=True)
class IfsErrorInfo:
    status: int
    code: str | None = None
    message: str | None = None
    details: list[JsonObject] = field(default_factory=list)
    ora_code: str | None = None  # "ORA-20110"
    ora_message: str | None = None  # the detail/message text that carried it
    body: object = None

    @property
    def business(self) -> bool:
        """ORA-20000..20999 are raise_application_error codes: IFS business rules."""
        return self.ora_code is not None and 20000 <= int(self.ora_code[4:]) <= 20999


def parse_error(response: requests.Response) -> IfsErrorInfo:
    """Read the IFS envelope; tolerant of non-JSON bodies (proxies, gateways)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        text = (response.text or "").strip()
        return IfsErrorInfo(status=response.status_code, message=_clip(text) or response.reason,
                            body=body if body is not None else _clip(text))
    details = [d for d in (error.get("details") or []) if isinstance(d, dict)]
    # §9: details[0].message first, then error.message, for the ORA code.
    texts = [str(d.get("message") or "") for d in details] + [str(error.get("message") or "")]
    ora_code = ora_message = None
    for text in texts:
        match = _ORA.search(text)
        if match:
            ora_code, ora_message = f"ORA-{match.group(1)}", text
            break
    return IfsErrorInfo(
        status=response.status_code,
        code=error.get("code") or None,
        message=error.get("message") or None,
        details=details,
        ora_code=ora_code,
        ora_message=ora_message,
        body=body,
    )


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


# ---------------------------------------------------------- classification

def is_mi_modified(info: IfsErrorInfo) -> bool:
    return info.status >= 500 and info.code == MI_MODIFIED_ERROR


def classify(response: requests.Response, what: str) -> Exception:
    """The exception for a non-2xx IFS response. `what` names the request,
    e.g. "PATCH CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='C1')"."""
    info = parse_error(response)
    status = info.status
    summary = _summary(what, info)
    if status == 412:
        return EtagConflict(summary)
    if status == 428 or info.code == ODP_MISSING_PRECONDITION:
        return IfsPreconditionRequired(summary, status=status, code=info.code,
                                       ifs_message=info.message, body=info.body)
    if status == 429:
        return RateLimited(summary, retry_after=retry_after_seconds(response))
    if status == 503:
        retry_after = retry_after_seconds(response)
        if retry_after is not None:
            return RateLimited(summary, retry_after=retry_after)
        return IfsServerError(summary, status=status, code=info.code)
    if status == 404:
        return IfsNotFound(summary, status=status, code=info.code,
                           ifs_message=info.message, body=info.body)
    if status in (401, 403):
        return IfsAuthError(summary, status=status, code=info.code,
                            ifs_message=info.message, body=info.body)
    if info.ora_code is not None and info.business and status >= 400 and not is_mi_modified(info):
        # §9: the HTTP status of PL/SQL errors is unconfirmed (public code shows
        # 500), so the ORA code decides, whatever the 4xx/5xx status.
        return IfsBusinessError(summary, ora_code=info.ora_code, status=status, code=info.code,
                                ifs_message=info.ora_message or info.message, body=info.body)
    if is_mi_modified(info):
        return IfsMetadataModified(summary)
    if status == 408 or (status >= 500 and status not in (501, 505)):  # 408: a timeout, worth a retry
        return IfsServerError(summary, retry_after=retry_after_seconds(response),
                              status=status, code=info.code)
    return IfsRejected(summary, status=status, code=info.code,
                       ifs_message=info.message, body=info.body)


def _summary(what: str, info: IfsErrorInfo) -> str:
    text = f"IFS {what} -> HTTP {info.status}"
    if info.code:
        text += f" {info.code}"
    detail = info.ora_message or info.message
    if detail:
        text += f": {_clip(detail)}"
    return text


def _clip(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
