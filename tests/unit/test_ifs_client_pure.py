"""Parts of the IFS client and token provider that need no server: URL shape,
refusals made before any request, the refresh schedule (ifs-cloud.md §1, §2, §7)."""

from __future__ import annotations

import pytest

from connector.coordination import LocalCoordinator
from connector.ifs.auth import CachedToken, IfsTokenProvider, refresh_after
from connector.ifs.client import IfsClient
from connector.settings import Settings


@pytest.fixture
def client():
    # Points at a closed port: any request that slipped through would fail loudly.
    return IfsClient(Settings(ifs_base_url="http://127.0.0.1:9/"), LocalCoordinator())


def test_url_shape(client):
    assert client.url("CustomerOrderHandling", "CustomerOrderSet(OrderNo='C1')") == (
        "http://127.0.0.1:9/main/ifsapplications/projection/v1/"
        "CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='C1')")
    assert client.url("CustomerOrderHandling", "") == (
        "http://127.0.0.1:9/main/ifsapplications/projection/v1/CustomerOrderHandling.svc/")
    with pytest.raises(ValueError):
        client.url("Customer/Order", "x")


@pytest.mark.parametrize("etag", [None, "", "  "])
def test_patch_refuses_to_send_without_an_etag(client, etag):
    # §7: a PATCH without If-Match is an upsert
    with pytest.raises(ValueError, match="upsert"):
        client.patch("CustomerOrderHandling", "CustomerOrderSet(OrderNo='C1')", {"X": 1}, etag)


def test_patch_refuses_an_empty_change(client):
    with pytest.raises(ValueError, match="nothing"):
        client.patch("CustomerOrderHandling", "CustomerOrderSet(OrderNo='C1')", {"X": None}, 'W/"x"')


def test_query_validates_page_size(client):
    with pytest.raises(ValueError):
        next(client.query("CustomerOrderHandling", "CustomerOrderSet", orderby="OrderNo", page_size=0))
    with pytest.raises(ValueError, match="query options"):
        next(client.query("CustomerOrderHandling", "CustomerOrderSet?$top=1"))


@pytest.mark.parametrize("expires_in, expected", [
    (180, 120),     # IFS's sample: 60 s early == 2/3 of the lifetime
    (3600, 3540),   # long-lived: 60 s early
    (90, 60),       # short: at 2/3
    (2, 2 * 2 / 3),
])
def test_refresh_schedule(expires_in, expected):
    assert refresh_after(expires_in) == pytest.approx(expected)


def test_cached_token_never_shows_the_token():
    token = CachedToken("eyJ-secret-token", 100.0, 200.0)
    assert "eyJ" not in repr(token) and "eyJ" not in str(token)
    assert CachedToken.from_json(token.to_json()) == token
    assert CachedToken.from_json("not json") is None
    assert CachedToken.from_json(None) is None


def test_cache_key_names_the_client_and_the_tenant():
    a = IfsTokenProvider(Settings(ifs_client_id="c1"), LocalCoordinator())
    b = IfsTokenProvider(Settings(ifs_client_id="c1", ifs_realm="other"), LocalCoordinator())
    assert "c1" in a.cache_key and a.cache_key != b.cache_key


def test_a_changed_secret_never_reuses_the_old_secrets_token():
    old = IfsTokenProvider(Settings(ifs_client_secret="old-secret-1"), LocalCoordinator())
    new = IfsTokenProvider(Settings(ifs_client_secret="new-secret-2"), LocalCoordinator())
    assert old.cache_key != new.cache_key
    assert "secret" not in old.cache_key  # a hash, never the secret itself
