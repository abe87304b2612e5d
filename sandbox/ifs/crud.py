"""Plain update/delete for entities that have no business rules of their own."""

from __future__ import annotations

from typing import Callable

from sandbox.ifs.errors import ORA_EXIST, BusinessError
from sandbox.ifs.store import Store


def plain_create(table: str, lu_label: str) -> Callable:
    """Insert with client-given keys; a duplicate key is IFS's ORA-20112."""

    def create(store: Store, values: dict, children: dict, parent: dict | None) -> dict:
        t = store.table(table)
        if t.get(t.key(values)) is not None:
            raise BusinessError(ORA_EXIST, table, "FND_RECORD_EXIST", f"The {lu_label} already exists.")
        return store.insert(table, dict(values))

    return create


def plain_update(table: str) -> Callable:
    def update(store: Store, row: dict, changes: dict) -> None:
        row.update(changes)
        store.touch(table, row)

    return update


def plain_delete(table: str) -> Callable:
    def delete(store: Store, row: dict) -> None:
        store.remove(table, row)

    return delete
