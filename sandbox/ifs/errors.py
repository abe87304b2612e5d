"""The IFS error envelope and the errors the stand-in raises.

Every error answers `{"error":{"code","message","details":[{"code","message"}]}}`
(ifs-cloud.md §9, §11.8). Status codes marked ⚠ in the fact sheet are the
sandbox's choice and listed in the module docs of `sandbox.ifs`.
"""

from __future__ import annotations


class ODataError(Exception):
    """An error answered to the client as an IFS envelope."""

    def __init__(self, status: int, code: str, message: str, *,
                 details: list[dict] | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else [{"code": code, "message": message}]
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BusinessError(Exception):
    """A PL/SQL rule said no: `ORA-20xxx: <Lu>.<KEY>: <text>` (§9).

    Raised by the domain modules before they change anything; the app answers
    it as HTTP 500 DATABASE_ERROR, the status public code shows for these.
    """

    def __init__(self, ora: int, lu: str, key: str, text: str):
        super().__init__(text)
        self.ora = ora
        self.lu = lu
        self.key = key
        self.text = text

    @property
    def ora_message(self) -> str:
        return f"ORA-{self.ora}: {self.lu}.{self.key}: {self.text}"


# IFS Error_SYS codes used by the domain modules.
ORA_GENERAL = 20110       # Error_SYS.Record_General: a business rule
ORA_NOT_EXIST = 20111     # Error_SYS.Record_Not_Exist (…FND_RECORD_NOT_EXIST)
ORA_EXIST = 20112         # Error_SYS.Record_Exist (…FND_RECORD_EXIST)
ORA_STATE = 20117         # a state event not allowed in the current state


def business_error(exc: BusinessError) -> ODataError:
    return ODataError(500, "DATABASE_ERROR", exc.text,
                      details=[{"code": "DATABASE_ERROR", "message": exc.ora_message}])


def not_found(message: str) -> ODataError:
    return ODataError(404, "ODP_RESOURCE_NOTFOUND", message)


def bad_request(message: str) -> ODataError:
    return ODataError(400, "ODP_BAD_REQUEST", message)


def deserialization(detail: str) -> ODataError:
    # The message is the one IFS sends (Novacura, §9); the detail says why.
    return ODataError(400, "ODP_DESERIALIZATION_ERROR", "Error while de-serializing contents.",
                      details=[{"code": "ODP_DESERIALIZATION_ERROR", "message": detail}])


def not_implemented(message: str) -> ODataError:
    return ODataError(501, "ODP_NOT_IMPLEMENTED", message)


def method_not_allowed(message: str) -> ODataError:
    return ODataError(405, "ODP_METHOD_NOT_ALLOWED", message)


def missing_precondition(message: str = "If-Match header is required for this operation.") -> ODataError:
    return ODataError(428, "ODP_MISSING_PRECONDITION", message)


def precondition_failed(lu: str) -> ODataError:
    # §7: IFS's code for a stale ETag is unknown; the detail carries the text
    # IFS uses when a row was modified by another user, which clients key on.
    return ODataError(412, "ODP_PRECONDITION_FAILED",
                      "The ETag in If-Match does not match the current version of the object.",
                      details=[{"code": "ODP_PRECONDITION_FAILED",
                                "message": f"ORA-20114: {lu}.FND_MODIFIED: The object has been "
                                           "modified by another user. Refresh and try again."}])
