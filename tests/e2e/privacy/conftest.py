"""The real demo against a real hub, once per backend, with everything it let us see."""

from __future__ import annotations

import pytest

from coalition.keys import PUBLIC_KEY_FILE, load_public_key
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from partners import demo
from partners.demo_setup import create_demo_coalition
from tests.e2e.privacy.support import (
    BACKENDS,
    MEMBER_NUMBER_PREFIXES,
    DemoObservations,
    RecordingSecrets,
    empty_database,
    log_lines,
    run_observed,
)
from tests.support.coalition import AUDIENCE
from tests.support.logs import every_log_record


@pytest.fixture(scope="module", params=BACKENDS)
def observed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> DemoObservations:
    """Runs partners.demo as `coalition demo` does, once per backend, recording all it can see."""
    directory = tmp_path_factory.mktemp("privacy-demo")
    home = directory / ".coalition"
    settings = Settings.load(
        environ={},
        database_url=empty_database(request, directory),
        listen_address="127.0.0.1:0",
        audience=AUDIENCE,
        hub_key_path=home / "hub" / "signing.key",
    )
    recorder = RecordingSecrets()
    with pytest.MonkeyPatch.context() as patch, every_log_record() as logs:
        patch.setattr(demo, "secrets", recorder)
        create_demo_coalition(settings, home)
        hub = bootstrap(settings)
        observations = DemoObservations(
            member_numbers=[],
            stored_member_numbers=set(),
            responses=[],
            tables=[],
            tables_with_live_code=[],
            log_lines=[],
            hub_public_key=load_public_key(settings.hub_key_path.with_name(PUBLIC_KEY_FILE)),
        )
        hub.start()
        try:
            run_observed(observations, hub, settings, home)
        finally:
            hub.stop(0)
    observations.member_numbers = [
        f"{prefix}-{run_id.upper()}-1"
        for run_id in recorder.run_ids
        for prefix in MEMBER_NUMBER_PREFIXES
    ]
    observations.log_lines = log_lines(logs.records)
    return observations
