"""`make load`: Locust, headless and bounded, against a hub it starts on a scratch database.

    .venv/bin/python loadtests/run.py --seconds 60 --users 16

Creates a scratch database (on PostgreSQL at 127.0.0.1:5432 when it answers, else in a temp
SQLite file), seeds it (benchmarks.hub.seed: hub key, partners, rate agreements both ways,
linked members), starts `coalition serve` on a free port, runs Locust against it, stops the
hub and drops the database. Exits non-zero if Locust reports any failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks.hub.seed import (
    AUDIENCE,
    BENCH_PARTNERS,
    postgres_scratch_database,
    prepare_hub,
    seed_members,
)
from benchmarks.hub.servers import ServerProcess, hub_process

POSTGRES_ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL_ENV = "COALITION_LOAD_POSTGRES_URL"
CONNECT_TIMEOUT_S = 3
MEMBERS_DEFAULT = 200
STOP_TIMEOUT_S = 5
# Locust's own start-up and summary on top of the run time, before it counts as hung.
LOCUST_OVERHEAD_S_MAX = 120
LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")


def postgres_reachable(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@contextmanager
def scratch_database(directory: Path) -> Iterator[str]:
    """A PostgreSQL scratch database if the server answers, else a SQLite file; dropped after."""
    admin_url = os.environ.get(POSTGRES_URL_ENV, POSTGRES_ADMIN_URL_DEFAULT)
    if postgres_reachable(admin_url):
        with postgres_scratch_database(admin_url, prefix="coalition_load_") as url:
            print(f"database: PostgreSQL scratch database {url.rsplit('/', 1)[-1]}", flush=True)
            yield url
        return
    path = directory / "load.db"
    print(f"database: PostgreSQL unreachable; SQLite file {path}", flush=True)
    yield f"sqlite:///{path}"


def locust_command(seconds: int, users: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--only-summary",
    ]


def run_locust(hub: ServerProcess, config_path: Path, seconds: int, users: int) -> int:
    env = {**os.environ, "COALITION_LOAD_CONFIG": str(config_path)}
    env["COALITION_LOAD_USERS"] = str(users)
    print(f"locust: {users} users for {seconds} s against {hub.target}", flush=True)
    completed = subprocess.run(
        locust_command(seconds, users),
        env=env,
        check=False,
        timeout=seconds + STOP_TIMEOUT_S + LOCUST_OVERHEAD_S_MAX,
    )
    return completed.returncode


def load_test(seconds: int, users: int, members: int) -> int:
    with tempfile.TemporaryDirectory(prefix="coalition-load-") as work_dir:
        work = Path(work_dir)
        with scratch_database(work) as url:
            prepared = prepare_hub(url, work, len(BENCH_PARTNERS))
            with hub_process(prepared, AUDIENCE, work / "hub.log") as hub:
                started_s = time.perf_counter()
                coalition = seed_members(prepared, hub.target, AUDIENCE, members)
                elapsed_s = time.perf_counter() - started_s
                print(f"seeded {members} linked members in {elapsed_s:.1f} s", flush=True)
                config_path = work / "coalition.json"
                config_path.write_text(coalition.to_json())
                status = run_locust(hub, config_path, seconds, users)
                if status != 0:
                    print(f"hub log (tail):\n{hub.log_tail()}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="Locust run time (default 60)")
    parser.add_argument("--users", type=int, default=16, help="concurrent users (default 16)")
    parser.add_argument(
        "--members", type=int, default=MEMBERS_DEFAULT, help="linked members to seed"
    )
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.users < 1 or args.members < args.users:
        parser.error("--seconds and --users must be positive, and --members at least --users")
    status = load_test(args.seconds, args.users, args.members)
    print("load test passed" if status == 0 else f"load test FAILED (Locust exit {status})")
    return status


if __name__ == "__main__":
    sys.exit(main())
