"""RMA names: the projection is confirmed; sets, keys, fields, states, the
return-action enum and the release and receive actions are stand-in
inventions."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs


class RmaFields(Strict):
    """The RMA header: read, filtered on (external_ref) and sent on create."""

    order_no: str = "OrderNo"
    site: str = "Contract"
    external_ref: str = "ExternalRef"  # the ShipBob return id: what makes the RMA found again
    notes: str = "Notes"


class RmaLineFields(Strict):
    """An RMA line as sent inside the create (deep insert): the customer
    order line it returns, the part, the quantity and what to do with it."""

    line_no: str = "LineNo"
    rel_no: str = "RelNo"
    line_item_no: str = "LineItemNo"
    part_no: str = "PartNo"
    qty: str = "QtyToReturn"
    action: str = "ReturnAction"


class ReturnActionValues(Strict):
    """Members of the return-action enum per disposition of a returned unit."""

    restock: str = "Restock"
    quarantine: str = "Quarantine"
    dispose: str = "Dispose"


class ReturnNames(Strict):
    projection: str = "ReturnMaterialAuthorizationHandling"
    rma_set: str = "ReturnMaterialSet"
    rma_key: str = "RmaNo"
    lines_nav: str = "ReturnMaterialLineArray"
    receive_action: str = "ReturnMaterial_Receive"
    # IFS receives only a released RMA (IFS docs, "About RMA"): this bound
    # action runs before the receive unless the RMA is released already.
    # None turns the step off (a tenant that releases RMAs some other way).
    release_action: str | None = "ReturnMaterial_Release"
    state_enum: str = "ReturnMaterialState"
    state_field: str = "Objstate"
    released_state: str = "Released"
    received_state: str = "Received"
    action_enum: str = "ReturnMaterialAction"
    rma: RmaFields = RmaFields()
    line: RmaLineFields = RmaLineFields()
    actions: ReturnActionValues = ReturnActionValues()
    # How a created RMA is received (connector/ifs/returns.py: ReturnReceiptPosting).
    posting: str = "connector.ifs.returns:ReceiveRmaAction"

    def declare(self, needs: Needs) -> None:
        returns = needs.at(self.projection)
        returns.entity_set(self.rma_set, keys=(self.rma_key,),
                           props=(*self.rma.values(), self.state_field))
        returns.navigation(self.rma_set, self.lines_nav, self.line.values())
        returns.enum(self.state_enum, self.released_state, self.received_state)
        returns.enum(self.action_enum, *self.actions.values())
        if self.release_action:
            returns.action(self.rma_set, self.release_action)
        returns.action(self.rma_set, self.receive_action)
