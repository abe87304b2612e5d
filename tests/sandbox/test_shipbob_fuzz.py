"""Mutated request bodies never crash the ShipBob stand-in: they are accepted or refused
with the API's 4xx, and every answer still fits the spec (validate_responses is on)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.shipbob import ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle

ORDER = {"reference_id": "SO-1", "shipping_method": "Standard", "type": "DTC", "location_id": 156,
         "recipient": {"name": "Ann", "address": {"address1": "1 Main St", "city": "Chicago",
                                                  "country": "US"}},
         "products": [{"reference_id": "P00001", "quantity": 1, "name": "x"}]}
WRO = {"fulfillment_center": {"id": 156}, "purchase_order_number": "PO-1", "package_type": "Package",
       "box_packaging_type": "OneSkuPerBox", "expected_arrival_date": "2026-02-01T00:00:00Z",
       "boxes": [{"tracking_number": None, "box_items": [{"inventory_id": 8000001, "quantity": 3}]}]}
RETURN = {"reference_id": "RMA-1", "fulfillment_center": {"id": 156},
          "inventory": [{"id": 8000001, "quantity": 1, "requested_action": "Restock"}]}
WEBHOOK = {"topics": ["order.shipped"], "url": "https://erp.example.com/hook",
           "secret": "whsec_" + "A" * 32, "description": "d"}

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=2)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=2), max_leaves=4)


def _paths(node, prefix=()):
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        yield prefix + (key,)
        yield from _paths(value, prefix + (key,))


@st.composite
def mutated(draw, base: dict) -> dict:
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(body))
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        holder = body
        for key in parents:
            holder = holder[key]
        if draw(st.booleans()):
            del holder[last]
        else:
            holder[last] = draw(VALUES)
    return body


@pytest.fixture(scope="module")
def sb():
    cfg = ShipBobSandboxConfig(validate_responses=True, rate_limit_per_minute=1_000_000)
    with SandboxHandle(cfg) as handle:
        handle.hook("POST", "/seed", json={"count": 3})
        yield handle


CASES = [("/order", ORDER, {201, 400, 422}), ("/receiving", WRO, {201, 400, 422}),
         ("/return", RETURN, {201, 400, 422}), ("/webhook", WEBHOOK, {200, 422}),
         ("/product", {"name": "n", "type_id": 1, "variants": [{"sku": "S-1"}]}, {201, 400})]


@pytest.mark.parametrize("path,base,allowed", CASES, ids=[c[0] for c in CASES])
def test_mutated_bodies_get_a_documented_answer(sb, path, base, allowed):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutated(base))
    def check(body):
        r = sb.api("POST", path, json=body)
        assert r.status_code in allowed, (body, r.status_code, r.text[:500])

    check()
