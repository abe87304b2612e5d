"""prometheus/alerts.yml against the real gauges.

A receiver (the real Flask app over real HTTP) serves /metrics from a real
PostgreSQL and Redis. The test scrapes it twice, once in a healthy state
and once with a stuck order, parked items, a silent poll, a lagging inbox,
429s and a refused OAuth token, turns the two scrapes into the input series
of a `promtool test rules` file (healthy for 30 minutes, then broken), and
asserts which alerts fire: none while healthy, exactly the expected ones
after. promtool comes from Debian's `prometheus` package (.ci/run installs
it); outside CI a machine without it skips these tests with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from connector import jobs, kv
from connector.coordination import coordinator_for
from connector.db.models import Job, JobState, WebhookEvent, utcnow
from connector.db.session import session_scope
from connector.gauges import SHIPBOB_LIMITER
from connector.polls import POLL_NAMES
from connector.shipbob.auth import DbTokenStore, fingerprint
from sandbox.server import BackgroundServer
from tests.conftest import REDIS_URL

RULES = Path(__file__).resolve().parents[2] / "prometheus" / "alerts.yml"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("CI"),
    reason="promtool not installed (apt-get install prometheus; .ci/run installs it)")


def promtool(*args: str) -> subprocess.CompletedProcess:
    assert PROMTOOL, "promtool is required in CI (.ci/run installs Debian's prometheus package)"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)


def test_the_rules_file_is_valid():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


# ------------------------------------------------------------------ world

@pytest.fixture
def receiver(clean_db, clean_redis):
    from connector.settings import load_settings
    from webhooks.app import create_app

    settings = load_settings(database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis)
    app = create_app(settings, enqueue=lambda _event_id: None, broker_check=lambda: None)
    with BackgroundServer(app) as server:
        yield settings, server.url


def scrape(url: str) -> dict[str, float]:
    """The connector's samples of one real scrape, as 'name{labels}' -> value."""
    response = requests.get(f"{url}/metrics", timeout=30)
    response.raise_for_status()
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if not sample.name.startswith("ifs_shipbob_") or sample.name.startswith("ifs_shipbob_webhook_request"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def healthy(settings) -> None:
    now = utcnow()
    with session_scope(settings.database_url) as session:
        for name in POLL_NAMES:
            kv.put(session, f"poll.{name}.last_success", now.isoformat())
        jobs.request_job(session, "order_push", "C1000001")  # just released: due now
    limiter = coordinator_for(settings)
    limiter.record(SHIPBOB_LIMITER, "remaining_calls", "140")
    limiter.record(SHIPBOB_LIMITER, "remaining_calls_at", f"{now.timestamp():.0f}")
    limiter.record(SHIPBOB_LIMITER, "rate_limited_count", "2")


def broken(settings) -> None:
    now = utcnow()
    with session_scope(settings.database_url) as session:
        # the released order has not reached ShipBob for 2 hours
        session.execute(update(Job).where(Job.key == "C1000001").values(created_at=now - timedelta(hours=2)))
        for n in range(3):  # three orders parked, the first 5 hours ago
            job = jobs.request_job(session, "order_push", f"C10000{n + 10}")
            session.execute(update(Job).where(Job.id == job.job_id).values(
                state=JobState.ATTENTION.value, reason="SKU 'P9' is unknown at ShipBob",
                updated_at=now - timedelta(hours=5 if n == 0 else 0)))
        failed = jobs.request_job(session, "shipment_voucher", "400000001")
        session.execute(update(Job).where(Job.id == failed.job_id).values(state=JobState.FAILED.value))
        for name in ("orders", "returns"):
            kv.put(session, f"poll.{name}.last_success", (now - timedelta(hours=2)).isoformat())
        session.add(WebhookEvent(webhook_id="msg_1", topic="order.shipped", body="{}",
                                 received_at=now - timedelta(minutes=10)))
    # what the OAuth code records when ShipBob refuses every token we have
    DbTokenStore(settings.database_url).refuse({fingerprint("a-refused-token")})
    coordinator_for(settings).record(SHIPBOB_LIMITER, "rate_limited_count", "12")


# ------------------------------------------------------------ rule tests

HEALTHY_MINUTES = 30  # then broken for 60 minutes


def series(before: dict[str, float], after: dict[str, float]) -> list[dict]:
    def values(value: float | None, count: int) -> str:
        return f"{'_' if value is None else repr(value)}x{count - 1}"

    return [{"series": name, "values": f"{values(before.get(name), HEALTHY_MINUTES)} {values(after.get(name), 60)}"}
            for name in sorted(before.keys() | after.keys())]


def rules() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in yaml.safe_load(RULES.read_text())["groups"][0]["rules"]}


def fired(alert: str, **labels: str) -> dict:
    """An expected alert: its labels, and its annotations as Prometheus
    renders them for those labels."""
    rule = rules()[alert]
    annotations = {key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
                   for key, text in rule["annotations"].items()}
    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}


def run_rule_test(tmp_path: Path, input_series: list[dict], cases: list[dict]) -> None:
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [str(RULES)], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input_series, "alert_rule_test": cases}],
    }, sort_keys=False))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_on_real_metrics_of_a_broken_state_and_not_of_a_healthy_one(receiver, tmp_path):
    settings, url = receiver
    healthy(settings)
    before = scrape(url)
    assert before['ifs_shipbob_items{flow="order_push",state="pending"}'] == 1
    assert before['ifs_shipbob_shipbob_remaining_calls{}'] == 140
    assert before['ifs_shipbob_shipbob_reauthorisation_needed{}'] == 0
    broken(settings)
    after = scrape(url)
    assert after['ifs_shipbob_items{flow="order_push",state="attention"}'] == 3
    assert after['ifs_shipbob_oldest_pending_age_seconds{flow="order_push"}'] >= 7200
    assert after['ifs_shipbob_webhook_inbox_lag_seconds{}'] >= 600
    assert after['ifs_shipbob_shipbob_pool_rate_limited_total{}'] == 12

    quiet = [{"eval_time": f"{HEALTHY_MINUTES - 1}m", "alertname": name, "exp_alerts": []} for name in rules()]
    # 10 minutes into the broken state: every `for:` has passed, and the
    # 15-minute 429 window and the 1-hour attention window span the change.
    at = f"{HEALTHY_MINUTES + 10}m"
    firing = [
        {"eval_time": at, "alertname": "IfsShipbobOrderStuckPending",
         "exp_alerts": [fired("IfsShipbobOrderStuckPending", flow="order_push")]},
        {"eval_time": at, "alertname": "IfsShipbobItemStuckInAttention",
         "exp_alerts": [fired("IfsShipbobItemStuckInAttention", flow="order_push")]},
        {"eval_time": at, "alertname": "IfsShipbobAttentionGrowing",
         "exp_alerts": [fired("IfsShipbobAttentionGrowing", flow="order_push", state="attention")]},
        {"eval_time": at, "alertname": "IfsShipbobPollSilent",
         "exp_alerts": [fired("IfsShipbobPollSilent", poll="orders"),
                        fired("IfsShipbobPollSilent", poll="returns")]},
        {"eval_time": at, "alertname": "IfsShipbobWebhookInboxLagging",
         "exp_alerts": [fired("IfsShipbobWebhookInboxLagging")]},
        {"eval_time": at, "alertname": "IfsShipbobRateLimited", "exp_alerts": [fired("IfsShipbobRateLimited")]},
        {"eval_time": at, "alertname": "IfsShipbobReauthorisationNeeded",
         "exp_alerts": [fired("IfsShipbobReauthorisationNeeded")]},
        {"eval_time": at, "alertname": "IfsShipbobGaugesUnavailable", "exp_alerts": []},
        # a failed item alerts after 15 minutes, not before
        {"eval_time": at, "alertname": "IfsShipbobItemsFailed", "exp_alerts": []},
        {"eval_time": f"{HEALTHY_MINUTES + 20}m", "alertname": "IfsShipbobItemsFailed",
         "exp_alerts": [fired("IfsShipbobItemsFailed", flow="shipment_voucher", state="failed")]},
    ]
    run_rule_test(tmp_path, series(before, after), quiet + firing)


def test_a_scrape_with_the_database_away_answers_and_says_so(clean_db, clean_redis):
    from connector.settings import load_settings
    from webhooks.app import create_app

    away = load_settings(database_url="postgresql://postgres@127.0.0.1:1/none", redis_url=REDIS_URL,
                         redis_prefix=clean_redis)
    app = create_app(away, enqueue=lambda _event_id: None, broker_check=lambda: None)
    with BackgroundServer(app) as server:
        samples = scrape(server.url)
    assert samples['ifs_shipbob_gauge_source_up{source="database"}'] == 0
    assert samples['ifs_shipbob_gauge_source_up{source="redis"}'] == 1
    assert not any(name.startswith("ifs_shipbob_items") for name in samples)
