"""JSON in and out: IFS entity envelopes and request bodies.

Out (ifs-cloud.md §8, §11.3): every entity carries `@odata.etag`, `luname`,
`keyref` and `Objgrants`; enums are bare member names, dates `YYYY-MM-DD`,
timestamps `YYYY-MM-DDThh:mm:ssZ`.
In: bodies must be `Content-Type: application/json` and valid JSON, else
ODP_DESERIALIZATION_ERROR (§9); unknown properties and values of the wrong
type are refused the same way; read-only attributes such as Objstate are
refused with 400 (§11.7).
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.ifs.edm import Action, EntityType, Prop, ValueFormatError, from_json, to_json
from sandbox.ifs.errors import bad_request, deserialization
from sandbox.ifs.store import etag_of


def entity_json(etype: EntityType, row: dict, select: list[Prop] | None = None) -> dict:
    out: dict[str, Any] = {"@odata.etag": etag_of(row), "luname": etype.name,
                           "keyref": etype.keyref(row), "Objgrants": None}
    for prop in select or etype.props:
        out[prop.name] = to_json(prop, prop.get(row))
    return out


def read_json(raw: bytes, mimetype: str, *, empty_ok: bool = False) -> dict:
    """The body as a JSON object. `empty_ok`: a parameterless action may be
    posted without any body."""
    if not raw and empty_ok:
        return {}
    if mimetype != "application/json":
        raise deserialization(
            f"Content-Type must be application/json (got {mimetype or 'none'}).")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise deserialization("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise deserialization("The body must be a JSON object.")
    return body


def parse_entity(etype: EntityType, body: dict, *, mode: str) -> tuple[dict, dict]:
    """Body -> (values by attr, deep-insert children by child LU name).
    `mode` is "create" (insertable attributes) or "update" (updatable ones;
    key attributes are returned too so the caller can compare them)."""
    values: dict[str, Any] = {}
    children: dict[str, list[dict]] = {}
    for name, raw in body.items():
        if name.startswith("@odata."):
            continue  # annotations, e.g. an @odata.etag echoed back
        nav = etype.navigations.get(name)
        if nav is not None and mode == "create":
            if not isinstance(raw, list):
                raise deserialization(f"Navigation '{name}' must be a JSON array for a deep insert.")
            linked = {child for _, child in nav.link}
            items = []
            for item in raw:
                if not isinstance(item, dict):
                    raise deserialization(f"Items of '{name}' must be JSON objects.")
                item_values, _ = parse_entity(nav.target, item, mode="create")
                items.append({k: v for k, v in item_values.items() if k not in linked})
            children[nav.target.name] = items
            continue
        prop = etype.prop(name)
        if prop is None:
            raise deserialization(f"Property '{name}' does not exist in type '{etype.name}'.")
        allowed = prop.insertable if mode == "create" else (prop.updatable or prop.key)
        if not allowed:
            raise bad_request(f"Attribute '{name}' of '{etype.name}' is read-only"
                              + (" (it changes only through state events)." if name == "Objstate"
                                 else "."))
        values[prop.attr] = _value(prop, raw)
    return values, children


def parse_params(action: Action, body: dict) -> dict:
    """Action parameters by internal `attr` (a renamed tenant renames the
    wire only), checked against the action."""
    params: dict[str, Any] = {}
    by_name = {p.name: p for p in action.params}
    for name in body:
        if name not in by_name:
            raise deserialization(f"Action '{action.name}' has no parameter '{name}'.")
    for prop in action.params:
        if prop.name not in body:
            if not prop.nullable:
                raise deserialization(f"Parameter '{prop.name}' of '{action.name}' is mandatory.")
            params[prop.attr] = None
            continue
        params[prop.attr] = _value(prop, body[prop.name])
    return params


def _value(prop: Prop, raw: Any) -> Any:
    try:
        return from_json(prop, raw)
    except ValueFormatError as exc:
        raise deserialization(f"{prop.name}: {exc}") from None
