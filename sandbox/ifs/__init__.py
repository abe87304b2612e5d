"""IFS Cloud stand-in: an OData v4 server that behaves like IFS Cloud's
projections as documented in shared/api/ifs-cloud.md (§11).

    from sandbox.ifs import create_app, IfsSandboxConfig, run
    app = create_app(IfsSandboxConfig(token_ttl_seconds=2))
    run(port=8001, seed_orders=20)          # what `ifs-shipbob sandbox ifs` calls
    python -m sandbox.ifs --port 8001 --seed-orders 20

Modules: config (IfsSandboxConfig), model (the served projections, the
sandbox's own definition), tenant (a renamed tenant's wire names), edm
(types, JSON codecs), odata_filter ($filter, key predicates), query
($select/$orderby/$top/$skip/$count, paging), payload (envelopes, bodies),
service (resource resolution, ETags, CRUD, actions), store (tables, objid/
objversion, ETags), orders / returns / purchasing / inventory / activity / crud
(business rules), auth (tokens), faults (fault injection, stats), metadata ($metadata,
service document), seed (data set), hooks (/_sandbox/), batch ($batch
multipart format), answer (one request below a service root, as sent
alone), batching ($batch execution), app (Flask routes, gatekeeping, run()).

`$batch` (§9): individual requests and change sets (all-or-nothing, no GET,
`$<Content-ID>` in the URL and If-Match), processing stops at the first
failed part unless `Prefer: odata.continue-on-error`. Auth and faults apply
to the batch as one call; /_sandbox/stats counts it once under
`<Projection>/$batch` and its requests under `batch_parts`.

Sandbox choices where the fact sheet marks the real behaviour unknown (⚠):
404 ODP_RESOURCE_NOTFOUND; 400 ODP_BAD_REQUEST for query errors and
read-only attributes; 400 ODP_DESERIALIZATION_ERROR for bodies; 428
ODP_MISSING_PRECONDITION; 412 ODP_PRECONDITION_FAILED; 405
ODP_METHOD_NOT_ALLOWED; 501 ODP_NOT_IMPLEMENTED; 401 UNAUTHORIZED; business
rules 500 DATABASE_ERROR with `ORA-20xxx: <Lu>.<KEY>: text` in details[0]; a
malformed $batch body 400 ODP_BAD_REQUEST for the whole batch.
"""

from sandbox.ifs.app import create_app, run
from sandbox.ifs.config import IfsSandboxConfig

__all__ = ["IfsSandboxConfig", "create_app", "main", "run"]


def main(argv: list[str] | None = None) -> int:
    from sandbox.ifs.__main__ import main as _main

    return _main(argv)
