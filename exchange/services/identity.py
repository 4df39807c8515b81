"""Handlers for enrolment, link codes, links, unlinking and erasure (DESIGN §3.2)."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.events import MemberErased, MemberUnlinked
from exchange.domain.members import (
    LinkCode,
    MemberId,
    check_ppid,
    check_redeemable,
    display_link_code,
    link_code_digest,
    member_not_found,
    new_cmid,
    new_link_code,
    new_ppid,
    normalize_link_code,
)
from exchange.domain.partners import PARTNER_ID_PATTERN
from exchange.domain.ports import Clock, UnitOfWork


def own_member(uow: UnitOfWork, partner_id: str, ppid: str, field: str = "ppid") -> MemberId:
    """The caller's own ppid; an unknown ppid and another partner's ppid look the same."""
    member = uow.members.get_ppid(partner_id, check_ppid(ppid, field))
    if member is None:
        raise member_not_found()
    return member


def _new_member(uow: UnitOfWork, at_us: int) -> str:
    cmid = new_cmid()
    uow.members.add_member(cmid, at_us)
    uow.vault.create_key(cmid)
    return cmid


def enroll_member(uow: UnitOfWork, clock: Clock, partner_id: str) -> str:
    now_us = clock.now_us()
    member = MemberId(new_ppid(), partner_id, _new_member(uow, now_us))
    uow.members.add_ppid(member, now_us)
    return member.ppid


@dataclass(frozen=True)
class IssuedLinkCode:
    code: str
    expires_at_us: int


def create_link_code(uow: UnitOfWork, clock: Clock, partner_id: str, ppid: str) -> IssuedLinkCode:
    member = own_member(uow, partner_id, ppid)
    now_us = clock.now_us()
    code = new_link_code()
    expires_at_us = now_us + limits.LINK_CODE_TTL_S * 1_000_000
    record = LinkCode(link_code_digest(code), partner_id, member.ppid, expires_at_us, None)
    uow.members.add_link_code(record, now_us)
    return IssuedLinkCode(display_link_code(code), expires_at_us)


def _check_throttle(uow: UnitOfWork, partner_id: str, now_us: int) -> None:
    # One redemption per partner at a time: without the lock, concurrent wrong guesses all
    # count the same committed failures and all get looked up, past the limit.
    uow.partners.lock(partner_id)
    since_us = now_us - limits.LINK_CODE_FAILURE_WINDOW_S * 1_000_000
    if uow.members.link_failures_since(partner_id, since_us) >= limits.LINK_CODE_FAILURES_MAX:
        raise DomainError(
            ErrorCode.LINK_CODE_THROTTLED,
            f"too many failed link codes; try again within {limits.LINK_CODE_FAILURE_WINDOW_S} s",
        )


def _redeemable_code(uow: UnitOfWork, partner_id: str, text: str, now_us: int) -> LinkCode:
    digest = link_code_digest(normalize_link_code(text))
    try:
        return check_redeemable(uow.members.get_link_code(digest), now_us)
    except DomainError as refusal:
        # The failure itself is kept (it feeds the throttle); nothing else was written.
        uow.members.record_link_failure(partner_id, now_us)
        raise DomainError(refusal.code, refusal.message, keep_writes=True) from None


def redeem_link_code(
    uow: UnitOfWork, clock: Clock, partner_id: str, text: str, ppid: str
) -> list[str]:
    now_us = clock.now_us()
    _check_throttle(uow, partner_id, now_us)
    redeemer = own_member(uow, partner_id, ppid)
    code = _redeemable_code(uow, partner_id, text, now_us)
    if code.partner_id == partner_id:
        raise DomainError(ErrorCode.LINK_TO_SAME_PARTNER, "a link code joins two partners")
    if len(uow.members.ppids_of(redeemer.cmid)) > 1:
        raise DomainError(
            ErrorCode.ALREADY_LINKED, "this member is linked already; unlink it first"
        )
    issuer = uow.members.get_ppid(code.partner_id, code.ppid)
    assert issuer is not None, "a live link code always names a live ppid"
    # Redemptions of one code queue on the issuing member; the code is then read afresh, so
    # only the first of two concurrent redemptions finds it unused.
    uow.members.lock_member(issuer.cmid)
    code = _redeemable_code(uow, partner_id, text, now_us)
    linked = uow.members.ppids_of(issuer.cmid)
    if any(m.partner_id == partner_id for m in linked):
        raise DomainError(
            ErrorCode.PARTNER_ALREADY_LINKED, "the member is linked to another account here"
        )
    uow.members.mark_link_code_redeemed(code.code_sha256, now_us)
    _move_to(uow, redeemer, issuer.cmid, now_us)
    uow.members.delete_member(redeemer.cmid)
    return sorted([m.partner_id for m in linked] + [partner_id])


def _move_to(uow: UnitOfWork, member: MemberId, cmid: str, now_us: int) -> None:
    """Moves a ppid to another member, re-sealing its tier report under that member's key."""
    sealed = uow.tiers.member_tier(member.cmid, member.partner_id)
    plaintext = uow.vault.open(member.cmid, sealed) if sealed is not None else None
    uow.tiers.delete_member_tiers(member.cmid, member.partner_id)
    uow.members.move_ppid(member, cmid)
    if plaintext is not None:
        uow.tiers.save_member_tier(cmid, member.partner_id, uow.vault.seal(cmid, plaintext), now_us)
    if not uow.members.ppids_of(member.cmid):
        # The emptied member merges into `cmid`: its history follows (grant intervals and
        # daily caps stay true, and erasure later reaches all of it).
        uow.tiers.move_grants(member.cmid, cmid)
        uow.transfers.move_member(member.cmid, cmid)
        uow.vault.destroy_key(member.cmid)


def list_links(uow: UnitOfWork, partner_id: str, ppid: str) -> list[str]:
    member = own_member(uow, partner_id, ppid)
    return [m.partner_id for m in uow.members.ppids_of(member.cmid) if m.partner_id != partner_id]


def unlink(
    uow: UnitOfWork, clock: Clock, partner_id: str, ppid: str, target_partner_id: str
) -> list[str]:
    """Detaches one partner's ppid into a member of its own, telling that partner."""
    member = own_member(uow, partner_id, ppid)
    target_partner_id = target_partner_id or partner_id
    if not PARTNER_ID_PATTERN.fullmatch(target_partner_id):
        raise invalid("partner_id", "is not a partner id")
    linked = uow.members.ppids_of(member.cmid)
    target = next((m for m in linked if m.partner_id == target_partner_id), None)
    if target is None or len(linked) < 2:
        raise DomainError(ErrorCode.NOT_LINKED, "the member is not linked at that partner")
    now_us = clock.now_us()
    _move_to(uow, target, _new_member(uow, now_us), now_us)
    if target.partner_id != partner_id:
        uow.events.append(target.partner_id, MemberUnlinked(target.ppid))
    return list_links(uow, partner_id, ppid)


def erase_member(uow: UnitOfWork, clock: Clock, partner_id: str, ppid: str) -> int:
    """Forgets the member everywhere: links, tiers and grants go, the data key is destroyed."""
    member = own_member(uow, partner_id, ppid)
    linked = uow.members.ppids_of(member.cmid)
    for each in linked:
        uow.events.append(each.partner_id, MemberErased(each.ppid))
        uow.members.delete_ppid(each)
    uow.tiers.delete_member_tiers(member.cmid)
    uow.tiers.delete_grants(member.cmid)
    uow.transfers.scrub_member(member.cmid)
    uow.vault.destroy_key(member.cmid)
    uow.members.erase_member(member.cmid, clock.now_us())
    return len(linked)
