"""The image as the Dockerfile builds it, without Docker.

Read from the Dockerfile: ENV, WORKDIR, USER, the COPY lines (which files
land in /app), the user `useradd` creates (uid, home) and the directories the
RUN line makes and hands to that user. The install step is reproduced as the
Dockerfile's RUN does it: `pip install --no-compile .` of the copied files,
no extras, into a fresh virtualenv of the system's Python 3.11 (the python
of the slim image). So a module the image lacks (e.g. the sandboxes) or a
dependency only an extra brings is missing here too.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "pip install --no-compile ."
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class Dockerfile:
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    copies: list[tuple[str, str, bool]] = field(default_factory=list)  # (source, destination, into a dir)
    run: str = ""
    uids: dict[str, int] = field(default_factory=lambda: {"root": 0})
    homes: dict[str, str] = field(default_factory=dict)
    made_dirs: list[str] = field(default_factory=list)
    owned_dirs: dict[str, str] = field(default_factory=dict)  # path -> owner

    @classmethod
    def parse(cls, text: str) -> "Dockerfile":
        spec = cls()
        logical = re.sub(r"\\\n", " ", text)
        for line in logical.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            word = word.upper()
            if word == "ENV":
                for pair in shlex.split(rest):
                    key, _, value = pair.partition("=")
                    spec.env[key] = value
            elif word == "WORKDIR":
                spec.workdir = rest.strip()
            elif word == "USER":
                spec.user = rest.strip()
            elif word == "COPY":
                *sources, dest = shlex.split(rest)
                into_dir = dest.endswith("/") or len(sources) > 1
                dest = posixpath.normpath(posixpath.join(spec.workdir, dest))
                spec.copies.extend((s, dest, into_dir) for s in sources)
            elif word == "RUN":
                spec.run += rest + " && "
                spec._read_run(rest)
        return spec

    def _read_run(self, run: str) -> None:
        for step in (s.strip() for s in run.split("&&")):
            args = shlex.split(step)
            if not args:
                continue
            if args[0] == "useradd":
                name = args[-1]
                if "--uid" in args:
                    self.uids[name] = int(args[args.index("--uid") + 1])
                if "--home" in args:
                    self.homes[name] = args[args.index("--home") + 1]
            elif args[0] == "mkdir":
                self.made_dirs += [a for a in args[1:] if not a.startswith("-")]
            elif args[0] == "chown":
                rest = [a for a in args[1:] if not a.startswith("-")]
                owner = rest[0].split(":")[0]
                for path in rest[1:]:
                    self.owned_dirs[path] = owner

    def owner_of(self, path: str) -> str:
        """Who owns an image directory (what a fresh named volume copies)."""
        for owned, owner in self.owned_dirs.items():
            if path == owned or path.startswith(owned.rstrip("/") + "/"):
                return owner
        return "root"


@dataclass
class Image:
    """`<dir>/app` is the image's WORKDIR contents, `<dir>/venv` its Python."""

    dockerfile: Dockerfile
    directory: Path

    @property
    def app(self) -> Path:
        return self.directory / "app"

    @property
    def venv(self) -> Path:
        return self.directory / "venv"

    def uid(self, user: str) -> int:
        return int(user) if user.isdigit() else self.dockerfile.uids[user]

    def home(self, user: str) -> str:
        return self.dockerfile.homes.get(user, "/")


def build(directory: Path, dockerfile_path: Path = ROOT / "Dockerfile") -> Image:
    spec = Dockerfile.parse(dockerfile_path.read_text())
    if INSTALL not in spec.run:
        raise AssertionError(f"the Dockerfile no longer installs with `{INSTALL}`: update tests/compose/image.py")
    image = Image(spec, directory)
    prefix = spec.workdir.rstrip("/") + "/"
    image.app.mkdir(parents=True)
    for source, dest, into_dir in spec.copies:
        if not (dest + "/").startswith(prefix):
            raise AssertionError(f"COPY outside {spec.workdir} is not modelled: {dest}")
        target = image.app / posixpath.relpath(dest, spec.workdir)
        src = ROOT / source
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        elif into_dir:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / src.name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    for made in spec.made_dirs:
        if made.startswith(prefix):
            (image.app / made[len(prefix):]).mkdir(parents=True, exist_ok=True)
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(image.venv)], check=True)
    # The image's `RUN pip install --no-compile .`, run from /app with this
    # project's pip aimed at the image's interpreter.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(image.venv / "bin" / "python"), "install",
                    "--quiet", "--no-compile", "--disable-pip-version-check", "."],
                   cwd=image.app, check=True, capture_output=True)
    return image
