"""Hub settings, read once from the environment (and CLI flags) into one frozen object."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url

from exchange.domain.rate_limits import RATE_LIMIT_BURST_DEFAULT, RATE_LIMIT_PER_S_DEFAULT
from settlement.calendar import CoalitionCalendar

DATABASE_URL_DEFAULT = "sqlite:///./coalition.db"
LISTEN_ADDRESS_DEFAULT = "127.0.0.1:50051"
AUDIENCE_DEFAULT = "coalition-exchange"
HUB_KEY_PATH_DEFAULT = Path(".coalition/hub/signing.key")
WORKER_THREADS_DEFAULT = 32
FEE_BASIS_POINTS_DEFAULT = 25
TRANSFER_TIMEOUT_S_DEFAULT = 15 * 60
SETTLEMENT_DELAY_S_DEFAULT = 5 * 60
# How often the scheduler looks for its work (only the process holding its lease works).
TIMEOUT_SWEEP_INTERVAL_S_DEFAULT = 5
SETTLEMENT_CHECK_INTERVAL_S_DEFAULT = 60
PURGE_INTERVAL_S_DEFAULT = 60
SHUTDOWN_GRACE_S_DEFAULT = 10
SERVICE_NAME_DEFAULT = "coalition-exchange"
# A partner needs one Subscribe stream, a few while it reconnects; the hub-wide cap bounds
# memory and file descriptors of one process.
STREAMS_PER_PARTNER_MAX_DEFAULT = 4
STREAMS_MAX_DEFAULT = 2_000
STREAM_KEEPALIVE_S_DEFAULT = 30
STREAM_KEEPALIVE_TIMEOUT_S_DEFAULT = 10

ENVIRONMENT_NAMES = {
    "database_url": "COALITION_DATABASE_URL",
    "listen_address": "COALITION_LISTEN_ADDRESS",
    "audience": "COALITION_AUDIENCE",
    "hub_key_path": "COALITION_HUB_KEY",
    "tls_cert_path": "COALITION_TLS_CERT",
    "tls_key_path": "COALITION_TLS_KEY",
    "client_ca_path": "COALITION_CLIENT_CA",
    "worker_threads": "COALITION_WORKER_THREADS",
    "fee_basis_points": "COALITION_FEE_BASIS_POINTS",
    "transfer_timeout_s": "COALITION_TRANSFER_TIMEOUT_S",
    "time_zone": "COALITION_TIME_ZONE",
    "cutoff": "COALITION_CUTOFF",
    "settlement_delay_s": "COALITION_SETTLEMENT_DELAY_S",
    "rate_limit_per_s": "COALITION_RATE_LIMIT_PER_S",
    "rate_limit_burst": "COALITION_RATE_LIMIT_BURST",
    "streams_per_partner_max": "COALITION_STREAMS_PER_PARTNER_MAX",
    "streams_max": "COALITION_STREAMS_MAX",
    "stream_keepalive_s": "COALITION_STREAM_KEEPALIVE_S",
    "processes": "COALITION_PROCESSES",
    "timeout_sweep_interval_s": "COALITION_TIMEOUT_SWEEP_INTERVAL_S",
    "settlement_check_interval_s": "COALITION_SETTLEMENT_CHECK_INTERVAL_S",
    "purge_interval_s": "COALITION_PURGE_INTERVAL_S",
    "export_directory": "COALITION_EXPORT_DIR",
    "bank_accounts_path": "COALITION_BANK_ACCOUNTS",
    # The OpenTelemetry standard names: one collector for traces and metrics, and our name.
    "otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "service_name": "OTEL_SERVICE_NAME",
}


@dataclass(frozen=True)
class Settings:
    database_url: str = DATABASE_URL_DEFAULT
    listen_address: str = LISTEN_ADDRESS_DEFAULT
    audience: str = AUDIENCE_DEFAULT
    hub_key_path: Path = HUB_KEY_PATH_DEFAULT
    tls_cert_path: Path | None = None
    tls_key_path: Path | None = None
    client_ca_path: Path | None = None
    worker_threads: int = WORKER_THREADS_DEFAULT
    shutdown_grace_s: int = SHUTDOWN_GRACE_S_DEFAULT
    # The hub's fee, in basis points of each transfer's settlement amount, paid by the source.
    fee_basis_points: int = FEE_BASIS_POINTS_DEFAULT
    transfer_timeout_s: int = TRANSFER_TIMEOUT_S_DEFAULT
    # The coalition calendar: IANA zone and local cut-off (HH:MM) that ends a business day.
    time_zone: str = "UTC"
    cutoff: str = "00:00"
    # How long after a cut-off the running hub settles the day that ended.
    settlement_delay_s: int = SETTLEMENT_DELAY_S_DEFAULT
    # Seconds between the scheduler's looks for transfers past their timeout, for an ended
    # day to settle, and for expired nonces and stored responses to purge.
    timeout_sweep_interval_s: int = TIMEOUT_SWEEP_INTERVAL_S_DEFAULT
    settlement_check_interval_s: int = SETTLEMENT_CHECK_INTERVAL_S_DEFAULT
    purge_interval_s: int = PURGE_INTERVAL_S_DEFAULT
    # Each partner's calls: sustained per second, and the burst a full bucket allows.
    rate_limit_per_s: int = RATE_LIMIT_PER_S_DEFAULT
    rate_limit_burst: int = RATE_LIMIT_BURST_DEFAULT
    # Concurrent Subscribe streams: per partner, and for one hub process.
    streams_per_partner_max: int = STREAMS_PER_PARTNER_MAX_DEFAULT
    streams_max: int = STREAMS_MAX_DEFAULT
    # Every connection is pinged after this long without traffic; a peer that does not answer
    # within the timeout is gone, and its streams end.
    stream_keepalive_s: int = STREAM_KEEPALIVE_S_DEFAULT
    stream_keepalive_timeout_s: int = STREAM_KEEPALIVE_TIMEOUT_S_DEFAULT
    # Where spans and metrics go (an OTLP/gRPC collector, http:// or https://); None: nowhere,
    # and the hub installs no instrumentation at all.
    otlp_endpoint: str | None = None
    service_name: str = SERVICE_NAME_DEFAULT
    # Hub processes sharing the listening port (`coalition serve`); 0: one per core on
    # PostgreSQL, one on SQLite (which serves one process).
    processes: int = 0
    # The nightly settlement writes each settled day's files into <export_directory>/<day>, as
    # `coalition settle` does; the pain.001 pay-out file needs the participants' bank accounts
    # (a JSON file, docs: `coalition settle --bank-accounts`).
    export_directory: Path = Path("exports")
    bank_accounts_path: Path | None = None

    @property
    def calendar(self) -> CoalitionCalendar:
        return CoalitionCalendar(self.time_zone, time.fromisoformat(self.cutoff))

    def __repr__(self) -> str:
        # The database URL may carry a password; show it masked.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["database_url"] = make_url(self.database_url).render_as_string(hide_password=True)
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def uses_tls(self) -> bool:
        return self.tls_cert_path is not None

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then COALITION_* environment variables, then explicit overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variable in ENVIRONMENT_NAMES.items():
            if environ.get(variable):
                values[name] = environ[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(cls(), **_typed(values))
        settings.check()
        return settings

    def check(self) -> None:
        """Raises ValueError naming the setting that is wrong."""
        make_url(self.database_url)
        if not self.audience or not self.audience.isascii() or " " in self.audience:
            raise ValueError("audience must be non-empty printable ASCII without spaces")
        intervals = (
            self.timeout_sweep_interval_s,
            self.settlement_check_interval_s,
            self.purge_interval_s,
        )
        if min(intervals) < 1:
            raise ValueError("the scheduler's intervals must be at least 1 second")
        if self.processes < 0:
            raise ValueError("processes must be 0 (one per core) or more")
        if self.worker_threads < 1:
            raise ValueError("worker_threads must be at least 1")
        if not 0 <= self.fee_basis_points <= 10_000:
            raise ValueError("fee_basis_points must be 0-10000")
        if self.transfer_timeout_s < 1:
            raise ValueError("transfer_timeout_s must be at least 1 second")
        if self.settlement_delay_s < 0:
            raise ValueError("settlement_delay_s must not be negative")
        if self.rate_limit_per_s < 1 or self.rate_limit_burst < 1:
            raise ValueError("rate_limit_per_s and rate_limit_burst must be at least 1")
        if self.streams_per_partner_max < 1 or self.streams_max < self.streams_per_partner_max:
            raise ValueError("streams_per_partner_max must be at least 1 and within streams_max")
        if self.stream_keepalive_s < 1 or self.stream_keepalive_timeout_s < 1:
            raise ValueError("stream_keepalive_s and its timeout must be at least 1 second")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {self.time_zone!r} is not an IANA time zone") from None
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.cutoff):
            raise ValueError("cutoff must be a local time written HH:MM")
        if self.otlp_endpoint is not None and not _is_http_url(self.otlp_endpoint):
            raise ValueError("otlp_endpoint must be an http:// or https:// URL")
        if not self.service_name.strip():
            raise ValueError("service_name must not be empty")
        tls = (self.tls_cert_path, self.tls_key_path)
        if (tls[0] is None) != (tls[1] is None):
            raise ValueError("tls_cert_path and tls_key_path go together")
        if self.client_ca_path is not None and self.tls_cert_path is None:
            raise ValueError("client_ca_path (mTLS) needs tls_cert_path and tls_key_path")


def _is_http_url(url: str) -> bool:
    parsed = urlsplit(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    typed = dict(values)
    paths = ("hub_key_path", "tls_cert_path", "tls_key_path", "client_ca_path")
    for name in (*paths, "export_directory", "bank_accounts_path"):
        if name in typed:
            typed[name] = Path(typed[name])
    for name in (
        "worker_threads",
        "shutdown_grace_s",
        "fee_basis_points",
        "transfer_timeout_s",
        "settlement_delay_s",
        "rate_limit_per_s",
        "rate_limit_burst",
        "streams_per_partner_max",
        "streams_max",
        "stream_keepalive_s",
        "stream_keepalive_timeout_s",
        "processes",
        "timeout_sweep_interval_s",
        "settlement_check_interval_s",
        "purge_interval_s",
    ):
        if name in typed:
            try:
                typed[name] = int(typed[name])
            except ValueError:
                raise ValueError(f"{name} must be a whole number") from None
    return typed
