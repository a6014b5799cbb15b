"""Rate limits ("count/period" strings from settings) on the ``limits`` library.

In-process counters by default; shared between processes through Redis when ``KB_REDIS_URL`` is
set. Imports nothing from kb domains and nothing from FastAPI.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from kb.errors import ErrorCode, KbError


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        self._storage = storage_from_string(redis_url or "memory://")
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
