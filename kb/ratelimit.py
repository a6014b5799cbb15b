"""Rate limits ("count/period" strings from settings) on the ``limits`` library, and the cap on
concurrent password hashes.

Counters live in the process by default; they are shared between processes through Redis when
``KB_REDIS_URL`` is set (keys start with ``KB_REDIS_KEY_PREFIX``). Imports nothing from kb domains
and nothing from FastAPI.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kb.errors import ErrorCode, KbError

# How long a login waits for a free password-hashing slot before it is told to come back (RELIABILITY T9).
HASH_SLOT_WAIT_SECONDS = 0.5


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


class RateLimiter:
    """Fixed-window counters: ``enforce(rule, *identifiers)`` allows exactly the rule's count per window."""

    def __init__(self, redis_url: str | None = None, key_prefix: str = "kb") -> None:
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        if redis_url:
            # One prefix per deployment (and per test run) keeps counters that share a Redis apart.
            self._storage = storage_from_string(redis_url, key_prefix=f"{key_prefix}:LIMITS")
        else:
            self._storage = storage_from_string("memory://")
        self._limiter = FixedWindowRateLimiter(self._storage)

    def hit(self, rule: str, *identifiers: str) -> Verdict:
        from limits import parse

        item = parse(rule)
        allowed = self._limiter.hit(item, *identifiers)
        stats = self._limiter.get_window_stats(item, *identifiers)
        retry = max(1, math.ceil(stats.reset_time - time.time())) if not allowed else 0
        return Verdict(allowed, item.amount, max(0, stats.remaining), retry)

    def enforce(self, rule: str, *identifiers: str) -> Verdict:
        """Count one hit; raise KbError RATE_LIMITED (429 with Retry-After) past the limit."""
        verdict = self.hit(rule, *identifiers)
        if not verdict.allowed:
            raise KbError(ErrorCode.RATE_LIMITED, f"Too many requests: the limit is {rule}; try again in {verdict.retry_after} s",
                          headers={"Retry-After": str(verdict.retry_after), "X-RateLimit-Limit": str(verdict.limit),
                                   "X-RateLimit-Remaining": "0"})
        return verdict


class HashGate:
    """At most ``slots`` password verifications at once in this process.

    argon2 with its defaults needs about 64 MiB and 0.1 s of a core per verification: without a cap,
    a burst of logins would queue every worker thread behind the hasher and multiply the memory.
    A caller that finds no free slot within ``wait_seconds`` gets 503 with ``Retry-After``.
    """

    def __init__(self, slots: int, wait_seconds: float = HASH_SLOT_WAIT_SECONDS, *,
                 semaphore: threading.Semaphore | None = None) -> None:
        """Args:
            slots: how many verifications may run at once.
            wait_seconds: the longest a caller waits for a free slot.
            semaphore: the slots themselves (default: a ``BoundedSemaphore(slots)``). Tests pass one
                that records the wait it is offered, so that the bound is checked without a clock.
        """
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore = semaphore if semaphore is not None else threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block; raise KbError SERVICE_UNAVAILABLE when none frees up in time."""
        if not self._semaphore.acquire(timeout=self.wait_seconds):
            raise KbError(ErrorCode.SERVICE_UNAVAILABLE,
                          f"Too many sign-ins at once (at most {self.slots} are checked in parallel); try again in 1 s",
                          headers={"Retry-After": "1"})
        try:
            yield
        finally:
            self._semaphore.release()
