"""What a tenant's `$metadata` must declare for the connector to work.

Each names module (connector/ifs/names/) declares the names it configures:
entity sets, keys, navigations, properties (also behind a navigation), enum
types and members, bound actions and their parameters. `ifs-shipbob doctor`
checks them (connector/ifs/name_check.py). Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Need:
    """One name a projection must have. `entity_set` (and `navigation`)
    locate the entity type that properties, keys and bound actions belong to."""

    kind: str  # entity set | key | navigation | property | enum type | enum member | action | action parameter
    name: str
    entity_set: str = ""
    navigation: str = ""
    enum: str = ""
    action: str = ""

    def describe(self) -> str:
        where = self.entity_set + (f"/{self.navigation}" if self.navigation else "")
        if self.kind == "enum member":
            return f"enum member {self.enum}'{self.name}'"
        if self.kind == "action parameter":
            return f"action parameter {self.name} of {self.action}"
        return f"{self.kind} {self.name}" + (f" on {where}" if where and self.kind != "entity set" else "")


@dataclass
class ProjectionNeeds:
    needs: list[Need] = field(default_factory=list)

    def entity_set(self, name: str, *, keys: Iterable[str] = (), props: Iterable[str] = ()) -> None:
        self.needs.append(Need("entity set", name))
        self.needs += [Need("key", key, entity_set=name) for key in keys]
        self.needs += [Need("property", prop, entity_set=name) for prop in props]

    def navigation(self, entity_set: str, name: str, props: Iterable[str] = ()) -> None:
        self.needs.append(Need("navigation", name, entity_set=entity_set))
        self.needs += [Need("property", p, entity_set=entity_set, navigation=name) for p in props]

    def enum(self, name: str, *members: str) -> None:
        self.needs.append(Need("enum type", name))
        self.needs += [Need("enum member", m, enum=name) for m in members]

    def action(self, entity_set: str, name: str, params: Iterable[str] = ()) -> None:
        self.needs.append(Need("action", name, entity_set=entity_set))
        self.needs += [Need("action parameter", p, entity_set=entity_set, action=name) for p in params]


@dataclass
class Needs:
    """Projection -> what it must declare, in the order declared."""

    projections: dict[str, ProjectionNeeds] = field(default_factory=dict)

    def at(self, projection: str) -> ProjectionNeeds:
        return self.projections.setdefault(projection, ProjectionNeeds())
