"""The OData provider: resolve a projection path and run the operation.

Paths below `<Projection>.svc/`:
  <Set>                              GET (query) · POST (create)
  <Set>(<keys>)                      GET · PATCH (If-Match, or upsert) · DELETE (If-Match)
  <Set>(<keys>)/<Nav>                GET (query) · POST (create child)
  <Set>(<keys>)/<Nav>(<keys>)        GET
  <Set>(<keys>)/IfsApp.<Projection>.<Action>   POST (If-Match)
ETag rules follow ifs-cloud.md §7 and §11.5; envelopes §11.3.
Everything here runs under the store lock (the caller holds it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from sandbox.ifs.edm import EntityType, Navigation, Projection
from sandbox.ifs.errors import (
    ORA_GENERAL,
    BusinessError,
    ODataError,
    bad_request,
    business_error,
    method_not_allowed,
    missing_precondition,
    not_found,
    precondition_failed,
)
from sandbox.ifs.odata_filter import parse_key_predicate
from sandbox.ifs.payload import entity_json, parse_entity, parse_params, read_json
from sandbox.ifs.query import execute, parse_query
from sandbox.ifs.store import etag_of


@dataclass
class ODataRequest:
    method: str
    segments: list[str]  # decoded path segments after `<Projection>.svc/`
    args: dict
    headers: dict  # If-Match, Prefer
    body: bytes
    mimetype: str
    service_root: str  # absolute, ends with '/'
    url_no_query: str  # absolute URL of the resource, for nextLinks
    raw_query: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Reply:
    status: int
    body: Any = None  # dict -> JSON
    headers: dict = field(default_factory=dict)
    write: bool = False  # counted in stats
    action: str | None = None


@dataclass
class _Target:
    etype: EntityType
    set_name: str
    path: str  # canonical path for contexts
    key: dict | None = None  # key attrs of the addressed entity
    row: dict | None = None
    parent: dict | None = None
    nav: Navigation | None = None
    action_name: str | None = None


class Provider:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.store = sandbox.store

    def handle(self, projection: Projection, req: ODataRequest) -> Reply:
        try:
            target = self._resolve(projection, req.segments)
            return self._dispatch(projection, target, req)
        except BusinessError as exc:
            raise business_error(exc) from None

    def etag_at(self, projection: Projection, segments: list[str]) -> str | None:
        """The current ETag of the entity at `segments`, None if there is none
        (`If-Match: $1` in a `$batch` change set)."""
        if not segments:
            return None
        try:
            target = self._resolve(projection, segments)
        except ODataError:
            return None
        if target.row is None or target.action_name is not None:
            return None
        return etag_of(target.row)

    # ------------------------------------------------------------ routing
    def _resolve(self, projection: Projection, segments: list[str]) -> _Target:
        name, predicate = _split_segment(segments[0])
        entity_set = projection.sets.get(name)
        if entity_set is None:
            raise not_found(f"Resource '{name}' does not exist in projection '{projection.name}'.")
        etype = entity_set.type
        target = _Target(etype, name, name)
        if predicate is not None:
            target.key = parse_key_predicate(predicate, etype)
            target.row = self._row(etype, target.key)
            target.path = f"{name}({etype.key_predicate(target.key)})"
        if len(segments) == 1:
            return target
        if target.key is None:
            raise not_found(f"'{segments[1]}' needs a key on '{name}'.")
        if target.row is None:
            raise not_found(f"No {etype.name} with key ({predicate}) in '{name}'.")
        if len(segments) > 2:
            raise not_found(f"Resource path '{'/'.join(segments)}' is not supported.")
        second = segments[1]
        if second.startswith("IfsApp.") or "." in second.split("(", 1)[0]:
            action_name = second.removeprefix(projection.namespace + ".")
            if action_name == second or action_name not in etype.actions:
                raise not_found(f"Action '{second}' does not exist for '{name}'.")
            target.action_name = action_name
            return target
        nav_name, nav_predicate = _split_segment(second)
        nav = etype.navigations.get(nav_name)
        if nav is None:
            raise not_found(f"Navigation '{nav_name}' does not exist on '{etype.name}'.")
        child = _Target(nav.target, name, f"{target.path}/{nav_name}", parent=target.row, nav=nav)
        if nav_predicate is not None:
            child.key = parse_key_predicate(nav_predicate, nav.target)
            row = self._row(nav.target, child.key)
            child.row = row if row is not None and _linked(nav, target.row, row) else None
            if child.row is None:
                raise not_found(f"No {nav.target.name} with key ({nav_predicate}) under "
                                f"{target.path}.")
        return child

    def _row(self, etype: EntityType, key: dict) -> dict | None:
        table = self.store.table(etype.name)
        return table.get(tuple(key[attr] for attr in table.key_attrs))

    def _dispatch(self, projection: Projection, target: _Target, req: ODataRequest) -> Reply:
        method = req.method
        if target.action_name is not None:
            if method != "POST":
                raise method_not_allowed("Actions are invoked with POST.")
            return self._action(projection, target, req)
        if target.key is None:
            if method == "GET":
                return self._query(projection, target, req)
            if method == "POST":
                return self._create(target, req)
            raise method_not_allowed(f"{method} is not allowed on a collection.")
        if method == "GET":
            return self._read(projection, target, req)
        if method == "PATCH" and target.nav is None:
            return self._patch(target, req)
        if method == "DELETE" and target.nav is None:
            return self._delete(target, req)
        raise method_not_allowed(f"{method} is not allowed on '{target.path}'.")

    # -------------------------------------------------------------- reads
    def _query(self, projection: Projection, target: _Target, req: ODataRequest) -> Reply:
        etype = target.etype
        query = parse_query(req.args, etype, projection.name)
        page_size = _page_size(req.headers.get("Prefer"), self.sandbox.config.page_size)
        table = self.store.table(etype.name)
        scope = scope_rows = None
        if target.nav is not None:
            parent, nav = target.parent, target.nav
            scope = ("nav", nav.name, tuple(parent[a] for a, _ in nav.link))
            scope_rows = lambda: _children(table, nav, parent)  # noqa: E731
        page = execute(table, etype, query, page_size, scope, scope_rows)
        context = f"{req.service_root}$metadata#{target.path}"
        if query.select:
            context += "(" + ",".join(p.name for p in query.select) + ")"
        body: dict[str, Any] = {"@odata.context": context}
        if query.count:
            body["@odata.count"] = page.total
        body["value"] = [entity_json(etype, row, query.select) for row in page.rows]
        headers = {}
        if page.next_skiptoken is not None:
            body["@odata.nextLink"] = _next_link(req, page.next_skiptoken,
                                                 self.sandbox.faults.next_link_form)
        if page_size != self.sandbox.config.page_size:
            headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        return Reply(200, body, headers)

    def _read(self, projection: Projection, target: _Target, req: ODataRequest) -> Reply:
        if target.row is None:
            raise not_found(f"No {target.etype.name} at '{target.path}'.")
        query = parse_query(req.args, target.etype, projection.name, single=True)
        return self._entity_reply(200, target, target.row, req, query.select)

    def _entity_reply(self, status: int, target: _Target, row: dict, req: ODataRequest,
                      select=None) -> Reply:
        etype = target.etype
        context_path = target.set_name if target.nav is None else target.path
        body = {"@odata.context": f"{req.service_root}$metadata#{context_path}/$entity"}
        body.update(entity_json(etype, row, select))
        headers = {"ETag": etag_of(row)}
        if status == 201:
            collection = target.set_name if target.nav is None else target.path
            headers["Location"] = f"{req.service_root}{collection}({etype.key_predicate(row)})"
        return Reply(status, body, headers)

    # ------------------------------------------------------------- writes
    def _create(self, target: _Target, req: ODataRequest) -> Reply:
        etype = target.etype
        if etype.create is None:
            raise method_not_allowed(f"'{target.path}' does not support insert.")
        values, children = parse_entity(etype, read_json(req.body, req.mimetype), mode="create")
        if target.nav is not None:
            for parent_attr, child_attr in target.nav.link:
                given = values.get(child_attr)
                if given is not None and given != target.parent[parent_attr]:
                    raise bad_request(f"{child_attr} in the body does not match the parent key.")
                values[child_attr] = target.parent[parent_attr]
        _check_mandatory(etype, values)
        row = etype.create(self.store, values, children, target.parent)
        return self._written(201, target, row, req)

    def _patch(self, target: _Target, req: ODataRequest) -> Reply:
        etype = target.etype
        body = read_json(req.body, req.mimetype)
        if_match = req.headers.get("If-Match")
        if target.row is None:
            # §7: a PATCH without If-Match is an upsert; with one, nothing to match.
            if if_match is not None or etype.create is None:
                raise not_found(f"No {etype.name} at '{target.path}'.")
            values, children = parse_entity(etype, body, mode="create")
            for attr, value in target.key.items():
                if values.get(attr, value) != value:
                    raise bad_request(f"Key '{attr}' in the body differs from the URL.")
                values[attr] = value
            _check_mandatory(etype, values)
            row = etype.create(self.store, values, children, None)
            return self._written(201, target, row, req)
        if etype.update is None:
            raise method_not_allowed(f"'{target.set_name}' does not support update.")
        values, _ = parse_entity(etype, body, mode="update")
        for prop in etype.keys:
            if prop.attr in values and values.pop(prop.attr) != target.row[prop.attr]:
                raise bad_request(f"Key attribute '{prop.name}' cannot be changed.")
        self._check_etag(target, if_match, required=False)
        etype.update(self.store, target.row, values)
        return self._written(204, target, target.row, req)

    def _delete(self, target: _Target, req: ODataRequest) -> Reply:
        etype = target.etype
        if etype.delete is None:
            raise method_not_allowed(f"'{target.set_name}' does not support delete.")
        if target.row is None:
            raise not_found(f"No {etype.name} at '{target.path}'.")
        self._check_etag(target, req.headers.get("If-Match"), required=True)
        etype.delete(self.store, target.row)
        return Reply(204, write=True)

    def _action(self, projection: Projection, target: _Target, req: ODataRequest) -> Reply:
        action = target.etype.actions[target.action_name]
        self._check_etag(target, req.headers.get("If-Match"), required=True)
        body = read_json(req.body, req.mimetype, empty_ok=not action.params)
        params = parse_params(action, body)
        result = action.handler(self.store, target.row, params)
        qualified = f"{projection.namespace}.{action.name}"
        headers = {"ETag": etag_of(target.row)} if target.row is not None else {}
        if action.returns is None:
            return Reply(204, headers=headers, write=True, action=qualified)
        body = {"@odata.context": f"{req.service_root}$metadata#{action.returns}", "value": result}
        return Reply(200, body, headers, write=True, action=qualified)

    def _written(self, status: int, target: _Target, row: dict, req: ODataRequest) -> Reply:
        prefer = (req.headers.get("Prefer") or "").lower()
        if status == 204 and "return=representation" in prefer:
            status = 200
        if status == 201 and "return=minimal" in prefer:
            reply = self._entity_reply(201, target, row, req)
            reply.status, reply.body = 204, None
            reply.headers["OData-EntityId"] = reply.headers.pop("Location")
        elif status == 204:
            reply = Reply(204, headers={"ETag": etag_of(row)})
        else:
            reply = self._entity_reply(status, target, row, req)
        reply.write = True
        return reply

    def _check_etag(self, target: _Target, if_match: str | None, *, required: bool) -> None:
        """§7: byte-for-byte compare; `*` matches; missing where no upsert is
        possible -> ODP_MISSING_PRECONDITION."""
        if if_match is None:
            if required:
                raise missing_precondition()
            return
        if if_match == "*":
            return
        if self.sandbox.faults.take("stale_etag"):
            # Simulated concurrent edit: the row really gets a new version.
            self.store.touch(target.etype.name, target.row)
        if if_match != etag_of(target.row):
            raise precondition_failed(target.etype.name)


# -------------------------------------------------------------- helpers

def _check_mandatory(etype: EntityType, values: dict) -> None:
    """IFS checks mandatory attributes in PL/SQL (Check_Insert___), so a
    missing one is a business error, not a 400."""
    for prop in etype.props:
        if prop.insertable and not prop.nullable and not prop.key and values.get(prop.attr) is None:
            column = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", prop.name).upper()
            raise BusinessError(ORA_GENERAL, etype.name, "FND_MANDATORY",
                                f"Field [{column}] is mandatory for {etype.name}.")


def _split_segment(segment: str) -> tuple[str, str | None]:
    if "(" not in segment:
        return segment, None
    if not segment.endswith(")"):
        raise bad_request(f"Malformed resource segment '{segment}'.")
    name, _, rest = segment.partition("(")
    return name, rest[:-1]


def _linked(nav: Navigation, parent: dict, child: dict) -> bool:
    return all(parent[p] == child.get(c) for p, c in nav.link)


def _children(table, nav: Navigation, parent: dict) -> list[dict]:
    first_parent, first_child = nav.link[0]
    rows = table.candidates(first_child, [parent[first_parent]])
    if rows is None:
        rows = list(table.rows.values())
    return [row for row in rows if _linked(nav, parent, row)]


def _page_size(prefer: str | None, server_limit: int) -> int:
    """`Prefer: odata.maxpagesize=N` may lower the server's page size."""
    for part in (prefer or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return max(1, min(int(value.strip()), server_limit))
    return server_limit


def _next_link(req: ODataRequest, skiptoken: int, form: str = "absolute") -> str:
    """The next page's URL in one of the forms OData JSON 4.01 §4.3 allows:
    absolute, root-relative (`/main/.../X.svc/...`), or relative to the
    context URL, i.e. to the service root (`Set(Key)/Nav?...`)."""
    params = [(k, v) for k, v in req.raw_query if k != "$skiptoken"]
    params.append(("$skiptoken", str(skiptoken)))
    query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=chr(39) + '$(),:/@*!;=')}"
                     for k, v in params)
    url = req.url_no_query
    if form == "root-relative":
        url = urlsplit(url).path
    elif form == "relative" and url.startswith(req.service_root):
        url = url[len(req.service_root):]
    return f"{url}?{query}"
