"""The bilateral agreement, whatever it governs (exchange rates, tier recognition): one home
for its states, its versions and the rule for accepting one (DESIGN §3.4, §3.5).

Either party proposes a version; versions are numbered 1, 2, ... per pair and never change; only
the counterparty accepts, only a proposal, and only the newest version: a version that a newer
proposal replaced is stale. A partner that is not a party learns nothing, not even that the
agreement exists.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from exchange.domain.errors import DomainError, ErrorCode, invalid


class AgreementState(enum.Enum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


def check_version(version: int) -> None:
    """A version names one proposal: 1 or more."""
    if version < 1:
        raise invalid("version", "must be a proposed version, 1 or more")


def next_version(versions: Sequence[Versioned]) -> int:
    """The number of a new proposal for a pair whose versions so far are `versions` (in order)."""
    return versions[-1].version + 1 if versions else 1


class Bilateral(Versioned, Protocol):
    """What every bilateral agreement version says about itself."""

    @property
    def parties(self) -> tuple[str, str]: ...

    @property
    def state(self) -> AgreementState: ...

    @property
    def proposed_by(self) -> str: ...


def check_acceptance(
    agreement: Bilateral, caller: str, versions: Sequence[Versioned], not_found: ErrorCode
) -> None:
    """ensure_acceptable for one stored version, given every version of its pair in order."""
    acceptance = Acceptance(
        caller,
        agreement.parties,
        agreement.state,
        agreement.proposed_by,
        agreement.version,
        versions[-1].version,
    )
    ensure_acceptable(acceptance, not_found)


@dataclass(frozen=True)
class Acceptance:
    """What accepting one version is checked against."""

    caller: str
    parties: tuple[str, str]
    state: AgreementState
    proposed_by: str
    version: int
    newest_version: int


def ensure_acceptable(acceptance: Acceptance, not_found: ErrorCode) -> None:
    """Only a party sees the version, only a proposal can be accepted, only by the counterparty,
    and only while no newer version was proposed."""
    if acceptance.caller not in acceptance.parties:
        raise DomainError(not_found, "no such agreement version")
    if acceptance.state is not AgreementState.PROPOSED:
        raise DomainError(ErrorCode.AGREEMENT_NOT_PROPOSED, "this version is already accepted")
    if acceptance.proposed_by == acceptance.caller:
        raise DomainError(
            ErrorCode.CANNOT_ACCEPT_OWN_PROPOSAL, "the counterparty must accept a proposal"
        )
    if acceptance.version != acceptance.newest_version:
        raise DomainError(ErrorCode.AGREEMENT_VERSION_STALE, "a newer version was proposed")
