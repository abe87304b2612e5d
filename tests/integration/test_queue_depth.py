"""The sweeper's queue probe against a real Redis broker (with the key
prefix the workers use)."""

from __future__ import annotations

from celery import Celery

from tests.conftest import REDIS_URL
from workers.app import queue_for
from workers.dispatch import RUN_JOB, queue_depths


def test_queue_depth_counts_waiting_messages_on_redis(redis_prefix):
    broker = Celery("probe", broker=REDIS_URL,
                    broker_transport_options={"global_keyprefix": f"{redis_prefix}depth:"})
    try:
        assert set(queue_depths(broker).values()) == {0}  # never published to
        for job_id in (1, 2, 3):
            broker.send_task(RUN_JOB, args=[job_id], queue=queue_for("order_push"))
        depths = queue_depths(broker)
        assert depths["order_push"] == 3 and depths["shipment_voucher"] == 0
    finally:
        with broker.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue_for("order_push"))


def test_an_unreachable_broker_gives_no_answer_rather_than_an_error():
    assert queue_depths(Celery("probe", broker="redis://127.0.0.1:1/0")) == {}
