"""Rate-limit helpers (shipbob.md §7)."""

from __future__ import annotations

import email.utils

import pytest

from connector.shipbob.ratelimit import (
    DEFAULT_RETRY_AFTER,
    parse_remaining,
    parse_retry_after,
    pause_with_jitter,
    safe_limit,
    slowdown,
)


@pytest.mark.parametrize("headers, expected", [
    ({"x-retry-after": "25"}, 25.0),
    ({"X-Retry-After": "2.5", "Retry-After": "99"}, 2.5),   # x-retry-after wins
    ({"Retry-After": "7"}, 7.0),                             # fallback
    ({"x-retry-after": "soon", "Retry-After": "3"}, 3.0),    # garbage ignored
    ({"x-retry-after": "-5"}, DEFAULT_RETRY_AFTER),
    ({}, DEFAULT_RETRY_AFTER),
])
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date():
    now = 1_700_000_000.0
    headers = {"Retry-After": email.utils.formatdate(now + 30, usegmt=True)}
    assert parse_retry_after(headers, now=now) == pytest.approx(30, abs=1)


def test_parse_remaining():
    assert parse_remaining({"X-Remaining-Calls": "12"}) == 12
    assert parse_remaining({"x-remaining-calls": "n/a"}) is None
    assert parse_remaining({}) is None


def test_safe_limit_keeps_a_margin():
    assert safe_limit(150) == 142
    assert safe_limit(10) == 9
    assert safe_limit(1) == 1


def test_slowdown_grows_as_remaining_calls_fall():
    assert slowdown(None, 150) == 0
    assert slowdown(150, 150) == 0
    assert slowdown(15, 150) == 0            # 10 % left: still full speed
    delays = [slowdown(r, 150) for r in (14, 10, 5, 1, 0)]
    assert delays == sorted(delays) and delays[0] > 0
    assert delays[-1] <= 5.0


def test_pause_jitter_is_small_and_never_shorter():
    for _ in range(100):
        pause = pause_with_jitter(25)
        assert 25 <= pause <= 27
