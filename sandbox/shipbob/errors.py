"""Error bodies, one builder per shape the ShipBob API uses (shipbob.md §3–§5).

- Orders and receiving answer a bare field map: {"<field>": ["message", ...]}.
- Returns, products and webhooks answer ASP.NET (Validation)ProblemDetails.
- Returns answers business rule failures with ApiError {message, errors[], details, stackTrace}.
- 404s carry the ProblemDetails the doc shows for receiving: {type,title,status,detail,instance,errors}.
"""

from __future__ import annotations

from flask import request

_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    422: "https://tools.ietf.org/html/rfc4918#section-11.2",
}


class ApiError(Exception):
    """Raised anywhere in a handler; the app turns it into the response it describes."""

    def __init__(self, status: int, body=None, headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def problem(status: int, title: str, detail: str | None = None,
            errors: dict[str, list[str]] | None = None) -> dict:
    return {"type": _TYPES.get(status), "title": title, "status": status, "detail": detail,
            "instance": request.path if request else None, "errors": errors or {}}


def not_found(what: str, ident) -> ApiError:
    return ApiError(404, problem(404, "Not Found", f"{what} {ident} was not found"))


def field_map(errors: dict[str, list[str]], status: int = 400) -> ApiError:
    return ApiError(status, errors)


def validation_problem(errors: dict[str, list[str]], status: int = 400) -> ApiError:
    return ApiError(status, problem(status, "One or more validation errors occurred.",
                                    errors=errors))


def returns_api_error(message: str, errors: list[str] | None = None) -> ApiError:
    return ApiError(422, {"message": message, "errors": errors or [message],
                          "details": None, "stackTrace": None})


def bad_request(field: str, message: str) -> ApiError:
    return field_map({field: [message]})


def conflict(message: str) -> ApiError:
    """A /_sandbox hook asked for a step the current state forbids."""
    return ApiError(409, {"error": message})


def object_result(errors: dict[str, list[str]], status: int = 422) -> ApiError:
    """The webhooks API declares its 422 as a serialised ASP.NET ObjectResult with a
    `$type` discriminator (Webhooks.UnprocessableEntityObjectResult); the problem details
    ride in `value`. ⚠ Only the spec shows this shape."""
    value = problem(status, "One or more validation errors occurred.", errors=errors)
    return ApiError(status, {"$type": "UnprocessableEntityObjectResult", "value": value,
                             "formatters": [], "content_types": [], "declared_type": None,
                             "status_code": status})
