# One image for every role: receiver, workers, beat, migrations, Flower.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY connector ./connector
COPY workers ./workers
COPY webhooks ./webhooks
COPY sandbox ./sandbox
COPY cli ./cli
RUN pip install --no-compile . \
 && useradd --system --uid 10001 --home /app connector \
 && mkdir -p /app/state /app/reports /tmp/metrics \
 && chown -R connector /app/state /app/reports /tmp/metrics

# Least privilege: never run as root.
USER connector
EXPOSE 8000
CMD ["gunicorn", "-c", "python:webhooks.gunicorn_conf", "webhooks.wsgi:app"]
