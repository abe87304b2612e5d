"""docker-compose.yml kept in step with the code (no Docker engine here)."""

from pathlib import Path

import yaml

from connector.db.models import Flow
from connector.settings import Settings
from workers.app import QUEUES, queue_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _command(name):
    return SERVICES[name]["command"]


def test_every_queue_has_a_worker_and_exactly_one_beat():
    served = set()
    for service in SERVICES.values():
        cmd = service.get("command") or []
        if cmd[:4] == ["celery", "-A", "workers.app", "worker"]:
            served.update(cmd[cmd.index("-Q") + 1].split(","))
    assert served == set(QUEUES)
    # a flow without a queue of its own (stock_shortage) runs on another's workers
    assert {queue_for(flow.value) for flow in Flow} <= served
    beats = [n for n, s in SERVICES.items() if "beat" in (s.get("command") or [])]
    assert beats == ["beat"]
    assert SERVICES["beat"]["deploy"]["replicas"] == 1


def test_entrypoints_exist():
    import importlib

    receiver = " ".join(_command("receiver"))
    assert "webhooks.wsgi:app" in receiver
    assert callable(importlib.import_module("webhooks.app").create_app)
    assert (ROOT / "webhooks" / "wsgi.py").exists()
    assert _command("migrate") == ["ifs-shipbob", "migrate"]
    from cli import main

    assert "migrate" in main.commands


def test_services_have_healthchecks_and_ordering():
    for name in ("postgres", "redis", "receiver", "worker-orders"):
        assert "healthcheck" in SERVICES[name], name
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["receiver"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_least_privilege():
    for name, service in SERVICES.items():
        assert not service.get("privileged"), name
        if service.get("image", "").startswith("ifs-shipbob"):
            assert service.get("cap_drop") == ["ALL"], name
            assert service.get("read_only") is True, name
    # The receiver and Flower never see the API credentials.
    for name in ("receiver", "flower"):
        assert "env_file" not in SERVICES[name]
        env = SERVICES[name]["environment"]
        # IFS_EVENTS_API_KEY* authenticate IFS to the receiver; they open nothing in IFS.
        api = [k for k in env if not k.startswith("IFS_EVENTS_API_KEY")]
        assert not any(k.startswith(("IFS_", "SHIPBOB_TOKEN", "SHIPBOB_CLIENT")) for k in api)
    assert "FLOWER_BASIC_AUTH" in SERVICES["flower"]["environment"]
    assert all(p.startswith("127.0.0.1:") for p in SERVICES["flower"]["ports"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER connector" in dockerfile


def test_image_is_the_production_install():
    """No sandboxes and no extras in the image (they are `.[sandbox]`/`.[test]`)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert "sandbox" not in copied and "tests" not in copied
    assert "pip install --no-compile . " in dockerfile  # no [extra]


def test_every_service_that_names_the_mapping_mounts_it():
    for name, service in SERVICES.items():
        env = service.get("environment") or {}
        if "MAPPING_FILE" in env or "env_file" in service:
            assert "./mapping.yaml:/app/mapping.yaml:ro" in service.get("volumes", []), name


def test_services_sharing_a_broker_share_the_prefix():
    for name in ("receiver", "flower"):
        assert "REDIS_PREFIX" in SERVICES[name]["environment"], name
    env_example = (ROOT / ".env.example").read_text()
    assert "\nREDIS_PREFIX=" in env_example  # workers and beat read it from .env


def test_env_example_names_real_settings():
    fields = {name.upper() for name in Settings.model_fields}
    # Read by compose or the processes themselves, not by Settings.
    extra = {"POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH", "RECEIVER_PORT", "FLOWER_PORT", "WORKER_METRICS_PORT"}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.lstrip("# ").strip()
        if "=" in line and line.split("=", 1)[0].isupper():
            name = line.split("=", 1)[0]
            assert name in fields | extra, name
