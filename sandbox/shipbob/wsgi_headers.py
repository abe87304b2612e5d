"""Let `shipbob_channel_id` through werkzeug's development server.

ShipBob's channel header is spelled with underscores (shipbob.md §3). werkzeug's
WSGIRequestHandler drops every header whose name contains "_" (two spellings would map
to one CGI variable), so behind `sandbox.server.BackgroundServer` or `run()` the header
would never reach the app and every POST /order would fail. This keeps that one header
name, and only it, under the CGI name any underscore-tolerant server would give it.
"""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler

KEPT_HEADERS = frozenset({"shipbob_channel_id"})


def install() -> None:
    if getattr(WSGIRequestHandler.make_environ, "_keeps_shipbob_headers", False):
        return
    original = WSGIRequestHandler.make_environ

    def make_environ(self):
        environ = original(self)
        for key, value in self.headers.items():
            if key.lower() in KEPT_HEADERS:
                environ.setdefault("HTTP_" + key.upper(), value.replace("\r\n", ""))
        return environ

    make_environ._keeps_shipbob_headers = True
    WSGIRequestHandler.make_environ = make_environ
