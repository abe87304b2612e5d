"""The CLI's lazy command registry: what `--help` lists is what the commands
say, and listing them imports none of them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli import COMMANDS, load_command, main


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_listed_summary_is_the_commands_own(name):
    command = load_command(name)
    assert command.name == name
    assert COMMANDS[name][1] == command.get_short_help_str(limit=1000)


def test_help_imports_no_command_module():
    # --help must stay fast: no SQLAlchemy, Celery, clients or command modules.
    code = ("import sys\nfrom cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'celery', 'requests', 'connector', 'pydantic') or m in "
            + repr(sorted({v[0].split(':')[0] for v in COMMANDS.values()})) + ")\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out


def test_short_help_option_and_version():
    runner = CliRunner()
    assert runner.invoke(main, ["-h"]).output == runner.invoke(main, ["--help"]).output
    assert "status" in runner.invoke(main, ["-h"]).output
    assert runner.invoke(main, ["status", "-h"]).output.startswith("Usage: main status")
    version = runner.invoke(main, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("ifs-shipbob ")
