"""The sandbox's $filter parser and evaluator, without HTTP (ifs-cloud.md §8)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.ifs import odata
from sandbox.ifs.edm import DATE, DECIMAL, DTO, EntityType, EnumType, Prop
from sandbox.ifs.errors import ODataError
from sandbox.ifs.odata_filter import compile_filter, parse_key_predicate

STATE = EnumType("CustomerOrderState", ("Planned", "Released"))
ORDER = EntityType("CustomerOrder", [
    Prop("OrderNo", "Edm.String", key=True), Prop("Name", "Edm.String"),
    Prop("Qty", DECIMAL), Prop("Due", DATE), Prop("Entered", DTO),
    Prop("Objstate", STATE.name, enum=STATE), Prop("LineItemNo", DECIMAL),
])
ROWS = [
    {"OrderNo": "A1", "Name": "O'Brien", "Qty": 2, "Due": date(2026, 1, 1),
     "Entered": datetime(2026, 1, 1, 12, tzinfo=timezone.utc), "Objstate": "Released"},
    {"OrderNo": "A2", "Name": "Smith", "Qty": 5, "Due": date(2026, 2, 1),
     "Entered": datetime(2026, 2, 1, tzinfo=timezone.utc), "Objstate": "Planned"},
    {"OrderNo": "B1", "Name": None, "Qty": None, "Due": None, "Entered": None,
     "Objstate": "Released"},
]


def matching(expr: str) -> list[str]:
    compiled = compile_filter(expr, ORDER, "CustomerOrderHandling")
    return [row["OrderNo"] for row in ROWS if compiled.predicate(row)]


def error(expr: str) -> ODataError:
    with pytest.raises(ODataError) as caught:
        compile_filter(expr, ORDER, "CustomerOrderHandling")
    return caught.value


@pytest.mark.parametrize("expr, expected", [
    ("Name eq 'O''Brien'", ["A1"]),
    ("Qty gt 2", ["A2"]),
    ("Qty ge 2 and Qty le 2", ["A1"]),
    ("Qty lt 3 or startswith(OrderNo,'B')", ["A1", "B1"]),
    ("not (Qty eq 2)", ["A2"]),  # null Qty: unknown, excluded (Oracle)
    ("Name ne 'Smith'", ["A1"]),
    ("Name eq null", ["B1"]),
    ("Name ne null and contains(Name,'Bri')", ["A1"]),
    ("Objstate eq IfsApp.CustomerOrderHandling.CustomerOrderState'Released'", ["A1", "B1"]),
    ("Objstate ne IfsApp.CustomerOrderHandling.CustomerOrderState'Released'", ["A2"]),
    ("Due ge 2026-01-15", ["A2"]),
    ("Entered lt 2026-01-01T13:00:00+00:00", ["A1"]),
    ("Entered lt 2026-01-01T13:00:00+02:00", []),
    ("Qty add 1 eq 3", ["A1"]),
    ("Qty div 2 eq 2.5", ["A2"]),
    ("tolower(Name) eq 'smith' and length(Name) eq 5", ["A2"]),
    ("month(Due) eq 2", ["A2"]),
    ("((OrderNo eq 'A1'))", ["A1"]),
    ("OrderNo eq 'A1' or OrderNo eq 'A2' and Qty gt 100", ["A1"]),  # and binds tighter
    ("true", ["A1", "A2", "B1"]),
])
def test_expressions(expr, expected):
    assert matching(expr) == expected


@pytest.mark.parametrize("expr, status", [
    ("Objstate eq 'Released'", 400),
    ("Objstate eq IfsApp.Other.CustomerOrderState'Released'", 400),
    ("Objstate eq IfsApp.CustomerOrderHandling.CustomerOrderState'Gone'", 400),
    ("Objstate gt IfsApp.CustomerOrderHandling.CustomerOrderState'Planned'", 400),
    ("IfsApp.CustomerOrderHandling.CustomerOrderState eq 1", 400),
    ("Name eq 'x' and", 400),
    ("Name eq 'x')", 400),
    ("Name eq", 400),
    ("Qty eq '2'", 400),
    ("Entered eq 2026-01-01", 400),
    ("Due add 1 eq 2", 400),
    ("Nope eq 1", 400),
    ("frobnicate(Name) eq 1", 400),
    ("Qty mod 2 eq 0", 501),
    ("ceiling(Qty) eq 1", 501),
    ("Name in ('a','b')", 501),
    ("Lines/any(l: l/Qty gt 1)", 501),
])
def test_errors(expr, status):
    assert error(expr).status == status


def test_enum_error_names_the_qualified_form():
    message = error("Objstate eq 'Released'").message
    assert "IfsApp.CustomerOrderHandling.CustomerOrderState'<Member>'" in message


def test_index_hints_come_from_top_level_equalities():
    compiled = compile_filter("(OrderNo eq 'A1' or OrderNo eq 'A2') and Qty gt 1", ORDER, "X")
    assert compiled.equalities == (("OrderNo", frozenset({"A1", "A2"})),)
    assert compile_filter("OrderNo eq 'A1' or Qty eq 1", ORDER, "X").equalities == ()


def test_key_predicates():
    line = EntityType("Line", [Prop("OrderNo", "Edm.String", key=True),
                               Prop("LineNo", "Edm.String", key=True),
                               Prop("LineItemNo", DECIMAL, key=True)])
    assert parse_key_predicate("OrderNo='C''1',LineNo='1',LineItemNo=0", line) == {
        "OrderNo": "C'1", "LineNo": "1", "LineItemNo": 0}
    assert parse_key_predicate("'A1'", ORDER) == {"OrderNo": "A1"}
    for bad in ("OrderNo='C1'", "OrderNo='C1',LineNo='1',LineItemNo='0'", "Nope=1",
                "OrderNo='C1' LineNo='1'"):
        with pytest.raises(ODataError):
            parse_key_predicate(bad, line)


# ------------------------------------------- contract with the connector

@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_string_the_connector_renders_parses_back(value):
    compiled = compile_filter(odata.eq("Name", value), ORDER, "X")
    assert compiled.predicate({"OrderNo": "x", "Name": value})
    assert not compiled.predicate({"OrderNo": "x", "Name": value + "x"})


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(timezone.utc)),
       st.integers(min_value=-3, max_value=3))
def test_connector_timestamps_compare_like_the_instant(moment, minutes):
    compiled = compile_filter(odata.ge("Entered", moment), ORDER, "X")
    assert compiled.predicate({"Entered": moment + timedelta(minutes=minutes)}) is (minutes >= 0)


def test_connector_helpers_produce_accepted_filters():
    expr = odata.and_(
        f"Objstate eq {odata.enum_literal('CustomerOrderHandling', 'CustomerOrderState', 'Released')}",
        odata.any_of("OrderNo", ["A1", "B1"]),
        odata.not_(odata.startswith("OrderNo", "B")))
    assert [r["OrderNo"] for r in ROWS
            if compile_filter(expr, ORDER, "CustomerOrderHandling").predicate(r)] == ["A1"]
