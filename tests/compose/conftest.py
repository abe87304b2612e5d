"""The compose check needs a compose implementation (to render the file) and
bubblewrap (to run each service as its container would), and root to run
bubblewrap with mount namespaces. Outside CI the tests are skipped with the
reason when these are missing; in CI (.ci/run installs them) the run fails."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.compose.project import compose_command


def _missing() -> list[str]:
    missing = []
    if compose_command() is None:
        missing.append("docker compose or docker-compose")
    for tool in ("bwrap", "setpriv", "nsenter"):
        if shutil.which(tool) is None:
            missing.append(tool)
    if os.geteuid() != 0:
        missing.append("root (bubblewrap's mount namespaces)")
    return missing


def pytest_collection_modifyitems(config, items):
    missing = _missing()
    if not missing:
        return
    message = f"compose check needs {', '.join(missing)} (.ci/run installs them)"
    if os.environ.get("CI"):
        pytest.exit(message, returncode=1)
    skip = pytest.mark.skip(reason=message)
    for item in items:
        if "tests/compose/" in item.nodeid:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def image():
    """The Dockerfile's image, built once per run (tests/compose/image.py).
    Not under /tmp: each container gets a tmpfs of its own there."""
    import uuid

    from tests.compose.image import ROOT, build

    directory = ROOT / ".cache" / f"compose-image-{uuid.uuid4().hex[:8]}"
    try:
        yield build(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def empty_database():
    """A database of its own, empty: the stack's `migrate` must create the schema."""
    import uuid

    from connector.db.session import create_database, drop_database
    from tests.conftest import PG_ADMIN_URL

    name = f"ifs_shipbob_compose_{uuid.uuid4().hex[:10]}"
    url = create_database(PG_ADMIN_URL, name)
    yield url
    drop_database(PG_ADMIN_URL, name)


@pytest.fixture
def compose_prefix():
    import uuid

    import redis as redis_lib

    from tests.conftest import REDIS_URL

    prefix = f"ifs-shipbob-compose-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis_lib.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


@pytest.fixture
def make_stack(image, empty_database, compose_prefix, sandboxes, tmp_path):
    """make_stack(mutate=None) -> a rendered Stack (nothing started yet);
    `mutate(rendered)` edits the rendered configuration first. Every
    container started is stopped afterwards."""
    from tests.compose.stack import Stack, env_values
    from tests.conftest import REDIS_URL

    ifs, shipbob = sandboxes
    made = []

    def make(mutate=None) -> Stack:
        env = env_values(empty_database, REDIS_URL, compose_prefix, ifs.url, shipbob.url)
        stack = Stack.render(tmp_path, image, env)
        if mutate is not None:
            mutate(stack.rendered)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()
