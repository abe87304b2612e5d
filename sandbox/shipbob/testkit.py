"""A running stand-in for tests: the app on a BackgroundServer plus two thin callers.

    with SandboxHandle(ShipBobSandboxConfig(validate_responses=True)) as sb:
        sb.hook("POST", "/seed", json={"count": 10})
        r = sb.api("POST", "/order", json=order)   # PAT + channel header by default

`api()` talks to /{api_version}/ as a ShipBob client would; `hook()` to /_sandbox/.
"""

from __future__ import annotations

import requests

from sandbox.server import BackgroundServer

from .app import create_app
from .config import ShipBobSandboxConfig


class SandboxHandle:
    def __init__(self, config: ShipBobSandboxConfig | None = None):
        self.config = config or ShipBobSandboxConfig()
        self.app = create_app(self.config)
        self.world = self.app.extensions["shipbob_sandbox"]
        self.server = BackgroundServer(self.app)
        self.url = self.server.url
        self.api_url = f"{self.url}/{self.config.api_version}"
        self.http = requests.Session()

    def start(self) -> "SandboxHandle":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.world.close()
        self.http.close()

    def __enter__(self) -> "SandboxHandle":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def api(self, method: str, path: str, *, token: str | None = None, channel: int | None = None,
            headers: dict | None = None, **kwargs) -> requests.Response:
        """Call the versioned API with the PAT and the first channel unless told otherwise;
        pass token="" or channel=0 to leave a header out."""
        h = {}
        token = self.config.pat if token is None else token
        if token:
            h["Authorization"] = f"Bearer {token}"
        channel = self.config.channels[0].id if channel is None else channel
        if channel:
            h["shipbob_channel_id"] = str(channel)
        h.update(headers or {})
        if path.startswith("http"):
            url = path
        elif path.startswith(f"/{self.config.api_version}/"):  # a `next` link as served
            url = self.url + path
        else:
            url = self.api_url + path
        return self.http.request(method, url, headers=h, timeout=30, **kwargs)

    def hook(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, f"{self.url}/_sandbox{path}", timeout=60, **kwargs)
