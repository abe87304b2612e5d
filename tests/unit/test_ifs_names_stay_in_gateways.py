"""No IFS name is spelled out in flows, mappers or reconcile (issue 12).

Every IFS name the connector uses is a default in the mapping's `ifs:`
section (connector/ifs/names/); the gateways are the only code that reads
them. A string literal in a flow that equals one of those defaults is a name
a tenant could not change. Words that are also ShipBob's own vocabulary
(enum values in its OpenAPI document, e.g. a `Cancelled` status) are ShipBob
terms there, not IFS names.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Iterator

from connector.ifs.names import IfsNames

ROOT = Path(__file__).resolve().parents[2]
CHECKED = [*sorted((ROOT / "connector" / "flows").glob("*.py")),
           *sorted((ROOT / "connector" / "mappers").glob("*.py")),
           ROOT / "connector" / "reconcile.py"]
SHIPBOB_SPEC = ROOT / "sandbox" / "shipbob" / "specs" / "shipbob-openapi-2026-01.json"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _shipbob_enum_values(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, item in node.items():
            if key == "enum" and isinstance(item, list):
                yield from (str(v) for v in item)
            else:
                yield from _shipbob_enum_values(item)
    elif isinstance(node, list):
        for item in node:
            yield from _shipbob_enum_values(item)


def ifs_names() -> set[str]:
    names = {s for s in _strings(IfsNames().model_dump()) if s[:1].isupper() and ":" not in s}
    return names - set(_shipbob_enum_values(json.loads(SHIPBOB_SPEC.read_text())))


def literals(path: Path, names: set[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if node.value in names:
                found.append((node.lineno, node.value))
        elif isinstance(node, ast.keyword) and node.arg in names:  # key_path(..., OrderNo=x)
            found.append((node.value.lineno, node.arg))
    return found


def test_no_ifs_name_is_spelled_out_in_flows_mappers_or_reconcile() -> None:
    names = ifs_names()
    found = {str(path.relative_to(ROOT)): literals(path, names) for path in CHECKED}
    assert {path: hits for path, hits in found.items() if hits} == {}


def test_the_check_sees_a_spelled_out_name(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text('"""Doc mentions OrderNo."""\nrow["OrderNo"]\nkey_path("S", PartNo=1)\n')
    assert literals(flow, ifs_names()) == [(2, "OrderNo"), (3, "PartNo")]


if __name__ == "__main__":  # the count for a closing note: python tests/unit/<this file>
    total = {str(p.relative_to(ROOT)): len(literals(p, ifs_names())) for p in CHECKED}
    print(json.dumps({**total, "total": sum(total.values())}, indent=1))
