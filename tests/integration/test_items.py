"""Finding items by a ShipBob id: a split order's push holds one ShipBob
order per site, and is found by any of them, never by a part of one, on
PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import pytest

from connector import jobs
from connector.db.models import Flow, Job
from connector.db.session import migrate, session_scope
from connector.items import find_items, related_items


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("clean_db")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    return url


def _keys(found: list[Job]) -> list[tuple[str, str]]:
    return [(job.flow, job.key) for job in found]


def _split_order(url: str) -> None:
    with session_scope(url) as session:
        push = jobs.request_job(session, Flow.ORDER_PUSH.value, "C1", ifs_ref="C1").job_id
        jobs.set_shipbob_refs(session, push, ["7101", "7102", "7103"])  # one ShipBob order per site
        other = jobs.request_job(session, Flow.ORDER_PUSH.value, "C2", ifs_ref="C2").job_id
        jobs.set_shipbob_refs(session, other, ["71010"])  # holds "7101" as a substring
        jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, "7102", shipbob_refs=["7102"])


def test_a_split_order_is_found_by_each_of_its_shipbob_ids_and_by_nothing_less(db):
    _split_order(db)
    with session_scope(db) as session:
        assert _keys(find_items(session, "7101")) == [("order_push", "C1")]
        assert _keys(find_items(session, " 7103 ")) == [("order_push", "C1")]
        assert _keys(find_items(session, "7102")) == [("order_push", "C1"), ("shipment_voucher", "7102")]
        assert _keys(find_items(session, "71010")) == [("order_push", "C2")]
        assert find_items(session, "710") == [] and find_items(session, "7101,7102") == []
        # The order's items: its push and the voucher of one of its ShipBob orders.
        assert _keys(related_items(session, "C1")) == [("order_push", "C1"), ("shipment_voucher", "7102")]


def test_recording_shipbob_ids_replaces_the_earlier_ones_in_order(db):
    _split_order(db)
    with session_scope(db) as session:
        [push] = find_items(session, "C1")
        jobs.set_shipbob_refs(session, push.id, ["7103", "7104", "7103"])
    with session_scope(db) as session:
        assert session.get(Job, push.id).shipbob_refs == ["7103", "7104"]
        assert find_items(session, "7101") == []
        with pytest.raises(LookupError, match="no job 999"):
            jobs.set_shipbob_refs(session, 999, ["1"])


def test_a_request_keeps_the_ids_a_job_already_has(db):
    with session_scope(db) as session:
        first = jobs.request_job(session, Flow.RETURN_VOUCHER.value, "55", shipbob_refs=["55"]).job_id
        assert jobs.ensure_job(session, Flow.RETURN_VOUCHER.value, "55", shipbob_refs=["56"]) is None
        jobs.request_job(session, Flow.RETURN_VOUCHER.value, "55", shipbob_refs=["57"])
    with session_scope(db) as session:
        assert session.get(Job, first).shipbob_refs == ["55"]
        assert jobs.ensure_job(session, Flow.ORDER_PUSH.value, "C7", ifs_ref="C7") is not None
        assert _keys(find_items(session, "C7")) == [("order_push", "C7")]
