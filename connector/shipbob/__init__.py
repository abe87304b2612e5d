"""ShipBob Developer API client (shared/api/shipbob.md)."""

from connector.shipbob.auth import DbTokenStore, MemoryTokenStore, TokenStore
from connector.shipbob.client import ShipBobClient
from connector.shipbob.errors import DuplicateReference, ShipBobNotFound
from connector.shipbob.transport import Limits

__all__ = [
    "DbTokenStore",
    "DuplicateReference",
    "Limits",
    "MemoryTokenStore",
    "ShipBobClient",
    "ShipBobNotFound",
    "TokenStore",
]
