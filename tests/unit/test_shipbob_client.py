"""Client methods: request shapes (shipbob.md §3-§6) against scripted answers."""

from __future__ import annotations

import json

from connector.coordination import LocalCoordinator
from connector.shipbob import ShipBobClient

from .test_shipbob_fakes import FakeSession, make_settings, response


def client(*answers):
    session = FakeSession(*answers)
    return ShipBobClient(make_settings(), LocalCoordinator(), session=session), session


def test_variants_by_sku_batches_50_per_call_and_matches_case_insensitively():
    skus = [f"SKU-{i:03d}" for i in range(120)]

    def answer(method, url, **kw):
        listed = url.split("SKU=any:", 1)[1].split("&", 1)[0].split(",")
        return response(200, {"items": [{"id": 1, "variants": [
            {"sku": s.lower(), "inventory": {"inventory_id": int(s[-3:])}} for s in listed[:-1]
        ]}], "next": None})

    c, session = client(answer, answer, answer)
    found = c.variants_by_sku(skus)
    assert len(session.sent) == 3
    assert all("PageSize=250" in s["url"] for s in session.sent)
    assert len(found) == 117  # the last SKU of each batch is unknown
    assert found["SKU-000"]["inventory"]["inventory_id"] == 0


def test_orders_filters_and_pages():
    c, session = client(response(200, [{"id": i} for i in range(250)]), response(200, [{"id": 250}]))
    ids = [o["id"] for o in c.orders(HasTracking=True, IsTrackingUploaded=False)]
    assert ids == list(range(251))
    assert session.sent[0]["url"].endswith("/order?HasTracking=true&IsTrackingUploaded=false&Page=1&Limit=250")
    assert "Page=2" in session.sent[1]["url"]


def test_find_orders_by_reference_is_batched_and_exact():
    refs = [f"R{i}" for i in range(60)]
    c, session = client(response(200, [{"id": 1, "reference_id": "R0"}, {"id": 3, "reference_id": "r0"}]),
                        response(200, [{"id": 2, "reference_id": "R59"}]))
    assert c.find_orders_by_reference(refs) == [{"id": 1, "reference_id": "R0"},
                                                {"id": 2, "reference_id": "R59"}]
    assert "ReferenceIds=R0,R1," in session.sent[0]["url"]


def test_a_key_a_list_filter_would_split_is_found_by_date_and_matched_exactly():
    # Newest first, one page: `K` is another order; `K,123` is found, then listing stops.
    c, session = client(response(200, [{"id": 5, "reference_id": "K"}, {"id": 4, "reference_id": "K,123"}]
                                 + [{"id": i, "reference_id": f"X{i}"} for i in range(248)]))
    assert c.find_orders_by_reference(["K,123"]) == [{"id": 4, "reference_id": "K,123"}]
    [sent] = session.sent
    assert "ReferenceIds" not in sent["url"] and "StartDate=" in sent["url"]
    # Spaces at the ends (a list's items may be trimmed) go the same way.
    c, session = client(response(200, [{"id": 7, "reference_id": " A B "}]))
    assert [o["id"] for o in c.orders(ReferenceIds=[" A B "])] == [7]
    assert "ReferenceIds" not in session.sent[0]["url"]


def test_a_sku_a_list_filter_would_split_gets_a_call_of_its_own():
    def answer(method, url, **kw):
        return response(200, {"items": [{"id": 1, "variants": [{"sku": "K,123"}, {"sku": "P1"}]}],
                              "next": None})

    c, session = client(answer, answer)
    assert sorted(c.variants_by_sku(["P1", "K,123"])) == ["K,123", "P1"]
    assert "SKU=any:P1&" in session.sent[0]["url"] and "SKU=K,123&" in session.sent[1]["url"]


def test_action_bodies():
    c, session = client(response(200, {}), response(200, {}), response(200, {"id": "9", "secret": "s"}),
                        response(204), response(200, {"status": "Success"}))
    c.mark_tracking_uploaded([1, "2"])
    c.set_external_sync([918363])
    c.create_webhook(["order.shipped"], "https://x.example/h", description="ERP")
    c.delete_webhook("9")
    c.cancel_order(77)
    urls = [s["url"] for s in session.sent]
    assert urls[0].endswith("/2026-01/shipment:batchUpdateTrackingUpload")
    assert session.sent[0]["json"] == {"shipment_ids": [1, 2], "is_tracking_uploaded": True}
    assert session.sent[1]["json"] == {"ids": [918363], "is_external_sync": True}
    assert session.sent[2]["json"] == {"topics": ["order.shipped"], "url": "https://x.example/h",
                                       "description": "ERP"}
    assert session.sent[3]["method"] == "DELETE" and urls[3].endswith("/webhook/9")
    assert urls[4].endswith("/order/77:cancel")


def test_subscriptions_use_the_webhook_api_version_and_the_rest_does_not():
    session = FakeSession(response(200, {"id": "9", "secret": "s"}),
                          response(200, {"items": [{"id": "9"}], "next": "/2026-07/webhook?Cursor=2"}),
                          response(200, {"items": [{"id": "10"}], "next": None}),
                          response(204), response(200, {"status": "Success"}))
    c = ShipBobClient(make_settings(shipbob_webhook_api_version="2026-07"), LocalCoordinator(), session=session)
    c.create_webhook(["order.delivered"], "https://x.example/h")
    assert [w["id"] for w in c.webhooks()] == ["9", "10"]
    c.delete_webhook("9")
    c.cancel_order(77)
    urls = [s["url"] for s in session.sent]
    assert urls[0] == "http://shipbob.test/2026-07/webhook"
    assert urls[1].startswith("http://shipbob.test/2026-07/webhook?")
    assert urls[2] == "http://shipbob.test/2026-07/webhook?Cursor=2"
    assert urls[3] == "http://shipbob.test/2026-07/webhook/9"
    assert urls[4] == "http://shipbob.test/2026-01/order/77:cancel"


def test_empty_actions_make_no_call():
    c, session = client()
    assert c.mark_tracking_uploaded([]) is None
    assert c.set_external_sync([]) is None
    assert session.sent == []


def test_returns_use_cursor_page_numbers():
    def page(method, url, **kw):
        n = int(url.split("Cursor=")[1].split("&")[0])
        return response(200, {"items": [{"id": n}]}, {"Page-Number": str(n), "Total-Pages": "3"})

    c, session = client(page, page, page)
    assert [r["id"] for r in c.returns(Status="Completed")] == [1, 2, 3]
    assert "Status=Completed&Cursor=1&Limit=250" in session.sent[0]["url"]


def test_channels_follow_next_links():
    c, session = client(
        response(200, {"items": [{"id": 1, "scopes": ["orders_write"]}], "next": "/channel?Cursor=abc"}),
        response(200, {"items": [{"id": 2, "scopes": []}], "next": None}))
    assert [ch["id"] for ch in c.channels()] == [1, 2]
    assert session.sent[1]["url"] == "http://shipbob.test/2026-01/channel?Cursor=abc"


def test_create_order_sends_the_body_as_json():
    body = {"reference_id": "IFS-1", "type": "DTC", "products": []}
    c, session = client(response(201, {"id": 5, "reference_id": "IFS-1"}))
    assert c.create_order(body)["id"] == 5
    assert json.dumps(session.sent[0]["json"]) == json.dumps(body)
