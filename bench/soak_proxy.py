"""A TCP proxy the soak can partition (bench/soak.py): one worker reaches
PostgreSQL only through it.

`cut()` is a network partition, not a reset: nothing is forwarded any more
in either direction and new connections are accepted but get no answer, so
the worker's database calls (its lease heartbeat among them) hang, as they
would behind a dead switch. `restore()` heals it: what was held flows on and
the connections survive (a partition shorter than TCP's retransmission
timeout), so the worker resumes where it stood - possibly after another
worker took its job over.
"""

from __future__ import annotations

import select
import socket
import threading

from soak_services import free_port

CHUNK = 65536


class PartitionableProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self.host, self.target_port = host, target_port
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def cut_now(self) -> bool:
        return not self._open.is_set()

    def start(self) -> "PartitionableProxy":
        self._listener = socket.create_server((self.host, self.port))
        self._listener.settimeout(0.5)
        threading.Thread(target=self._accept, name="soak-pg-proxy", daemon=True).start()
        return self

    def cut(self) -> None:
        self._open.clear()

    def restore(self) -> None:
        self._open.set()

    def stop(self) -> None:
        self._stop.set()
        self._open.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None, "start() first"
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self._open.wait()  # a connection opened during a cut waits in its handshake
        try:
            upstream = socket.create_connection((self.host, self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets |= {client, upstream}
        peer = {client: upstream, upstream: client}
        try:
            while not self._stop.is_set():
                if not self._open.wait(0.5):
                    continue  # partitioned: read nothing, so nothing is delivered
                readable, _, _ = select.select(list(peer), [], [], 0.5)
                for sock in readable:
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    peer[sock].sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._sockets -= {client, upstream}
            client.close()
            upstream.close()
