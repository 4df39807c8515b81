"""Per-partner token buckets (issue 7 item 5): burst, refill, retry hints, isolation, memory.

Time is a plain integer the tests move; no test sleeps. The properties check the promise a
token bucket makes over any stretch of time: at most `burst + rate x window` tokens pass.
"""

from __future__ import annotations

import threading
from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain.rate_limits import (
    RATE_LIMIT_BURST_DEFAULT,
    RATE_LIMIT_PARTNERS_MAX,
    RATE_LIMIT_PER_S_DEFAULT,
    PartnerRateLimiter,
)

SECOND_US = 1_000_000
T0_US = 1_800_000_000 * SECOND_US  # an arbitrary wall-clock instant: buckets use absolute time


def burst_of(limiter: PartnerRateLimiter, partner_id: str, now_us: int, calls: int) -> list[int]:
    return [limiter.try_acquire(partner_id, now_us) for _ in range(calls)]


# Examples


def test_a_full_bucket_lets_the_burst_through_then_refuses_with_the_wait_for_one_token() -> None:
    limiter = PartnerRateLimiter(rate_per_s=5, burst=5)

    answers = burst_of(limiter, "skyway", T0_US, 6)

    assert answers[:5] == [0] * 5
    assert answers[5] == SECOND_US // 5  # one token every 200 ms


def test_the_retry_hint_is_exact_to_the_microsecond() -> None:
    limiter = PartnerRateLimiter(rate_per_s=5, burst=5)
    burst_of(limiter, "skyway", T0_US, 5)
    wait_us = limiter.try_acquire("skyway", T0_US)

    assert limiter.try_acquire("skyway", T0_US + wait_us - 1) == 1
    assert limiter.try_acquire("skyway", T0_US + wait_us) == 0
    assert limiter.try_acquire("skyway", T0_US + wait_us) == wait_us


def test_a_refusal_spends_nothing() -> None:
    limiter = PartnerRateLimiter(rate_per_s=1, burst=1)
    assert limiter.try_acquire("skyway", T0_US) == 0

    refusals = [limiter.try_acquire("skyway", T0_US + i) for i in range(1, 1_000)]

    assert all(wait > 0 for wait in refusals)
    assert limiter.try_acquire("skyway", T0_US + SECOND_US) == 0


def test_the_bucket_refills_to_the_burst_and_no_further() -> None:
    limiter = PartnerRateLimiter(rate_per_s=5, burst=5)
    burst_of(limiter, "skyway", T0_US, 5)

    later = T0_US + 3_600 * SECOND_US  # an hour idle refills 18,000 tokens, capped at 5
    answers = burst_of(limiter, "skyway", later, 6)

    assert answers == [0, 0, 0, 0, 0, SECOND_US // 5]


def test_partial_refill_passes_exactly_the_tokens_earned() -> None:
    limiter = PartnerRateLimiter(rate_per_s=5, burst=5)
    burst_of(limiter, "skyway", T0_US, 5)

    answers = burst_of(limiter, "skyway", T0_US + 450_000, 3)  # 2.25 tokens earned

    assert answers == [0, 0, 150_000]  # the third waits for the remaining 0.75 token


def test_one_partners_burst_does_not_touch_anothers_bucket() -> None:
    limiter = PartnerRateLimiter(rate_per_s=5, burst=5)
    burst_of(limiter, "skyway", T0_US, 20)

    assert burst_of(limiter, "harbor", T0_US, 5) == [0] * 5
    assert limiter.try_acquire("skyway", T0_US) > 0


def test_a_cost_spends_that_many_tokens_and_waits_for_all_of_them() -> None:
    limiter = PartnerRateLimiter(rate_per_s=10, burst=10)

    assert limiter.try_acquire("skyway", T0_US, cost=7) == 0
    assert limiter.try_acquire("skyway", T0_US, cost=4) == SECOND_US // 10
    assert limiter.try_acquire("skyway", T0_US, cost=3) == 0
    assert limiter.try_acquire("skyway", T0_US, cost=10) == SECOND_US


@pytest.mark.parametrize("cost", [0, -1, 11])
def test_a_cost_the_bucket_can_never_hold_is_a_caller_bug(cost: int) -> None:
    limiter = PartnerRateLimiter(rate_per_s=10, burst=10)

    with pytest.raises(ValueError, match="cost"):
        limiter.try_acquire("skyway", T0_US, cost=cost)


@pytest.mark.parametrize(
    ("rate_per_s", "burst"), [(0, 5), (5, 0), (-1, 5), (True, 5), (5, 2.5), (0.5, 5)]
)
def test_rates_and_bursts_are_positive_whole_numbers(rate_per_s: object, burst: object) -> None:
    with pytest.raises(ValueError):
        PartnerRateLimiter(rate_per_s=rate_per_s, burst=burst)  # type: ignore[arg-type]


def test_a_clock_stepping_back_mints_no_tokens() -> None:
    limiter = PartnerRateLimiter(rate_per_s=1, burst=1)
    assert limiter.try_acquire("skyway", T0_US + SECOND_US) == 0

    # Back one second, then forward to where it was: no interval is paid for twice.
    assert limiter.try_acquire("skyway", T0_US) == SECOND_US
    assert limiter.try_acquire("skyway", T0_US + SECOND_US) == SECOND_US
    assert limiter.try_acquire("skyway", T0_US + 2 * SECOND_US) == 0


def test_memory_is_bounded_and_the_longest_idle_bucket_goes_first() -> None:
    limiter = PartnerRateLimiter(rate_per_s=1, burst=1, partners_max=3)
    for partner_id in ("a", "b", "c"):
        limiter.try_acquire(partner_id, T0_US)
    limiter.try_acquire("a", T0_US)  # "a" is now the most recently used; "b" the least

    limiter.try_acquire("d", T0_US)

    assert limiter.tracked_partners() == 3
    assert limiter.try_acquire("a", T0_US) > 0  # kept: still empty
    assert limiter.try_acquire("c", T0_US) > 0  # kept: still empty
    assert limiter.try_acquire("b", T0_US) == 0  # evicted: starts full again


def test_ten_thousand_distinct_partners_never_exceed_the_bound() -> None:
    limiter = PartnerRateLimiter(rate_per_s=1, burst=1, partners_max=100)

    for index in range(10_000):
        limiter.try_acquire(f"partner{index}", T0_US + index)

    assert limiter.tracked_partners() == 100


def test_threads_racing_for_one_bucket_get_exactly_the_burst() -> None:
    limiter = PartnerRateLimiter(rate_per_s=1, burst=1_000)
    threads_count, calls_each = 8, 500
    barrier = threading.Barrier(threads_count)
    granted = [0] * threads_count

    def spend(index: int) -> None:
        barrier.wait()
        granted[index] = sum(limiter.try_acquire("skyway", T0_US) == 0 for _ in range(calls_each))

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sum(granted) == 1_000


def test_the_defaults_let_a_two_thousand_call_a_second_partner_through() -> None:
    """The load test drives ~2,000 calls/s from one partner; not one may be refused."""
    limiter = PartnerRateLimiter(RATE_LIMIT_PER_S_DEFAULT, RATE_LIMIT_BURST_DEFAULT)
    calls, spacing_us = 20_000, SECOND_US // 2_000  # ten seconds at 2,000 calls/s

    refused = sum(limiter.try_acquire("skyway", T0_US + i * spacing_us) != 0 for i in range(calls))

    assert refused == 0
    assert RATE_LIMIT_PARTNERS_MAX >= 1_000


# Properties

PARTNERS = ("skyway", "harbor", "orbit")
calls_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=400_000),  # microseconds since the previous call
        st.sampled_from(PARTNERS),
        st.integers(min_value=1, max_value=3),  # cost
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    rate_per_s=st.integers(min_value=1, max_value=50),
    burst=st.integers(min_value=3, max_value=20),
    calls=calls_strategy,
)
def test_over_any_window_a_partner_gets_at_most_burst_plus_rate_times_window(
    rate_per_s: int, burst: int, calls: list[tuple[int, str, int]]
) -> None:
    limiter = PartnerRateLimiter(rate_per_s, burst)
    times = list(accumulate((gap for gap, _, _ in calls), initial=T0_US))[1:]
    granted = [
        (now_us, partner_id, cost)
        for now_us, (_, partner_id, cost) in zip(times, calls, strict=True)
        if limiter.try_acquire(partner_id, now_us, cost) == 0
    ]

    for partner_id in PARTNERS:
        own = [(now_us, cost) for now_us, who, cost in granted if who == partner_id]
        for first in range(len(own)):
            spent = 0
            for last in range(first, len(own)):
                spent += own[last][1]
                window_us = own[last][0] - own[first][0]
                # In micro-tokens, so the bound is exact: burst + rate x window, no rounding.
                assert spent * 1_000_000 <= burst * 1_000_000 + rate_per_s * window_us


@settings(max_examples=300, deadline=None)
@given(
    rate_per_s=st.integers(min_value=1, max_value=50),
    burst=st.integers(min_value=3, max_value=20),
    calls=calls_strategy,
)
def test_every_refusal_names_the_first_microsecond_the_same_call_would_pass(
    rate_per_s: int, burst: int, calls: list[tuple[int, str, int]]
) -> None:
    limiter = PartnerRateLimiter(rate_per_s, burst)
    now_us = T0_US
    for gap_us, partner_id, cost in calls:
        now_us += gap_us
        wait_us = limiter.try_acquire(partner_id, now_us, cost)
        if wait_us == 0:
            continue
        assert wait_us >= 1
        # Waiting one microsecond less still fails; waiting exactly the hint passes. Probing
        # spends nothing when refused, and the pass spends what the original call would have.
        assert limiter.try_acquire(partner_id, now_us + wait_us - 1, cost) > 0
        assert limiter.try_acquire(partner_id, now_us + wait_us, cost) == 0
        now_us += wait_us


@settings(max_examples=200, deadline=None)
@given(
    rate_per_s=st.integers(min_value=1, max_value=50),
    burst=st.integers(min_value=1, max_value=20),
    idle_us=st.integers(min_value=0, max_value=10 * SECOND_US),
)
def test_after_any_idle_time_exactly_the_earned_tokens_pass_at_once(
    rate_per_s: int, burst: int, idle_us: int
) -> None:
    limiter = PartnerRateLimiter(rate_per_s, burst)
    burst_of(limiter, "skyway", T0_US, burst)

    passed = sum(limiter.try_acquire("skyway", T0_US + idle_us) == 0 for _ in range(burst + 1))

    assert passed == min(burst, idle_us * rate_per_s // SECOND_US)
