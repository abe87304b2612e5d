"""Request helpers shared by the route modules: the world, the body, query parameters.

ASP.NET binds query parameters case-insensitively (`IDs`, `ids`, `Ids` are one), so the
lookups here ignore case too. A value that does not parse is a 400 field map.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, request

from . import timeutil
from .errors import ApiError, bad_request

HEADER_CHANNEL = "shipbob_channel_id"


def world():
    return current_app.extensions["shipbob_sandbox"]


def json_body() -> dict:
    """The request's JSON object; anything else is a 400 field map."""
    if not request.data:
        raise bad_request("", "A non-empty request body is required.")
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise bad_request("", "The request body must be a JSON object.")
    return body


def arg(name: str) -> str | None:
    lname = name.lower()
    for key, value in request.args.items():
        if key.lower() == lname and value != "":
            return value
    return None


def arg_int(name: str, default: int | None = None, lo: int | None = None,
            hi: int | None = None) -> int | None:
    raw = arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(name, f"The value '{raw}' is not valid for {name}.") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise bad_request(name, f"The field {name} must be between {lo} and {hi}.")
    return value


def arg_bool(name: str) -> bool | None:
    raw = arg(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(name, f"The value '{raw}' is not valid for {name}.")


def arg_list(name: str) -> list[str] | None:
    """A list filter as ShipBob's OpenAPI document declares it: one string,
    "comma separated" (`?ReferenceIds=Ref1,Ref2`), split after decoding, so
    `K%2C123` is two values too. A repeated parameter binds to that string
    joined with commas (ASP.NET), so it cannot carry a comma either."""
    lname = name.lower()
    raw = [value for key, values in request.args.lists() if key.lower() == lname for value in values]
    if not any(raw):
        return None
    return [p.strip() for p in ",".join(raw).split(",") if p.strip()]


def arg_ints(name: str) -> set[int] | None:
    items = arg_list(name)
    if items is None:
        return None
    try:
        return {int(i) for i in items}
    except ValueError:
        raise bad_request(name, f"The value '{arg(name)}' is not valid for {name}.") from None


def arg_date(name: str) -> datetime | None:
    raw = arg(name)
    if raw is None:
        return None
    try:
        return timeutil.parse(raw)
    except ValueError:
        raise bad_request(name, f"The value '{raw}' is not valid for {name}.") from None


def channel_header(required: bool, scope: str | None = None, error=bad_request):
    """The caller's channel from `shipbob_channel_id` (shipbob.md §3), or None if absent.

    Missing where required, not a number, or not one of the merchant's channels is a 400
    (⚠ the real status is undocumented, shipbob.md §10.3); writing through a channel
    without the `scope` the call needs is a 403, like a key lacking a permission.
    """
    raw = request.headers.get(HEADER_CHANNEL)
    if raw is None or raw.strip() == "":
        if required:
            raise error(HEADER_CHANNEL, "The shipbob_channel_id header is required.")
        return None
    try:
        channel = world().config.channel(int(raw))
    except ValueError:
        channel = None
    if channel is None:
        raise error(HEADER_CHANNEL, f"Channel '{raw}' does not exist for this merchant.")
    if scope is not None and scope not in channel.scopes:
        raise ApiError(403)
    return channel
