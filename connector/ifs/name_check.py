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
from dataclasses import dataclass, field

from connector.mapping import IfsNames

# Field names the flows and mappers send, filter or select on, per entity
# (not configurable today; listed so doctor names any a tenant lacks).
_ORDER_FIELDS = ("OrderNo", "Contract", "Objstate", "ShipViaCode", "DateEntered")
_ORDER_LINE_FIELDS = ("OrderNo", "LineNo", "RelNo", "LineItemNo", "PartNo", "CatalogDesc",
                      "Contract", "BuyQtyDue", "QtyShipped", "QtyReturned", "Objstate")
_ADDRESS_FIELDS = ("OrderNo", "Name", "Address1", "Address2", "City", "State", "ZipCode",
                   "Country", "EmailAddress", "PhoneNo")
_FULFILLMENT_PARAMS = ("ExternalRef", "ShipmentRef", "Carrier", "TrackingNo", "TrackingUrl",
                       "ShipDate", "Lines")
_VOUCHER_FIELDS = ("ExternalRef", "Carrier", "TrackingNo", "TrackingUrl", "DeliveredDate")
_RMA_FIELDS = ("OrderNo", "Contract", "ExternalRef", "Notes")
_RMA_LINE_FIELDS = ("LineNo", "RelNo", "LineItemNo", "PartNo", "QtyToReturn", "ReturnAction")
_PO_FIELDS = ("OrderNo", "Contract", "Objstate", "WantedReceiptDate")
_PO_LINE_FIELDS = ("LineNo", "ReleaseNo", "PartNo", "BuyQtyDue", "QtyArrived", "Objstate")
_RECEIPT_FIELDS = ("OrderNo", "LineNo", "ReleaseNo", "QtyArrived", "ExternalRef", "ReceiptDate")
_STOCK_FIELDS = ("Contract", "PartNo", "UoM")
_LEVEL_FIELDS = ("Contract", "PartNo", "Sku", "OnHandQty", "CommittedQty", "FulfillableQty",
                 "AwaitingQty", "PickedQty", "LastSyncDate")


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
class _Projection:
    needs: list[Need] = field(default_factory=list)

    def entity_set(self, name: str, *, keys: tuple[str, ...] = (), props: tuple[str, ...] = ()) -> None:
        self.needs.append(Need("entity set", name))
        self.needs += [Need("key", key, entity_set=name) for key in keys]
        self.needs += [Need("property", prop, entity_set=name) for prop in props]

    def navigation(self, entity_set: str, name: str, props: tuple[str, ...] = ()) -> None:
        self.needs.append(Need("navigation", name, entity_set=entity_set))
        self.needs += [Need("property", p, entity_set=entity_set, navigation=name) for p in props]

    def enum(self, name: str, *members: str) -> None:
        self.needs.append(Need("enum type", name))
        self.needs += [Need("enum member", m, enum=name) for m in members]

    def action(self, entity_set: str, name: str, params: tuple[str, ...] = ()) -> None:
        self.needs.append(Need("action", name, entity_set=entity_set))
        self.needs += [Need("action parameter", p, entity_set=entity_set, action=name) for p in params]


def required_names(names: IfsNames) -> dict[str, list[Need]]:
    """Projection -> the names the connector needs in it."""
    projections: dict[str, _Projection] = {}

    def at(projection: str) -> _Projection:
        return projections.setdefault(projection, _Projection())

    co = names.customer_order
    orders = at(co.projection)
    orders.entity_set(co.order_set, keys=("OrderNo",),
                      props=(*_ORDER_FIELDS, co.shipbob_id_field, co.changed_field))
    orders.navigation(co.order_set, co.lines_nav, _ORDER_LINE_FIELDS)
    orders.entity_set(co.line_set, props=("OrderNo", "PartNo"))
    orders.entity_set(co.address_set, props=_ADDRESS_FIELDS)
    orders.enum(co.state_enum, co.released_state, co.cancelled_state)
    ful = names.fulfillment
    orders.action(co.order_set, ful.action, _FULFILLMENT_PARAMS)

    vouchers = at(ful.voucher_projection)
    vouchers.entity_set(ful.voucher_set, keys=(ful.voucher_key,), props=_VOUCHER_FIELDS)
    vouchers.navigation(ful.voucher_set, ful.voucher_lines_nav, (ful.voucher_line_qty_field,))

    ret = names.returns
    returns = at(ret.projection)
    returns.entity_set(ret.rma_set, keys=(ret.rma_key,), props=(*_RMA_FIELDS, ret.state_field))
    returns.navigation(ret.rma_set, ret.lines_nav, _RMA_LINE_FIELDS)
    returns.enum(ret.state_enum, ret.released_state, ret.received_state)
    if ret.release_action:
        returns.action(ret.rma_set, ret.release_action)
    returns.action(ret.rma_set, ret.receive_action)

    pur = names.purchase
    purchasing = at(pur.projection)
    purchasing.entity_set(pur.order_set, keys=("OrderNo",), props=_PO_FIELDS)
    purchasing.navigation(pur.order_set, pur.lines_nav, _PO_LINE_FIELDS)
    purchasing.enum(pur.state_enum, pur.released_state)
    at(pur.receipt_projection).entity_set(pur.receipt_set, props=_RECEIPT_FIELDS)

    stk = names.stock
    at(stk.projection).entity_set(stk.stock_set, props=(*_STOCK_FIELDS, stk.quantity_field))
    if stk.external_level_set and stk.external_level_projection:
        at(stk.external_level_projection).entity_set(stk.external_level_set, keys=("Contract", "PartNo"),
                                                      props=_LEVEL_FIELDS)
    return {name: projection.needs for name, projection in projections.items()}


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
