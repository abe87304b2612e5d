"""Beat's periodic tasks: a stale one never piles up, and the sweeper never
waits behind polls (it is what finds a job whose worker froze or died)."""

from __future__ import annotations

from connector.settings import load_settings
from workers.app import QUEUES, beat_schedule


def test_each_poll_and_the_sweep_expire_when_the_next_is_sent():
    settings = load_settings(order_poll_seconds=7, sweep_seconds=3)
    schedule = beat_schedule(settings)
    periodic = {name: entry for name, entry in schedule.items() if name.startswith("poll-") or name == "sweep"}
    assert "poll-orders" in periodic and "sweep" in periodic
    for name, entry in periodic.items():
        assert entry["options"]["expires"] == entry["schedule"], name
    assert schedule["poll-orders"]["options"]["expires"] == 7
    assert schedule["sweep"]["options"]["expires"] == 3


def test_the_sweeper_has_a_queue_no_poll_shares():
    schedule = beat_schedule(load_settings())
    assert schedule["sweep"]["options"]["queue"] == "sweep" and "sweep" in QUEUES
    assert all(entry["options"]["queue"] != "sweep" for name, entry in schedule.items() if name != "sweep")
