"""Writes a coalition's records straight into the tables, for hand-computed measure fixtures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from exchange.adapters.sql.tables import (
    MemberRow,
    MemberTierRow,
    PartnerRow,
    PpidRow,
    QuoteRow,
    TierGrantRow,
    TierLadderRow,
    TierRow,
    TransferRow,
)
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.services.settlement import settle_day
from settlement.calendar import CoalitionCalendar

SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US
PARTNERS = ("skyway", "harbor", "orbit")
CALENDAR = CoalitionCalendar()  # UTC, midnight cut-off
TRANSFER_DEFAULTS: dict[str, object] = {
    "source_ppid": "pp_x",
    "destination_ppid": "pp_y",
    "bonus_points": 0,
    "currency": "USD",
    "fee_minor": 0,
    "agreement_id": "rt_1",
    "agreement_version": 1,
    "quote_id": None,
    "original_transfer_id": None,
    "reject_reason": "",
}


def noon_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()) * SECOND_US


class StepClock:
    def __init__(self, now_us: int) -> None:
        self.current_us = now_us

    def now_us(self) -> int:
        return self.current_us


@dataclass
class Records:
    engine: Engine
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def _next(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def _insert(self, table: type, rows: list[dict[str, object]]) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(insert(table), rows)

    def partners(self) -> None:
        self._insert(
            PartnerRow,
            [
                {
                    "partner_id": p,
                    "display_name": p,
                    "kind": "other",
                    "program_code": p.upper(),
                    "created_at_us": 0,
                }
                for p in PARTNERS
            ],
        )

    def member(self, brands: tuple[str, ...], at_us: int = 0) -> str:
        cmid = self._next("cm_")
        self._insert(MemberRow, [{"cmid": cmid, "created_at_us": at_us, "erased_at_us": None}])
        rows = [
            {"ppid": self._next("pp_"), "partner_id": b, "cmid": cmid, "created_at_us": at_us}
            for b in brands
        ]
        self._insert(PpidRow, rows)
        return cmid

    def ladder(self, partner: str, tiers: dict[str, int]) -> None:
        self._insert(
            TierLadderRow,
            [
                {
                    "partner_id": partner,
                    "version": 1,
                    "canonical_matching": True,
                    "published_at_us": 0,
                }
            ],
        )
        self._insert(
            TierRow,
            [
                {
                    "partner_id": partner,
                    "version": 1,
                    "code": code,
                    "display_name": code,
                    "rank": level,
                    "canonical_level": level,
                }
                for code, level in tiers.items()
            ],
        )

    def transfer(
        self,
        pair: tuple[str, str],
        cmid: str,
        points: tuple[int, int],
        amount: int,
        created_us: int,
        *,
        state: str = "completed",
        duration_s: int = 1,
        kind: str = "transfer",
        void_reason: str | None = None,
    ) -> str:
        transfer_id = self._next("tr_")
        resolved = created_us + duration_s * SECOND_US if state != "pending" else None
        business_day = (
            CALENDAR.business_day_of(resolved).isoformat()
            if state == "completed" and resolved is not None
            else None
        )
        row = {
            **TRANSFER_DEFAULTS,
            "transfer_id": transfer_id,
            "kind": kind,
            "state": state,
            "source_partner_id": pair[0],
            "destination_partner_id": pair[1],
            "cmid": cmid,
            "source_points": points[0],
            "destination_points": points[1],
            "settlement_amount_minor": amount,
            "created_at_us": created_us,
            "timeout_at_us": created_us + 900 * SECOND_US,
            "resolved_at_us": resolved,
            "void_reason": void_reason,
            "business_day": business_day,
        }
        self._insert(TransferRow, [row])
        return transfer_id

    def quote(self, pair: tuple[str, str], cmid: str, created_us: int, *, used: bool) -> None:
        self._insert(
            QuoteRow,
            [
                {
                    "quote_id": self._next("qt_"),
                    "source_partner_id": pair[0],
                    "destination_partner_id": pair[1],
                    "cmid": cmid,
                    "source_ppid": "pp_x",
                    "destination_ppid": "pp_y",
                    "agreement_id": "rt_1",
                    "agreement_version": 1,
                    "source_points": 1000,
                    "destination_points": 750,
                    "bonus_points": 0,
                    "currency": "USD",
                    "settlement_amount_minor": 300,
                    "fee_minor": 0,
                    "created_at_us": created_us,
                    "expires_at_us": created_us + 120 * SECOND_US,
                    "payload": b"",
                    "signature": b"\0" * 64,
                    "transfer_id": self._next("tr_") if used else None,
                }
            ],
        )

    def grant(self, pair: tuple[str, str], cmid: str, tier: str, at_us: int, days: int) -> None:
        self._insert(
            TierGrantRow,
            [
                {
                    "grant_id": self._next("tg_"),
                    "cmid": cmid,
                    "source_partner_id": pair[0],
                    "target_partner_id": pair[1],
                    "tier_code": tier,
                    "agreement_id": None,
                    "agreement_version": None,
                    "granted_at_us": at_us,
                    "expires_at_us": at_us + days * DAY_US,
                }
            ],
        )

    def tier_report(self, cmid: str, partner: str, at_us: int) -> None:
        self._insert(
            MemberTierRow,
            [{"cmid": cmid, "partner_id": partner, "sealed": b"x", "reported_at_us": at_us}],
        )

    def settle(self, day: date) -> None:
        """Settles the day as the running hub would, a little after its cut-off."""
        clock = StepClock(CALENDAR.cutoff_us(day) + 301 * SECOND_US)
        settle_day(SqlUnitOfWorkFactory(self.engine), CALENDAR, clock, day.isoformat())


def day_after(day: date, days: int = 1) -> date:
    return day + timedelta(days=days)
