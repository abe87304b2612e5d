"""External inventory activity: a third-party warehouse's stock movements
(picks, stows, adjustments, restocks) recorded one per event. A stand-in
invention: IFS documents no such set. Like every IFS
create it has no idempotency key: two creates carrying one ExternalRef are
two records, so a connector that posts an event twice is seen doing it."""

from __future__ import annotations

from sandbox.ifs.errors import ORA_GENERAL, BusinessError
from sandbox.ifs.store import Store

TABLE = "ExternalInventoryActivity"


def create_activity(store: Store, values: dict, children: dict, parent: dict | None = None) -> dict:
    """POST ExternalInventoryActivitySet: one event, numbered by the server."""
    if not str(values.get("ExternalRef") or "").strip():
        raise BusinessError(ORA_GENERAL, TABLE, "EXTREFMISSING", "An external reference is required.")
    return store.insert(TABLE, {**values, "ActivityNo": store.next_key(TABLE), "DateCreated": store.now()})
