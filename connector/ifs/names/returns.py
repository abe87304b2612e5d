"""RMA names: the projection is confirmed; sets, keys, states and the release
and receive actions are stand-in inventions."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs

_RMA_FIELDS = ("OrderNo", "Contract", "ExternalRef", "Notes")
_RMA_LINE_FIELDS = ("LineNo", "RelNo", "LineItemNo", "PartNo", "QtyToReturn", "ReturnAction")


class ReturnNames(Strict):
    projection: str = "ReturnMaterialAuthorizationHandling"
    rma_set: str = "ReturnMaterialSet"
    rma_key: str = "RmaNo"
    lines_nav: str = "ReturnMaterialLineArray"
    receive_action: str = "ReturnMaterial_Receive"
    # IFS receives only a released RMA (ifs-cloud.md §6, AboutRMA): this bound
    # action runs before the receive unless the RMA is released already.
    # None turns the step off (a tenant that releases RMAs some other way).
    release_action: str | None = "ReturnMaterial_Release"
    state_enum: str = "ReturnMaterialState"
    state_field: str = "Objstate"
    released_state: str = "Released"
    received_state: str = "Received"

    def declare(self, needs: Needs) -> None:
        returns = needs.at(self.projection)
        returns.entity_set(self.rma_set, keys=(self.rma_key,), props=(*_RMA_FIELDS, self.state_field))
        returns.navigation(self.rma_set, self.lines_nav, _RMA_LINE_FIELDS)
        returns.enum(self.state_enum, self.released_state, self.received_state)
        if self.release_action:
            returns.action(self.rma_set, self.release_action)
        returns.action(self.rma_set, self.receive_action)
