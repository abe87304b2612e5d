"""OData v4 `$batch` bodies: the multipart/mixed format in and out.

Request (ifs-cloud.md §9; OData 4.0 Part 1 §11.7): `Content-Type:
multipart/mixed;boundary=…`; each top-level part is either one request
(`Content-Type: application/http`, `Content-Transfer-Encoding: binary`,
optional `Content-ID`, a blank line, then `<METHOD> <url> HTTP/1.1`, its
headers, a blank line and its body) or a change set (`Content-Type:
multipart/mixed;boundary=…` holding such requests, each with a
`Content-ID`; no GET, no nested change set). Lines end in CRLF; a bare LF
is tolerated.

Response: `multipart/mixed; boundary=batchresponse_<uuid>`, one part per
request in order, `HTTP/1.1 <status> <reason>`, headers, blank line, body; a
committed change set answers a nested `changesetresponse_<uuid>` multipart,
a failed one a single part with the error.

Anything malformed raises `BatchFormatError`; the app answers it as 400
for the whole batch. This module knows nothing about projections.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus

CRLF = b"\r\n"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
CHANGE_SET_METHODS = METHODS - {"GET"}
_BOUNDARY_CHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


class BatchFormatError(Exception):
    """The batch body or its Content-Type is not the documented format."""


class Headers(dict):
    """Header fields by lower-cased name (the first of repeated fields wins)."""

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)

    def __contains__(self, name) -> bool:
        return super().__contains__(name.lower())


@dataclass
class PartRequest:
    method: str
    target: str  # the request-target as written: relative, absolute path or URL
    headers: Headers  # of the embedded request
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    requests: list[PartRequest]


@dataclass
class PartResponse:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    content_id: str | None = None


# ------------------------------------------------------------------ parse

def media_type(value: str | None) -> tuple[str, dict]:
    """`type/subtype` (lower case) and its parameters; ("", {}) if unparsable."""
    if not value or "/" not in value.split(";", 1)[0]:
        return "", {}
    message = Message()
    message["Content-Type"] = value
    params = {name.lower(): val for name, val in message.get_params()[1:]}
    return message.get_content_type(), params


def parse(content_type: str | None, body: bytes) -> list[PartRequest | ChangeSet]:
    """The parts of a batch request body, in order."""
    boundary = _boundary(content_type, "the batch request")
    items: list[PartRequest | ChangeSet] = []
    for number, raw in enumerate(_split(body, boundary), start=1):
        headers, content = _mime_headers(raw, f"part {number}")
        kind, _ = media_type(headers.get("Content-Type"))
        if kind == "multipart/mixed":
            items.append(_change_set(headers, content, number))
        elif kind == "application/http":
            items.append(_request(headers, content, f"part {number}", in_change_set=False))
        else:
            raise BatchFormatError(
                f"part {number}: Content-Type must be application/http or multipart/mixed "
                f"(a change set), not {headers.get('Content-Type') or 'none'}.")
    return items


def continue_on_error(prefer: str | None) -> bool:
    """`Prefer: odata.continue-on-error` (4.01 also spells it without `odata.`)."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() in ("odata.continue-on-error", "continue-on-error"):
            return value.strip().lower() in ("", "true")
    return False


def _boundary(content_type: str | None, what: str) -> str:
    kind, params = media_type(content_type)
    if kind != "multipart/mixed":
        raise BatchFormatError(f"The Content-Type of {what} must be multipart/mixed with a "
                               f"boundary, not {content_type or 'none'}.")
    boundary = params.get("boundary")
    if not boundary:
        raise BatchFormatError(f"The Content-Type of {what} has no boundary parameter.")
    if not _BOUNDARY_CHARS.fullmatch(boundary):
        raise BatchFormatError(f"The boundary '{boundary}' of {what} is not a valid MIME boundary.")
    return boundary


def _split(body: bytes, boundary: str) -> list[bytes]:
    """RFC 2046: parts between `--boundary` lines up to `--boundary--`. The
    line break before a delimiter belongs to the delimiter; the preamble and
    epilogue are ignored."""
    delimiter = re.compile(rb"(?:\A|\r?\n)--" + re.escape(boundary.encode("latin-1"))
                           + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    parts: list[bytes] = []
    start = None
    for match in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start:match.start()])
        if match.group(1):  # the close delimiter
            if start is None:
                break
            return parts
        start = match.end()
    if start is None:
        raise BatchFormatError(f"The body has no part delimited by '--{boundary}'.")
    raise BatchFormatError(f"The body does not end with the close delimiter '--{boundary}--'.")


def _mime_headers(raw: bytes, where: str) -> tuple[Headers, bytes]:
    """Header fields up to the first empty line (or the end), and the rest."""
    headers = Headers()
    last = None
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        line_end = len(raw) if end < 0 else end + 1
        line = raw[pos:line_end].rstrip(b"\r\n").decode("latin-1")
        pos = line_end
        if not line:
            break
        if line[0] in " \t":
            if last is None:
                raise BatchFormatError(f"{where}: a header continuation line comes first.")
            headers[last] = f"{dict.__getitem__(headers, last)} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise BatchFormatError(f"{where}: malformed header line '{line}'.")
        last = name.lower()
        headers.setdefault(last, value.strip())
    return headers, raw[pos:]


def _change_set(headers: Headers, content: bytes, number: int) -> ChangeSet:
    where = f"part {number} (change set)"
    boundary = _boundary(headers.get("Content-Type"), where)
    requests: list[PartRequest] = []
    ids: set[str] = set()
    for index, raw in enumerate(_split(content, boundary), start=1):
        inner = f"{where}, request {index}"
        part_headers, body = _mime_headers(raw, inner)
        kind, _ = media_type(part_headers.get("Content-Type"))
        if kind == "multipart/mixed":
            raise BatchFormatError(f"{inner}: change sets cannot be nested.")
        if kind != "application/http":
            raise BatchFormatError(f"{inner}: Content-Type must be application/http, not "
                                   f"{part_headers.get('Content-Type') or 'none'}.")
        request = _request(part_headers, body, inner, in_change_set=True)
        if request.content_id is None:
            raise BatchFormatError(f"{inner}: a request in a change set needs a Content-ID.")
        if request.content_id in ids:
            raise BatchFormatError(f"{inner}: Content-ID '{request.content_id}' is used twice "
                                   "in the change set.")
        ids.add(request.content_id)
        requests.append(request)
    if not requests:
        raise BatchFormatError(f"{where} is empty.")
    return ChangeSet(requests)


def _request(part_headers: Headers, content: bytes, where: str, *, in_change_set: bool) -> PartRequest:
    encoding = part_headers.get("Content-Transfer-Encoding")
    if encoding is None or encoding.lower() != "binary":
        raise BatchFormatError(f"{where}: an application/http part needs "
                               "'Content-Transfer-Encoding: binary'.")
    end = content.find(b"\n")
    line = (content if end < 0 else content[:end]).rstrip(b"\r").decode("latin-1")
    rest = b"" if end < 0 else content[end + 1:]
    words = line.split(" ")
    if len(words) != 3 or not words[1]:
        raise BatchFormatError(f"{where}: the request line must be '<METHOD> <url> HTTP/1.1', "
                               f"not '{line}'.")
    method, target, version = words
    if version != "HTTP/1.1":
        raise BatchFormatError(f"{where}: unsupported HTTP version '{version}'.")
    if method not in METHODS:
        raise BatchFormatError(f"{where}: unknown method '{method}'.")
    if in_change_set and method not in CHANGE_SET_METHODS:
        raise BatchFormatError(f"{where}: {method} requests are not allowed in a change set.")
    headers, body = _mime_headers(rest, where)
    length = headers.get("Content-Length")
    if length is not None:
        if not length.isdigit():
            raise BatchFormatError(f"{where}: invalid Content-Length '{length}'.")
        body = body[:int(length)]
    else:
        body = body.rstrip(b"\r\n")
    if method == "GET" and body.strip():
        raise BatchFormatError(f"{where}: a GET request cannot have a body.")
    content_id = part_headers.get("Content-ID") or headers.get("Content-ID")
    return PartRequest(method, target, headers, body, content_id)


# -------------------------------------------------------------- serialise

def serialize(items: list[PartResponse | list[PartResponse]]) -> tuple[str, bytes]:
    """(Content-Type, body) of a batch response: a list stands for a
    committed change set."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks = []
    for item in items:
        if isinstance(item, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            nested = _multipart(inner, [_http_part(response) for response in item])
            chunks.append(b"Content-Type: multipart/mixed; boundary=" + inner.encode() + CRLF
                          + CRLF + nested)
        else:
            chunks.append(_http_part(item))
    return f"multipart/mixed; boundary={boundary}", _multipart(boundary, chunks)


def _multipart(boundary: str, chunks: list[bytes]) -> bytes:
    delimiter = b"--" + boundary.encode()
    out = b"".join(delimiter + CRLF + chunk + CRLF for chunk in chunks)
    return out + delimiter + b"--" + CRLF


def _http_part(response: PartResponse) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if response.content_id is not None:
        lines.append(f"Content-ID: {response.content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {_reason(response.status)}"]
    headers = dict(response.headers)
    if response.body:
        headers["Content-Length"] = str(len(response.body))
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = "\r\n".join(lines).encode("latin-1", "replace") + CRLF + CRLF
    return head + response.body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
