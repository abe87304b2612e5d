"""An optional setting given as '' (compose renders an unset `${NAME:-}` so,
.env.example leaves blanks) counts as not set."""

from __future__ import annotations

import pytest

from connector.settings import load_settings

OPTIONAL = ["redis_url", "broker_url", "shipbob_webhook_secret", "shipbob_webhook_secret_previous",
            "shipbob_client_id", "shipbob_client_secret", "shipbob_refresh_token", "mapping_file"]


@pytest.mark.parametrize("name", OPTIONAL)
def test_empty_optional_setting_is_unset(monkeypatch, name):
    monkeypatch.setenv(name.upper(), "")
    assert getattr(load_settings(), name) is None


def test_receiver_boots_with_an_empty_previous_secret(monkeypatch, tmp_path):
    from webhooks.app import create_app

    monkeypatch.setenv("SHIPBOB_WEBHOOK_SECRET", "whsec_" + "A" * 32)
    monkeypatch.setenv("SHIPBOB_WEBHOOK_SECRET_PREVIOUS", "")
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/x.db")
    assert len(settings.webhook_secrets()) == 1
    create_app(settings, enqueue=lambda _id: None, broker_check=lambda: None)
