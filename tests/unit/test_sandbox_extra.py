"""Without the [sandbox] extra (a plain `pip install .`), the sandbox and
demo commands say which extra to install instead of a traceback."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from cli import main


@pytest.mark.parametrize("args", [["sandbox", "shipbob"], ["sandbox", "ifs"], ["demo"]])
def test_missing_extra_is_one_line(monkeypatch, args):
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import fails as if not installed
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "pip install 'ifs-shipbob[sandbox]'" in result.output
    assert "Traceback" not in result.output
