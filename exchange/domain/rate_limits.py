"""Per-partner rate limits: one token bucket per partner, exact integer arithmetic, thread-safe.

Each partner's bucket holds up to `burst` tokens and refills at `rate_per_s` tokens a second;
a call spends `cost` tokens or is refused with the wait until it could be spent. Tokens are
kept as integer micro-tokens (a millionth of a token), so a microsecond of elapsed time adds
exactly `rate_per_s` micro-tokens: no float ever decides whether a call passes.

The request pipeline asks after authentication (so a forged caller cannot spend a real
partner's tokens) and before any work or write; a refusal is RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

# A load test of ~2,000 calls/s from one partner (and the benchmarks' hot loops) must pass
# untouched: the sustained rate leaves 2.5x headroom, and the burst absorbs a client that
# starts several 1,000-entry batches at once or reconnects with a backlog. The limit exists
# to stop a runaway or hostile client from starving the others, not to shape normal traffic.
RATE_LIMIT_PER_S_DEFAULT = 5_000
RATE_LIMIT_BURST_DEFAULT = 10_000
# Buckets kept at once. Partner ids are authenticated, so their number is bounded by the
# directory; this cap only bounds memory. The least recently used bucket is evicted first: it
# has been idle the longest, and an idle bucket is full, so dropping it changes nothing.
RATE_LIMIT_PARTNERS_MAX = 10_000

MICRO_TOKENS_PER_TOKEN = 1_000_000


@dataclass
class _Bucket:
    micro_tokens: int
    updated_us: int


class PartnerRateLimiter:
    """Token buckets keyed by partner id; `try_acquire` is safe to call from any thread."""

    def __init__(
        self, rate_per_s: int, burst: int, partners_max: int = RATE_LIMIT_PARTNERS_MAX
    ) -> None:
        if isinstance(rate_per_s, bool) or not isinstance(rate_per_s, int) or rate_per_s < 1:
            raise ValueError("rate_per_s must be a whole number of at least 1")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError("burst must be a whole number of at least 1")
        if partners_max < 1:
            raise ValueError("partners_max must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.partners_max = partners_max
        self._capacity = burst * MICRO_TOKENS_PER_TOKEN
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def try_acquire(self, partner_id: str, now_us: int, cost: int = 1) -> int:
        """Spends `cost` tokens of the partner's bucket and returns 0, or spends nothing and
        returns the microseconds until `cost` tokens will be there (a retry hint, >= 1).

        `cost` must be 1..burst: a bucket never holds more than `burst` tokens, so a larger
        cost could never pass; charging it is the caller's bug, not the partner's.
        """
        if not 1 <= cost <= self.burst:
            raise ValueError(f"cost must be 1-{self.burst} tokens, the size of the bucket")
        needed = cost * MICRO_TOKENS_PER_TOKEN
        with self._lock:
            bucket = self._refilled(partner_id, now_us)
            if bucket.micro_tokens >= needed:
                bucket.micro_tokens -= needed
                return 0
            missing = needed - bucket.micro_tokens
        return -(-missing // self.rate_per_s)  # ceiling: the first microsecond it would pass

    def tracked_partners(self) -> int:
        """How many buckets are held now (for tests and metrics)."""
        with self._lock:
            return len(self._buckets)

    def _refilled(self, partner_id: str, now_us: int) -> _Bucket:
        """The partner's bucket, refilled up to `now_us`, marked most recently used."""
        bucket = self._buckets.get(partner_id)
        if bucket is None:
            while len(self._buckets) >= self.partners_max:
                self._buckets.popitem(last=False)
            bucket = _Bucket(self._capacity, now_us)
            self._buckets[partner_id] = bucket
            return bucket
        self._buckets.move_to_end(partner_id)
        # A clock that steps back refills nothing, and the bucket keeps its later time, so a
        # stepping clock can never mint tokens twice for the same interval.
        elapsed_us = now_us - bucket.updated_us
        if elapsed_us > 0:
            bucket.micro_tokens = min(
                self._capacity, bucket.micro_tokens + elapsed_us * self.rate_per_s
            )
            bucket.updated_us = now_us
        return bucket
