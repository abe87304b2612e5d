"""Every IFS name the connector uses, checked against a tenant's `$metadata`.

IFS names differ between releases and tenants, and most of the ones this
connector needs are undocumented (ifs-cloud.md §1, §10: "validate the names
against $metadata at start-up"). `required_names` lists what the mapping's
`ifs:` section configures plus the field names the flows send or filter on;
`missing_names` says which of them one projection's CSDL (OData CSDL XML,
the `$metadata` document) lacks: entity sets, keys, navigation properties,
properties (also behind a navigation), enum types and members, bound
actions and their parameters. Pure functions; `ifs-shipbob doctor` runs them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from connector.ifs.names import IfsNames
from connector.ifs.needs import Need


def required_names(names: IfsNames) -> dict[str, list[Need]]:
    """Projection -> the names the connector needs in it."""
    return {name: projection.needs for name, projection in names.needs().projections.items()}


# ------------------------------------------------------------------ CSDL

@dataclass
class _EntityType:
    keys: set[str]
    properties: set[str]
    navigations: dict[str, str]  # name -> target type (unqualified)


@dataclass
class Csdl:
    """What a `$metadata` document declares, by unqualified name."""

    sets: dict[str, str]  # entity set -> entity type
    types: dict[str, _EntityType]
    enums: dict[str, set[str]]
    actions: dict[str, list[tuple[str, set[str]]]]  # name -> [(bound type, parameter names)]

    @classmethod
    def parse(cls, xml: str | bytes) -> Csdl:
        root = ET.fromstring(xml)
        elements = [(el.tag.rsplit("}", 1)[-1], el) for el in root.iter()]
        types: dict[str, _EntityType] = {}
        for tag, el in elements:
            if tag == "EntityType":
                types[el.get("Name", "")] = _EntityType(
                    keys={ref.get("Name", "") for ref in _children(el, "Key", "PropertyRef")},
                    properties={p.get("Name", "") for p in _children(el, "Property")},
                    navigations={n.get("Name", ""): _element_type(n.get("Type", ""))
                                 for n in _children(el, "NavigationProperty")})
        actions: dict[str, list[tuple[str, set[str]]]] = {}
        for tag, el in elements:
            if tag == "Action":
                params = _children(el, "Parameter")
                bound = _element_type(params[0].get("Type", "")) if el.get("IsBound") == "true" and params else ""
                names = {p.get("Name", "") for p in (params[1:] if bound else params)}
                actions.setdefault(el.get("Name", ""), []).append((bound, names))
        return cls(
            sets={el.get("Name", ""): _element_type(el.get("EntityType", ""))
                  for tag, el in elements if tag == "EntitySet"},
            types=types,
            enums={el.get("Name", ""): {m.get("Name", "") for m in _children(el, "Member")}
                   for tag, el in elements if tag == "EnumType"},
            actions=actions)

    def entity_type(self, entity_set: str, navigation: str = "") -> _EntityType | None:
        etype = self.types.get(self.sets.get(entity_set, ""))
        if etype is not None and navigation:
            etype = self.types.get(etype.navigations.get(navigation, ""))
        return etype


def missing_names(csdl: Csdl, needs: list[Need]) -> list[Need]:
    """The needs this CSDL does not satisfy. A name that cannot be checked
    because its container is missing (a property of a missing set) is not
    listed again: the container is."""
    return [need for need in needs if not _present(csdl, need)]


def _present(csdl: Csdl, need: Need) -> bool:
    if need.kind == "entity set":
        return need.name in csdl.sets
    if need.kind == "enum type":
        return need.name in csdl.enums
    if need.kind == "enum member":
        members = csdl.enums.get(need.enum)
        return members is None or need.name in members  # a missing type is reported as such
    owner = csdl.entity_type(need.entity_set)
    if owner is None:
        return True  # reported as the missing entity set
    if need.kind == "key":
        return need.name in owner.keys
    if need.kind == "navigation":
        return need.name in owner.navigations
    if need.kind == "property":
        if need.navigation:
            target = csdl.entity_type(need.entity_set, need.navigation)
            return target is None or need.name in target.properties
        return need.name in owner.properties
    bound_type = csdl.sets[need.entity_set]
    overloads = [params for bound, params in csdl.actions.get(need.action or need.name, []) if bound == bound_type]
    if need.kind == "action":
        return bool(overloads)
    return not overloads or any(need.name in params for params in overloads)  # action parameter


def _children(el: ET.Element, *path: str) -> list[ET.Element]:
    found = [el]
    for tag in path:
        found = [child for parent in found for child in parent if child.tag.rsplit("}", 1)[-1] == tag]
    return found


def _element_type(type_name: str) -> str:
    """`Collection(IfsApp.X.Type)` or `IfsApp.X.Type` -> `Type`."""
    if type_name.startswith("Collection(") and type_name.endswith(")"):
        type_name = type_name[len("Collection("):-1]
    return type_name.rsplit(".", 1)[-1]
