"""Answer one request below a projection's service root, exactly as sent
alone: `Root` (where the projection is served), `odata_request` (the
provider's view of the request), `serve` (service document, $metadata or
the provider, under the store lock), `rendered` (status, headers, body
bytes), `error_reply`, `lost_response` (the 504 of an uncertain write) and
`split_path`.

The projection route in `app.py` and each request inside a `$batch`
(`batching.py`) are answered here, so both behave the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote

from werkzeug.datastructures import MultiDict

from sandbox.ifs import metadata
from sandbox.ifs.errors import ODataError
from sandbox.ifs.service import ODataRequest, Reply
from sandbox.ifs.state import Sandbox

JSON = "application/json;odata.metadata=minimal"


@dataclass(frozen=True)
class Root:
    """Where a projection is served: `host_url` ends with '/', `path` is the
    raw absolute path of the service root, ending with '/'."""
    host_url: str
    path: str

    @property
    def url(self) -> str:
        return self.host_url.rstrip("/") + self.path


def odata_request(root: Root, method: str, raw_path: str, segments: list[str],
                  query: list[tuple[str, str]], headers, body: bytes, mimetype: str) -> ODataRequest:
    """The provider's view of one request below the service root (`segments`
    decoded; `raw_path` the absolute path as sent, for nextLinks). A request
    inside a $batch is built here too, so it behaves like the same request
    sent alone."""
    args = MultiDict(query)
    return ODataRequest(
        method=method, segments=segments, args=args.to_dict(),
        headers={name: headers.get(name) for name in ("If-Match", "Prefer")
                 if headers.get(name) is not None},
        body=body, mimetype=mimetype, service_root=root.url,
        url_no_query=root.host_url.rstrip("/") + raw_path,
        raw_query=list(args.items(multi=True)))


def serve(sandbox: Sandbox, projection, req: ODataRequest) -> Reply:
    """Answer one request below the service root (the service document,
    $metadata or the provider); raises ODataError. Writes are not counted
    here: a change set counts them only when it commits."""
    if not req.segments:
        if req.method != "GET":
            raise ODataError(405, "ODP_METHOD_NOT_ALLOWED", "Only GET is allowed here.")
        return Reply(200, metadata.service_document(projection, req.service_root))
    if req.segments[0] == "$metadata":
        return Reply(200, metadata.csdl(projection), {"Content-Type": "application/xml"})
    with sandbox.store.lock:
        return sandbox.provider.handle(projection, req)


def rendered(reply: Reply) -> tuple[int, dict, bytes]:
    """Status, headers and body bytes of a reply (JSON unless already bytes)."""
    headers = {"OData-Version": "4.0", **reply.headers}
    if reply.body is None:
        return reply.status, headers, b""
    if isinstance(reply.body, bytes):
        return reply.status, headers, reply.body
    text = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
    return reply.status, {"Content-Type": JSON, **headers}, text.encode()


def error_reply(exc: ODataError) -> Reply:
    return Reply(exc.status, exc.body(), exc.headers)


def lost_response() -> ODataError:
    return ODataError(504, "GATEWAY_TIMEOUT", "The gateway timed out waiting for IFS.")


def split_path(path: str) -> list[str]:
    """Decoded segments of a raw path, split before percent-decoding so an
    encoded '/' inside a key literal stays inside its segment."""
    return [unquote(part) for part in path.split("/")]

