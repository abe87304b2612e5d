"""README lists every configurable IFS name with its default, exactly as
`python -m connector.ifs.names` prints them (issue 12)."""

from __future__ import annotations

from pathlib import Path

from connector.ifs.names.__main__ import table

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- ifs-names:start -->", "<!-- ifs-names:end -->"


def test_readme_lists_every_configurable_ifs_name() -> None:
    text = README.read_text()
    assert START in text and END in text, "README lacks the generated IFS names table"
    listed = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert listed == table().strip(), "run: python -m connector.ifs.names, and paste it into README"
