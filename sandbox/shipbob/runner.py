"""Serve the stand-in from the command line: `run()` backs `ifs-shipbob sandbox shipbob`
and `python -m sandbox.shipbob`."""

from __future__ import annotations

import argparse

from werkzeug.serving import make_server

from . import products
from .app import create_app
from .config import ShipBobSandboxConfig


def run(port: int, host: str = "127.0.0.1", seed_skus: int = 0, **config) -> None:
    """Serve until interrupted. `config` takes ShipBobSandboxConfig fields; `seed_skus`
    creates that many catalog parts (P00001…) with random stock at every FC first."""
    cfg = ShipBobSandboxConfig(**config)
    app = create_app(cfg)
    w = app.extensions["shipbob_sandbox"]
    if seed_skus:
        with w.lock:
            products.seed(w, count=seed_skus)
    server = make_server(host, port, app, threaded=True)
    print(f"ShipBob sandbox (API {cfg.api_version}) on http://{host}:{server.server_port}/"
          f"{cfg.api_version}/ — channel {cfg.channels[0].id}, hooks at /_sandbox/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        w.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m sandbox.shipbob",
                                description="Local stand-in for the ShipBob API")
    p.add_argument("--port", type=int, default=8002)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seed-skus", type=int, default=0)
    p.add_argument("--api-version", default="2026-01")
    p.add_argument("--rate-limit-per-minute", type=int, default=150)
    p.add_argument("--access-token-ttl-seconds", type=float, default=3600)
    p.add_argument("--webhook-retry-time-scale", type=float, default=1.0)
    p.add_argument("--validate-responses", action="store_true")
    a = p.parse_args(argv)
    run(a.port, a.host, a.seed_skus, api_version=a.api_version,
        rate_limit_per_minute=a.rate_limit_per_minute,
        access_token_ttl_seconds=a.access_token_ttl_seconds,
        webhook_retry_time_scale=a.webhook_retry_time_scale,
        validate_responses=a.validate_responses)
