"""EDM building blocks: types, properties, entity types, sets, actions.

A property has a wire `name` (what clients see, changed by a renamed
tenant, tenant.py) and an internal `attr` (what the domain modules use), so a
renamed tenant changes the wire only. Values are held as Python values:
str, int/float, `date`, aware `datetime` (UTC), bool, canonical enum member
names, lists of dicts for complex collections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable

STRING = "Edm.String"
DECIMAL = "Edm.Decimal"
DATE = "Edm.Date"
DTO = "Edm.DateTimeOffset"
BOOL = "Edm.Boolean"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# §8: timestamps carry a zone designator; fractional seconds are allowed.
_DTO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})")


class ValueFormatError(ValueError):
    """A JSON or URL value does not fit its EDM type."""


@dataclass(eq=False)
class EnumType:
    """An IFS enumeration. `members` are canonical names; `wire` renames some
    for a tenant whose member differs (e.g. `released_state`)."""

    name: str
    members: tuple[str, ...]
    wire: dict[str, str] = field(default_factory=dict)

    def to_wire(self, member: str) -> str:
        return self.wire.get(member, member)

    def from_wire(self, text: str) -> str | None:
        for member in self.members:
            if self.to_wire(member) == text:
                return member
        return None

    def wire_members(self) -> list[str]:
        return [self.to_wire(m) for m in self.members]


@dataclass(eq=False)
class Prop:
    name: str
    type: str  # an Edm.* name, or the enum/complex type's name
    attr: str = ""
    key: bool = False
    insertable: bool = False
    updatable: bool = False
    nullable: bool = True
    default: Any = None
    enum: EnumType | None = None
    complex: "ComplexType | None" = None  # a Collection(<complex>) property

    def __post_init__(self):
        self.attr = self.attr or self.name
        if self.key:
            self.nullable = False

    @property
    def edm_type(self) -> str:
        if self.complex is not None:
            return f"Collection({self.complex.name})"
        return self.enum.name if self.enum is not None else self.type

    def get(self, row: dict) -> Any:
        return row.get(self.attr, self.default)


@dataclass(eq=False)
class ComplexType:
    name: str
    props: list[Prop]

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)


@dataclass(eq=False)
class Navigation:
    """A collection navigation: child rows whose `link` attrs equal the
    parent's (parent attr -> child attr)."""

    name: str
    target: "EntityType"
    link: tuple[tuple[str, str], ...]


@dataclass(eq=False)
class Action:
    """A bound action. `handler(store, row, params) -> result` runs under the
    store lock; params are keyed by internal `attr`, already type-checked."""

    name: str
    params: list[Prop]
    returns: str | None
    handler: Callable[..., Any]


@dataclass(eq=False)
class EntityType:
    name: str  # the IFS LU name, also the internal table name
    props: list[Prop]
    navigations: dict[str, Navigation] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    # Domain hooks; None = the operation is not offered on this entity.
    create: Callable[..., dict] | None = None
    update: Callable[..., None] | None = None
    delete: Callable[..., None] | None = None

    def __post_init__(self):
        self.reindex()

    def reindex(self) -> None:
        """Index the properties by wire name again (after a tenant renamed them)."""
        self._by_name = {p.name: p for p in self.props}
        self._by_attr = {p.attr: p for p in self.props}
        self.keys = [p for p in self.props if p.key]

    def prop(self, name: str) -> Prop | None:
        return self._by_name.get(name)

    def prop_for_attr(self, attr: str) -> Prop | None:
        return self._by_attr.get(attr)

    def key_values(self, row: dict) -> tuple:
        return tuple(p.get(row) for p in self.keys)

    def keyref(self, row: dict) -> str:
        """IFS keyref: `COLUMN=value^` per key column, sorted by column."""
        parts = sorted((_db_column(p.name), format_keyref_value(p.get(row))) for p in self.keys)
        return "".join(f"{col}={val}^" for col, val in parts)

    def key_predicate(self, row: dict) -> str:
        return ",".join(f"{p.name}={format_literal(p, p.get(row))}" for p in self.keys)


@dataclass(eq=False)
class EntitySet:
    name: str
    type: EntityType


@dataclass(eq=False)
class Projection:
    name: str
    sets: dict[str, EntitySet]

    @property
    def namespace(self) -> str:
        return f"IfsApp.{self.name}"

    def entity_types(self) -> list[EntityType]:
        """Entity types of the sets plus navigation targets, in order."""
        seen: dict[str, EntityType] = {}
        for entity_set in self.sets.values():
            seen.setdefault(entity_set.type.name, entity_set.type)
            for nav in entity_set.type.navigations.values():
                seen.setdefault(nav.target.name, nav.target)
        return list(seen.values())

    def enum_types(self) -> list[EnumType]:
        found: dict[str, EnumType] = {}
        for etype in self.entity_types():
            for prop in _all_props(etype):
                if prop.enum is not None:
                    found.setdefault(prop.enum.name, prop.enum)
        return list(found.values())

    def complex_types(self) -> list[ComplexType]:
        found: dict[str, ComplexType] = {}
        for etype in self.entity_types():
            for prop in _all_props(etype):
                if prop.complex is not None:
                    found.setdefault(prop.complex.name, prop.complex)
        return list(found.values())


def _all_props(etype: EntityType):
    yield from etype.props
    for action in etype.actions.values():
        yield from action.params
        for param in action.params:
            if param.complex is not None:
                yield from param.complex.props
    for prop in etype.props:
        if prop.complex is not None:
            yield from prop.complex.props


def _db_column(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


# ------------------------------------------------------------------ values

def format_keyref_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def format_literal(prop: Prop, value: Any) -> str:
    """A value as an OData URL literal (key predicates, nextLinks)."""
    if value is None:
        return "null"
    if prop.type == STRING:
        return "'" + str(value).replace("'", "''") + "'"
    if prop.type == DTO:
        return format_dto(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_dto(value: datetime) -> str:
    text = value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_date(text: str) -> date:
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise ValueFormatError(f"{text!r} is not an Edm.Date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueFormatError(f"{text!r} is not a valid date") from exc


def parse_dto(text: str) -> datetime:
    if not isinstance(text, str) or not _DTO.fullmatch(text):
        raise ValueFormatError(
            f"{text!r} is not an Edm.DateTimeOffset (YYYY-MM-DDThh:mm:ssZ or ±hh:mm)")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueFormatError(f"{text!r} is not a valid timestamp") from exc
    return value.astimezone(timezone.utc)


def number(value: Any) -> int | float:
    """Integral floats become ints so quantities print as `2`, not `2.0`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_json(prop: Prop, value: Any) -> Any:
    if value is None:
        return None
    if prop.complex is not None:
        return [{p.name: to_json(p, p.get(item)) for p in prop.complex.props} for item in value]
    if prop.enum is not None:
        return prop.enum.to_wire(value)
    if prop.type == DTO:
        return format_dto(value)
    if prop.type == DATE:
        return as_date(value).isoformat()
    return value


def as_date(value: Any) -> Any:
    """The day of a timestamp: a tenant may type a field the sandbox keeps as
    a timestamp (DateEntered) as an Edm.Date."""
    return value.date() if isinstance(value, datetime) else value


def from_json(prop: Prop, value: Any) -> Any:
    """A JSON body value -> the internal value; ValueFormatError if it does
    not fit (Olingo refuses such bodies while de-serializing)."""
    if value is None:
        if not prop.nullable:
            raise ValueFormatError(f"{prop.name} may not be null")
        return None
    if prop.complex is not None:
        if not isinstance(value, list):
            raise ValueFormatError(f"{prop.name} must be a JSON array")
        return [parse_complex(prop.complex, item, prop.name) for item in value]
    if prop.enum is not None:
        member = prop.enum.from_wire(value) if isinstance(value, str) else None
        if member is None:
            raise ValueFormatError(
                f"{value!r} is not a member of {prop.enum.name} "
                f"({', '.join(prop.enum.wire_members())}); bodies use bare member names")
        return member
    if prop.type == STRING:
        if not isinstance(value, str):
            raise ValueFormatError(f"{prop.name} must be a string")
        return value
    if prop.type == DECIMAL:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueFormatError(f"{prop.name} must be a number")
        return number(value)
    if prop.type == BOOL:
        if not isinstance(value, bool):
            raise ValueFormatError(f"{prop.name} must be true or false")
        return value
    if prop.type == DATE:
        return parse_date(value)
    if prop.type == DTO:
        return parse_dto(value)
    raise ValueFormatError(f"{prop.name} has unsupported type {prop.type}")


def parse_complex(ctype: ComplexType, item: Any, where: str) -> dict:
    if not isinstance(item, dict):
        raise ValueFormatError(f"items of {where} must be JSON objects")
    unknown = [k for k in item if ctype.prop(k) is None]
    if unknown:
        raise ValueFormatError(f"{ctype.name} has no property {unknown[0]!r}")
    values = {}
    for prop in ctype.props:
        if prop.name not in item:
            if not prop.nullable:
                raise ValueFormatError(f"{where}: {prop.name} is required")
            continue
        values[prop.attr] = from_json(prop, item[prop.name])
    return values
