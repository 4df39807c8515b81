"""The state machine: random steps on the fakes, invariants checked after every one."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.events import (
    CreditRequested,
    DebitRequested,
    TransferCompleted,
    TransferVoided,
)
from exchange.domain.rates import RateTerms
from exchange.domain.tiers import DAY_US
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState
from exchange.services import transfers
from exchange.services.transfer_engine import TransferRequest
from tests.unit.in_memory_hub import (
    HARBOR,
    SKYWAY,
    TRANSFER_SETTINGS,
    InMemoryHub,
    seal_quote,
)
from tests.unit.transfer_state_machine.support import (
    LIMIT_REFUSALS,
    OTHER,
    START_POINTS,
    Expected,
    coalition_terms,
    off_increment,
    sources,
    steps,
)


class TransferMachine(RuleBasedStateMachine):
    quotes = Bundle("quotes")
    transfer_ids = Bundle("transfer_ids")

    def __init__(self) -> None:
        super().__init__()
        self.hub = InMemoryHub()
        self.hub.add_partners(SKYWAY, HARBOR)
        skyway_ppid, harbor_ppid = self.hub.linked_member(SKYWAY, HARBOR)
        self.ppids = {SKYWAY: skyway_ppid, HARBOR: harbor_ppid}
        self.points = dict(START_POINTS)
        self.bonus = {SKYWAY: 0, HARBOR: 0}
        self.expected: dict[str, Expected] = {}
        self.used_quote_ids: set[str] = set()
        self.terms: dict[str, RateTerms] = {}

    @initialize(by_source=coalition_terms())
    def agree(self, by_source: dict[str, RateTerms]) -> None:
        self.terms = by_source
        for source, rate_terms in by_source.items():
            self.hub.agree_rate(source, OTHER[source], rate_terms)

    # --- helpers -------------------------------------------------------------------------------

    def now_us(self) -> int:
        return self.hub.clock.now_us()

    def used_today(self, source: str) -> int:
        day_start_us = self.now_us() - self.now_us() % DAY_US
        return sum(
            e.transfer.source_points
            for e in self.expected.values()
            if e.transfer.kind is TransferKind.TRANSFER
            and e.transfer.source_partner_id == source
            and e.state is not TransferState.VOIDED
            and e.transfer.created_at_us >= day_start_us
        )

    def within_terms(self, source: str, points: int) -> bool:
        rate = self.terms[source]
        return (
            rate.minimum_source_points <= points <= rate.maximum_source_points
            and points % rate.increment_source_points == 0
        )

    def value(self, points: dict[str, int]) -> Fraction:
        """Points at both brands in skyway points, a harbor point valued at the skyway → harbor
        rate: no transfer under rates that multiply to at most 1 can raise it, bar bonuses."""
        rate = self.terms[SKYWAY]
        return points[SKYWAY] + Fraction(points[HARBOR] * rate.source_units, rate.destination_units)

    def last_event(self, partner_id: str) -> object:
        return self.hub.feed(partner_id)[-1]

    def transfer_count(self) -> int:
        return len(
            self.hub.read(lambda uow: uow.transfers.list_for(SKYWAY, None, (None, None), None, 500))
        )

    # --- quotes and transfers ------------------------------------------------------------------

    def create_quote(self, source: str, points: int) -> Quote | None:
        """A quote, or None if refused: refused exactly when the terms or the cap say so."""
        request = TransferRequest(
            caller=source,
            ppid=self.ppids[source],
            destination_partner_id=OTHER[source],
            source_points=points,
        )
        cap = self.terms[source].member_daily_cap_source_points
        try:
            quote = self.hub.commit(
                lambda uow: transfers.create_quote(
                    uow, self.hub.clock, TRANSFER_SETTINGS, seal_quote, request
                )
            )
        except DomainError as refusal:
            if not self.within_terms(source, points):
                assert refusal.code in LIMIT_REFUSALS
            else:
                assert refusal.code is ErrorCode.DAILY_CAP_EXCEEDED
                assert self.used_today(source) + points > cap
            return None
        assert self.within_terms(source, points)
        assert self.used_today(source) + points <= cap
        assert quote.source_points == points
        return quote

    def create_transfer(self, quote: Quote) -> Transfer | None:
        """Takes up a quote the way the source partner would: only if the member has the points."""
        source = quote.source_partner_id
        used = quote.quote_id in self.used_quote_ids
        if not used and self.points[source] < quote.source_points:
            return None  # the source program refuses: the member lacks the points
        try:
            transfer = self.hub.start_transfer(source, quote.quote_id)
        except DomainError as refusal:
            # A retry with a used quote never starts a second transfer (invariant 4).
            if used:
                assert refusal.code is ErrorCode.QUOTE_ALREADY_USED
            elif quote.expires_at_us <= self.now_us():
                assert refusal.code is ErrorCode.QUOTE_EXPIRED
            else:
                assert refusal.code is ErrorCode.DAILY_CAP_EXCEEDED
                cap = self.terms[source].member_daily_cap_source_points
                assert self.used_today(source) + quote.source_points > cap
            return None
        assert not used and quote.expires_at_us > self.now_us()
        self.used_quote_ids.add(quote.quote_id)
        self.points[source] -= transfer.source_points  # the source debits its member first
        self.expected[transfer.transfer_id] = Expected(transfer)
        destination = transfer.destination_partner_id
        assert self.last_event(destination) == CreditRequested(
            transfer.transfer_id,
            self.ppids[destination],
            transfer.destination_points,
            transfer.bonus_points,
            transfer.timeout_at_us,
        )
        return transfer

    @rule(target=quotes, source=sources, steps=steps, off_increment=off_increment)
    def quote(self, source: str, steps: int, off_increment: int) -> object:
        points = steps * self.terms[source].increment_source_points + off_increment
        quote = self.create_quote(source, points)
        return multiple(quote) if quote is not None else multiple()

    @rule(target=transfer_ids, quote=quotes)
    def take_up_quote(self, quote: Quote) -> object:
        """Sometimes late (expired), sometimes a retry of a quote already used."""
        transfers_before = len(self.expected)
        transfer = self.create_transfer(quote)
        if transfer is None:
            assert self.transfer_count() == transfers_before
            return multiple()
        return multiple(transfer.transfer_id)

    @rule(target=transfer_ids, source=sources, steps=steps)
    def quote_and_transfer(self, source: str, steps: int) -> object:
        """The usual flow: a quote, taken up at once."""
        quote = self.create_quote(source, steps * self.terms[source].increment_source_points)
        transfer = self.create_transfer(quote) if quote is not None else None
        return multiple(transfer.transfer_id) if transfer is not None else multiple()

    # --- resolutions ---------------------------------------------------------------------------

    def settle_completion(self, transfer: Transfer) -> None:
        source, destination = transfer.source_partner_id, transfer.destination_partner_id
        if transfer.kind is TransferKind.TRANSFER:
            self.points[destination] += transfer.destination_points
            self.bonus[destination] += transfer.bonus_points
            return
        # A reversal: the destination debits its member back, the source credits them.
        original = self.expected[transfer.original_transfer_id or ""].transfer
        self.points[destination] -= transfer.destination_points
        self.points[source] += transfer.source_points
        self.bonus[destination] -= original.bonus_points

    def settle_void(self, transfer: Transfer) -> None:
        if transfer.kind is TransferKind.TRANSFER:
            self.points[transfer.source_partner_id] += transfer.source_points  # the refund

    def overdue(self, expected: Expected) -> bool:
        return (
            expected.state is TransferState.PENDING
            and expected.transfer.timeout_at_us <= self.now_us()
        )

    def void_overdue(self, expected: Expected, refusal: DomainError) -> None:
        """A late answer voids the transfer itself, whatever the sweeper has reached."""
        assert refusal.code is ErrorCode.TRANSFER_TIMED_OUT
        expected.state = TransferState.VOIDED
        self.settle_void(expected.transfer)
        voided = self.hub.transfer(expected.transfer.transfer_id)
        assert self.last_event(expected.transfer.source_partner_id) == TransferVoided(voided)

    @rule(transfer_id=transfer_ids)
    def confirm(self, transfer_id: str) -> None:
        expected = self.expected[transfer_id]
        transfer = expected.transfer
        destination = transfer.destination_partner_id
        if (
            expected.state is TransferState.PENDING
            and transfer.kind is TransferKind.REVERSAL
            and self.points[destination] < transfer.destination_points
        ):
            return  # the destination cannot debit points the member no longer holds
        feed_length = len(self.hub.feed(transfer.source_partner_id))
        try:
            done = self.hub.attempt(
                lambda uow: transfers.confirm_credit(uow, self.hub.clock, destination, transfer_id)
            )
        except DomainError as refusal:
            if self.overdue(expected):
                self.void_overdue(expected, refusal)
                return
            assert refusal.code is ErrorCode.TRANSFER_NOT_PENDING
            assert expected.state is TransferState.VOIDED
            return
        assert done.state is TransferState.COMPLETED
        if expected.state is TransferState.COMPLETED:
            assert len(self.hub.feed(transfer.source_partner_id)) == feed_length  # a no-op
            return
        assert not self.overdue(expected)
        expected.state = TransferState.COMPLETED
        self.settle_completion(transfer)
        assert self.last_event(transfer.source_partner_id) == TransferCompleted(done)

    @rule(transfer_id=transfer_ids)
    def reject(self, transfer_id: str) -> None:
        expected = self.expected[transfer_id]
        transfer = expected.transfer
        was_pending = expected.state is TransferState.PENDING
        try:
            voided = self.hub.attempt(
                lambda uow: transfers.reject_credit(
                    uow, self.hub.clock, transfer.destination_partner_id, transfer_id, "closed"
                )
            )
        except DomainError as refusal:
            if self.overdue(expected):
                self.void_overdue(expected, refusal)
                return
            assert refusal.code is ErrorCode.TRANSFER_NOT_PENDING
            assert not was_pending
            return
        assert voided.state is TransferState.VOIDED
        if was_pending:
            assert not self.overdue(expected)
            expected.state = TransferState.VOIDED
            self.settle_void(transfer)
            assert self.last_event(transfer.source_partner_id) == TransferVoided(voided)

    def anything_pending(self) -> bool:
        return any(e.state is TransferState.PENDING for e in self.expected.values())

    @precondition(anything_pending)
    @rule(
        seconds=st.integers(min_value=1, max_value=2 * TRANSFER_SETTINGS.timeout_s),
        sweep=st.sampled_from([True, True, False]),
    )
    def time_passes(self, seconds: int, sweep: bool) -> None:
        """Time passes, and the timeout sweeper runs (or lags behind)."""
        self.hub.clock.advance_s(seconds)
        if not sweep:
            return
        due = [e for e in self.expected.values() if self.overdue(e)]

        voided = self.hub.sweep()

        assert voided == len(due)
        for expected in due:
            expected.state = TransferState.VOIDED
            self.settle_void(expected.transfer)

    @rule(target=transfer_ids, transfer_id=transfer_ids, by_source=st.booleans())
    def reverse(self, transfer_id: str, by_source: bool) -> object:
        original = self.expected[transfer_id]
        parties = (original.transfer.source_partner_id, original.transfer.destination_partner_id)
        caller = parties[0] if by_source else parties[1]
        live = [
            e
            for e in self.expected.values()
            if e.transfer.original_transfer_id == transfer_id
            and e.state is not TransferState.VOIDED
        ]
        try:
            reversal = self.hub.commit(
                lambda uow: transfers.create_reversal(
                    uow, self.hub.clock, TRANSFER_SETTINGS, caller, transfer_id
                )
            )
        except DomainError as refusal:
            if not by_source:
                # Two parties consent to a reversal: the destination never asks for one.
                assert refusal.code is ErrorCode.NOT_A_PARTY
            elif original.transfer.kind is TransferKind.REVERSAL or (
                original.state is not TransferState.COMPLETED
            ):
                assert refusal.code is ErrorCode.TRANSFER_NOT_COMPLETED
            else:
                assert refusal.code is ErrorCode.ALREADY_REVERSED
                assert live
            return multiple()
        assert by_source, "only the source may request a reversal"
        assert original.transfer.kind is TransferKind.TRANSFER
        assert original.state is TransferState.COMPLETED and not live
        self.expected[reversal.transfer_id] = Expected(reversal)
        destination = reversal.destination_partner_id
        assert self.last_event(destination) == DebitRequested(
            reversal.transfer_id,
            transfer_id,
            self.ppids[destination],
            reversal.destination_points,
            reversal.timeout_at_us,
        )
        return multiple(reversal.transfer_id)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def ledger_checks_clean(self) -> None:
        assert self.hub.ledger_problems() == []

    @invariant()
    def each_transfer_is_as_expected_and_resolved_at_most_once(self) -> None:
        resolutions: Counter[str] = Counter()
        for partner_id in (SKYWAY, HARBOR):
            for event in self.hub.feed(partner_id):
                if isinstance(event, TransferCompleted | TransferVoided):
                    resolutions[event.transfer.transfer_id] += 1
        for transfer_id, expected in self.expected.items():
            assert self.hub.transfer(transfer_id).state is expected.state
            resolved = expected.state is not TransferState.PENDING
            assert resolutions[transfer_id] == int(resolved)
        assert set(resolutions) <= set(self.expected)

    @invariant()
    def the_member_never_gains_value_from_rounding(self) -> None:
        if not self.terms:
            return
        assert min(self.points.values()) >= 0
        assert self.value(self.points) <= self.value(START_POINTS) + self.value(self.bonus)


TransferMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_transfer_state_machine = TransferMachine.TestCase
