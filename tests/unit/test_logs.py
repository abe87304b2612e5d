"""JSON log lines: the keys of the work in hand on every line, no secrets."""

import io
import json
import logging

import pytest

from connector import logs
from connector.settings import load_settings


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_bound_keys_reach_every_line_and_secrets_are_masked():
    stream = io.StringIO()
    settings = load_settings(ifs_client_secret="s3cret-value-123")
    logs.configure(settings, stream=stream)
    client_log = logging.getLogger("connector.shipbob")
    with logs.bound(job_id=7, flow="order_push", ifs_ref="C1", shipbob_ref=None):
        client_log.info("GET /order -> 200")
        client_log.warning("token %s rejected", "s3cret-value-123")
    client_log.info("outside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["job_id"] == 7 and lines[0]["flow"] == "order_push" and lines[0]["ifs_ref"] == "C1"
    assert "shipbob_ref" not in lines[0]
    assert "s3cret-value-123" not in stream.getvalue() and logs.MASK in lines[1]["msg"]
    assert "job_id" not in lines[2]


def test_a_list_of_ids_is_a_json_array_and_its_secrets_are_masked():
    stream = io.StringIO()
    logs.configure(load_settings(ifs_client_secret="s3cret-value-123"), stream=stream)
    with logs.bound(shipbob_refs=["101", "s3cret-value-123"]):
        logging.getLogger("connector.runner").info("done")
    line = json.loads(stream.getvalue())
    assert line["shipbob_refs"] == ["101", logs.MASK]
