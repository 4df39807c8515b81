"""How the KPI page names and writes measures: the metric menu, series titles and figures.

Figures are written from integers and exact decimals only: counts with thousands separators,
money (minor units of a currency) in the currency's units, ratios as the exact decimal the hub
returns.
"""

from __future__ import annotations

from decimal import Decimal

from exchange.console.listing import money
from exchange.domain.metrics import COALITION, METRICS, Kind, Metric, Scope
from settlement.model import HUB_PARTICIPANT

SUPPRESSED = "suppressed"
NO_FIGURE = "no figure"
MONEY_UNIT = "minor units of the currency"
SUPPRESSION_NOTE = (
    "A count of 1 to 10 members, or a sum that includes one, is withheld so that no "
    "partner can learn about a handful of members (docs/metrics.md). It is never shown as a number."
)

# The menu, grouped as docs/metrics.md groups the measures. A metric the hub adds later and
# this list does not name yet is offered under "Other".
GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Transfer volume", (
        ("transfer_count", "Transfers completed"),
        ("transfer_points_out", "Source points transferred"),
        ("transfer_points_in", "Destination points credited"),
        ("transfer_settlement_value", "Settlement value"),
        ("reversal_count", "Reversals completed"),
        ("coalition_total_value", "Coalition settlement value"),
    )),
    ("Quote conversion", (
        ("quotes_issued", "Quotes issued"),
        ("quotes_used", "Quotes used"),
        ("quote_conversion", "Quote conversion"),
    )),
    ("Time to credit, rejections and voids", (
        ("time_to_credit_p50_ms", "Time to credit, p50"),
        ("time_to_credit_p95_ms", "Time to credit, p95"),
        ("transfers_resolved", "Transfers resolved"),
        ("transfers_rejected", "Transfers rejected"),
        ("transfers_timed_out", "Transfers timed out"),
        ("rejection_rate", "Rejection rate"),
        ("void_rate", "Void rate"),
    )),
    ("Redemption cost", (("redemption_cost_ratio", "Redemption cost per point"),)),
    ("Links", (
        ("links_new", "New links"),
        ("members_linked_2", "Members linked at 2 brands"),
        ("members_linked_3plus", "Members linked at 3 brands or more"),
    )),
    ("Active members and retention", (
        ("active_members_30d", "Active linked members, 30 days"),
        ("active_members_90d", "Active linked members, 90 days"),
        ("active_members_365d", "Active linked members, 365 days"),
        ("cohort_size", "Cohort size"),
        ("retained_members", "Retained members"),
        ("churned_members", "Churned members"),
    )),
    ("Status match", (
        ("status_match_granted", "Status matches granted"),
        ("status_match_held_90d", "Status matches held after 90 days"),
    )),
    ("Settlement positions", (
        ("net_position", "Net position"),
        ("net_position_30d", "Net position, trailing 30 days"),
        ("net_position_90d", "Net position, trailing 90 days"),
    )),
)  # fmt: skip
LABELS = {name: label for _, entries in GROUPS for name, label in entries}


def label_of(metric: str) -> str:
    return LABELS.get(metric, metric)


def menu(is_operator: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group, [(metric, label)]) for the metric select; coalition-wide measures are the
    operator's only, so a partner user is not offered them."""

    def offered(name: str) -> bool:
        return name in METRICS and (is_operator or METRICS[name].scope is not Scope.COALITION)

    groups = [
        (group, [(name, label) for name, label in entries if offered(name)])
        for group, entries in GROUPS
    ]
    other = [(name, name) for name in sorted(METRICS) if name not in LABELS and offered(name)]
    if other:
        groups.append(("Other", other))
    return [(group, entries) for group, entries in groups if entries]


def figure(metric: Metric, dimension: str, value: int | Decimal) -> str:
    """One figure as the page writes it: 1,234 / 1,234.56 (USD minor units) / 0.333333."""
    if isinstance(value, int) and metric.unit == MONEY_UNIT and dimension:
        return money(value, dimension)
    return f"{value:,}"


def unit_of(metric: Metric, dimension: str) -> str:
    if metric.unit == MONEY_UNIT and dimension:
        return dimension
    return metric.unit


def party(partner: str) -> str:
    if partner == COALITION:
        return "the coalition (all partners)"
    return "hub (fees)" if partner == HUB_PARTICIPANT else partner


def series_title(metric: Metric, subject: str, counterpart: str, dimension: str) -> str:
    """What one series is about, in words: a pair, a destination, a partner, the coalition."""
    if metric.name == "links_new":  # an unordered pair, named alphabetically
        who = f"{subject} and {counterpart}"
    elif metric.scope is Scope.DESTINATION:
        who = f"{counterpart} → {subject}" if counterpart else f"credits at {subject}"
    elif counterpart:
        who = f"{subject} → {counterpart}"
    else:
        who = party(subject)
    detail = dimension_text(metric, dimension)
    return f"{who}, {detail}" if detail else who


def dimension_text(metric: Metric, dimension: str) -> str:
    if not dimension:
        return ""
    if metric.unit == MONEY_UNIT:
        return f"in {dimension}"
    if metric.kind is Kind.COHORT:
        return f"{dimension} months after joining"
    if metric.name.startswith("status_match"):
        return f"canonical level {dimension}"
    return dimension


KIND_TEXTS = {
    Kind.FLOW: "Each point is the sum of its days",
    Kind.STOCK: "Each point is the figure on the last folded day of its bucket",
    Kind.RATIO: "Each point is the numerator's sum divided by the denominator's, exact to 6 places",
    Kind.PERCENTILE: "Each point is the figure of its whole calendar day, ISO week or month",
    Kind.TREND: "Each point is the sum of the trailing window ending on its bucket's last day",
    Kind.COHORT: "one point per cohort month, one series per number of months since",
}


def kind_text(metric: Metric) -> str:
    return KIND_TEXTS.get(metric.kind, "")
