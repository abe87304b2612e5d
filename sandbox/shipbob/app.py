"""The Flask app: routes under /{api_version}/, OAuth at /connect/, hooks at /_sandbox/.

Every versioned request passes the same gate, in the order a real gateway would apply it:
latency fault → Bearer auth (401, no body) → injected 429/5xx → the sliding-window
limiter (429). Every versioned response carries `x-remaining-calls` once the caller is
known (shipbob.md §7, §10.8).
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app, g, request
from werkzeug.exceptions import HTTPException

from . import (
    auth,
    channels,
    history,
    hooks,
    inventory,
    orders,
    products,
    receiving,
    returns,
    shipment_edits,
    shipping_methods,
    validation,
    webhooks,
    wsgi_headers,
)
from .config import ShipBobSandboxConfig
from .errors import ApiError, problem
from .stats import route_key
from .world import World

log = logging.getLogger(__name__)

API_BLUEPRINTS = (channels.bp, products.bp, inventory.bp, history.bp, orders.bp,
                  shipment_edits.bp, shipping_methods.bp, receiving.bp, returns.bp, webhooks.bp)


def create_app(config: ShipBobSandboxConfig | None = None) -> Flask:
    config = config or ShipBobSandboxConfig()
    wsgi_headers.install()
    validator = validation.load(str(validation.spec_path(config.api_version, config.openapi_path)))
    w = World(config, validator)

    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # keep fields in the order the views build them
    app.extensions["shipbob_sandbox"] = w
    prefix = f"/{config.api_version}"
    for bp in API_BLUEPRINTS:
        app.register_blueprint(bp, url_prefix=prefix)
    prefixes = [prefix]
    if config.topics_version != config.api_version:
        # Subscriptions on a newer version than the other calls (see webhooks.py).
        prefixes.append(f"/{config.topics_version}")
        app.register_blueprint(webhooks.bp, url_prefix=prefixes[-1],
                               name=f"webhooks_{config.topics_version.replace('-', '_')}")
    app.register_blueprint(auth.bp)
    app.register_blueprint(hooks.bp, url_prefix="/_sandbox")

    def versioned(path: str) -> bool:
        return any(path.startswith(p + "/") for p in prefixes)

    @app.before_request
    def gate():
        if not versioned(request.path):
            return
        g.api = True
        if w.faults.latency_ms:
            time.sleep(w.faults.latency_ms / 1000)
        identity, why = w.tokens.identify(request.headers.get("Authorization"))
        if identity is None:
            challenge = f'Bearer error="invalid_token", error_description="{why}"' if why else "Bearer"
            raise ApiError(401, None, {"WWW-Authenticate": challenge})
        g.identity = identity.key
        fault = w.faults.next_api_fault()
        if fault is not None:
            g.injected = True
            raise fault
        try:
            g.remaining = w.limiter.hit(identity.key)
        except ApiError:
            g.limited = True
            raise

    @app.after_request
    def account(response):
        if not g.get("api"):
            return response
        if "remaining" in g:
            response.headers["x-remaining-calls"] = str(g.remaining)
        if config.validate_responses:
            response = _checked(w, response)
        w.stats.record(route_key(request.method, request.url_rule.rule if request.url_rule else None,
                                 request.path),
                       response.status_code, g.get("identity"), g.get("page_items"),
                       bool(g.get("limited")), bool(g.get("injected")))
        return response

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        if exc.body is None:
            return app.response_class(status=exc.status, headers=exc.headers)
        return app.json.response(exc.body), exc.status, exc.headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if versioned(request.path) and exc.code and exc.code >= 400:
            return problem(exc.code, exc.name, exc.description), exc.code
        return exc

    @app.errorhandler(Exception)
    def crash(exc: Exception):
        log.exception("ShipBob sandbox failed on %s %s", request.method, request.path)
        return {"message": "An error has occurred.", "sandbox_error": repr(exc)}, 500

    return app


def _checked(w: World, response):
    """Replace a response that breaks the spec's schema with a 500 naming the problems."""
    if not response.is_json or response.status_code == 204:
        return response
    errors = w.validator.response_errors(request.method, request.path, response.status_code,
                                         response.get_json(), tuple(w.webhooks.topics))
    if not errors:
        return response
    log.error("ShipBob sandbox response breaks the spec: %s %s: %s",
              request.method, request.path, errors)
    body = {"message": "sandbox response does not match the ShipBob spec",
            "status": response.status_code, "errors": errors[:20]}
    checked = current_app.json.response(body)
    checked.status_code = 500
    return checked
