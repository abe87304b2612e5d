"""A local stand-in for the ShipBob Developer API (2026-01), faithful to shipbob.md §10.

    from sandbox.shipbob import ShipBobSandboxConfig, create_app, run

`create_app(config)` builds the Flask app (serve it with `sandbox.server.BackgroundServer`);
`run(port, host, seed_skus, **config)` serves it from the CLI, also as
`python -m sandbox.shipbob --port 8002`. Test hooks are listed in `hooks.py`.
"""

from .app import create_app
from .config import Channel, FulfillmentCenter, ShipBobSandboxConfig
from .runner import run

__all__ = ["Channel", "FulfillmentCenter", "ShipBobSandboxConfig", "create_app", "run"]
