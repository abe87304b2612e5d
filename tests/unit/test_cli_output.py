"""The CLI's output conventions: one time format, and log lines that never
share a line with the progress line."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta, timezone

from cli.common import STDERR, timestamp
from connector import logs


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_line_starts_on_its_own_line_after_a_progress_line(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    logs.configure(level=logging.WARNING, stream=STDERR)
    try:
        STDERR.progress("stock rows: 1,000")
        logging.getLogger("connector.test").warning("IFS slow")
        STDERR.progress("stock rows: 2,000")
        STDERR.end_progress()
    finally:
        logging.getLogger().handlers.clear()
    lines = terminal.getvalue().split("\n")
    assert lines[0].strip() == "stock rows: 1,000"
    assert lines[1].startswith('{"ts"') and '"msg": "IFS slow"' in lines[1]
    assert lines[2].strip() == "stock rows: 2,000" and lines[3] == ""


def test_no_progress_line_when_stderr_is_not_a_terminal(monkeypatch):
    captured = io.StringIO()
    monkeypatch.setattr("sys.stderr", captured)
    STDERR.progress("stock rows: 1,000")
    STDERR.end_progress()
    assert captured.getvalue() == ""


def test_one_time_format():
    moment = datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=timezone.utc)
    expected = "2026-11-26T09:30:15Z"
    assert timestamp(moment) == expected
    assert timestamp(moment.replace(tzinfo=None)) == expected  # naive = UTC
    assert timestamp(moment.astimezone(timezone(timedelta(hours=2)))) == expected
    assert timestamp("2026-11-26T09:30:15.123456+00:00") == expected
    assert timestamp(str(int(moment.timestamp()))) == expected  # an epoch from the rate-limit stats
    assert timestamp(None) is None and timestamp("") is None
