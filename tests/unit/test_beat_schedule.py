"""Beat's periodic tasks: a pile of stale ones never builds up, a busy pool
still runs them, and the sweeper never waits behind polls (it is what finds
a job whose worker froze or died)."""

from __future__ import annotations

from connector.settings import load_settings
from workers.app import QUEUES, beat_schedule


def test_each_poll_and_the_sweep_expire_after_ten_periods_and_never_within_a_minute():
    schedule = beat_schedule(load_settings(order_poll_seconds=30, sweep_seconds=2, tracking_poll_seconds=3600))
    assert schedule["poll-orders"]["options"]["expires"] == 300
    assert schedule["poll-tracking"]["options"]["expires"] == 36000
    assert schedule["sweep"]["options"]["expires"] == 60  # not 20 s: a busy pool reaches it late
    periodic = [entry for name, entry in schedule.items() if name.startswith("poll-") or name == "sweep"]
    assert all(entry["options"]["expires"] >= max(60, entry["schedule"]) for entry in periodic)


def test_the_sweeper_has_a_queue_no_poll_shares():
    schedule = beat_schedule(load_settings())
    assert schedule["sweep"]["options"]["queue"] == "sweep" and "sweep" in QUEUES
    assert all(entry["options"]["queue"] != "sweep" for name, entry in schedule.items() if name != "sweep")
