"""`POST <Projection>.svc/$batch` (ifs-cloud.md §9, OData 4.0 Part 1 §11.7):
`handle_batch` runs the requests of a batch (individual requests and
all-or-nothing change sets, `$<Content-ID>` references, continue-on-error)
once the projection route in `app.py` has passed the batch as one call.

Each request is answered by `answer.py` exactly as the same request sent
alone; the multipart format lives in `batch.py`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from flask import Response, request

from sandbox.ifs import batch
from sandbox.ifs.answer import Root, error_reply, lost_response, odata_request, rendered, serve, split_path
from sandbox.ifs.errors import ODataError, bad_request, not_found
from sandbox.ifs.service import Reply
from sandbox.ifs.state import Sandbox


def handle_batch(sandbox: Sandbox, projection, root: Root, below: list[str]) -> Response:
    """POST <Projection>.svc/$batch (ifs-cloud.md §9, OData 4.0 Part 1 §11.7).

    Auth, faults and the request count were applied to the batch as one
    call. Each part then runs like the same request sent alone; a change
    set runs under the store lock and is rolled back if a request fails.
    Without `Prefer: odata.continue-on-error` processing stops after the
    first failed part."""
    if len(below) > 1:
        raise not_found(f"Resource path '{'/'.join(below)}' is not supported.")
    if request.method != "POST":
        raise ODataError(405, "ODP_METHOD_NOT_ALLOWED", "$batch is invoked with POST.")
    try:
        items = batch.parse(request.headers.get("Content-Type"), request.get_data())
        targets = [[_locate(root, part.target) for part in _requests_of(item)] for item in items]
    except batch.BatchFormatError as exc:
        raise bad_request(f"Malformed batch request: {exc}") from None
    keep_going = batch.continue_on_error(request.headers.get("Prefer"))
    results: list = []
    wrote = False
    for item, located in zip(items, targets):
        if isinstance(item, batch.ChangeSet):
            result, ok, writes = _run_change_set(sandbox, projection, root, item, located)
        else:
            result, reply, _ = _run_part(sandbox, projection, root, item, located[0], None)
            ok, writes = reply.status < 400, [reply.action] if reply.write else []
        for action in writes:
            sandbox.stats.write(action)
        wrote = wrote or bool(writes)
        results.append(result)
        if not ok and not keep_going:
            break  # §11.7: later requests are not processed
    if wrote and sandbox.faults.take("lost_response"):
        raise lost_response()
    content_type, body = batch.serialize(results)
    headers = {"OData-Version": "4.0"}
    if keep_going:
        headers["Preference-Applied"] = "odata.continue-on-error"
    return Response(body, 200, content_type=content_type, headers=headers)


def _requests_of(item) -> list[batch.PartRequest]:
    return item.requests if isinstance(item, batch.ChangeSet) else [item]


_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _locate(root: Root, target: str) -> str:
    """A part's request-target as a raw path relative to the service root,
    with its query. Absolute paths and URLs must lie in this projection's
    service: a batch covers one projection."""
    if target.startswith("$") and not target.startswith(("$metadata", "$batch")):
        return target  # a $<Content-ID> reference, resolved when the part runs
    if _ABSOLUTE_URL.match(target) or target.startswith("/"):
        parts = urlsplit(target)
        if parts.scheme and f"{parts.scheme}://{parts.netloc}/".lower() != root.host_url.lower():
            raise batch.BatchFormatError(f"'{target}' is not on this server.")
        if not (parts.path + "/").startswith(root.path):
            raise batch.BatchFormatError(
                f"'{target}' is not in the service {root.path} (a batch covers one projection).")
        target = parts.path[len(root.path):] + (f"?{parts.query}" if parts.query else "")
    if target.split("?", 1)[0].split("/", 1)[0] == "$batch":
        raise batch.BatchFormatError("A batch cannot contain a $batch request.")
    return target


def _run_part(sandbox: Sandbox, projection, root: Root, part: batch.PartRequest, target: str,
              refs: dict[str, list[str]] | None) -> tuple[batch.PartResponse, Reply, list[str]]:
    """One request of the batch, answered like the same request sent alone
    (errors become the part's response). `refs`: in a change set, the
    entities earlier requests created or changed, by Content-ID, for `$<id>`
    in the URL and in If-Match. Returns the segments the request addressed
    too."""
    path, _, query = target.partition("?")
    segments = split_path(path)
    if refs is not None and path.startswith("$"):
        name, _, rest = path[1:].partition("/")
        if name in refs:
            segments = refs[name] + (split_path(rest) if rest else [])
            path = "/".join(segments)
    if segments and segments[-1] == "":
        segments = segments[:-1]
    headers = part.headers
    if_match = headers.get("If-Match") or ""
    if refs is not None and if_match.startswith("$") and if_match[1:] in refs:
        etag = sandbox.provider.etag_at(projection, refs[if_match[1:]])
        if etag is not None:
            headers = batch.Headers({**headers, "if-match": etag})
    resource = segments[0].split("(", 1)[0] if segments else "$service"
    sandbox.stats.batch_part(f"{projection.name}/{resource}", part.method)
    try:
        req = odata_request(
            root, part.method, root.path + path, segments, parse_qsl(query, keep_blank_values=True),
            headers, part.body, batch.media_type(headers.get("Content-Type"))[0])
        reply = serve(sandbox, projection, req)
    except ODataError as exc:
        reply = error_reply(exc)
    except Exception as exc:  # a sandbox bug: the other parts still get answers
        from flask import current_app
        current_app.logger.exception("IFS sandbox error in a $batch part")
        reply = error_reply(ODataError(500, "ODP_INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"))
    status, response_headers, body = rendered(reply)
    return batch.PartResponse(status, response_headers, body, part.content_id), reply, segments


def _run_change_set(sandbox: Sandbox, projection, root: Root, change_set: batch.ChangeSet,
                    targets: list[str]):
    """All or nothing: (responses, True, write actions) when every request
    succeeds, else (the failed request's response, False, []) with the store
    as it was before the change set."""
    refs: dict[str, list[str]] = {}
    responses: list[batch.PartResponse] = []
    writes: list[str | None] = []
    with sandbox.store.lock:
        snapshot = sandbox.store.snapshot()
        for part, target in zip(change_set.requests, targets):
            response, reply, segments = _run_part(sandbox, projection, root, part, target, refs)
            if reply.status >= 400:
                sandbox.store.restore(snapshot)
                return response, False, []
            responses.append(response)
            if reply.write:
                writes.append(reply.action)
            created = _created_path(root, reply)
            if created is not None:
                refs[part.content_id] = created
            elif part.method in ("PATCH", "PUT") and segments:
                refs[part.content_id] = segments
    return responses, True, writes


def _created_path(root: Root, reply: Reply) -> list[str] | None:
    """Segments of the entity a request created (its Location / OData-EntityId)."""
    location = reply.headers.get("Location") or reply.headers.get("OData-EntityId")
    if not location or not location.startswith(root.url):
        return None
    # Built from key literals, not percent-encoded: split outside quotes.
    return re.findall(r"(?:[^/']|'[^']*')+", location[len(root.url):])

