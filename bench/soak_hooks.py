"""The sandboxes' test hooks (`/_sandbox/...`), as the soak's day and scorecard call them."""

from __future__ import annotations

import requests


def hook(url: str, path: str, body: dict | None = None, method: str = "POST", timeout: float = 120):
    response = requests.request(method, f"{url}/_sandbox/{path}", json=body, timeout=timeout)
    response.raise_for_status()
    return response.json() if response.content else None


def ifs_rows(url: str, entity_set: str) -> list[dict]:
    """Every row of an IFS sandbox entity set (unpaged)."""
    return hook(url, f"dump/{entity_set}", method="GET")["value"]
