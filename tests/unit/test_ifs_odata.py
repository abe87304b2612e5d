"""Pure OData query building for IFS (ifs-cloud.md §3, §8)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, unquote

import pytest

from connector.ifs import odata

# ------------------------------------------------------------------ literals

@pytest.mark.parametrize("value, expected", [
    ("C1", "'C1'"),
    ("O'Brien", "'O''Brien'"),
    ("''", "''''''"),
    ("", "''"),
    ("Zürich – 東京", "'Zürich – 東京'"),
    (19, "19"),
    (-3, "-3"),
    (0, "0"),
    (2.5, "2.5"),
    (Decimal("10.50"), "10.50"),
    (Decimal("1E+2"), "100"),
    (True, "true"),
    (False, "false"),
    (None, "null"),
    (date(2026, 1, 1), "2026-01-01"),
    (datetime(2026, 1, 1, tzinfo=timezone.utc), "2026-01-01T00:00:00Z"),
    (datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))), "2026-01-01T00:00:00Z"),
    (datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=timezone.utc), "2026-01-01T00:00:00.25Z"),
])
def test_literal(value, expected):
    assert odata.literal(value) == expected


def test_literal_refuses_naive_datetime_and_unknown_types():
    with pytest.raises(ValueError, match="naive"):
        odata.literal(datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        odata.literal(object())
    with pytest.raises(ValueError):
        odata.literal(float("nan"))
    with pytest.raises(ValueError):
        odata.literal(Decimal("Infinity"))


def test_enum_literal_is_qualified_and_passes_through_literal():
    released = odata.enum_literal("CustomerOrderHandling", "CustomerOrderState", "Released")
    assert released == "IfsApp.CustomerOrderHandling.CustomerOrderState'Released'"
    assert odata.literal(released) == released  # not re-quoted
    assert odata.eq("Objstate", released) == (
        "Objstate eq IfsApp.CustomerOrderHandling.CustomerOrderState'Released'")


def test_enum_literal_validates_names():
    with pytest.raises(ValueError):
        odata.enum_literal("Customer Order", "State", "Released")
    with pytest.raises(ValueError):
        odata.enum_literal("P", "State", "")


# ------------------------------------------------------------------ key paths

def test_key_paths():
    assert odata.key_path("CustomerOrderSet", OrderNo="X") == "CustomerOrderSet(OrderNo='X')"
    assert odata.key_path("ReturnMaterialSet", RmaNo=12) == "ReturnMaterialSet(RmaNo=12)"
    assert odata.key_path("CustomerOrderLineSet", OrderNo="C1", LineNo="1", RelNo="1", LineItemNo=0) == (
        "CustomerOrderLineSet(OrderNo='C1',LineNo='1',RelNo='1',LineItemNo=0)")


def test_key_path_escapes_quotes_and_url_unsafe_characters():
    path = odata.key_path("CustomerOrderSet", OrderNo="A'B/C D#?%é")
    assert path == "CustomerOrderSet(OrderNo='A''B%2FC%20D%23%3F%25%C3%A9')"
    assert unquote(path) == "CustomerOrderSet(OrderNo='A''B/C D#?%é')"


def test_key_path_refuses_missing_keys():
    with pytest.raises(ValueError):
        odata.key_path("CustomerOrderSet")
    with pytest.raises(ValueError):
        odata.key_path("CustomerOrderSet", OrderNo=None)
    with pytest.raises(ValueError):
        odata.key_path("CustomerOrderSet", OrderNo="")
    with pytest.raises(ValueError):
        odata.key_path("Bad Set", OrderNo="1")


# ------------------------------------------------------------------- filters

def test_comparisons():
    assert odata.eq("OrderNo", "C1") == "OrderNo eq 'C1'"
    assert odata.ne("Contract", "S1") == "Contract ne 'S1'"
    assert odata.gt("QtyOnhand", 0) == "QtyOnhand gt 0"
    assert odata.ge("DateEntered", datetime(2026, 1, 1, tzinfo=timezone.utc)) == (
        "DateEntered ge 2026-01-01T00:00:00Z")
    assert odata.lt("ShipmentId", 19) == "ShipmentId lt 19"
    assert odata.le("PlannedShipDate", date(2026, 3, 1)) == "PlannedShipDate le 2026-03-01"
    assert odata.startswith("PartNo", "MM") == "startswith(PartNo,'MM')"
    assert odata.contains("CustomerPoNo", "it's") == "contains(CustomerPoNo,'it''s')"


def test_field_names_are_validated():
    with pytest.raises(ValueError):
        odata.eq("OrderNo eq 'x' or 1", "C1")


def test_any_of():
    assert odata.any_of("Contract", ["S1", "S2"]) == "(Contract eq 'S1' or Contract eq 'S2')"
    assert odata.any_of("ShipmentId", [1]) == "(ShipmentId eq 1)"
    assert odata.any_of("Contract", ["S1", "S1", "S2"]) == "(Contract eq 'S1' or Contract eq 'S2')"
    with pytest.raises(ValueError):
        odata.any_of("Contract", [])


def test_and_or_not_precedence():
    a, b = odata.eq("A", 1), odata.eq("B", 2)
    assert odata.and_(a, b) == "A eq 1 and B eq 2"
    assert odata.or_(a, b) == "(A eq 1 or B eq 2)"
    assert odata.and_(odata.or_(a, b), odata.eq("C", 3)) == "(A eq 1 or B eq 2) and C eq 3"
    assert odata.or_(odata.and_(a, b), odata.eq("C", 3)) == "(A eq 1 and B eq 2 or C eq 3)"
    assert odata.not_(odata.startswith("PartNo", "MM-PET")) == "not (startswith(PartNo,'MM-PET'))"
    assert odata.not_(odata.any_of("C", ["x", "y"])) == "not (C eq 'x' or C eq 'y')"


def test_and_parenthesises_plain_strings_with_a_top_level_or():
    assert odata.and_("A eq 1 or B eq 2", "C eq 3") == "(A eq 1 or B eq 2) and C eq 3"
    # 'or' inside quotes or parentheses is not top level
    assert odata.and_("Name eq 'this or that'", "(X eq 1 or Y eq 2)") == (
        "Name eq 'this or that' and (X eq 1 or Y eq 2)")
    assert odata.and_("Name eq 'it''s or'", "C eq 3") == "Name eq 'it''s or' and C eq 3"


def test_and_skips_none_and_empty():
    assert odata.and_(None, odata.eq("A", 1), None) == "A eq 1"
    assert odata.and_() is None
    assert odata.or_(None) is None


def test_real_stock_filter_from_the_fact_sheet():
    # ifs-cloud.md §5 [mock]
    expr = odata.and_(
        odata.eq("Contract", "S01"),
        odata.or_(odata.startswith("PartNo", "MM"), odata.startswith("PartNo", "YM")),
        odata.not_(odata.startswith("PartNo", "MM-PET")),
        odata.startswith("LocationNo", "U01"),
        odata.gt("QtyOnhand", 0),
    )
    assert expr == ("Contract eq 'S01' and (startswith(PartNo,'MM') or startswith(PartNo,'YM')) "
                    "and not (startswith(PartNo,'MM-PET')) and startswith(LocationNo,'U01') "
                    "and QtyOnhand gt 0")


# -------------------------------------------------------------- query string

def test_query_params_and_encoding_round_trip():
    flt = odata.and_(odata.eq("Contract", "S&1"), odata.eq("Name", "a+b #1"))
    params = odata.query_params(filter=flt, select=["OrderNo", "Contract"],
                                orderby=["DateEntered asc", "OrderNo asc"], top=100, skip=200, count=True)
    assert list(params) == ["$filter", "$select", "$orderby", "$top", "$skip", "$count"]
    encoded = odata.encode_query(params)
    assert "+" not in encoded  # spaces are %20, a literal plus is %2B
    assert "%20" in encoded and "$filter=" in encoded and "$top=100" in encoded
    assert dict(parse_qsl(encoded)) == params


def test_query_params_omit_unset_and_zero_skip():
    assert odata.query_params() == {}
    assert odata.query_params(top=10, skip=0) == {"$top": "10"}
    assert odata.query_params(select="OrderNo,LineNo") == {"$select": "OrderNo,LineNo"}


def test_query_params_validate_select_and_orderby():
    with pytest.raises(ValueError):
        odata.query_params(select=["OrderNo;drop"])
    with pytest.raises(ValueError):
        odata.query_params(orderby="OrderNo sideways")
    assert odata.query_params(orderby="OrderNo desc,LineNo") == {"$orderby": "OrderNo desc,LineNo"}


# ---------------------------------------------------------------------- bodies

def test_json_body_omits_none_and_converts_types():
    body = {
        "OrderNo": "C1",
        "CustomerPoNo": None,
        "Cleared": odata.NULL,
        "Qty": Decimal("2"),
        "Price": Decimal("10.25"),
        "WantedDeliveryDate": datetime(2026, 1, 15, 1, 0, 0, 123, tzinfo=timezone(timedelta(hours=1))),
        "ShipDate": date(2026, 1, 15),
        "Lines": [{"LineNo": "1", "Note": None}],
        "Name": "Zürich",
    }
    assert json.loads(odata.json_body(body)) == {
        "OrderNo": "C1",
        "Cleared": None,
        "Qty": 2,
        "Price": 10.25,
        "WantedDeliveryDate": "2026-01-15T00:00:00Z",
        "ShipDate": "2026-01-15",
        "Lines": [{"LineNo": "1"}],
        "Name": "Zürich",
    }


def test_json_body_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        odata.json_body({"At": datetime(2026, 1, 1)})
