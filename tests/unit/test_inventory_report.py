"""The streamed drift report: both files complete, or none at all."""

from __future__ import annotations

import csv
import json

import pytest

from connector.reports import ReportWriter

FIELDS = ("sku", "qty", "status")


def test_rows_stream_into_csv_and_json(tmp_path):
    with ReportWriter(tmp_path, "drift", FIELDS, {"dry_run": True}) as report:
        report.write({"sku": "A", "qty": 1, "status": "match", "extra": "ignored"})
        report.write({"sku": "B", "qty": None, "status": "ifs_only"})
        paths = report.close({"rows": 2})
    with paths.csv.open(newline="") as f:
        assert list(csv.DictReader(f)) == [{"sku": "A", "qty": "1", "status": "match"},
                                           {"sku": "B", "qty": "", "status": "ifs_only"}]
    data = json.loads(paths.json.read_text())
    assert data == {"dry_run": True, "summary": {"rows": 2},
                    "rows": [{"sku": "A", "qty": 1, "status": "match"},
                             {"sku": "B", "qty": None, "status": "ifs_only"}]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drift.csv", "drift.json"]


def test_an_empty_report_is_valid_json(tmp_path):
    with ReportWriter(tmp_path, "drift", FIELDS, {}) as report:
        paths = report.close({})
    assert json.loads(paths.json.read_text()) == {"rows": [], "summary": {}}


def test_a_failed_run_leaves_no_report(tmp_path):
    with pytest.raises(RuntimeError):
        with ReportWriter(tmp_path, "drift", FIELDS, {}) as report:
            report.write({"sku": "A"})
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_reports_are_never_overwritten(tmp_path):
    for _ in range(2):
        with ReportWriter(tmp_path, "drift", FIELDS, {}) as report:
            report.close({})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "drift-2.csv", "drift-2.json", "drift.csv", "drift.json"]
