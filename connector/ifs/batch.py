"""OData v4 multipart `$batch` for reads: encode GET parts, decode the answer.

IFS documents `$batch` for its projections (ifs-cloud.md §9; docs.ifs.com
techdocs 24r2 ".../020_batch_requests"): `POST <Projection>.svc/$batch`,
`Content-Type: multipart/mixed;boundary=...`, parts run in order, GETs are
individual requests (never in a change set). The format is OData 4.0 Part 1
§11.7: each part is `application/http` carrying one HTTP request or response.

Each decoded part is a `requests.Response`, so the client classifies a failed
part exactly as it would the same GET sent alone.
"""

from __future__ import annotations

import email.parser
import email.policy
import uuid

import requests
from requests.structures import CaseInsensitiveDict

CRLF = "\r\n"


class BatchFormatError(ValueError):
    """The answer is not a multipart batch response we can read."""


def encode_gets(relative_urls: list[str]) -> tuple[bytes, str]:
    """The body and Content-Type of a batch of GETs; URLs are relative to the
    service root (`CustomerOrderSet(OrderNo='1')`, `...?$filter=...`)."""
    boundary = f"batch_{uuid.uuid4().hex}"
    lines: list[str] = []
    for url in relative_urls:
        lines += [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
                  "", f"GET {url} HTTP/1.1", "Accept: application/json", "", ""]
    lines.append(f"--{boundary}--")
    return (CRLF.join(lines) + CRLF).encode(), f"multipart/mixed;boundary={boundary}"


def decode_responses(content_type: str, body: bytes) -> list[requests.Response]:
    """The part responses, in order. A service stops at the first failed part
    unless asked to continue (§11.7.2), so there may be fewer than requested."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise BatchFormatError(f"not a multipart response ({content_type!r})")
    parts = []
    for part in message.iter_parts():
        if part.get_content_type() != "application/http":
            raise BatchFormatError(f"unexpected batch part {part.get_content_type()!r}")
        payload = part.get_payload(decode=True)  # bytes, or None for an empty part
        parts.append(_http_response(payload if isinstance(payload, bytes) else b""))
    return parts


def _http_response(raw: bytes) -> requests.Response:
    """`HTTP/1.1 200 OK`, headers, a blank line, the body -> a Response."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        head, _, body = raw.partition(b"\n\n")
    status_line, *header_lines = head.decode("latin-1").splitlines()
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise BatchFormatError(f"bad status line in a batch part: {status_line[:80]!r}")
    response = requests.Response()
    response.status_code = int(fields[1])
    response.reason = fields[2] if len(fields) > 2 else ""
    response.headers = CaseInsensitiveDict(
        (name.strip(), value.strip()) for name, _, value in
        (line.partition(":") for line in header_lines if ":" in line))
    response._content = body  # requests has no public constructor for a parsed response
    response.encoding = "utf-8"
    return response
