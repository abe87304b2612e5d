"""The Flask app: token endpoint, projection routes, test hooks; `run()`.

Projection calls pass, in order: latency, injected 503/429 (a gateway in
front of IFS), the bearer token (401), MI_MODIFIED_ERROR and random 5xx
faults, then the OData provider under the store lock.

`POST <Projection>.svc/$batch` (ifs-cloud.md §9) passes those checks once,
as one call; each request inside it is then built and answered exactly as
the same request sent alone (`_odata_request`, `_serve`). The multipart
format lives in `batch.py`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from flask import Flask, Response, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from sandbox.ifs import batch, hooks, metadata
from sandbox.ifs.config import IfsSandboxConfig
from sandbox.ifs.errors import ODataError, bad_request, not_found
from sandbox.ifs.service import ODataRequest, Reply
from sandbox.ifs.state import Sandbox

PROJECTION_ROOT = "/ifsapplications/projection/v1/"
JSON = "application/json;odata.metadata=minimal"


def create_app(config: IfsSandboxConfig | None = None) -> Flask:
    config = config or IfsSandboxConfig()
    app = Flask(__name__)
    app.extensions["ifs_sandbox"] = Sandbox(config)
    app.register_blueprint(hooks.bp)
    app.add_url_rule("/auth/realms/<realm>/protocol/openid-connect/token", "token",
                     _token, methods=["POST"])
    app.add_url_rule("/auth/realms/<realm>/.well-known/openid-configuration", "oidc",
                     _discovery, methods=["GET"])
    app.add_url_rule("/<prefix>/ifsapplications/projection/v1/<path:rest>", "projection",
                     _projection, methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    app.register_error_handler(ODataError, _odata_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def _sandbox() -> Sandbox:
    from flask import current_app
    return current_app.extensions["ifs_sandbox"]


def _json(status: int, body, headers: dict | None = None, mimetype: str = JSON) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(text, status, content_type=mimetype)
    response.headers.update(headers or {})
    return response


def _odata_error(exc: ODataError) -> Response:
    return _json(exc.status, exc.body(), {"OData-Version": "4.0", **exc.headers})


def _http_error(exc: HTTPException) -> Response:
    code = {404: "ODP_RESOURCE_NOTFOUND", 405: "ODP_METHOD_NOT_ALLOWED"}.get(exc.code, "ODP_ERROR")
    return _odata_error(ODataError(exc.code or 500, code, exc.description or exc.name))


def _unexpected(exc: Exception) -> Response:
    """A sandbox bug: logged, and still answered in the envelope clients parse."""
    from flask import current_app
    current_app.logger.exception("IFS sandbox error")
    return _odata_error(ODataError(500, "ODP_INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"))


# ------------------------------------------------------------------- IAM

def _token(realm: str) -> Response:
    sandbox = _sandbox()
    if realm != sandbox.config.realm:
        return _json(404, {"error": "Realm does not exist"}, mimetype="application/json")
    if request.mimetype != "application/x-www-form-urlencoded":
        return _json(400, {"error": "invalid_request",
                           "error_description": "Content-Type must be application/x-www-form-urlencoded"},
                     mimetype="application/json")
    basic = None
    if request.authorization and request.authorization.type == "basic":
        basic = (request.authorization.username, request.authorization.password)
    issuer = f"{request.host_url}auth/realms/{realm}"
    status, body = sandbox.auth.issue(request.form.to_dict(), basic, issuer)
    return _json(status, body, {"Cache-Control": "no-store"}, mimetype="application/json")


def _discovery(realm: str) -> Response:
    if realm != _sandbox().config.realm:
        return _json(404, {"error": "Realm does not exist"}, mimetype="application/json")
    issuer = f"{request.host_url}auth/realms/{realm}"
    return _json(200, {"issuer": issuer,
                       "token_endpoint": f"{issuer}/protocol/openid-connect/token",
                       "grant_types_supported": ["client_credentials"],
                       "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                                 "client_secret_basic"]},
                 mimetype="application/json")


# ------------------------------------------------------------ projections

def _projection(prefix: str, rest: str) -> Response:
    sandbox = _sandbox()
    if prefix not in sandbox.config.served_prefixes():
        raise not_found(f"Prefix '/{prefix}/' is not served.")
    raw_path, segments = _segments()
    projection_segment = segments[0] if segments else ""
    if not projection_segment.endswith(".svc"):
        raise not_found(f"'{projection_segment}' is not a projection service.")

    faults = sandbox.faults
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000)
    retry_after = {"Retry-After": str(faults.retry_after)}
    if faults.take("unavailable"):
        raise ODataError(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable.",
                         headers=retry_after)
    if faults.take("too_many"):
        raise ODataError(429, "TOO_MANY_REQUESTS", "Too many requests.", headers=retry_after)
    if not sandbox.auth.valid(request.headers.get("Authorization")):
        raise ODataError(401, "UNAUTHORIZED",
                         "Authentication required: the bearer token is missing, unknown or expired.",
                         headers={"WWW-Authenticate":
                                  f'Bearer realm="{sandbox.config.realm}", error="invalid_token"'})
    projection = sandbox.model.projections.get(projection_segment[:-4])
    if projection is None:
        raise not_found(f"Projection '{projection_segment[:-4]}' does not exist.")
    below = segments[1:]
    if below and below[-1] == "":
        below = below[:-1]
    resource = below[0].split("(", 1)[0] if below else "$service"
    sandbox.stats.request(f"{projection.name}/{resource}", request.method)
    if faults.take("mi_modified"):
        raise ODataError(500, "MI_MODIFIED_ERROR",
                         f"The metadata of projection {projection.name} has been modified. "
                         "Retry the request.")
    status = faults.random_error()
    if status:
        raise ODataError(status, "INTERNAL_SERVER_ERROR", "Injected server error.")

    root = _Root(host_url=request.host_url,
                 path=f"/{prefix}{PROJECTION_ROOT}{projection_segment}/")
    if below and below[0] == "$batch":
        return _batch(sandbox, projection, root, below)
    odata_request = _odata_request(
        root, request.method, raw_path, below, list(request.args.items(multi=True)),
        request.headers, request.get_data(), request.mimetype)
    reply = _serve(sandbox, projection, odata_request)
    if reply.write:
        sandbox.stats.write(reply.action)
        if faults.take("lost_response"):
            # The write is done; the client never hears (an uncertain create, §9).
            raise _lost_response()
    status, headers, body = _rendered(reply)
    return Response(body, status, headers=headers)


@dataclass(frozen=True)
class _Root:
    """Where a projection is served: `host_url` ends with '/', `path` is the
    raw absolute path of the service root, ending with '/'."""
    host_url: str
    path: str

    @property
    def url(self) -> str:
        return self.host_url.rstrip("/") + self.path


def _odata_request(root: _Root, method: str, raw_path: str, segments: list[str],
                   query: list[tuple[str, str]], headers, body: bytes, mimetype: str) -> ODataRequest:
    """The provider's view of one request below the service root (`segments`
    decoded; `raw_path` the absolute path as sent, for nextLinks). A request
    inside a $batch is built here too, so it behaves like the same request
    sent alone."""
    args = MultiDict(query)
    return ODataRequest(
        method=method, segments=segments, args=args.to_dict(),
        headers={name: headers.get(name) for name in ("If-Match", "Prefer")
                 if headers.get(name) is not None},
        body=body, mimetype=mimetype, service_root=root.url,
        url_no_query=root.host_url.rstrip("/") + raw_path,
        raw_query=list(args.items(multi=True)))


def _serve(sandbox: Sandbox, projection, req: ODataRequest) -> Reply:
    """Answer one request below the service root (the service document,
    $metadata or the provider); raises ODataError. Writes are not counted
    here: a change set counts them only when it commits."""
    if not req.segments:
        if req.method != "GET":
            raise ODataError(405, "ODP_METHOD_NOT_ALLOWED", "Only GET is allowed here.")
        return Reply(200, metadata.service_document(projection, req.service_root))
    if req.segments[0] == "$metadata":
        return Reply(200, metadata.csdl(projection), {"Content-Type": "application/xml"})
    with sandbox.store.lock:
        return sandbox.provider.handle(projection, req)


def _rendered(reply: Reply) -> tuple[int, dict, bytes]:
    """Status, headers and body bytes of a reply (JSON unless already bytes)."""
    headers = {"OData-Version": "4.0", **reply.headers}
    if reply.body is None:
        return reply.status, headers, b""
    if isinstance(reply.body, bytes):
        return reply.status, headers, reply.body
    text = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
    return reply.status, {"Content-Type": JSON, **headers}, text.encode()


def _error_reply(exc: ODataError) -> Reply:
    return Reply(exc.status, exc.body(), exc.headers)


def _lost_response() -> ODataError:
    return ODataError(504, "GATEWAY_TIMEOUT", "The gateway timed out waiting for IFS.")


def _split_path(path: str) -> list[str]:
    """Decoded segments of a raw path, split before percent-decoding so an
    encoded '/' inside a key literal stays inside its segment."""
    return [unquote(part) for part in path.split("/")]


def _segments() -> tuple[str, list[str]]:
    """Path segments after /v1/ of the current request."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    path = urlsplit(raw).path if "://" in raw else raw.split("?", 1)[0]
    index = path.find(PROJECTION_ROOT)
    below = path[index + len(PROJECTION_ROOT):] if index >= 0 else ""
    return path, _split_path(below)


# ------------------------------------------------------------------ $batch

def _batch(sandbox: Sandbox, projection, root: _Root, below: list[str]) -> Response:
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
        raise _lost_response()
    content_type, body = batch.serialize(results)
    headers = {"OData-Version": "4.0"}
    if keep_going:
        headers["Preference-Applied"] = "odata.continue-on-error"
    return Response(body, 200, content_type=content_type, headers=headers)


def _requests_of(item) -> list[batch.PartRequest]:
    return item.requests if isinstance(item, batch.ChangeSet) else [item]


_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _locate(root: _Root, target: str) -> str:
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


def _run_part(sandbox: Sandbox, projection, root: _Root, part: batch.PartRequest, target: str,
              refs: dict[str, list[str]] | None) -> tuple[batch.PartResponse, Reply, list[str]]:
    """One request of the batch, answered like the same request sent alone
    (errors become the part's response). `refs`: in a change set, the
    entities earlier requests created or changed, by Content-ID, for `$<id>`
    in the URL and in If-Match. Returns the segments the request addressed
    too."""
    path, _, query = target.partition("?")
    segments = _split_path(path)
    if refs is not None and path.startswith("$"):
        name, _, rest = path[1:].partition("/")
        if name in refs:
            segments = refs[name] + (_split_path(rest) if rest else [])
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
        odata_request = _odata_request(
            root, part.method, root.path + path, segments, parse_qsl(query, keep_blank_values=True),
            headers, part.body, batch.media_type(headers.get("Content-Type"))[0])
        reply = _serve(sandbox, projection, odata_request)
    except ODataError as exc:
        reply = _error_reply(exc)
    except Exception as exc:  # a sandbox bug: the other parts still get answers
        from flask import current_app
        current_app.logger.exception("IFS sandbox error in a $batch part")
        reply = _error_reply(ODataError(500, "ODP_INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"))
    status, response_headers, body = _rendered(reply)
    return batch.PartResponse(status, response_headers, body, part.content_id), reply, segments


def _run_change_set(sandbox: Sandbox, projection, root: _Root, change_set: batch.ChangeSet,
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


def _created_path(root: _Root, reply: Reply) -> list[str] | None:
    """Segments of the entity a request created (its Location / OData-EntityId)."""
    location = reply.headers.get("Location") or reply.headers.get("OData-EntityId")
    if not location or not location.startswith(root.url):
        return None
    # Built from key literals, not percent-encoded: split outside quotes.
    return re.findall(r"(?:[^/']|'[^']*')+", location[len(root.url):])


# --------------------------------------------------------------------- run

def run(port: int = 8001, host: str = "127.0.0.1", seed_orders: int = 0, **config) -> None:
    """Serve the sandbox (the CLI's `ifs-shipbob sandbox ifs` calls this).
    `config` takes IfsSandboxConfig fields; `seed_orders` > 0 seeds a data
    set of that many orders first."""
    from werkzeug.serving import run_simple

    from sandbox.ifs.seed import SeedRequest, seed

    app = create_app(IfsSandboxConfig(**config))
    if seed_orders:
        sandbox = app.extensions["ifs_sandbox"]
        summary = seed(sandbox.store, SeedRequest(orders=seed_orders,
                                                  parts=max(50, seed_orders // 2)))
        print(f"seeded: {summary}")
    run_simple(host, port, app, threaded=True)
