"""IFS Cloud OData v4 client: reads, paging, ETag-guarded writes and actions.

One HTTP path (`_send`) does what every call needs: a bearer token from the
pool-wide cache, a timeout, JSON headers, one re-authentication on 401, one
immediate retry of MI_MODIFIED_ERROR, and error classification
(connector/ifs/errors.py). Everything above it is small:

- `query` streams rows page by page (§8/§10 paging: `$top`/`$skip` with a
  stable `$orderby`, and `@odata.nextLink` when the server pages).
- `read_many` does several reads of one projection in one `$batch` call (§9).
- `patch` always sends If-Match (§7: a PATCH without it is an upsert).
- `update` and `bound_action` read the ETag by key right before writing and,
  on 412, re-read, re-apply and retry a bounded number of times (§7,
  design.md invariant 4).

Nothing here retries a write whose outcome is unknown (timeouts, 5xx): IFS has
no idempotency keys (§9), so that decision belongs to the flow, which checks
for the effect before writing again (design.md invariant 2).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from connector import fencing
from connector.errors import RateLimited, TransientError
from connector.ifs import batch, odata
from connector.ifs.auth import IfsTokenProvider
from connector.ifs.errors import (
    EtagConflict,
    IfsRejected,
    IfsServerError,
    classify,
    is_mi_modified,
    parse_error,
)
from connector.json_types import JsonObject
from connector.retrying import Again, in_call_policy

if TYPE_CHECKING:
    from connector.coordination import Coordinator
    from connector.settings import Settings

log = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_MAX_WHAT = 300
READ_RETRIES = 2  # in-call retries of a read; the job's own backoff is for longer trouble


@dataclass(frozen=True)
class Read:
    """One read for `read_many`: an entity by key, or a (small) collection."""

    path: str
    filter: str | None = None
    select: tuple[str, ...] | None = None

    def relative_url(self) -> str:
        params = odata.query_params(filter=self.filter, select=self.select)
        return f"{self.path}?{odata.encode_query(params)}" if params else self.path


class IfsClient:
    def __init__(self, settings: Settings, coordinator: Coordinator, session: requests.Session | None = None):
        self.settings = settings
        self._session = session or requests.Session()
        self._timeout = settings.http_timeout_seconds
        self._base = settings.ifs_base_url.rstrip("/")
        self._prefix = settings.mapping.ifs.prefix.strip("/")
        self.auth = IfsTokenProvider(settings, coordinator, self._session)
        # In-call retries (connector/retrying.py); each loop counts its own budget.
        self._retrying = in_call_policy(lambda seconds: time.sleep(seconds))

    # ------------------------------------------------------------------ URLs

    def url(self, projection: str, path: str = "") -> str:
        """`<base>/<prefix>/ifsapplications/projection/v1/<Projection>.svc/<path>` (§1)."""
        odata._check_name(projection, "projection")
        return (f"{self._base}/{self._prefix}/ifsapplications/projection/v1/"
                f"{projection}.svc/{path.lstrip('/')}")

    # ----------------------------------------------------------------- reads

    def query(
        self,
        projection: str,
        path: str,
        *,
        filter: str | None = None,
        select: str | list[str] | None = None,
        orderby: str | list[str] | None = None,
        page_size: int = 1000,
    ) -> Iterator[JsonObject]:
        """Stream the rows of a collection, one page in memory at a time.

        With `orderby` (use the key columns, so the order is total): pages of
        `$top=page_size` / `$skip`, following `@odata.nextLink` inside a page
        when the server splits it further, until a short page (§8).

        Without `orderby` there is no stable order to page by, so no `$top` is
        sent: the server returns everything, or pages it itself through
        `@odata.nextLink`, which is followed. Pass `orderby` for large sets.
        """
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        if "?" in path:
            raise ValueError("pass query options as arguments (filter=, select=, orderby=), not in the path")
        what = f"GET {projection}.svc/{path}"
        if orderby is None:
            url: str | None = self._with_query(self.url(projection, path),
                                               odata.query_params(filter=filter, select=select))
            while url:
                data = self._get_json(url, what)
                yield from _rows(data, what)
                url = self._next_link(url, data)
            return

        skip = 0
        while True:
            params = odata.query_params(filter=filter, select=select, orderby=orderby,
                                        top=page_size, skip=skip)
            url = self._with_query(self.url(projection, path), params)
            received = 0
            while url:  # one client page; the server may split it with nextLinks
                data = self._get_json(url, f"{what} (skip={skip})")
                rows = _rows(data, what)
                received += len(rows)
                yield from rows
                url = self._next_link(url, data)
            if received != page_size:
                # Short page: the end. More than asked: the server ignored
                # $top, so it also sent the rest.
                return
            skip += received

    def get(self, projection: str, path: str) -> JsonObject:
        """GET by key: the entity including `@odata.etag` (§7)."""
        response = self._send("GET", self.url(projection, path), what=f"GET {projection}.svc/{path}")
        entity = _json(response, f"GET {projection}.svc/{path}")
        if not isinstance(entity, dict):
            raise TransientError(f"IFS GET {_clip(projection + '.svc/' + path)}: response is not an entity")
        return _with_etag(entity, response)

    def read_many(self, projection: str, reads: list[Read]) -> list[Any]:
        """Several reads of one projection in one `$batch` round trip (§9):
        an entity by key comes back as a dict with its `@odata.etag`, a
        collection as its list of rows (later pages follow `@odata.nextLink`
        with plain GETs). A failed part raises what the same GET alone would.
        With `ifs_batch_reads` off (a gateway that blocks `$batch`), one GET
        per read."""
        if not self.settings.ifs_batch_reads:
            return [self._read_alone(projection, read) for read in reads]
        what = f"POST {projection}.svc/$batch ({len(reads)} reads)"
        body, content_type = batch.encode_gets([read.relative_url() for read in reads])
        for retried_modified in (False, True):
            response = self._send("POST", self.url(projection, "$batch"), what=what, raw=(body, content_type),
                                  headers={"Accept": "multipart/mixed"}, read_only=True)
            try:
                parts = batch.decode_responses(response.headers.get("Content-Type", ""), response.content)
            except batch.BatchFormatError as exc:
                raise TransientError(f"IFS {what}: {exc}") from None
            failed = next((p for p in parts if not 200 <= p.status_code < 300), None)
            if failed is not None and is_mi_modified(parse_error(failed)) and not retried_modified:
                log.info("IFS MI_MODIFIED_ERROR in a batch, retrying once", extra={"ifs_request": what})
                continue
            break
        results = []
        for read, part in zip(reads, parts):
            part_what = f"GET {projection}.svc/{read.relative_url()} (in $batch)"
            if not 200 <= part.status_code < 300:
                raise classify(part, part_what)
            results.append(self._part_result(projection, read, part, part_what))
        if len(results) != len(reads):
            raise TransientError(f"IFS {what}: {len(parts)} of {len(reads)} parts answered")
        return results

    def _part_result(self, projection: str, read: Read, part: requests.Response, what: str) -> Any:
        """An entity (with its ETag) or every row of a collection, told apart by the answer."""
        data = _json(part, what)
        if not (isinstance(data, dict) and isinstance(data.get("value"), list)):
            return _with_etag(data, part) if isinstance(data, dict) else data
        rows = list(data["value"])
        url = self._next_link(self.url(projection, read.relative_url()), data)
        while url:
            page = self._get_json(url, what)
            rows += _rows(page, what)
            url = self._next_link(url, page)
        return rows

    def _read_alone(self, projection: str, read: Read) -> Any:
        what = f"GET {projection}.svc/{read.relative_url()}"
        response = self._send("GET", self.url(projection, read.relative_url()), what=what)
        return self._part_result(projection, read, response, what)

    def metadata(self, projection: str) -> str:
        """The projection's CSDL `$metadata` document (XML, §1)."""
        response = self._send("GET", self.url(projection, "$metadata"),
                              what=f"GET {projection}.svc/$metadata",
                              headers={"Accept": "application/xml"})
        return response.text

    # ---------------------------------------------------------------- writes

    def create(self, projection: str, entity_set: str, body: Mapping[str, Any]) -> JsonObject:
        """POST a new entity (201 + the entity with `Prefer: return=representation`, §8).

        Not retried on an unknown outcome: IFS has no idempotency key (§9);
        after a TransientError look the record up by an external reference
        before creating it again."""
        what = f"POST {projection}.svc/{entity_set}"
        response = self._send("POST", self.url(projection, entity_set), what=what, body=body,
                              headers={"Prefer": "return=representation"})
        if response.status_code == 204 or not response.content:
            return _with_etag({}, response)
        entity = _json(response, what)
        return _with_etag(entity, response) if isinstance(entity, dict) else {"value": entity}

    def patch(self, projection: str, path: str, changes: Mapping[str, Any], etag: str) -> JsonObject:
        """PATCH with `If-Match: etag`, always (§7: without it IFS upserts, so
        a wrong key would create a record). None values are omitted; send
        `odata.NULL` to clear a field. Returns the updated entity (its new
        ETag included) when IFS sends it back."""
        if not etag or not str(etag).strip():
            raise ValueError("refusing to PATCH without an ETag: IFS treats that as an upsert")
        if not odata.json_value(changes):
            raise ValueError("nothing to PATCH (None values are omitted; use odata.NULL to clear)")
        what = f"PATCH {projection}.svc/{path}"
        response = self._send("PATCH", self.url(projection, path), what=what, body=changes,
                              headers={"If-Match": etag, "Prefer": "return=representation"})
        if response.status_code == 204 or not response.content:
            return _with_etag({}, response)
        entity = _json(response, what)
        return _with_etag(entity, response) if isinstance(entity, dict) else {}

    def update(
        self,
        projection: str,
        path: str,
        apply: Callable[[JsonObject], Mapping[str, Any] | None],
        attempts: int = 5,
        current: JsonObject | None = None,
    ) -> JsonObject | None:
        """Read-modify-write under optimistic concurrency (§7, invariant 4).

        GET by key -> `changes = apply(entity)` -> None or {} means there is
        nothing to do (returns None) -> PATCH with the ETag just read. On 412,
        or a PATCH whose outcome is unknown (5xx, lost connection), the entity
        is read again and `apply` runs on the new version - it sees whether
        the change landed - at most `attempts` times; then the last error.
        `current`, an entity the caller read by key moments ago, saves the
        first GET: if it is stale the PATCH answers 412 and the loop reads it
        again."""
        for try_ in self._retrying.copy():
            with try_:
                attempt = try_.retry_state.attempt_number - 1
                entity = current if attempt == 0 and current is not None else self.get(projection, path)
                changes = apply(entity)
                if not changes:
                    return None
                try:
                    return self.patch(projection, path, changes, _etag(entity, projection, path))
                except EtagConflict:
                    log.info("IFS ETag conflict, re-reading", extra={"ifs_path": _clip(path), "attempt": attempt + 1})
                except RateLimited:
                    raise  # the job waits; hammering would not help
                except TransientError as exc:
                    if attempt + 1 >= attempts:
                        raise
                    log.info("IFS PATCH outcome unknown (%s), re-reading", type(exc).__name__,
                             extra={"ifs_path": _clip(path), "attempt": attempt + 1})
                if attempt + 1 >= attempts:
                    raise EtagConflict(f"IFS PATCH {_clip(projection + '.svc/' + path)}: "
                                       f"entity kept changing ({attempts} attempts)")
                raise Again(_conflict_wait(attempt))
        raise AssertionError("unreachable: the retry policy never stops")

    def bound_action(
        self,
        projection: str,
        entity_path: str,
        action_name: str,
        body: Mapping[str, Any] | None,
        attempts: int = 5,
        check: Callable[[JsonObject], bool] | None = None,
    ) -> Any:
        """POST `<entity_path>/IfsApp.<Projection>.<action_name>` with If-Match (§3, §7).

        The ETag comes from a GET by key right before each try. `check(entity)`
        runs on every read (the first one too): when it returns True the
        effect is already there (an earlier attempt, or another worker) and
        None is returned without calling the action - IFS actions are not
        idempotent. On 412 the entity is read again, bounded by `attempts`.
        Returns the action's `value`."""
        odata._check_name(action_name, "action")
        action_path = f"{entity_path}/IfsApp.{projection}.{action_name}"
        what = f"POST {projection}.svc/{action_path}"
        for try_ in self._retrying.copy():
            with try_:
                attempt = try_.retry_state.attempt_number - 1
                entity = self.get(projection, entity_path)
                if check is not None and check(entity):
                    return None
                etag = _etag(entity, projection, entity_path)
                try:
                    response = self._send("POST", self.url(projection, action_path), what=what,
                                          body=body or {}, headers={"If-Match": etag})
                except EtagConflict:
                    log.info("IFS ETag conflict on action, re-reading",
                             extra={"ifs_action": action_name, "attempt": attempt + 1})
                    if attempt + 1 >= attempts:
                        raise EtagConflict(f"IFS {_clip(what)}: entity kept changing ({attempts} attempts)") from None
                    raise Again(_conflict_wait(attempt)) from None
                return _action_value(response, what)
        raise AssertionError("unreachable: the retry policy never stops")

    def unbound_action(self, projection: str, action_name: str, body: Mapping[str, Any] | None) -> Any:
        """POST `<Projection>.svc/<action_name>` (e.g. StartReserveShipment, §4); returns `value`."""
        odata._check_name(action_name, "action")
        what = f"POST {projection}.svc/{action_name}"
        response = self._send("POST", self.url(projection, action_name), what=what, body=body or {})
        return _action_value(response, what)

    # ------------------------------------------------------------------ HTTP

    def _get_json(self, url: str, what: str) -> Any:
        return _json(self._send("GET", url, what=what), what)

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: tuple[bytes, str] | None = None,
        read_only: bool | None = None,
    ) -> requests.Response:
        """One request with: a timeout; Accept/Content-Type (§8); one re-auth
        on 401 (§2); one immediate retry of MI_MODIFIED_ERROR (§9); for a
        read (GETs, or `read_only`), up to READ_RETRIES short jittered retries
        of a 5xx or a lost connection, so one blip does not abort a long job;
        any other non-2xx classified into the connector's taxonomy. `raw` is
        a body that is not JSON, with its content type."""
        what = _clip(what)
        request_headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = odata.json_body(body)
            request_headers["Content-Type"] = "application/json"  # §8: else ODP_DESERIALIZATION_ERROR
        if raw is not None:
            data, request_headers["Content-Type"] = raw
        reauthenticated = retried_modified = False
        reads = method == "GET" if read_only is None else read_only
        read_retries = READ_RETRIES if reads else 0
        for try_ in self._retrying.copy():
            with try_:
                token = self.auth.token()
                if not reads:
                    fencing.before_write(self._timeout)
                started = time.monotonic()
                try:
                    response = self._session.request(
                        method, url, data=data, timeout=self._timeout, allow_redirects=False,
                        headers={**request_headers, "Authorization": f"Bearer {token}"},
                    )
                except _TRANSPORT_ERRORS as exc:
                    if read_retries:
                        read_retries -= 1
                        raise Again(_read_retry_wait(what, type(exc).__name__)) from None
                    raise TransientError(f"IFS {what}: {type(exc).__name__}") from exc
                status = response.status_code
                log.debug("IFS request", extra={"ifs_request": what, "status": status,
                                                "ms": round((time.monotonic() - started) * 1000)})
                if 200 <= status < 300:
                    return response
                if status == 401 and not reauthenticated:
                    # §2: on a 401, retry once with a new token.
                    reauthenticated = True
                    self.auth.invalidate(token)
                    raise Again(0)
                if status >= 500 and not retried_modified and is_mi_modified(parse_error(response)):
                    # §9: stale projection metadata cache; the same request once more.
                    retried_modified = True
                    log.info("IFS MI_MODIFIED_ERROR, retrying once", extra={"ifs_request": what})
                    raise Again(0)
                error = classify(response, what)
                if read_retries and isinstance(error, IfsServerError):
                    read_retries -= 1
                    raise Again(_read_retry_wait(what, f"HTTP {status}"))
                raise error
        raise AssertionError("unreachable: the retry policy never stops")

    @staticmethod
    def _with_query(url: str, params: Mapping[str, str]) -> str:
        return f"{url}?{odata.encode_query(params)}" if params else url

    def _next_link(self, current: str, data: Any) -> str | None:
        """`@odata.nextLink` resolved as OData JSON 4.01 §4.3 says (absolute,
        root-relative, or relative to the payload's `@odata.context`, i.e. the
        service root; the request URL only when there is no context), then
        re-based onto the configured host: IFS behind a proxy reports its
        internal host in links (see the §1 @odata.context example), and the
        bearer token must only ever go to our base URL."""
        link = data.get("@odata.nextLink") if isinstance(data, dict) else None
        if not link:
            return None
        parts = urlsplit(urljoin(_base_url(current, data), link))
        origin = urlsplit(self._base)
        nxt = f"{origin.scheme}://{origin.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        if nxt == current:
            raise IfsRejected(f"IFS @odata.nextLink points at the same page: {_clip(link)}")
        return nxt


# ---------------------------------------------------------------- helpers

def _base_url(request_url: str, data: JsonObject) -> str:
    """The base of relative URLs in a payload (OData JSON 4.01 §4.3): its
    context URL (itself resolved against the request URL), else the request
    URL. RFC 3986 resolution drops the context's `$metadata#...` part."""
    context = data.get("@odata.context")
    return urljoin(request_url, context) if isinstance(context, str) and context else request_url


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise TransientError(f"IFS {_clip(what)}: HTTP {response.status_code} response is not JSON") from None


def _rows(data: Any, what: str) -> list[JsonObject]:
    rows = data.get("value") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise TransientError(f"IFS {_clip(what)}: response has no 'value' collection")
    return rows


def _with_etag(entity: JsonObject, response: requests.Response) -> JsonObject:
    """§7: prefer the body's @odata.etag; fall back to the ETag header."""
    if not entity.get("@odata.etag") and response.headers.get("ETag"):
        entity = {**entity, "@odata.etag": response.headers["ETag"]}
    return entity


def _etag(entity: JsonObject, projection: str, path: str) -> str:
    etag = entity.get("@odata.etag")
    if not etag:
        raise IfsRejected(f"IFS GET {_clip(projection + '.svc/' + path)} returned no @odata.etag; "
                          "cannot write safely")
    return str(etag)


def _action_value(response: requests.Response, what: str) -> Any:
    """Actions answer `{"value": ...}` (§11) or 204 No Content."""
    if response.status_code == 204 or not response.content:
        return None
    data = _json(response, what)
    if isinstance(data, dict) and "value" in data:
        return data["value"]
    return data


def _conflict_wait(attempt: int) -> float:
    """A short jittered pause before re-reading after a 412, so two writers
    racing on one entity do not collide again in lock-step."""
    return random.uniform(0, min(1.0, 0.05 * 2 ** attempt))


def _read_retry_wait(what: str, why: str) -> float:
    log.info("IFS read failed (%s), retrying", why, extra={"ifs_request": what})
    return random.uniform(0.2, 1.0)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_WHAT else text[: _MAX_WHAT - 1] + "…"
