"""`python -m connector.ifs.names`: every configurable IFS name and its
default, as the Markdown table in README ("IFS names you must check per
tenant"), so the README cannot drift from the code."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import BaseModel

from connector.ifs.names import IfsNames


def rows(model: BaseModel, prefix: str = "ifs") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name in type(model).model_fields:
        value: Any = getattr(model, name)
        path = f"{prefix}.{name}"
        if isinstance(value, BaseModel):
            found += rows(value, path)
        elif isinstance(value, tuple):
            found.append((path, ", ".join(f"`{v}`" for v in value)))
        else:
            found.append((path, "(off)" if value is None else f"`{value}`"))
    return found


def table(names: IfsNames | None = None) -> str:
    names = names or IfsNames()
    lines: list[str] = []
    for section in type(names).model_fields:
        value = getattr(names, section)
        if not isinstance(value, BaseModel):
            continue
        doc = inspect.getdoc(inspect.getmodule(type(value))) or ""
        lines += [f"**`ifs.{section}`**: {' '.join(doc.split())}", "",
                  "| Key | Default |", "|---|---|"]
        lines += [f"| `{path}` | {default} |" for path, default in rows(value, f"ifs.{section}")]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
