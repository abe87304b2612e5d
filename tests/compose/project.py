"""docker-compose.yml rendered by a real compose implementation.

The project directory is laid out as README's "Running in production" tells
a user to: the compose file, `.env` from `.env.example` (values filled in),
`mapping.yaml` copied from connector/default_mapping.yaml. `docker compose
config` (or Debian's `docker-compose config`) interpolates the file, merges
`env_file` into each service's environment and validates it; neither needs
a Docker engine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def compose_command() -> list[str] | None:
    """The Compose v2 plugin if the docker CLI has it, else docker-compose."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def env_from_example(values: dict[str, str]) -> str:
    """`.env.example` with `values` filled in (commented optional lines are
    switched on when given a value). Every value must name a line of the
    example, so the example stays the complete list a user fills in."""
    missing = set(values)
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match and match.group(2) in values:
            name = match.group(2)
            line = f"{name}={values[name]}"
            missing.discard(name)
        lines.append(line)
    if missing:
        raise AssertionError(f".env.example does not mention {sorted(missing)}")
    return "\n".join(lines) + "\n"


class Project:
    """A compose project directory and its rendered configuration."""

    def __init__(self, directory: Path, name: str):
        self.directory = directory
        self.name = name

    def lay_out(self, env: dict[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "docker-compose.yml", self.directory / "docker-compose.yml")
        shutil.copy2(ROOT / "connector" / "default_mapping.yaml", self.directory / "mapping.yaml")
        (self.directory / ".env").write_text(env_from_example(env))

    def render(self) -> dict:
        command = compose_command()
        if command is None:
            raise RuntimeError("no compose implementation (docker compose or docker-compose) installed")
        result = subprocess.run(
            [*command, "--project-name", self.name, "--project-directory", str(self.directory),
             "-f", str(self.directory / "docker-compose.yml"), "config"],
            capture_output=True, text=True, cwd=self.directory)
        if result.returncode != 0:
            raise AssertionError(f"compose config failed: {result.stderr.strip()}")
        return _unescape(yaml.safe_load(result.stdout))


def _unescape(value):
    """`config` prints a compose file, with a literal `$` escaped as `$$`;
    what reaches the container is the unescaped string."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    return value
