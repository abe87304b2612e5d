"""Run a WSGI app on a background thread: used by tests, the demo and benches."""

from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: the demo and tests print their own."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class BackgroundServer:
    """A threaded werkzeug server on 127.0.0.1; port 0 picks a free port."""

    def __init__(self, app, port: int = 0, host: str = "127.0.0.1"):
        self._server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "BackgroundServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
