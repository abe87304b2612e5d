"""Query encoding the way ShipBob parses it (shipbob.md §4, §5)."""

from __future__ import annotations

from datetime import datetime, timezone

from connector.shipbob.query import chunked, encode_query, format_value


def test_lists_are_comma_separated_and_bools_lower_case():
    assert encode_query({"IDs": [1, 2], "HasTracking": True, "IsTrackingUploaded": False}) == \
        "IDs=1,2&HasTracking=true&IsTrackingUploaded=false"


def test_sku_any_keeps_colon_and_commas_literal_but_escapes_the_rest():
    assert encode_query({"SKU": "any:A 1,B&2"}) == "SKU=any:A%201,B%262"


def test_none_is_left_out_and_dates_are_iso():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert encode_query({"LastUpdateStartDate": when, "X": None}) == \
        "LastUpdateStartDate=2026-01-02T03:04:05%2B00:00"
    assert format_value(when) == "2026-01-02T03:04:05+00:00"
    assert encode_query(None) == ""


def test_chunked_by_count_dedupes_and_keeps_order():
    values = [f"S{i}" for i in range(120)] + ["S0", ""]
    batches = list(chunked(values, max_items=50))
    assert [len(b) for b in batches] == [50, 50, 20]
    assert sum(batches, []) == [f"S{i}" for i in range(120)]


def test_chunked_by_url_length():
    values = ["X" * 100 for _ in range(3)] + ["Y" * 100, "Z" * 100]
    values = [v + str(i) for i, v in enumerate(values)]
    batches = list(chunked(values, max_items=50, max_chars=250))
    assert all(sum(len(v) + 1 for v in b) <= 250 for b in batches)
    assert sum(batches, []) == values
