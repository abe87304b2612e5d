"""`.env` in the working directory, read by the CLI like Docker Compose does.

The environment wins: a variable already set is never overridden, so
`DATABASE_URL=... ifs-shipbob status` works beside a `.env` naming another.
"""

from __future__ import annotations

from pathlib import Path

DOTENV = Path(".env")


def load_dotenv_file(path: Path = DOTENV) -> bool:
    """Add the file's variables that the environment does not set; True if read."""
    if not path.is_file():
        return False
    from dotenv import load_dotenv

    return load_dotenv(path, override=False)
