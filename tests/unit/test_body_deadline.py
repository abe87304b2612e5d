"""webhooks.deadline: a blocked read returns when its deadline passes, and a
deadline left in time never fires (loopback TCP, as under gunicorn)."""

from __future__ import annotations

import socket

import pytest

from webhooks.deadline import read_deadline


@pytest.fixture
def connection():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield server, client
    server.close()
    client.close()


def test_a_read_blocked_past_the_deadline_returns_end_of_stream(connection):
    server, _client = connection  # the client never sends anything
    with read_deadline(server, 0.2) as deadline:
        data = server.recv(10)
    assert data == b""
    assert deadline.expired


def test_a_deadline_left_in_time_never_fires(connection):
    server, client = connection
    client.sendall(b"hello")
    with read_deadline(server, 0.05) as early:
        assert server.recv(5) == b"hello"
    # Due after the first one: when it fires, the first one's turn has passed.
    with read_deadline(server, 0.3) as later:
        server.recv(1)
    assert later.expired
    assert not early.expired


def test_no_socket_no_deadline():
    with read_deadline(None, 0.01) as deadline:
        pass
    assert not deadline.expired
