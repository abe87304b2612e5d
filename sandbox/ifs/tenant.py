"""A renamed tenant: the wire names in which a simulated tenant differs from
the sandbox's own model (`model.py`).

IFS names differ between releases and tenants (ifs-cloud.md §1, §10), so a
test can serve a tenant whose projections, entity sets, navigations,
properties (keys included), enum types and members, bound actions and action
parameters carry other names, and check that a mapping naming them works
and that `doctor` names what a mapping gets wrong. Only the wire changes:
the business rules keep using the model's own names. A YAML or JSON file:

    entity_sets: {CustomerOrderLineSet: CustomerOrderLines}
    properties:  {CustomerOrder: {Cf_Shipbob_Order_Id: Cf_Sb_Order_Ref}}
    enum_members: {CustomerOrderState: {Released: Approved}}
    action_parameters: {CustomerOrder_RegisterFulfillment: {TrackingNo: TrackingNumber}}
    change_stamps: {CustomerOrder: LastChanged}

Keys are the model's names: entity types (LU names) own properties and
navigations, enum types own members, actions own parameters. A key the
model does not have is an error, so a typo cannot leave a name unrenamed.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from sandbox.ifs.edm import DTO, EntitySet, EntityType, EnumType, Projection, Prop

Renames = dict[str, str]


class TenantRenames(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    projections: Renames = {}
    entity_sets: Renames = {}
    navigations: dict[str, Renames] = {}  # entity type -> {navigation: wire name}
    properties: dict[str, Renames] = {}  # entity or complex type -> {property: wire name}
    enum_types: Renames = {}
    enum_members: dict[str, Renames] = {}  # enum type -> {member: wire name}
    actions: Renames = {}
    action_parameters: dict[str, Renames] = {}  # action -> {parameter: wire name}
    # Entity type -> a read-only timestamp property the tenant has and every
    # write sets (a "last changed" stamp some tenants poll on).
    change_stamps: Renames = {}


class TenantError(ValueError):
    """A renamed-tenant definition that cannot be served."""


def load_tenant(path: str | Path) -> TenantRenames:
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text()) or {}  # YAML reads JSON too
    except (OSError, yaml.YAMLError) as exc:
        raise TenantError(f"{source}: cannot read the tenant definition: {exc}") from None
    try:
        return TenantRenames.model_validate(data)
    except ValidationError as exc:
        problems = ["{}: {}".format(".".join(str(p) for p in e["loc"]) or "(top)", e["msg"])
                    for e in exc.errors()]
        raise TenantError(f"{source}: " + "; ".join(problems)) from None


def rename(projections: list[Projection], renames: TenantRenames) -> list[Projection]:
    """The projections with their wire names changed as `renames` says.
    Mutates the model's objects (built for this tenant only)."""
    wire = _Wire(renames)
    types = _distinct(t for p in projections for t in p.entity_types())
    unknown_stamps = set(renames.change_stamps) - {t.name for t in types}
    if unknown_stamps:
        raise TenantError(f"change_stamps: the sandbox's model has no entity type "
                          f"{', '.join(sorted(unknown_stamps))}")
    for enum in _distinct(e for p in projections for e in p.enum_types()):
        _rename_enum(enum, wire)
    for etype in types:
        _rename_type(etype, wire, renames.change_stamps.get(etype.name))
    for complex_type in _distinct(c for p in projections for c in p.complex_types()):
        for prop in complex_type.props:
            prop.name = wire.take("properties", prop.name, complex_type.name)
        _unique(complex_type.name, [p.name for p in complex_type.props])
    renamed = []
    for projection in projections:
        sets = {}
        for entity_set in projection.sets.values():
            name = wire.take("entity_sets", entity_set.name)
            if name in sets:
                raise TenantError(f"entity set {name} twice in {projection.name}")
            sets[name] = EntitySet(name, entity_set.type)
        renamed.append(Projection(wire.take("projections", projection.name), sets))
    _unique("the tenant's projections", [p.name for p in renamed])
    wire.check_all_used()
    return renamed


def _rename_enum(enum: EnumType, wire: _Wire) -> None:
    enum.wire = {m: wire.take("enum_members", m, enum.name) for m in enum.members}
    enum.wire = {m: w for m, w in enum.wire.items() if w != m}
    _unique(enum.name, enum.wire_members())
    enum.name = wire.take("enum_types", enum.name)


def _rename_type(etype: EntityType, wire: _Wire, change_stamp: str | None) -> None:
    owner = etype.name
    for prop in etype.props:
        prop.name = wire.take("properties", prop.name, owner)
        if prop.enum is not None:
            prop.type = prop.enum.name  # the (renamed) enum type
    if change_stamp:
        etype.props.append(Prop(change_stamp, DTO, attr="_changed"))
    for nav in etype.navigations.values():
        nav.name = wire.take("navigations", nav.name, owner)
    etype.navigations = {nav.name: nav for nav in etype.navigations.values()}
    for action in etype.actions.values():
        for param in action.params:
            param.name = wire.take("action_parameters", param.name, action.name)
        _unique(f"action {action.name}", [p.name for p in action.params])
        action.name = wire.take("actions", action.name)
    _unique(f"{owner}'s actions", [action.name for action in etype.actions.values()])
    etype.actions = {action.name: action for action in etype.actions.values()}
    _unique(owner, [p.name for p in etype.props] + list(etype.navigations))
    etype.reindex()


class _Wire:
    """Looks names up in the renames and remembers which were used."""

    def __init__(self, renames: TenantRenames):
        self._given: dict[tuple[str, str, str], str] = {}
        for section, value in renames.model_dump(exclude={"change_stamps"}).items():
            for key, item in value.items():
                if isinstance(item, dict):
                    self._given.update({(section, key, name): new for name, new in item.items()})
                else:
                    self._given[(section, "", key)] = item
        self._used: set[tuple[str, str, str]] = set()

    def take(self, section: str, name: str, owner: str = "") -> str:
        key = (section, owner, name)
        if key in self._given:
            self._used.add(key)
            return self._given[key]
        return name

    def check_all_used(self) -> None:
        unknown = [f"{section} {owner + '.' if owner else ''}{name}"
                   for section, owner, name in self._given if (section, owner, name) not in self._used]
        if unknown:
            raise TenantError("the sandbox's model has no " + ", ".join(unknown))


def _distinct(items):
    seen: dict[int, object] = {}
    for item in items:
        seen.setdefault(id(item), item)
    return list(seen.values())


def _unique(where: str, names: list[str]) -> None:
    doubles = sorted({n for n in names if names.count(n) > 1})
    if doubles:
        raise TenantError(f"{where} would have two of {', '.join(doubles)}")
