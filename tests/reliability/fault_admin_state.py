"""What the hub holds after the administration stages, against what its clients were told.

Each check names what differs: a version no client was told of (a call that ran twice), a
told one missing (an answer the hub did not keep), or a state unlike the answer. Nothing
here asserts; the test judges the differences.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from exchange.adapters.sql.metrics_tables import ProgrammeReportRow
from exchange.adapters.sql.tables import (
    DisputeRow,
    PartnerKeyRow,
    PpidRow,
    RateAgreementRow,
    RecognitionAgreementRow,
    ReconciliationRow,
    TierGrantRow,
    TierLadderRow,
)
from tests.reliability.fault_admin_calls import AdminOutcome

ACCEPTED = "accepted"
# The two directions the run agrees before any fault: version 1 of each, accepted.
AGREED_BEFORE_VERSION = 1


def differences(engine: Engine, told: AdminOutcome) -> dict[str, list[Any]]:
    """Check name -> what differs (empty when the hub holds what its clients were told)."""
    with engine.connect() as connection:
        return {
            "tier ladder versions": _ladders(connection, told),
            "recognition agreement versions": _recognitions(connection, told),
            "rate agreement versions": _rates(connection, told),
            "partner keys": _keys(connection, told),
            "tier grants": _symmetric(_all(connection, TierGrantRow.grant_id), told.grants),
            "programme reports": _symmetric(_reports(connection), told.programme_reports),
            "reconciliations": _symmetric(
                _all(connection, ReconciliationRow.reconciliation_id), told.reconciliations
            ),
            "disputes": _disputes(connection, told),
            "members": _members(connection, told),
        }


def _all(connection: Connection, column: Any) -> set[Any]:
    return set(connection.scalars(select(column)))


def _symmetric(at_hub: set[Any], told: set[Any]) -> list[Any]:
    found: list[Any] = []
    if at_hub - told:
        found.append(("at the hub only", sorted(at_hub - told)))
    if told - at_hub:
        found.append(("told only", sorted(told - at_hub)))
    return found


def _reports(connection: Connection) -> set[tuple[str, str]]:
    query = select(ProgrammeReportRow.partner_id, ProgrammeReportRow.period)
    return {(partner_id, period) for partner_id, period in connection.execute(query)}


def _ladders(connection: Connection, told: AdminOutcome) -> list[Any]:
    rows = connection.execute(select(TierLadderRow.partner_id, TierLadderRow.version))
    at_hub: dict[str, list[int]] = {}
    for partner_id, version in rows:
        at_hub.setdefault(partner_id, []).append(version)
    partners = set(at_hub) | set(told.ladder_versions)
    return [
        (p, sorted(at_hub.get(p, [])), sorted(told.ladder_versions.get(p, [])))
        for p in sorted(partners)
        if sorted(at_hub.get(p, [])) != sorted(told.ladder_versions.get(p, []))
    ]


def _versions(rows: Any) -> dict[tuple[str, int], str]:
    return {(agreement_id, version): state for agreement_id, version, state in rows}


def _recognitions(connection: Connection, told: AdminOutcome) -> list[Any]:
    table = RecognitionAgreementRow
    at_hub = _versions(connection.execute(select(table.agreement_id, table.version, table.state)))
    proposed = {v for versions in told.recognitions.values() for v in versions}
    accepted = {v for v, state in at_hub.items() if state == ACCEPTED}
    return [
        *_symmetric(set(at_hub), proposed),
        *[("accepted", d) for d in _symmetric(accepted, told.recognitions_accepted)],
    ]


def _rates(connection: Connection, told: AdminOutcome) -> list[Any]:
    """Besides the versions agreed before the faults, exactly those the clients were told of."""
    table = RateAgreementRow
    at_hub = _versions(connection.execute(select(table.agreement_id, table.version, table.state)))
    proposed = {v for versions in told.rates.values() for v in versions}
    before = {v for v in set(at_hub) - proposed if v[1] == AGREED_BEFORE_VERSION}
    accepted = {v for v, state in at_hub.items() if state == ACCEPTED} - before
    return [
        *_symmetric(set(at_hub) - before, proposed),
        *[("accepted", d) for d in _symmetric(accepted, told.rates_accepted)],
    ]


def _keys(connection: Connection, told: AdminOutcome) -> list[Any]:
    rows = connection.execute(
        select(PartnerKeyRow.key_id, PartnerKeyRow.partner_id, PartnerKeyRow.state)
    )
    at_hub = {key_id: (partner_id, state) for key_id, partner_id, state in rows}
    wrong: list[Any] = []
    for key_id, partner_id in told.keys_registered.items():
        expected = (partner_id, "revoked" if key_id in told.keys_revoked else "active")
        if at_hub.get(key_id) != expected:
            wrong.append((key_id, at_hub.get(key_id), expected))
    # Every other key is a partner's first, still active: one each.
    firsts = Counter(
        (partner_id, state)
        for key_id, (partner_id, state) in at_hub.items()
        if key_id not in told.keys_registered
    )
    if any(state != "active" or n != 1 for (_partner, state), n in firsts.items()):
        wrong.append(("first keys", dict(firsts)))
    return wrong


def _disputes(connection: Connection, told: AdminOutcome) -> list[Any]:
    rows = connection.execute(select(DisputeRow.dispute_id, DisputeRow.state))
    at_hub = {dispute_id: state for dispute_id, state in rows}
    expected = {
        dispute_id: "rejected" if dispute_id in told.disputes_rejected else "open"
        for dispute_id in told.disputes
    }
    return [
        (dispute_id, at_hub.get(dispute_id), expected.get(dispute_id))
        for dispute_id in sorted(set(at_hub) | set(expected))
        if at_hub.get(dispute_id) != expected.get(dispute_id)
    ]


def _members(connection: Connection, told: AdminOutcome) -> list[Any]:
    """Erased ppids are gone; an unlinked (not erased) ppid is its member's only one."""
    still = set(connection.scalars(select(PpidRow.ppid).where(PpidRow.ppid.in_(told.erased))))
    kept = told.unlinked - told.erased
    cmids = select(PpidRow.cmid).where(PpidRow.ppid.in_(kept))
    linked = connection.execute(
        select(PpidRow.cmid, func.count()).where(PpidRow.cmid.in_(cmids)).group_by(PpidRow.cmid)
    )
    found: list[Any] = [("unlinked yet linked", cmid, n) for cmid, n in linked if n != 1]
    if still:
        found.append(("erased yet present", sorted(still)))
    return found
