"""Coalition measures: the catalog, periods, granularities and the rollup port (docs/metrics.md).

Standard library only. Figures are integers (counts, points, minor units) or exact
`Decimal` ratios; a float never touches a measure.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple, Protocol

from exchange.domain.errors import FieldChecks

# The CMS cell-size rule: a cell counting 1 to 10 members is never shown; 0 is.
MEMBER_CELL_MIN = 11
# Partner-reported programme figures are summarised only when this many partners reported.
PROGRAMME_REPORTERS_MIN = 3
SERIES_DAYS_MAX = 1_830
HELD_AFTER_DAYS = 90
ACTIVE_WINDOWS_DAYS = (30, 90, 365)
TREND_WINDOWS_DAYS = (30, 90)
COALITION = "*"
# Time-to-credit histogram: upper bounds in milliseconds, 12 per decade, 10 ms to 10 days.
_MANTISSAS = (10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90)
TIME_TO_CREDIT_BOUNDS_MS = tuple(m * 10**k for k in range(8) for m in _MANTISSAS)
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
PERIOD_PATTERN = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class Granularity(enum.Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Kind(enum.Enum):
    """How day cells combine into a bucket."""

    FLOW = "flow"  # summed over the bucket's days
    STOCK = "stock"  # the value on the bucket's last folded day
    RATIO = "ratio"  # numerator sum ÷ denominator sum
    PERCENTILE = "percentile"  # from merged histograms
    TREND = "trend"  # trailing sum ending on the bucket's last day
    COHORT = "cohort"  # one point per cohort month, one series per months-since


class Scope(enum.Enum):
    """Who the cells are about, hence who may see them."""

    PAIR = "pair"  # (source, destination): both parties and the operator
    DESTINATION = "destination"  # a destination, over the sources the viewer may see
    PARTNER = "partner"  # one partner: that partner and the operator
    COALITION = "coalition"  # the whole coalition: the operator only


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    kind: Kind
    scope: Scope
    # The stored day cells it reads: one for flows and stocks, (numerator, denominator) for
    # ratios, the histogram for percentiles.
    stored: tuple[str, ...]
    counts_members: bool = False
    percentile: int = 0
    window_days: int = 0


def _m(name: str, unit: str, kind: Kind, scope: Scope, *stored: str, **extra: int) -> Metric:
    members = bool(extra.pop("members", 0))
    return Metric(name, unit, kind, scope, stored or (name,), members, **extra)


_P, _D, _N, _C = Scope.PAIR, Scope.DESTINATION, Scope.PARTNER, Scope.COALITION
_F, _S, _R = Kind.FLOW, Kind.STOCK, Kind.RATIO
_COHORT = ("cohort_size", "retained_members", "churned_members")
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        _m("transfer_count", "transfers", _F, _P),
        _m("transfer_points_out", "source points", _F, _P),
        _m("transfer_points_in", "destination points", _F, _P),
        _m("transfer_settlement_value", "minor units of the currency", _F, _P),
        _m("reversal_count", "reversals", _F, _P),
        _m("coalition_total_value", "minor units of the currency", _F, _C),
        _m("quotes_issued", "quotes", _F, _P),
        _m("quotes_used", "quotes", _F, _P),
        _m("quote_conversion", "used ÷ issued", _R, _P, "quotes_used", "quotes_issued"),
        _m("time_to_credit_p50_ms", "ms", Kind.PERCENTILE, _D, percentile=50),
        _m("time_to_credit_p95_ms", "ms", Kind.PERCENTILE, _D, percentile=95),
        _m("transfers_resolved", "transfers", _F, _P),
        _m("transfers_rejected", "transfers", _F, _P),
        _m("transfers_timed_out", "transfers", _F, _P),
        _m(
            "rejection_rate",
            "rejected ÷ resolved",
            _R,
            _D,
            "transfers_rejected",
            "transfers_resolved",
        ),
        _m(
            "void_rate", "timed out ÷ resolved", _R, _D, "transfers_timed_out", "transfers_resolved"
        ),
        _m(
            "redemption_cost_ratio",
            "minor units per destination point",
            _R,
            _P,
            "transfer_settlement_value",
            "transfer_points_in",
        ),
        _m("links_new", "members", _F, _P, members=1),
        _m("members_linked_2", "members", _S, _N, members=1),
        _m("members_linked_3plus", "members", _S, _N, members=1),
        _m("active_members_30d", "members", _S, _N, members=1),
        _m("active_members_90d", "members", _S, _N, members=1),
        _m("active_members_365d", "members", _S, _N, members=1),
        # A cohort figure reads all three: its release depends on the other two.
        _m("cohort_size", "members", Kind.COHORT, _N, *_COHORT, members=1),
        _m("retained_members", "members", Kind.COHORT, _N, *_COHORT, members=1),
        _m("churned_members", "members", Kind.COHORT, _N, *_COHORT, members=1),
        _m("status_match_granted", "members", _F, _P, members=1),
        _m("status_match_held_90d", "members", _F, _P, members=1),
        _m("net_position", "minor units of the currency", _F, _N),
        _m(
            "net_position_30d",
            "minor units of the currency",
            Kind.TREND,
            _N,
            "net_position",
            window_days=30,
        ),
        _m(
            "net_position_90d",
            "minor units of the currency",
            Kind.TREND,
            _N,
            "net_position",
            window_days=90,
        ),
    )
}
STORED_MEMBER_METRICS = frozenset(
    stored for m in METRICS.values() if m.counts_members for stored in m.stored
)
# Sums the release rules know about: (total, parts). A total is shown only when every part is.
COHORT_PARTS = ("retained_members", "churned_members")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    granularity: Granularity


def parse_period(metric: str, start: str, end: str, granularity: str) -> Period:
    """Checks every field at once; INVALID_ARGUMENT names each bad one."""
    checks = FieldChecks()
    checks.require(metric in METRICS, "metric", "is not a known metric (docs/metrics.md)")
    first, last = _day(start, "start_date", checks), _day(end, "end_date", checks)
    known = {g.value: g for g in Granularity}
    checks.require(granularity in known, "granularity", "must be day, week or month")
    if first is not None and last is not None:
        checks.require(first <= last, "end_date", "must not be before start_date")
        checks.require(
            (last - first).days < SERIES_DAYS_MAX,
            "end_date",
            f"a series spans at most {SERIES_DAYS_MAX} days",
        )
    cohort = metric in METRICS and METRICS[metric].kind is Kind.COHORT
    if cohort and granularity in known:
        checks.require(granularity == "month", "granularity", "cohort metrics are monthly")
    checks.raise_if_any()
    assert first is not None and last is not None
    return Period(first, last, known[granularity])


def _day(text: str, field: str, checks: FieldChecks) -> date | None:
    if not DAY_PATTERN.fullmatch(text):
        checks.require(False, field, "must be a date written YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        checks.require(False, field, "is not a calendar date")
        return None


def bucket_start(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day


def days(start: date, end: date) -> Iterable[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def month_of(day: str) -> str:
    return day[:7]


def months_between(first_month: str, later_month: str) -> int:
    year_a, month_a = int(first_month[:4]), int(first_month[5:7])
    year_b, month_b = int(later_month[:4]), int(later_month[5:7])
    return (year_b - year_a) * 12 + month_b - month_a


def time_to_credit_bucket(duration_us: int) -> int:
    """The histogram bucket of a duration: the first bound at or above it, in ms."""
    milliseconds = -(-max(duration_us, 0) // 1000)  # rounded up: a bound is never optimistic
    for index, bound in enumerate(TIME_TO_CREDIT_BOUNDS_MS):
        if milliseconds <= bound:
            return index
    return len(TIME_TO_CREDIT_BOUNDS_MS) - 1


class Cell(NamedTuple):
    """One stored day figure, a named tuple because a series reads thousands of them.

    `subject` is a partner, or COALITION; `counterpart` the other partner of a pair ("" for
    one-partner cells); `dimension` a currency, canonical level, histogram bucket or
    months-since ("" when none)."""

    metric: str
    business_day: str
    subject: str
    counterpart: str
    dimension: str
    value: int


@dataclass(frozen=True)
class TransferFact:
    """A completed transfer record of the day being folded."""

    kind: str
    source: str
    destination: str
    cmid: str
    source_points: int
    destination_points: int
    currency: str
    amount_minor: int
    duration_us: int


@dataclass(frozen=True)
class OutcomeFact:
    source: str
    destination: str
    state: str
    void_reason: str | None


@dataclass(frozen=True)
class GrantFact:
    source: str
    target: str
    cmid: str
    canonical_level: int


@dataclass(frozen=True)
class ProgrammeReport:
    partner_id: str
    period: str  # YYYY-MM
    points_issued: int
    points_redeemed: int
    points_expired: int
    active_members: int
    reported_at_us: int


Window = tuple[int, int]  # [start, end) in Unix microseconds


class MetricsRepository(Protocol):
    """The rollup store and the few reads of the day's records that fill it."""

    def completed_transfers(self, business_day: str) -> list[TransferFact]: ...

    def resolutions(self, window: Window) -> list[OutcomeFact]: ...

    def quotes(self, window: Window) -> list[tuple[str, str, bool]]:
        """(source, destination, used) of the quotes issued in the window."""

    def grants(self, window: Window, held_at_us: int | None = None) -> list[GrantFact]:
        """Grants made in the window; with `held_at_us`, only those still held then."""

    def tier_reports(self, window: Window) -> list[tuple[str, str]]:
        """(cmid, partner) of the tier reports whose latest report fell in the window."""

    def net_positions(self, business_day: str) -> list[tuple[str, str, int]]:
        """(participant, currency, net minor units) of the settled day."""

    def linked_brands(self) -> dict[str, frozenset[str]]:
        """The brands of every member now linked at two or more."""

    def link_snapshot(self) -> dict[str, dict[str, str]]:
        """cmid → partner → day first seen linked, as of the last fold."""

    def save_link_snapshot(
        self, added: Sequence[tuple[str, str, str]], removed: Sequence[tuple[str, str]]
    ) -> None: ...

    def record_activity(self, active: Iterable[tuple[str, str]], business_day: str) -> None:
        """Marks (cmid, partner) active on the day (and so in its month)."""

    def active_counts(self, since_day: str) -> dict[str, int]:
        """Distinct active members per partner, and COALITION, since a day."""

    def cohort_counts(self, month: str) -> dict[tuple[str, str], tuple[int, int]]:
        """(partner or COALITION, cohort month) → (cohort size, members active in `month`)."""

    def replace_cells(
        self,
        business_day: str,
        metrics: Iterable[str],
        cells: Iterable[Cell],
        dimension: str | None = None,
    ) -> None:
        """Replaces the day's cells of those metrics (of one dimension, if given): a fold run
        twice stores the same."""

    def cells(
        self, metrics: Sequence[str], first_day: str, last_day: str, party: str | None = None
    ) -> list[Cell]:
        """The cells of those metrics and days; with `party`, only cells it is subject or
        counterpart of."""

    def folded_days(self, first_day: str, last_day: str) -> list[str]: ...

    def mark_folded(self, business_day: str, at_us: int) -> None: ...

    def save_report(self, report: ProgrammeReport) -> None:
        """Stores a partner's figures for a period, replacing its earlier report of it."""

    def reports(self, period: str) -> list[ProgrammeReport]: ...
