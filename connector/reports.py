"""Report files written row by row (the inventory drift report).

A report is a CSV and a JSON file with the same rows. Rows are streamed to
disk as they are produced, so 100,000 rows cost no memory; the JSON file ends
with the run's summary, which is only known at the end. Both files are
written under a `.partial` name and renamed when complete, so a crashed run
never leaves a half report that looks finished.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterable, Mapping

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class ReportPaths:
    csv: Path
    json: Path

    def as_dict(self) -> dict[str, str]:
        return {"csv": str(self.csv), "json": str(self.json)}


class ReportWriter:
    """`with ReportWriter(dir, name, fields, header) as report: report.write(row)
    ...; paths = report.close(summary)`. Leaving the block without `close`
    (an exception) removes the partial files."""

    def __init__(self, directory: Path, name: str, fields: Iterable[str], header: Mapping[str, object]):
        self.fields = tuple(fields)
        self.paths = _free_paths(Path(directory), name)
        self.rows = 0
        self._csv_file = _partial(self.paths.csv).open("w", newline="", encoding="utf-8")
        self._json_file = _partial(self.paths.json).open("w", encoding="utf-8")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=self.fields, extrasaction="ignore")
        self._csv.writeheader()
        # The JSON object is opened by hand so rows can follow one by one.
        head = json.dumps(header, ensure_ascii=False, default=str)[:-1]
        self._json_file.write(head + (", " if header else "") + '"rows": [')
        self._closed = False

    def write(self, row: Mapping[str, object]) -> None:
        self._csv.writerow({k: "" if row.get(k) is None else row[k] for k in self.fields})
        self._json_file.write(("\n  " if self.rows == 0 else ",\n  ")
                              + json.dumps({k: row.get(k) for k in self.fields}, ensure_ascii=False))
        self.rows += 1

    def close(self, summary: Mapping[str, object]) -> ReportPaths:
        """Finish both files (the summary ends the JSON) and publish them."""
        self._json_file.write("\n], \"summary\": " + json.dumps(summary, ensure_ascii=False, default=str) + "}\n")
        self._close_files()
        for final in (self.paths.csv, self.paths.json):
            _partial(final).replace(final)
        return self.paths

    def abort(self) -> None:
        self._close_files()
        for final in (self.paths.csv, self.paths.json):
            _partial(final).unlink(missing_ok=True)

    def _close_files(self) -> None:
        if not self._closed:
            self._csv_file.close()
            self._json_file.close()
            self._closed = True

    def __enter__(self) -> "ReportWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._closed:
            self.abort()


def _partial(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def _free_paths(directory: Path, name: str) -> ReportPaths:
    """`<name>.csv/.json`, or `<name>-2...` when a run in the same second
    already wrote that name (reports are never overwritten)."""
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        stem = name if n == 1 else f"{name}-{n}"
        paths = ReportPaths(directory / f"{stem}.csv", directory / f"{stem}.json")
        if not any(p.exists() or _partial(p).exists() for p in (paths.csv, paths.json)):
            return paths
    raise FileExistsError(f"no free report name for {name} in {directory}")
