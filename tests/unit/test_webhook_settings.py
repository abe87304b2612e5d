"""The webhook subscription settings: its API version and unpublished topic names."""

from __future__ import annotations

import pytest

from connector.errors import ConfigError
from connector.settings import load_settings


def test_the_webhook_version_defaults_to_the_api_version():
    assert load_settings().effective_shipbob_webhook_api_version == "2026-01"
    assert load_settings(shipbob_webhook_api_version="").shipbob_webhook_api_version is None
    both = load_settings(shipbob_api_version="2026-01", shipbob_webhook_api_version="2026-07")
    assert both.effective_shipbob_webhook_api_version == "2026-07"
    with pytest.raises(ConfigError, match="SHIPBOB_WEBHOOK_API_VERSION"):
        load_settings(shipbob_webhook_api_version="2027-01")


@pytest.mark.parametrize("given, names", [
    ("", []),
    ("wro.created, wro.box.stowed,,", ["wro.created", "wro.box.stowed"]),
    ('["wro.created", "wro.created"]', ["wro.created"]),
    (["return.label.created"], ["return.label.created"]),
])
def test_extra_topics_are_a_list_of_names(given, names):
    assert load_settings(shipbob_webhook_extra_topics=given).shipbob_webhook_extra_topics == names


@pytest.mark.parametrize("given", ["wro", "WRO.Created", "wro.created;drop", '["wro.created"'])
def test_a_bad_extra_topic_is_a_clear_error(given):
    with pytest.raises(ConfigError, match="SHIPBOB_WEBHOOK_EXTRA_TOPICS"):
        load_settings(shipbob_webhook_extra_topics=given)


def test_extra_topics_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHIPBOB_WEBHOOK_EXTRA_TOPICS", "wro.created,wro.completed")
    monkeypatch.setenv("SHIPBOB_WEBHOOK_API_VERSION", "2026-07")
    settings = load_settings()
    assert settings.shipbob_webhook_extra_topics == ["wro.created", "wro.completed"]
    assert settings.shipbob_webhook_api_version == "2026-07"
