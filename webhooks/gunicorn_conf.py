"""gunicorn settings for the webhook receiver, shared by the image, compose,
the demo stack and the benchmarks: `gunicorn -c python:webhooks.gunicorn_conf
webhooks.wsgi:app`. Each value can be overridden with GUNICORN_<NAME>."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "20"))
limit_request_line = 8190
