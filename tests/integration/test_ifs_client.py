"""IfsClient against the IFS sandbox over real HTTP, with the pool-wide token
cache in real Redis (ifs-cloud.md §2 tokens, §7 ETags, §8 paging, §9 errors)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from connector.coordination import LocalCoordinator, RedisCoordinator
from connector.errors import PermanentError, RateLimited, TransientError
from connector.ifs import odata
from connector.ifs.client import IfsClient
from connector.ifs.errors import (
    EtagConflict,
    IfsAuthError,
    IfsBusinessError,
    IfsMetadataModified,
    IfsNotFound,
    IfsRejected,
    IfsServerError,
)
from connector.settings import Settings
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.integration

CO = "CustomerOrderHandling"
ORDERS = "CustomerOrderSet"
SERVER_PAGE = 7  # the sandbox's server-driven page limit: results longer get a nextLink
TOKEN_TTL = 2
RETRY_AFTER = 3
FULFILL = "CustomerOrder_RegisterFulfillment"


@pytest.fixture(scope="module")
def server():
    from sandbox.ifs.app import create_app
    from sandbox.ifs.config import IfsSandboxConfig
    from sandbox.server import BackgroundServer

    config = IfsSandboxConfig(token_ttl_seconds=TOKEN_TTL, page_size=SERVER_PAGE,
                              retry_after_seconds=RETRY_AFTER)
    srv = BackgroundServer(create_app(config)).start()
    yield srv
    srv.stop()


class Sandbox:
    """The sandbox's /_sandbox test hooks."""

    def __init__(self, url: str):
        self.url = url

    def post(self, hook: str, body: dict | None = None) -> dict:
        r = requests.post(f"{self.url}/_sandbox/{hook}", json=body or {}, timeout=10)
        r.raise_for_status()
        return r.json()

    def faults(self, **counts) -> None:
        self.post("faults", counts)

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=10).json()

    def tokens_issued(self) -> int:
        return self.stats()["tokens_issued"]

    def dump(self, set_name: str) -> list[dict]:
        return requests.get(f"{self.url}/_sandbox/dump/{set_name}", timeout=10).json()["value"]

    def gets(self, resource: str = f"{CO}/{ORDERS}") -> int:
        return self.stats()["requests"].get(resource, {}).get("GET", 0)


@pytest.fixture
def sandbox(server):
    hooks = Sandbox(server.url)
    hooks.post("reset")
    hooks.post("seed", {"orders": 30, "purchase_orders": 0})
    return hooks


@pytest.fixture
def settings(server, clean_redis):
    return Settings(ifs_base_url=server.url, redis_url=REDIS_URL, redis_prefix=clean_redis,
                    http_timeout_seconds=10)


def new_client(settings) -> IfsClient:
    """A client with its own Redis connection: what another worker process has."""
    return IfsClient(settings, RedisCoordinator(settings.redis_url, settings.redis_prefix))


@pytest.fixture
def client(settings):
    return new_client(settings)


def first_order(sandbox) -> str:
    return sandbox.dump(ORDERS)[0]["OrderNo"]


def order_path(order_no: str) -> str:
    return odata.key_path(ORDERS, OrderNo=order_no)


# -------------------------------------------------------------------- tokens

def test_one_token_serves_every_worker_until_it_is_due(client, settings, sandbox):
    before = sandbox.tokens_issued()
    order_no = first_order(sandbox)
    for _ in range(3):
        client.get(CO, order_path(order_no))
    other_worker = new_client(settings)
    other_worker.get(CO, order_path(order_no))
    assert sandbox.tokens_issued() - before == 1


def test_token_is_renewed_before_it_expires(client, sandbox):
    # expires_in=2 s: renewed at 2/3 of its lifetime, so no call meets a 401
    order_no = first_order(sandbox)
    before = sandbox.tokens_issued()
    client.get(CO, order_path(order_no))
    first = client.auth.token()
    time.sleep(TOKEN_TTL * 2 / 3 + 0.2)
    client.get(CO, order_path(order_no))
    assert client.auth.token() != first
    assert sandbox.tokens_issued() - before == 2


def test_a_401_re_authenticates_once_and_retries(client, sandbox):
    order_no = first_order(sandbox)
    client.get(CO, order_path(order_no))
    before = sandbox.tokens_issued()
    sandbox.post("expire_tokens")  # IFS forgets every token (e.g. a restart)
    assert client.get(CO, order_path(order_no))["OrderNo"] == order_no
    assert sandbox.tokens_issued() - before == 1


def test_refresh_is_single_flight_across_workers(settings, sandbox):
    order_no = first_order(sandbox)
    clients = [new_client(settings) for _ in range(8)]
    before = sandbox.tokens_issued()
    barrier = threading.Barrier(len(clients))
    errors: list[Exception] = []

    def work(c: IfsClient) -> None:
        try:
            barrier.wait()
            c.get(CO, order_path(order_no))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sandbox.tokens_issued() - before == 1


def test_wrong_credentials_are_permanent_and_never_leak_the_secret(server, sandbox):
    secret = "s3cr3t-" + uuid.uuid4().hex
    bad = IfsClient(Settings(ifs_base_url=server.url, ifs_client_secret=secret), LocalCoordinator())
    with pytest.raises(IfsAuthError) as info:
        bad.get(CO, order_path("C1"))
    assert info.value.status == 401
    assert secret not in str(info.value) and secret not in repr(info.value.__dict__)


# -------------------------------------------------------------------- paging

def test_query_follows_next_links_without_orderby(client, sandbox):
    expected = [r["OrderNo"] for r in sandbox.dump(ORDERS)]
    rows = client.query(CO, ORDERS)
    first = next(rows)  # streamed: one page fetched so far
    assert sandbox.gets() == 1
    got = [first["OrderNo"]] + [r["OrderNo"] for r in rows]
    assert sorted(got) == sorted(expected) and len(got) == len(set(got)) == 30
    assert sandbox.gets() == -(-30 // SERVER_PAGE)  # 5 server pages


@pytest.mark.parametrize("page_size", [5, 10, 30, 1000])
def test_query_pages_with_top_skip_and_a_stable_order(client, sandbox, page_size):
    # 5: client pages smaller than the server's; 10: each split by a nextLink;
    # 30: an exact multiple (an empty last page ends it); 1000: one request chain.
    expected = [r["OrderNo"] for r in sandbox.dump(ORDERS)]
    got = [r["OrderNo"] for r in client.query(CO, ORDERS, select=["OrderNo", "Contract"],
                                              orderby="OrderNo asc", page_size=page_size)]
    assert got == sorted(expected)


def test_query_with_filters_and_enum_literals(client, sandbox):
    rows = sandbox.dump(ORDERS)
    released = odata.enum_literal(CO, "CustomerOrderState", "Released")
    since = datetime.now(timezone.utc) - timedelta(days=365, microseconds=1)
    flt = odata.and_(odata.eq("Objstate", released), odata.any_of("Contract", ["S01", "S02"]),
                     odata.ge("DateEntered", since))
    got = {r["OrderNo"] for r in client.query(CO, ORDERS, filter=flt, orderby=["OrderNo"], page_size=4)}
    assert got == {r["OrderNo"] for r in rows if r["Objstate"] == "Released"}
    # §3: a bare string compared with an enum is an error
    with pytest.raises(IfsRejected):
        list(client.query(CO, ORDERS, filter="Objstate eq 'Released'"))


def test_query_of_a_navigation(client, sandbox):
    order_no = first_order(sandbox)
    lines = list(client.query(CO, f"{order_path(order_no)}/OrderLinesArray",
                              orderby=["LineNo", "RelNo", "LineItemNo"]))
    assert lines and all(line["OrderNo"] == order_no for line in lines)


# -------------------------------------------------------------- reads, writes

def test_get_returns_the_etag_and_not_found_is_permanent(client, sandbox):
    order_no = first_order(sandbox)
    entity = client.get(CO, order_path(order_no))
    assert entity["OrderNo"] == order_no and entity["@odata.etag"].startswith('W/"')
    with pytest.raises(IfsNotFound) as info:
        client.get(CO, order_path("NO-SUCH/ORDER 'X'"))
    assert info.value.code == "ODP_RESOURCE_NOTFOUND"


def test_create_omits_none_and_returns_the_entity(client, sandbox):
    customer = sandbox.dump(ORDERS)[0]["CustomerNo"]
    created = client.create(CO, ORDERS, {
        "Contract": "S01", "CustomerNo": customer, "CurrencyCode": "USD", "OrderId": "DTC",
        "ShipViaCode": "FDX-ON", "CustomerPoNo": "PO-1", "ExternalRef": None,
        "WantedDeliveryDate": datetime(2026, 12, 1, tzinfo=timezone.utc),
    })
    assert created["OrderNo"] and created["@odata.etag"]
    assert created["WantedDeliveryDate"] == "2026-12-01T00:00:00Z"


def test_a_create_whose_response_is_lost_is_not_retried(client, sandbox):
    # §9: no idempotency key, so the client never re-sends a POST whose outcome
    # is unknown; the caller looks the record up by its reference first.
    customer = sandbox.dump(ORDERS)[0]["CustomerNo"]
    before = len(sandbox.dump(ORDERS))
    sandbox.faults(lost_response=1)
    with pytest.raises(TransientError):
        client.create(CO, ORDERS, {"Contract": "S01", "CustomerNo": customer, "CurrencyCode": "USD",
                                   "OrderId": "DTC", "CustomerPoNo": "PO-LOST"})
    found = list(client.query(CO, ORDERS, filter=odata.eq("CustomerPoNo", "PO-LOST")))
    assert len(found) == 1 and len(sandbox.dump(ORDERS)) == before + 1


def test_patch_sends_if_match_and_returns_the_new_etag(client, sandbox):
    order_no = first_order(sandbox)
    entity = client.get(CO, order_path(order_no))
    updated = client.patch(CO, order_path(order_no), {"CustomerPoNo": "PO-77"}, entity["@odata.etag"])
    assert updated["CustomerPoNo"] == "PO-77"
    assert updated["@odata.etag"] != entity["@odata.etag"]
    with pytest.raises(EtagConflict):  # the old ETag is stale now
        client.patch(CO, order_path(order_no), {"CustomerPoNo": "PO-78"}, entity["@odata.etag"])


def test_update_survives_a_concurrent_edit(client, sandbox):
    order_no = first_order(sandbox)
    seen = []

    def apply(entity: dict) -> dict | None:
        seen.append(entity["@odata.etag"])
        if len(seen) == 1:  # someone else edits between our GET and our PATCH
            sandbox.post("bump", {"set": ORDERS, "key": {"OrderNo": order_no}})
        return {"Cf_Shipbob_Order_Id": "SB-1"}

    result = client.update(CO, order_path(order_no), apply)
    assert result["Cf_Shipbob_Order_Id"] == "SB-1"
    assert len(seen) == 2 and seen[0] != seen[1]
    assert client.get(CO, order_path(order_no))["Cf_Shipbob_Order_Id"] == "SB-1"


def test_update_retries_stale_etags_then_gives_up(client, sandbox):
    order_no = first_order(sandbox)
    sandbox.faults(stale_etag=2)
    assert client.update(CO, order_path(order_no), lambda e: {"CustRef": "two conflicts"})["CustRef"] == (
        "two conflicts")
    sandbox.faults(stale_etag=10)
    with pytest.raises(EtagConflict) as info:
        client.update(CO, order_path(order_no), lambda e: {"CustRef": "never"}, attempts=3)
    assert isinstance(info.value, TransientError)
    assert sandbox.stats()["faults_served"]["stale_etag"] == 5


def test_update_re_reads_after_a_patch_whose_answer_was_lost(client, sandbox):
    order_no = first_order(sandbox)
    sandbox.faults(lost_response=1)  # IFS applies the PATCH; the client hears a 504
    changes = []

    def apply(entity: dict) -> dict | None:
        wanted = {} if entity.get("CustRef") == "written once" else {"CustRef": "written once"}
        changes.append(wanted)
        return wanted

    assert client.update(CO, order_path(order_no), apply) is None  # the re-read shows it landed
    assert changes == [{"CustRef": "written once"}, {}]
    assert sandbox.stats()["writes"] == 1
    assert client.get(CO, order_path(order_no))["CustRef"] == "written once"


def test_reads_ride_out_a_short_run_of_5xx_and_writes_do_not_repeat(client, sandbox):
    order_no = first_order(sandbox)
    entity = client.get(CO, order_path(order_no))
    sandbox.faults(error_rate=1)
    with pytest.raises(IfsServerError):
        client.get(CO, order_path(order_no))
    assert sandbox.stats()["faults_served"]["error_rate"] == 3  # the GET and two retries
    with pytest.raises(IfsServerError):
        client.patch(CO, order_path(order_no), {"CustRef": "x"}, entity["@odata.etag"])
    assert sandbox.stats()["faults_served"]["error_rate"] == 4  # a PATCH is sent once
    sandbox.faults(error_rate=0)
    assert client.get(CO, order_path(order_no))["OrderNo"] == order_no


def test_update_with_nothing_to_change_writes_nothing(client, sandbox):
    order_no = first_order(sandbox)
    assert client.update(CO, order_path(order_no), lambda entity: None) is None
    assert client.update(CO, order_path(order_no), lambda entity: {}) is None
    assert sandbox.stats()["writes"] == 0


# ------------------------------------------------------------------- actions

def _deliverable(sandbox) -> tuple[str, dict]:
    lines = [line for line in sandbox.dump("CustomerOrderLineSet") if line["Objstate"] == "Released"]
    line = lines[0]
    return line["OrderNo"], line


def _fulfil_body(line: dict, qty) -> dict:
    return {"ExternalRef": f"SHIP-{uuid.uuid4().hex[:8]}", "Carrier": "UPS", "TrackingNo": None,
            "ShipDate": datetime.now(timezone.utc).date(),
            "Lines": [{"LineNo": line["LineNo"], "RelNo": line["RelNo"],
                       "LineItemNo": line["LineItemNo"], "Qty": qty}]}


def test_bound_action_with_if_match_retries_a_stale_etag(client, sandbox):
    order_no, line = _deliverable(sandbox)
    sandbox.faults(stale_etag=1)
    voucher = client.bound_action(CO, order_path(order_no), FULFILL, _fulfil_body(line, 1))
    assert voucher
    assert sandbox.stats()["actions"] == {f"IfsApp.{CO}.{FULFILL}": 1}
    assert sandbox.stats()["faults_served"]["stale_etag"] == 1


def test_bound_action_check_stops_when_the_effect_is_there(client, sandbox):
    order_no, line = _deliverable(sandbox)
    result = client.bound_action(CO, order_path(order_no), FULFILL, _fulfil_body(line, 1),
                                 check=lambda entity: entity["OrderNo"] == order_no)
    assert result is None
    assert sandbox.stats()["writes"] == 0


def test_ora_business_error_is_permanent_with_its_code(client, sandbox):
    order_no, line = _deliverable(sandbox)
    with pytest.raises(IfsBusinessError) as info:
        client.bound_action(CO, order_path(order_no), FULFILL, _fulfil_body(line, 10_000))
    assert info.value.ora_code == "ORA-20110"
    assert "exceeds the remaining quantity" in str(info.value)
    assert isinstance(info.value, PermanentError)


# -------------------------------------------------------------------- faults

def test_mi_modified_is_retried_once_transparently(client, sandbox):
    order_no = first_order(sandbox)
    sandbox.faults(mi_modified=1)
    assert client.get(CO, order_path(order_no))["OrderNo"] == order_no
    assert sandbox.stats()["faults_served"] == {"mi_modified": 1}
    sandbox.faults(mi_modified=2)  # twice in a row: the caller retries later
    with pytest.raises(IfsMetadataModified):
        client.get(CO, order_path(order_no))


@pytest.mark.parametrize("fault", ["too_many", "unavailable"])
def test_429_and_503_are_rate_limited_with_retry_after(client, sandbox, fault):
    order_no = first_order(sandbox)
    sandbox.faults(**{fault: 1})
    with pytest.raises(RateLimited) as info:
        client.get(CO, order_path(order_no))
    assert info.value.retry_after == RETRY_AFTER
    assert client.get(CO, order_path(order_no))["OrderNo"] == order_no


def test_connection_errors_are_transient():
    dead = IfsClient(Settings(ifs_base_url="http://127.0.0.1:9", http_timeout_seconds=2),
                     LocalCoordinator())
    with pytest.raises(TransientError):
        dead.get(CO, order_path("C1"))


# ------------------------------------------------------------------ metadata

def test_metadata_is_the_csdl(client, sandbox):
    xml = client.metadata(CO)
    assert "<edmx:Edmx" in xml and 'Name="CustomerOrderState"' in xml


def test_unbound_action_on_an_unknown_name_is_not_found(client, sandbox):
    with pytest.raises(IfsNotFound):
        client.unbound_action("ShipmentHandling", "StartReserveShipment", {"ShipmentId": 19})


# -------------------------------------------------------------------- $batch

def _reads(order_no: str) -> list:
    from connector.ifs.client import Read

    return [Read(order_path(order_no)), Read(f"{order_path(order_no)}/OrderLinesArray"),
            Read("CustomerOrderAddresses", filter=odata.eq("OrderNo", order_no)),
            Read(ORDERS, select=("OrderNo",))]


def test_read_many_is_one_batch_call_and_reads_what_single_gets_read(client, settings, sandbox):
    order_no = first_order(sandbox)
    before = sandbox.stats()["total_requests"]
    header, lines, addresses, orders = client.read_many(CO, _reads(order_no))
    batch_calls = sandbox.stats()["total_requests"] - before
    # 30 orders at SERVER_PAGE rows a page: the collection's later pages are plain GETs
    assert batch_calls == 1 + (30 - 1) // SERVER_PAGE
    assert header["@odata.etag"] == client.get(CO, order_path(order_no))["@odata.etag"]
    assert lines and all(line["OrderNo"] == order_no for line in lines)
    assert [a["OrderNo"] for a in addresses] == [order_no]
    assert len(orders) == 30

    alone = new_client(settings.model_copy(update={"ifs_batch_reads": False}))
    assert alone.read_many(CO, _reads(order_no)) == [header, lines, addresses, orders]


def test_a_failed_part_raises_what_the_get_alone_raises(client, sandbox):
    from connector.ifs.client import Read

    with pytest.raises(IfsNotFound):
        client.read_many(CO, [Read(order_path("NO-SUCH-ORDER")), Read(ORDERS)])
    sandbox.faults(mi_modified=1)  # the whole batch answers MI_MODIFIED once: retried
    assert client.read_many(CO, [Read(order_path(first_order(sandbox)))])[0]["OrderNo"]
