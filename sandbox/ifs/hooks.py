"""Test hooks under /_sandbox/ (no authentication): reset, seed, create
specific data, bulk stock, simulate a concurrent edit or a buyer's change to
a released purchase order, inject faults, read statistics and dump sets. Field names are the wire names (internal names are
accepted too); values use the JSON formats of the API (dates
"YYYY-MM-DD", timestamps "...Z", bare enum members). Hooks may set
attributes the API treats as read-only (Objstate, QtyShipped, ...).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import ValidationError

from sandbox.ifs import edm, inventory, orders, purchasing
from sandbox.ifs.edm import EntityType
from sandbox.ifs.errors import BusinessError, ODataError, bad_request
from sandbox.ifs.payload import entity_json
from sandbox.ifs.seed import SeedRequest, seed
from sandbox.ifs.store import etag_of

bp = Blueprint("ifs_sandbox_hooks", __name__, url_prefix="/_sandbox")


def _sandbox():
    return current_app.extensions["ifs_sandbox"]


def _body() -> dict:
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise bad_request("Hook bodies must be JSON.")
    return body or {}


def _type(lu_name: str) -> EntityType:
    for projection in _sandbox().model.projections.values():
        for etype in projection.entity_types():
            if etype.name == lu_name:
                return etype
    raise KeyError(lu_name)


def _coerce(etype: EntityType, data: dict) -> dict:
    """Hook JSON -> internal values; read-only attributes allowed."""
    if not isinstance(data, dict):
        raise bad_request(f"{etype.name} data must be a JSON object.")
    values = {}
    for name, raw in data.items():
        prop = etype.prop(name) or etype.prop_for_attr(name)
        if prop is None:
            raise bad_request(f"{etype.name} has no attribute '{name}'.")
        try:
            values[prop.attr] = edm.from_json(prop, raw) if raw is not None else None
        except edm.ValueFormatError as exc:
            raise bad_request(f"{etype.name}.{name}: {exc}") from None
    return values


def _items(body: dict, plural: str) -> list[dict]:
    items = body.get(plural, [body] if body else [])
    if not isinstance(items, list):
        raise bad_request(f"'{plural}' must be a list.")
    return items


def _rejected(exc: BusinessError) -> ODataError:
    return ODataError(400, "SANDBOX_REJECTED", exc.text,
                      details=[{"code": "SANDBOX_REJECTED", "message": exc.ora_message}])


@bp.post("/reset")
def reset():
    _sandbox().reset()
    return jsonify({"reset": True})


@bp.post("/seed")
def seed_data():
    try:
        spec = SeedRequest(**_body())
    except ValidationError as exc:
        raise bad_request(f"Invalid seed request: {exc.errors(include_url=False)}") from None
    sandbox = _sandbox()
    with sandbox.store.lock:
        return jsonify(seed(sandbox.store, spec))


@bp.post("/orders")
def create_orders():
    """{"orders": [{<CustomerOrder fields>, "lines": [{...}], "address": {...}}]}
    or one such object. Defaults: Contract S01, CustomerNo CU-TEST,
    Objstate Released; with no "address" the customer's (if seeded) is used."""
    sandbox = _sandbox()
    order_type, line_type = _type(orders.ORDERS), _type(orders.LINES)
    address_type = _type(orders.ADDRESSES)
    created = []
    with sandbox.store.lock:
        for item in _items(_body(), "orders"):
            if not isinstance(item, dict):
                raise bad_request("Each order must be a JSON object.")
            header = _coerce(order_type, {k: v for k, v in item.items()
                                          if k not in ("lines", "address")})
            header.setdefault("Contract", "S01")
            header.setdefault("CustomerNo", "CU-TEST")
            state = header.pop("Objstate", None) or "Released"
            lines = [_coerce(line_type, line) for line in item.get("lines", [])]
            try:
                row = orders.create_order(sandbox.store, header, {orders.LINES: lines}, state=state)
            except BusinessError as exc:
                raise _rejected(exc) from None
            if item.get("address") is not None:
                _put_address(sandbox.store, row["OrderNo"], _coerce(address_type, item["address"]))
            created.append({"OrderNo": row["OrderNo"], "@odata.etag": etag_of(row),
                            "lines": len(orders.lines_of(sandbox.store, row["OrderNo"]))})
    return jsonify({"orders": created}), 201


def _put_address(store, order_no: str, values: dict) -> None:
    table = store.table(orders.ADDRESSES)
    existing = table.find(OrderNo=order_no)
    if existing is not None:
        store.remove(orders.ADDRESSES, existing)
    store.insert(orders.ADDRESSES, {"AddrFlag": "Yes", **values, "OrderNo": order_no})


@bp.post("/purchase_orders")
def create_purchase_orders():
    """{"purchase_orders": [{<PurchaseOrder fields>, "lines": [{PartNo, BuyQtyDue, ...}]}]}"""
    sandbox = _sandbox()
    po_type, line_type = _type(purchasing.POS), _type(purchasing.PO_LINES)
    created = []
    with sandbox.store.lock:
        for item in _items(_body(), "purchase_orders"):
            header = _coerce(po_type, {k: v for k, v in item.items() if k != "lines"})
            header.setdefault("Contract", "S01")
            header.setdefault("VendorNo", "V101")
            lines = [_coerce(line_type, line) for line in item.get("lines", [])]
            try:
                row = purchasing.create_purchase_order(sandbox.store, header, lines)
            except BusinessError as exc:
                raise _rejected(exc) from None
            created.append({"OrderNo": row["OrderNo"], "@odata.etag": etag_of(row),
                            "lines": len(lines)})
    return jsonify({"purchase_orders": created}), 201


@bp.post("/purchase_orders/<order_no>/lines/<line_no>/<release_no>")
def change_purchase_order_line(order_no: str, line_no: str, release_no: str):
    """{"BuyQtyDue": 15}: a buyer raises or lowers a line's ordered quantity
    after the order was released (IFS's rules: purchasing.change_line_quantity)."""
    qty = _body().get("BuyQtyDue")
    if isinstance(qty, bool) or not isinstance(qty, (int, float)):
        raise bad_request("'BuyQtyDue' must be a number.")
    return _purchase_order_change(lambda store: purchasing.change_line_quantity(
        store, order_no, line_no, release_no, qty), purchasing.PO_LINES)


@bp.post("/purchase_orders/<order_no>/lines/<line_no>/<release_no>/cancel")
def cancel_purchase_order_line(order_no: str, line_no: str, release_no: str):
    """A buyer cancels one line of a released order (nothing may have arrived on it)."""
    return _purchase_order_change(lambda store: purchasing.cancel_line(
        store, order_no, line_no, release_no), purchasing.PO_LINES)


@bp.post("/purchase_orders/<order_no>/cancel")
def cancel_purchase_order(order_no: str):
    """A buyer cancels a released order and all its lines (nothing may have arrived)."""
    return _purchase_order_change(lambda store: purchasing.cancel_order(store, order_no), purchasing.POS)


def _purchase_order_change(change, lu_name: str):
    sandbox = _sandbox()
    with sandbox.store.lock:
        try:
            row = change(sandbox.store)
        except BusinessError as exc:
            raise _rejected(exc) from None
        return jsonify(entity_json(_type(lu_name), row))


@bp.post("/stock")
def load_stock():
    """{"replace": false, "columns": ["Contract","PartNo","LocationNo","QtyOnhand"],
        "rows": [["S01","P00001","A-01-01",12], ...]}  (rows may also be objects).
    Rows upsert on the stock key (unused key parts default to '*' / 0)."""
    sandbox = _sandbox()
    body = _body()
    stock_type = _type(inventory.TABLE)
    columns = body.get("columns", ["Contract", "PartNo", "LocationNo", "QtyOnhand"])
    converters = []
    for name in columns:
        prop = stock_type.prop(name) or stock_type.prop_for_attr(name)
        if prop is None:
            raise bad_request(f"InventoryPartInStock has no attribute '{name}'.")
        converters.append((prop.attr, _converter(prop)))
    rows = []
    for raw in body.get("rows", []):
        if isinstance(raw, dict):
            rows.append(_coerce(stock_type, raw))
        elif isinstance(raw, list) and len(raw) == len(converters):
            rows.append({attr: convert(value) for (attr, convert), value in zip(converters, raw)})
        else:
            raise bad_request("Each stock row must be an object or a list matching 'columns'.")
    with sandbox.store.lock:
        count = inventory.load_stock(sandbox.store, rows, bool(body.get("replace")))
        total = len(sandbox.store.table(inventory.TABLE))
    return jsonify({"rows": count, "total": total})


def _converter(prop):
    if prop.type in (edm.DATE, edm.DTO):
        return lambda value: None if value is None else edm.from_json(prop, value)
    return lambda value: value


@bp.post("/bump")
def bump():
    """{"set": "CustomerOrderSet", "key": {"OrderNo": "C1"}, "changes": {...}}:
    a concurrent edit by someone else - the row gets a new objversion, so a
    new ETag. `changes` may set any field, read-only ones included, as a user
    in the IFS client would (e.g. {"Objstate": "Cancelled"})."""
    sandbox = _sandbox()
    body = _body()
    matches = sandbox.model.find_sets(str(body.get("set")))
    if "projection" in body:
        matches = [(p, s) for p, s in matches if p.name == body["projection"]]
    if not matches:
        raise bad_request(f"No entity set named {body.get('set')!r}.")
    etype = matches[0][1].type
    key = _coerce(etype, body.get("key") or {})
    with sandbox.store.lock:
        table = sandbox.store.table(etype.name)
        try:
            row = table.get(tuple(key[attr] for attr in table.key_attrs))
        except KeyError as exc:
            raise bad_request(f"Key attribute {exc} missing.") from None
        if row is None:
            raise ODataError(404, "ODP_RESOURCE_NOTFOUND", "No such row.")
        row.update(body.get("changes") or {})
        sandbox.store.touch(etype.name, row)
        return jsonify({"@odata.etag": etag_of(row)})


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """POST {"mi_modified": n, "unavailable": n, "too_many": n, "stale_etag": n,
    "lost_response": n, "latency_ms": x, "error_rate": p, "retry_after": s};
    DELETE clears all."""
    sandbox = _sandbox()
    if request.method == "DELETE":
        sandbox.faults.clear()
    elif request.method == "POST":
        try:
            sandbox.faults.configure(_body())
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    return jsonify(sandbox.faults.snapshot())


@bp.get("/stats")
def stats():
    sandbox = _sandbox()
    return jsonify(sandbox.stats.snapshot(sandbox.faults, sandbox.auth.issued))


@bp.get("/dump/<set_name>")
def dump(set_name: str):
    """All rows of a set, unpaged, key order (for assertions). `?expand=Nav`
    (comma-separated) inlines each row's navigation children under the
    navigation's name: a test convenience the OData API does not offer."""
    sandbox = _sandbox()
    matches = sandbox.model.find_sets(set_name)
    if "projection" in request.args:
        matches = [(p, s) for p, s in matches if p.name == request.args["projection"]]
    if not matches:
        raise ODataError(404, "ODP_RESOURCE_NOTFOUND", f"No entity set named {set_name!r}.")
    etype = matches[0][1].type
    expand = [n for n in request.args.get("expand", "").split(",") if n]
    unknown = [n for n in expand if n not in etype.navigations]
    if unknown:
        raise bad_request(f"'{unknown[0]}' is not a navigation of {etype.name}.")
    with sandbox.store.lock:
        table = sandbox.store.table(etype.name)
        rows = sorted(table.rows.values(), key=table.key)
        return jsonify({"value": [_with_children(sandbox.store, etype, row, expand) for row in rows]})


def _with_children(store, etype: EntityType, row: dict, expand: list[str]) -> dict:
    out = entity_json(etype, row)
    for name in expand:
        nav = etype.navigations[name]
        children = store.table(nav.target.name)
        parent_attr, child_attr = nav.link[0]
        candidates = children.candidates(child_attr, [row[parent_attr]])
        if candidates is None:
            candidates = list(children.rows.values())
        out[name] = [entity_json(nav.target, child)
                     for child in sorted(candidates, key=children.key)
                     if all(row[p] == child.get(c) for p, c in nav.link)]
    return out


@bp.post("/expire_tokens")
def expire_tokens():
    return jsonify({"expired": _sandbox().auth.expire_all()})


@bp.get("/config")
def config():
    cfg = _sandbox().config
    return jsonify({**cfg.model_dump(mode="json", exclude={"client_secret"}),
                    "served_prefixes": list(cfg.served_prefixes()),
                    "projections": {name: list(p.sets) for name, p in
                                    _sandbox().model.projections.items()}})
