"""A logged exception keeps its traceback in the JSON line, masked.

The secret filter renders the traceback itself (to mask secrets in it) and
clears exc_info; the JSON formatter must then write that rendered text, or
every `log.exception(...)` of a deployment with a secret configured (always)
loses its traceback - found by the soak (bench/soak.py), where a Celery
worker's "Unrecoverable error" on a Redis restart was logged without one.
"""

from __future__ import annotations

import io
import json
import logging

from connector import logs
from connector.settings import load_settings

SECRET = "ifsSECRETinTRACEBACK42"


def _last_line(stream: io.StringIO) -> dict:
    return json.loads(stream.getvalue().strip().splitlines()[-1])


def test_an_exception_logged_with_a_secret_configured_keeps_its_masked_traceback():
    stream = io.StringIO()
    logs.configure(load_settings(ifs_client_secret=SECRET), stream=stream)
    try:
        try:
            raise ValueError(f"token endpoint said no to {SECRET}")
        except ValueError:
            logging.getLogger("connector.test").exception("refresh failed")
        entry = _last_line(stream)
    finally:
        logging.getLogger().handlers[:] = []
    assert "Traceback (most recent call last)" in entry.get("exc", ""), entry
    assert "ValueError: token endpoint said no to" in entry["exc"]
    assert SECRET not in json.dumps(entry)
    assert logs.MASK in entry["exc"]


def test_an_exception_logged_without_secrets_keeps_its_traceback():
    stream = io.StringIO()
    logs.configure(None, stream=stream)
    try:
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            logging.getLogger("connector.test").exception("boom")
        entry = _last_line(stream)
    finally:
        logging.getLogger().handlers[:] = []
    assert "ZeroDivisionError" in entry.get("exc", ""), entry
