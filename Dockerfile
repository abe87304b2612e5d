# One image for every role: receiver, workers, beat, migrations, Flower.
# The production install: no extras, no sandboxes, no test tools.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY connector ./connector
COPY workers ./workers
COPY webhooks ./webhooks
COPY cli ./cli
# /app/reports is owned by the connector user so the `reports` volume that
# compose mounts there starts out writable (Docker copies the ownership).
RUN pip install --no-compile . \
 && useradd --system --uid 10001 --home /app connector \
 && mkdir -p /app/reports \
 && chown connector /app/reports

# Least privilege: never run as root.
USER connector
EXPOSE 8000
CMD ["gunicorn", "-c", "python:webhooks.gunicorn_conf", "webhooks.wsgi:app"]
