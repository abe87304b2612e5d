"""The write fence on a fake clock: writes pass only while the lease is
known to outlast them, and a lost or unprovable lease stops every write."""

from __future__ import annotations

import pytest

from connector.fencing import Fence, LeaseLost, active, before_write


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lease:
    """The database's answer to a confirmation."""

    def __init__(self) -> None:
        self.held = True
        self.down = False
        self.confirmations = 0

    def __call__(self) -> bool:
        if self.down:
            raise ConnectionError("database away")
        self.confirmations += 1
        return self.held


def fence(clock: Clock, lease: Lease, seconds: float = 60, margin: float = 5) -> Fence:
    f = Fence(lease, seconds, margin, clock=clock)
    f.confirmed(clock.now)
    return f


def test_a_write_that_fits_in_the_confirmed_lease_costs_no_round_trip():
    clock, lease = Clock(), Lease()
    f = fence(clock, lease)
    clock.now += 20  # 40 s left: a 30 s write plus 5 s margin fits
    f.before_write(30)
    assert lease.confirmations == 0


def test_a_write_that_might_outlast_the_lease_confirms_it_first():
    clock, lease = Clock(), Lease()
    f = fence(clock, lease)
    clock.now += 30  # 30 s left: a 30 s write does not fit
    f.before_write(30)
    assert lease.confirmations == 1
    f.before_write(30)  # the confirmation renewed the lease
    assert lease.confirmations == 1


def test_a_run_frozen_past_its_lease_that_lost_the_job_writes_nothing():
    clock, lease = Clock(), Lease()
    f = fence(clock, lease)
    clock.now += 3600  # SIGSTOP: the monotonic clock kept running
    lease.held = False  # another run claimed the job meanwhile
    with pytest.raises(LeaseLost, match="took the job over"):
        f.before_write(30)
    lease.held = True  # even if asked again: once lost, never writes
    with pytest.raises(LeaseLost):
        f.before_write(1)


def test_a_lease_that_cannot_be_confirmed_stops_the_write():
    clock, lease = Clock(), Lease()
    f = fence(clock, lease)
    clock.now += 59
    lease.down = True
    with pytest.raises(LeaseLost, match="could not be confirmed"):
        f.before_write(30)


def test_a_failed_heartbeat_stops_the_next_write_even_inside_the_lease():
    clock, lease = Clock(), Lease()
    f = fence(clock, lease)
    f.broken("the lease heartbeat could not reach the database")
    with pytest.raises(LeaseLost, match="heartbeat"):
        f.before_write(1)
    assert lease.confirmations == 0


def test_a_write_longer_than_the_lease_is_never_sent():
    clock, lease = Clock(), Lease()
    f = fence(clock, lease, seconds=10, margin=5)
    with pytest.raises(LeaseLost, match="cannot fit"):
        f.before_write(30)


def test_outside_a_job_run_there_is_no_fence():
    before_write(30)  # the CLI's own commands write without a job


def test_the_active_fence_is_the_one_the_clients_consult():
    clock, lease = Clock(), Lease()
    f = fence(clock, lease)
    f.broken("gone")
    with active(f), pytest.raises(LeaseLost):
        before_write(1)
    before_write(1)  # gone again once the run ends


def test_a_lease_too_short_for_a_write_is_refused_at_start_up():
    from connector.errors import ConfigError
    from connector.settings import load_settings

    with pytest.raises(ConfigError, match="JOB_LEASE_SECONDS"):
        load_settings(job_lease_seconds=30, http_timeout_seconds=30)
