"""Discovery documents: the service document and a minimal CSDL `$metadata`
(ifs-cloud.md §1), enough for `ifs-shipbob doctor` to check that every
configured entity set, property, action and enum member exists."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sandbox.ifs.edm import DECIMAL, STRING, EntityType, Projection, Prop

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"


def service_document(projection: Projection, service_root: str) -> dict:
    return {
        "@odata.context": f"{service_root}$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in projection.sets],
    }


def csdl(projection: Projection) -> bytes:
    ns = projection.namespace
    ET.register_namespace("edmx", EDMX)
    root = ET.Element(f"{{{EDMX}}}Edmx", Version="4.0")
    services = ET.SubElement(root, f"{{{EDMX}}}DataServices")
    schema = ET.SubElement(services, "Schema", xmlns=EDM, Namespace=ns)
    for enum in projection.enum_types():
        node = ET.SubElement(schema, "EnumType", Name=enum.name)
        for value, member in enumerate(enum.wire_members()):
            ET.SubElement(node, "Member", Name=member, Value=str(value))
    for complex_type in projection.complex_types():
        node = ET.SubElement(schema, "ComplexType", Name=complex_type.name)
        for prop in complex_type.props:
            _property(node, prop, ns)
    for etype in projection.entity_types():
        _entity_type(schema, etype, ns)
    for etype in projection.entity_types():
        for action in etype.actions.values():
            node = ET.SubElement(schema, "Action", Name=action.name, IsBound="true")
            ET.SubElement(node, "Parameter", Name="it", Type=f"{ns}.{etype.name}", Nullable="false")
            for param in action.params:
                _property(node, param, ns, tag="Parameter")
            if action.returns:
                ET.SubElement(node, "ReturnType", Type=action.returns)
    container = ET.SubElement(schema, "EntityContainer", Name="Main")
    for name, entity_set in projection.sets.items():
        node = ET.SubElement(container, "EntitySet", Name=name, EntityType=f"{ns}.{entity_set.type.name}")
        for nav in entity_set.type.navigations.values():
            target = next((n for n, s in projection.sets.items() if s.type is nav.target), None)
            if target:
                ET.SubElement(node, "NavigationPropertyBinding", Path=nav.name, Target=target)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _entity_type(schema: ET.Element, etype: EntityType, ns: str) -> None:
    node = ET.SubElement(schema, "EntityType", Name=etype.name)
    key = ET.SubElement(node, "Key")
    for prop in etype.keys:
        ET.SubElement(key, "PropertyRef", Name=prop.name)
    for prop in etype.props:
        _property(node, prop, ns, computed=not (prop.insertable or prop.updatable or prop.key))
    for nav in etype.navigations.values():
        ET.SubElement(node, "NavigationProperty", Name=nav.name,
                      Type=f"Collection({ns}.{nav.target.name})")


def _property(parent: ET.Element, prop: Prop, ns: str, tag: str = "Property",
              computed: bool = False) -> None:
    if prop.complex is not None:
        type_name = f"Collection({ns}.{prop.complex.name})"
    elif prop.enum is not None:
        type_name = f"{ns}.{prop.enum.name}"
    else:
        type_name = prop.type
    attrs = {"Name": prop.name, "Type": type_name}
    if not prop.nullable:
        attrs["Nullable"] = "false"
    if prop.type == STRING:
        attrs["MaxLength"] = "4000" if prop.name.endswith(("Url", "Notes")) else "100"
    if prop.type == DECIMAL:
        attrs["Scale"] = "variable"
    node = ET.SubElement(parent, tag, **attrs)
    if computed:
        # Core.Computed marks attributes only IFS sets (Objstate, quantities...).
        ET.SubElement(node, "Annotation", Term="Org.OData.Core.V1.Computed", Bool="true")
