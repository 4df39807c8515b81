"""Folding one settled business day's records into day cells (pure; docs/metrics.md)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import combinations

from exchange.domain.metrics import (
    COALITION,
    TIME_TO_CREDIT_BOUNDS_MS,
    Cell,
    GrantFact,
    OutcomeFact,
    TransferFact,
    months_between,
    time_to_credit_bucket,
)

Key = tuple[str, str, str, str]  # metric, subject, counterpart, dimension

TRANSFER_METRICS = (
    "transfer_count",
    "transfer_points_out",
    "transfer_points_in",
    "transfer_settlement_value",
    "reversal_count",
    "coalition_total_value",
    "ttc_bucket",
)
OUTCOME_METRICS = ("transfers_resolved", "transfers_rejected", "transfers_timed_out")
QUOTE_METRICS = ("quotes_issued", "quotes_used")
LINK_METRICS = ("links_new", "members_linked_2", "members_linked_3plus")
ACTIVE_METRICS = ("active_members_30d", "active_members_90d", "active_members_365d")
COHORT_METRICS = ("cohort_size", "retained_members", "churned_members")
DAY_METRICS = (
    *TRANSFER_METRICS,
    *OUTCOME_METRICS,
    *QUOTE_METRICS,
    *LINK_METRICS,
    *ACTIVE_METRICS,
    "status_match_granted",
    "net_position",
)


def _cells(business_day: str, totals: Mapping[Key, int]) -> list[Cell]:
    """A missing cell reads as 0, so zeros are not stored; a settled participant's net
    position is, zero or not, as settlement stored it."""
    return [
        Cell(m, business_day, s, c, d, v)
        for (m, s, c, d), v in sorted(totals.items())
        if v or m == "net_position"
    ]


def transfer_cells(business_day: str, facts: Iterable[TransferFact]) -> list[Cell]:
    """Volume, value and time-to-credit per pair, from the day's completed records."""
    totals: Counter[Key] = Counter()
    for fact in facts:
        pair = (fact.source, fact.destination)
        if fact.kind == "reversal":
            totals[("reversal_count", *pair, "")] += 1
            continue
        totals[("transfer_count", *pair, "")] += 1
        totals[("transfer_points_out", *pair, "")] += fact.source_points
        totals[("transfer_points_in", *pair, "")] += fact.destination_points
        totals[("transfer_settlement_value", *pair, fact.currency)] += fact.amount_minor
        totals[("coalition_total_value", COALITION, "", fact.currency)] += fact.amount_minor
        bucket = str(time_to_credit_bucket(fact.duration_us))
        totals[("ttc_bucket", *pair, bucket)] += 1
    return _cells(business_day, totals)


def outcome_cells(business_day: str, facts: Iterable[OutcomeFact]) -> list[Cell]:
    totals: Counter[Key] = Counter()
    for fact in facts:
        pair = (fact.source, fact.destination)
        totals[("transfers_resolved", *pair, "")] += 1
        if fact.void_reason == "rejected":
            totals[("transfers_rejected", *pair, "")] += 1
        elif fact.void_reason == "timed_out":
            totals[("transfers_timed_out", *pair, "")] += 1
    return _cells(business_day, totals)


def quote_cells(business_day: str, quotes: Iterable[tuple[str, str, bool]]) -> list[Cell]:
    totals: Counter[Key] = Counter()
    for source, destination, used in quotes:
        totals[("quotes_issued", source, destination, "")] += 1
        if used:
            totals[("quotes_used", source, destination, "")] += 1
    return _cells(business_day, totals)


def grant_cells(business_day: str, metric: str, grants: Iterable[GrantFact]) -> list[Cell]:
    """Distinct members granted (or still holding) status, per direction and canonical level."""
    members: defaultdict[Key, set[str]] = defaultdict(set)
    for grant in grants:
        members[(metric, grant.source, grant.target, str(grant.canonical_level))].add(grant.cmid)
    return _cells(business_day, {key: len(cmids) for key, cmids in members.items()})


def net_position_cells(business_day: str, positions: Iterable[tuple[str, str, int]]) -> list[Cell]:
    return _cells(
        business_day,
        {
            ("net_position", participant, "", currency): net
            for participant, currency, net in positions
        },
    )


def link_changes(
    business_day: str,
    current: Mapping[str, frozenset[str]],
    snapshot: Mapping[str, Mapping[str, str]],
) -> tuple[list[Cell], list[tuple[str, str, str]], list[tuple[str, str]]]:
    """New links per unordered pair (distinct members), and the snapshot's additions and
    removals. A pair is new for a member when both brands are linked now and were not both
    linked at the last fold."""
    members: defaultdict[Key, set[str]] = defaultdict(set)
    added: list[tuple[str, str, str]] = []
    for cmid, brands in current.items():
        before = snapshot.get(cmid, {})
        for first, second in combinations(sorted(brands), 2):
            if not (first in before and second in before):
                members[("links_new", first, second, "")].add(cmid)
        added.extend((cmid, brand, business_day) for brand in sorted(brands) if brand not in before)
    removed = [
        (cmid, brand)
        for cmid, brands in snapshot.items()
        for brand in brands
        if brand not in current.get(cmid, frozenset())
    ]
    cells = _cells(business_day, {key: len(cmids) for key, cmids in members.items()})
    return cells, added, removed


def linked_stock_cells(business_day: str, current: Mapping[str, frozenset[str]]) -> list[Cell]:
    """Members linked at exactly 2 brands and at 3 or more, per partner and coalition-wide."""
    totals: Counter[Key] = Counter()
    for brands in current.values():
        metric = "members_linked_2" if len(brands) == 2 else "members_linked_3plus"
        totals[(metric, COALITION, "", "")] += 1
        for brand in brands:
            totals[(metric, brand, "", "")] += 1
    return _cells(business_day, totals)


def day_activity(
    transfers: Iterable[TransferFact],
    tier_reports: Iterable[tuple[str, str]],
    grants: Iterable[GrantFact],
    linked: Mapping[str, frozenset[str]],
) -> set[tuple[str, str]]:
    """(cmid, partner) pairs active on the day: a transfer, tier report or status match
    involving that partner, by a member linked now at that partner and at least one other."""
    active: set[tuple[str, str]] = set()
    for fact in transfers:
        active.update({(fact.cmid, fact.source), (fact.cmid, fact.destination)})
    active.update(tier_reports)
    for grant in grants:
        active.update({(grant.cmid, grant.source), (grant.cmid, grant.target)})
    return {(cmid, p) for cmid, p in active if p in linked.get(cmid, frozenset())}


def active_cells(business_day: str, window_days: int, counts: Mapping[str, int]) -> list[Cell]:
    metric = f"active_members_{window_days}d"
    return _cells(business_day, {(metric, subject, "", ""): n for subject, n in counts.items()})


def cohort_cells(month: str, counts: Mapping[tuple[str, str], tuple[int, int]]) -> list[Cell]:
    """Size, retained and churned per cohort (stored on the cohort month's first day)."""
    cells: list[Cell] = []
    for (subject, cohort), (size, retained) in sorted(counts.items()):
        since = months_between(cohort, month)
        if since < 0:
            continue
        day, dimension = f"{cohort}-01", str(since)
        cells.append(Cell("cohort_size", day, subject, "", dimension, size))
        cells.append(Cell("retained_members", day, subject, "", dimension, retained))
        cells.append(Cell("churned_members", day, subject, "", dimension, size - retained))
    return cells


PERCENTILE_METRICS = {"time_to_credit_p50_ms": 50, "time_to_credit_p95_ms": 95}
HISTOGRAM_METRICS = {"week": "ttc_bucket_week", "month": "ttc_bucket_month"}


def merged_histograms(cells: Iterable[Cell], metric: str, business_day: str) -> list[Cell]:
    """The histogram cells of `cells`, summed and restamped as `metric` on `business_day`."""
    totals: Counter[Key] = Counter()
    for cell in cells:
        totals[(metric, cell.subject, cell.counterpart, cell.dimension)] += cell.value
    return _cells(business_day, totals)


def nearest_rank_bound(histogram: list[int], percentile: int) -> int:
    """The upper bound of the bucket holding the nearest rank: never optimistic."""
    rank = -(-percentile * sum(histogram) // 100)
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            bound: int = TIME_TO_CREDIT_BOUNDS_MS[index]
            return bound
    raise AssertionError("a rank within the total is always reached")


def percentile_cells(business_day: str, granularity: str, histogram: Iterable[Cell]) -> list[Cell]:
    """p50 and p95 per destination (counterpart "") and per pair (counterpart = source), for
    one bucket starting on `business_day`; `granularity` is the dimension."""
    by_key: defaultdict[tuple[str, str], list[int]] = defaultdict(
        lambda: [0] * len(TIME_TO_CREDIT_BOUNDS_MS)
    )
    for cell in histogram:
        source, destination, bucket = cell.subject, cell.counterpart, int(cell.dimension)
        by_key[(destination, source)][bucket] += cell.value
        by_key[(destination, "")][bucket] += cell.value
    return [
        Cell(metric, business_day, destination, source, granularity, nearest_rank_bound(h, p))
        for (destination, source), h in sorted(by_key.items())
        for metric, p in PERCENTILE_METRICS.items()
    ]
