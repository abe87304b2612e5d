"""The Flask app: token endpoint, projection routes, test hooks; `run()`.

Projection calls pass, in order: latency, injected 503/429 (a gateway in
front of IFS), the bearer token (401), MI_MODIFIED_ERROR and random 5xx
faults, then the OData provider under the store lock.

That gatekeeping lives here; the request below the service root is then
answered by `answer.py`. `POST <Projection>.svc/$batch` (ifs-cloud.md §9)
passes those checks once, as one call; `batching.py` then runs each request
inside it exactly as the same request sent alone. The multipart format
lives in `batch.py`.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from sandbox.ifs import hooks
from sandbox.ifs.answer import JSON, Root, lost_response, odata_request, rendered, serve, split_path
from sandbox.ifs.batching import handle_batch
from sandbox.ifs.config import IfsSandboxConfig
from sandbox.ifs.errors import ODataError, not_found
from sandbox.ifs.state import Sandbox

PROJECTION_ROOT = "/ifsapplications/projection/v1/"


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

    root = Root(host_url=request.host_url,
                path=f"/{prefix}{PROJECTION_ROOT}{projection_segment}/")
    if below and below[0] == "$batch":
        return handle_batch(sandbox, projection, root, below)
    req = odata_request(
        root, request.method, raw_path, below, list(request.args.items(multi=True)),
        request.headers, request.get_data(), request.mimetype)
    reply = serve(sandbox, projection, req)
    if reply.write:
        sandbox.stats.write(reply.action)
        if faults.take("lost_response"):
            # The write is done; the client never hears (an uncertain create, §9).
            raise lost_response()
    status, headers, body = rendered(reply)
    return Response(body, status, headers=headers)


def _segments() -> tuple[str, list[str]]:
    """Path segments after /v1/ of the current request."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    path = urlsplit(raw).path if "://" in raw else raw.split("?", 1)[0]
    index = path.find(PROJECTION_ROOT)
    below = path[index + len(PROJECTION_ROOT):] if index >= 0 else ""
    return path, split_path(below)


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
