"""Relaxed validation against ShipBob's published OpenAPI document (shipbob.md §9).

The generator marks nearly every schema `additionalProperties: false`, even `allOf`/`oneOf`
members, so a strict validator rejects ShipBob's own examples. Relaxed mode:

- drops `additionalProperties: false` everywhere (schema-valued ones stay);
- honours `nullable: true`;
- ignores `required` names the schema (with its `allOf` parents) does not declare, e.g.
  2026-01 `AddProductToOrderByProductIdModel` requiring an undeclared `product_id`;
- reads `oneOf` as `anyOf`: without `additionalProperties: false` the generated branches
  overlap (a by-reference product line also matches nothing-but-optional parents), so
  "exactly one" no longer discriminates anything;
- checks `format: date-time` in requests strictly (RFC 3339: date, time and offset), so
  a bare date where a date-time is declared is refused as the API refuses it;
- for responses only, accepts `null` for a property that is a bare `$ref` to an object:
  the generator cannot mark those nullable, yet the API sends them as null (a new
  shipment's `tracking: null`, shipbob.md §10.4).

The documents are vendored in `sandbox/shipbob/specs/` (sources and licence note in
SOURCES.md there); SHIPBOB_SPECS_DIR points at another copy.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from . import timeutil

SPECS_DIR = Path(os.environ.get("SHIPBOB_SPECS_DIR") or Path(__file__).resolve().parent / "specs")

# Known generator defects that the relaxed rules above do not cover (shipbob.md §9): the
# by-reference product line "always requires name", but the API needs it only when no
# ShipBob product matches; orders.py enforces that business rule itself.
_REQUIRED_PATCHES = {"Orders.AddProductToOrderByReferenceIdModel": {"name"}}

# Keywords whose values are data, not sub-schemas: copied as they are, never relaxed.
_LITERALS = {"enum", "const", "default"}
# OpenAPI-only keywords with no JSON Schema meaning (nullable is translated, required filtered).
_DROPPED = {"example", "examples", "discriminator", "externalDocs", "xml", "nullable", "required"}


def spec_path(api_version: str, explicit: Path | None = None) -> Path:
    if explicit is not None:
        return Path(explicit)
    wanted = SPECS_DIR / f"shipbob-openapi-{api_version}.json"
    # Versions without a published document here (2026-07) borrow the nearest one we have.
    return wanted if wanted.exists() else SPECS_DIR / "shipbob-openapi-2026-01.json"


@lru_cache(maxsize=4)
def load(path: str) -> "SpecValidator":
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"ShipBob OpenAPI document not found at {p}; the sandbox validates against the "
            "copy in sandbox/shipbob/specs/ (or the directory SHIPBOB_SPECS_DIR names)")
    return SpecValidator(json.loads(p.read_text()))


# OpenAPI's `format: date-time` is RFC 3339 §5.6 `date-time`: a full date, "T", a time
# and an offset. A bare date ("2026-12-05") or a time without offset is not one.
_RFC3339_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _date_time_ok(value) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339_DATE_TIME.fullmatch(value):
        return False
    try:
        timeutil.parse(value.upper())
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(_date_time_ok)


class SpecValidator:
    def __init__(self, spec: dict):
        self.spec = spec
        self._raw = spec["components"]["schemas"]
        self._components = {mode: {name: self._relax(s, mode, name) for name, s in self._raw.items()}
                            for mode in ("request", "response")}
        self._validators: dict[tuple, Draft202012Validator] = {}
        self._routes = [(m, template, _template_regex(template), op)
                        for template, ops in spec["paths"].items()
                        for m, op in ops.items() if isinstance(op, dict)]

    # -- public -----------------------------------------------------------------------------

    def topics(self) -> list[str]:
        return list(self._raw["Webhooks.Topics"]["enum"])

    def request_errors(self, schema_name: str, body) -> dict[str, list[str]]:
        """Field map of what is wrong with a request body, in the API's 400 shape."""
        v = self._validator("request", {"$ref": f"#/components/schemas/{schema_name}"})
        out: dict[str, list[str]] = {}
        for err in v.iter_errors(body):
            for leaf in _leaves(err):
                field, message = _describe(leaf)
                out.setdefault(field, []).append(message)
        return out

    def schema_errors(self, schema_name: str, instance, mode: str = "response") -> list[str]:
        v = self._validator(mode, {"$ref": f"#/components/schemas/{schema_name}"})
        return [_short(e) for e in v.iter_errors(instance)]

    def response_errors(self, method: str, path: str, status: int, body,
                        topics: tuple[str, ...] = ()) -> list[str]:
        """Problems with a response body; [] when it fits or the spec gives no schema.
        `topics` widens the webhook topic enum: a version this document only stands in
        for (2026-07) and topic names the sandbox is told of have more than it lists."""
        schema = self.response_schema(method, path, status)
        if schema is None:
            return []
        return [_short(e) for e in self._validator("response", schema, topics).iter_errors(body)]

    def response_schema(self, method: str, path: str, status: int) -> dict | None:
        op = self.operation(method, path)
        if op is None:
            return None
        resp = (op.get("responses") or {}).get(str(status)) or {}
        schema = ((resp.get("content") or {}).get("application/json") or {}).get("schema")
        return self._relax(schema, "response") if schema else None

    def operation(self, method: str, path: str) -> dict | None:
        tail = _unversioned(path)
        hits = [(template.count("{"), op) for m, template, rx, op in self._routes
                if m == method.lower() and rx.fullmatch(tail)]
        return min(hits, key=lambda h: h[0])[1] if hits else None

    # -- relaxing ---------------------------------------------------------------------------

    def _validator(self, mode: str, schema: dict, topics: tuple[str, ...] = ()) -> Draft202012Validator:
        known = set(self.topics())
        extra = tuple(t for t in topics if t not in known)
        key = (mode, json.dumps(schema, sort_keys=True), extra)
        v = self._validators.get(key)
        if v is None:
            components = self._components[mode]
            if extra:
                listed = components["Webhooks.Topics"]
                components = dict(components, **{"Webhooks.Topics": dict(
                    listed, enum=[*listed["enum"], *extra])})
            root = dict(schema, components={"schemas": components})
            v = Draft202012Validator(root, format_checker=_FORMATS if mode == "request" else None)
            self._validators[key] = v
        return v

    def _relax(self, node, mode: str, name: str | None = None):
        if isinstance(node, list):
            return [self._relax(n, mode) for n in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "additionalProperties" and value is False:
                continue
            if key in _DROPPED or key.startswith("x-"):
                continue
            if key in _LITERALS:
                out[key] = value
            elif key == "properties":
                out[key] = {p: self._relax_property(s, mode) for p, s in value.items()}
            else:
                out["anyOf" if key == "oneOf" else key] = self._relax(value, mode)
        if "required" in node:
            declared = self._declared(node) - _REQUIRED_PATCHES.get(name, set())
            out["required"] = [r for r in node["required"] if r in declared]
        if node.get("nullable") is True:
            return {"anyOf": [out, {"type": "null"}]}
        return out

    def _relax_property(self, schema, mode: str):
        relaxed = self._relax(schema, mode)
        if (mode == "response" and isinstance(schema, dict) and "$ref" in schema
                and not schema.get("nullable") and self._is_object(schema["$ref"])):
            return {"anyOf": [relaxed, {"type": "null"}]}
        return relaxed

    def _target(self, ref: str) -> dict:
        return self._raw[ref.rsplit("/", 1)[-1]]

    def _is_object(self, ref: str) -> bool:
        t = self._target(ref)
        return t.get("type") == "object" or "properties" in t or "allOf" in t

    def _declared(self, node: dict) -> set[str]:
        names = set(node.get("properties") or {})
        for part in node.get("allOf") or []:
            names |= self._declared(self._target(part["$ref"]) if "$ref" in part else part)
        return names


# -- error wording ------------------------------------------------------------------------------

def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]+\})", _unversioned(template))
    return re.compile("".join("[^/:]+" if p.startswith("{") else re.escape(p) for p in parts))


def _unversioned(path: str) -> str:
    """'/2026-01/order/1' -> '/order/1': lets a borrowed document serve another version."""
    return "/" + path.lstrip("/").split("/", 1)[-1] if path.count("/") > 1 else path


def _leaves(err):
    """Descend into anyOf failures, following the branch that came closest to matching."""
    if err.validator == "anyOf" and err.context:
        branches: dict[int, list] = {}
        for sub in err.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        # A branch that only failed on "null" is the nullable wrapper: not the interesting one.
        real = {k: v for k, v in branches.items()
                if not all(s.validator == "type" and s.validator_value == "null" for s in v)}
        best = min((real or branches).values(), key=len)
        for sub in best:
            yield from _leaves(sub)
    else:
        yield err


def _field(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _describe(err) -> tuple[str, str]:
    path = list(err.absolute_path)
    if err.validator == "required":
        m = re.match(r"'(.+?)' is a required property", err.message)
        missing = m.group(1) if m else "?"
        return _field(path + [missing]), f"The {missing} field is required."
    name = _field(path) or ""
    label = (name if isinstance(path[-1], int) else str(path[-1])) if path else "body"
    if err.validator == "type" and err.instance is None:
        return name, f"The {label} field is required."
    if err.validator == "type":
        return name, f"The value {json.dumps(err.instance)} is not valid for {label}."
    if err.validator == "enum":
        allowed = ", ".join(str(x) for x in err.validator_value)
        return name, f"'{err.instance}' is not a valid value for {label}. Valid values: {allowed}."
    if err.validator in ("minimum", "maximum"):
        return name, f"The field {label} must be {'at least' if err.validator == 'minimum' else 'at most'} {err.validator_value:g}."
    if err.validator in ("minLength", "maxLength"):
        kind = "minimum" if err.validator == "minLength" else "maximum"
        return name, f"The field {label} must be a string with a {kind} length of {err.validator_value}."
    if err.validator == "minItems":
        return name, f"The field {label} must contain at least {err.validator_value} item(s)."
    if err.validator == "pattern":
        return name, f"The field {label} must match the regular expression '{err.validator_value}'."
    if err.validator == "format":
        return name, f"The value '{err.instance}' is not a valid {err.validator_value} for {label}."
    return name, err.message


def _short(err) -> str:
    return f"{_field(err.absolute_path) or '<root>'}: {err.message[:200]}"
