"""The in-call retry policy of the API clients (tenacity).

A try that wants another try raises `Again(wait)`: the policy sleeps `wait`
seconds (none for 0) and runs it again. Anything else a try raises ends the
call with that error, and each client counts its own budgets (re-auth once,
a few 5xx, a few 412s), so the policy itself never gives up. Each client
holds one policy and runs a copy of it per call (copies are independent, so
threads and nested calls do not share state).
"""

from __future__ import annotations

from typing import Callable

import tenacity


class Again(Exception):
    """Try the call again after `wait` seconds (0: at once)."""

    def __init__(self, wait: float = 0.0) -> None:
        super().__init__(wait)
        self.wait = wait


def _requested_wait(state: tenacity.RetryCallState) -> float:
    # Only Again is retried, so the failed try's exception is one.
    error = state.outcome.exception() if state.outcome is not None else None
    return error.wait if isinstance(error, Again) else 0.0


def in_call_policy(sleep: Callable[[float], None]) -> tenacity.Retrying:
    def sleep_if_asked(seconds: float) -> None:
        if seconds > 0:
            sleep(seconds)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Again),
        wait=_requested_wait,
        sleep=sleep_if_asked,
    )
