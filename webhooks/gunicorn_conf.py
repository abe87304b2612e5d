"""gunicorn settings for the webhook receiver, shared by the image, compose,
the demo stack and the benchmarks: `gunicorn -c python:webhooks.gunicorn_conf
webhooks.wsgi:app`. Each value can be overridden with GUNICORN_<NAME>.

Threaded workers (gthread): a client that sends its headers and then trickles
or stalls its body holds one thread, not a whole process, and only until the
receiver's body deadline (WEBHOOK_BODY_TIMEOUT_SECONDS) cuts it off. With sync
workers two such clients held both processes until gunicorn killed them
(README, "The webhook receiver under slow clients").
"""

import os
import socket
import struct

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A gthread worker's main loop heartbeats on its own, so this no longer ends
# a stuck request: the receiver bounds its own waits (body deadline, publish,
# statement and readiness timeouts).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "20"))
limit_request_line = 8190

# A client silent this long inside its request (headers included, which come
# before the receiver's body deadline can apply) loses its connection: a
# blocking read of a client socket fails instead of holding a thread.
_read_idle_timeout = float(os.environ.get("GUNICORN_READ_IDLE_TIMEOUT", "5"))


def when_ready(server):
    # SO_RCVTIMEO of a listening socket is inherited by each accepted socket
    # (Linux, BSD); gthread reads a request with plain blocking recv() calls.
    whole = int(_read_idle_timeout)
    timeval = struct.pack("ll", whole, int((_read_idle_timeout - whole) * 1_000_000))
    for listener in server.LISTENERS:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
