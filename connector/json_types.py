"""The shape of decoded JSON as the connector handles it."""

from __future__ import annotations

from typing import Any, TypeAlias

# A JSON object as an API sent it, or as we send one. Its values stay `Any`:
# each is checked where it is read, against the API document's schema.
JsonObject: TypeAlias = dict[str, Any]
