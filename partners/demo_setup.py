"""`coalition demo`: creates a demo coalition on first start, serves it, runs the SDK demo."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from coalition.keys import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SigningKey,
    load_public_key,
    write_key_pair,
)
from exchange import operations
from exchange.config import Settings
from exchange.console.demo_users import DEMO_BANK_ACCOUNTS
from exchange.domain.partners import PartnerKind
from exchange.services import partners

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoPartner:
    partner_id: str
    display_name: str
    kind: PartnerKind
    program_code: str


DEMO_PARTNERS = (
    DemoPartner("skyway", "Skyway Airlines", PartnerKind.AIRLINE, "SKYWAY_MILES"),
    DemoPartner("harbor", "Harbor Hotels", PartnerKind.HOTEL, "HARBOR_POINTS"),
    DemoPartner("orbit", "Orbit Card", PartnerKind.CARD_ISSUER, "ORBIT_REWARDS"),
)


def _ensure_key_pair(directory: Path) -> None:
    if not (directory / PRIVATE_KEY_FILE).exists():
        write_key_pair(directory, SigningKey.generate())


def create_demo_coalition(settings: Settings, home: Path) -> None:
    """Hub key, three partner key pairs under `home`, and the partners in the database."""
    _ensure_key_pair(settings.hub_key_path.parent)
    operations.ensure_schema(settings)
    for demo in DEMO_PARTNERS:
        directory = home / "partners" / demo.partner_id
        _ensure_key_pair(directory)
        if _partner_exists(settings, demo.partner_id):
            continue
        public_key = load_public_key(directory / PUBLIC_KEY_FILE)
        operations.add_partner(
            settings,
            partners.AddPartner(
                demo.partner_id, demo.display_name, demo.kind, demo.program_code, public_key
            ),
        )
        print(f"onboarded {demo.partner_id} ({demo.display_name}, {demo.program_code})")


def _partner_exists(settings: Settings, partner_id: str) -> bool:
    from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory

    with operations.database(settings) as engine, SqlUnitOfWorkFactory(engine)() as uow:
        return uow.partners.get(partner_id) is not None


def run_demo(settings: Settings, home: Path, *, serve_after: bool) -> None:
    from exchange.bootstrap import bootstrap
    from partners import demo

    create_demo_coalition(settings, home)
    hub = bootstrap(settings)
    hub.start()
    target = f"127.0.0.1:{hub.port}"
    print(f"hub serving on {settings.listen_address} (database {settings.database_url})")
    try:
        demo.run(
            target,
            home,
            settings.audience,
            settings.hub_key_path.with_name(PUBLIC_KEY_FILE),
            settle=lambda: settle_demo_day(settings, home),
        )
    except Exception:
        hub.stop(0)
        raise
    if not serve_after:
        hub.stop()
        return
    print(f"\nthe hub keeps serving on {settings.listen_address}; Ctrl-C stops it")
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    hub.stop()


def settle_demo_day(settings: Settings, home: Path) -> str:
    """Closes the business day the demo's transfers landed in (before its cut-off, as an
    operator may), settles it and writes its files under <home>/exports/<business day>."""
    from sqlalchemy.orm import Session

    from exchange.adapters.clock import SystemClock
    from exchange.adapters.sql.business_days import CLOSED, SqlBusinessDayRepository

    clock = SystemClock()
    with operations.database(settings) as engine:
        day = settings.calendar.business_day_of(clock.now_us())
        with Session(engine) as session:  # an earlier demo run may have closed today already
            while SqlBusinessDayRepository(session).state(day.isoformat()) == CLOSED:
                day += timedelta(days=1)
        business_day = day.isoformat()
        _, written = operations.settle_and_export(
            engine,
            settings,
            business_day,
            home / "exports" / business_day,
            DEMO_BANK_ACCOUNTS,
            clock=clock,
            close_early=True,
        )
    print(
        f"  the operator closed business day {business_day} and settled it; "
        f"{len(written.sizes)} files in {written.directory}"
    )
    for note in written.notes:
        print(f"  note: {note}")
    return business_day
