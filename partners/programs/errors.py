"""The refusals a reference program makes itself, before or instead of asking the hub."""

from __future__ import annotations


class ProgramError(Exception):
    """A refusal by the program itself, before or instead of asking the hub."""


class UnknownMember(ProgramError):
    pass


class MemberAlreadyEnrolled(ProgramError):
    pass


class UnknownTier(ProgramError):
    pass


class UnsupportedEvent(ProgramError):
    """A verified event of a kind this program cannot apply; the feed stops rather than lose it."""


class InsufficientPoints(ProgramError):
    """The member's balance here is below what they asked to move."""


class UnknownTransfer(ProgramError):
    """No outgoing transfer of this program has that id."""


class TransferNotReversible(ProgramError):
    """Only a completed outgoing transfer (not a reversal) can be reversed."""


class QuoteMismatch(ProgramError):
    """The hub's signed quote is not for what the program asked; nothing was debited."""
