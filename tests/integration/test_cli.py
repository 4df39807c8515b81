"""The operator's `coalition` command, run in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine

from coalition.keys import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SigningKey,
    load_public_key,
    load_signing_key,
    write_key_pair,
)
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.migrations import current_revision, head_revision
from exchange.cli import main
from tests.support.databases import application_tables, table_snapshot

ERROR_PREFIX = "coalition: error: "


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    exit_code = main(list(argv))
    out, err = capsys.readouterr()
    return exit_code, out, err


def assert_one_line_error(err: str) -> None:
    assert err.startswith(ERROR_PREFIX)
    assert err.endswith("\n") and err.count("\n") == 1


def key_pair(directory: Path) -> tuple[SigningKey, Path]:
    key = SigningKey.generate()
    _private, public = write_key_pair(directory, key)
    return key, public


def add_args(
    database_url: str,
    public_key: Path,
    *,
    partner_id: str = "skyway",
    name: str = "Skyway Airlines",
    kind: str = "airline",
    program: str = "SKYWAY_MILES",
) -> list[str]:
    return [
        "partner", "add",
        "--id", partner_id,
        "--name", name,
        "--kind", kind,
        "--program", program,
        "--public-key", str(public_key),
        "--database-url", database_url,
    ]  # fmt: skip


def list_rows(capsys: pytest.CaptureFixture[str], database_url: str) -> list[list[str]]:
    exit_code, out, err = run_cli(capsys, "partner", "list", "--database-url", database_url)
    assert (exit_code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["PARTNER", "KIND", "PROGRAM", "KEYS", "NAME"]
    return [row.split(maxsplit=4) for row in rows]


# keys generate


def test_keys_generate_writes_a_private_key_only_its_owner_can_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "operator" / "keys"

    exit_code, out, err = run_cli(capsys, "keys", "generate", "--out", str(out_dir))

    assert (exit_code, err) == (0, "")
    private_path, public_path = out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_KEY_FILE
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    key = load_signing_key(private_path)
    assert load_public_key(public_path) == key.public_key_bytes
    assert key.key_id in out


def test_keys_generate_refuses_to_overwrite_a_key_pair(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_cli(capsys, "keys", "generate", "--out", str(tmp_path))[0] == 0
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    exit_code, out, err = run_cli(capsys, "keys", "generate", "--out", str(tmp_path))

    assert (exit_code, out) == (1, "")
    assert_one_line_error(err)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_keys_generate_refuses_when_only_the_public_half_exists(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / PUBLIC_KEY_FILE).write_bytes(b"someone else's key")

    exit_code, _out, err = run_cli(capsys, "keys", "generate", "--out", str(tmp_path))

    assert exit_code == 1
    assert_one_line_error(err)
    assert [path.name for path in tmp_path.iterdir()] == [PUBLIC_KEY_FILE]
    assert (tmp_path / PUBLIC_KEY_FILE).read_bytes() == b"someone else's key"


# db upgrade


def test_db_upgrade_migrates_a_new_sqlite_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"

    exit_code, out, err = run_cli(capsys, "db", "upgrade", "--database-url", url)

    assert (exit_code, err) == (0, "")
    assert out == f"database at revision {head_revision()}\n"
    engine = create_database_engine(url)
    try:
        assert current_revision(engine) == head_revision()
        assert "partners" in application_tables(engine)
    finally:
        engine.dispose()


def test_db_upgrade_on_a_migrated_database_keeps_its_data(
    capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine, tmp_path: Path
) -> None:
    _key, public = key_pair(tmp_path)
    assert run_cli(capsys, *add_args(database_url, public))[0] == 0
    before = table_snapshot(engine)

    exit_code, out, err = run_cli(capsys, "db", "upgrade", "--database-url", database_url)

    assert (exit_code, err) == (0, "")
    assert out == f"database at revision {head_revision()}\n"
    assert table_snapshot(engine) == before


def test_db_upgrade_reports_an_unopenable_database_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'missing-directory' / 'coalition.db'}"

    exit_code, out, err = run_cli(capsys, "db", "upgrade", "--database-url", url)

    assert (exit_code, out) == (1, "")
    assert_one_line_error(err)
    assert not (tmp_path / "missing-directory").exists()


# partner add / partner list


def test_partner_add_then_list_shows_the_partner(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    key, public = key_pair(tmp_path)

    exit_code, out, err = run_cli(capsys, *add_args(database_url, public))

    assert (exit_code, err) == (0, "")
    assert out == f"added skyway with key {key.key_id}\n"
    assert list_rows(capsys, database_url) == [
        ["skyway", "airline", "SKYWAY_MILES", "1", "Skyway Airlines"]
    ]


def test_partner_list_orders_partners_by_id(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    for partner_id, kind, program in [
        ("orbit", "card_issuer", "ORBIT_REWARDS"),
        ("harbor", "hotel", "HARBOR_POINTS"),
    ]:
        _key, public = key_pair(tmp_path / partner_id)
        arguments = add_args(
            database_url,
            public,
            partner_id=partner_id,
            name=partner_id.title(),
            kind=kind,
            program=program,
        )
        assert run_cli(capsys, *arguments)[0] == 0

    assert list_rows(capsys, database_url) == [
        ["harbor", "hotel", "HARBOR_POINTS", "1", "Harbor"],
        ["orbit", "card_issuer", "ORBIT_REWARDS", "1", "Orbit"],
    ]


def test_partner_list_on_an_empty_directory_prints_only_the_header(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    assert list_rows(capsys, database_url) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"partner_id": "skyway", "program": "OTHER_MILES"}, ["partner with this id"]),
        ({"partner_id": "skyjet", "program": "SKYWAY_MILES"}, ["program code"]),
        ({"partner_id": "skyjet", "program": "OTHER_MILES", "same_key": True}, ["key"]),
        ({"partner_id": "Bad Id!", "program": "OTHER_MILES"}, ["partner_id"]),
        ({"partner_id": "skyjet", "program": "lower_case"}, ["program_code"]),
        ({"partner_id": "skyjet", "program": "OTHER_MILES", "name": " "}, ["display_name"]),
        ({"partner_id": "BAD", "program": "bad"}, ["partner_id", "program_code"]),
    ],
    ids=[
        "duplicate-id",
        "duplicate-program",
        "duplicate-key",
        "bad-id",
        "bad-program",
        "blank-name",
        "two-bad-fields",
    ],
)
def test_partner_add_refusals_write_nothing(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    change: dict[str, object],
    named: list[str],
) -> None:
    _key, public = key_pair(tmp_path / "skyway")
    assert run_cli(capsys, *add_args(database_url, public))[0] == 0
    other_public = public if change.get("same_key") else key_pair(tmp_path / "other")[1]
    before = table_snapshot(engine)

    exit_code, out, err = run_cli(
        capsys,
        *add_args(
            database_url,
            other_public,
            partner_id=str(change["partner_id"]),
            program=str(change["program"]),
            name=str(change.get("name", "Skyjet")),
        ),
    )

    assert (exit_code, out) == (1, "")
    assert_one_line_error(err)
    assert all(fragment in err for fragment in named)
    assert table_snapshot(engine) == before


@pytest.mark.parametrize("problem", ["missing", "garbage", "private-key", "directory"])
def test_partner_add_with_an_unusable_public_key_file_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    problem: str,
) -> None:
    key_dir = tmp_path / "keys"
    write_key_pair(key_dir, SigningKey.generate())
    (tmp_path / "garbage.pub").write_bytes(b"-----BEGIN PUBLIC KEY-----\nnot a key\n")
    path = {
        "missing": tmp_path / "nowhere.pub",
        "garbage": tmp_path / "garbage.pub",
        "private-key": key_dir / PRIVATE_KEY_FILE,
        "directory": key_dir,
    }[problem]
    before = table_snapshot(engine)

    exit_code, out, err = run_cli(capsys, *add_args(database_url, path))

    assert (exit_code, out) == (1, "")
    assert_one_line_error(err)
    assert str(path) in err
    assert table_snapshot(engine) == before


def test_partner_add_with_a_bad_key_file_does_not_create_a_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    database = tmp_path / "coalition.db"

    exit_code, _out, err = run_cli(
        capsys, *add_args(f"sqlite:///{database}", tmp_path / "nowhere.pub")
    )

    assert exit_code == 1
    assert_one_line_error(err)
    assert not database.exists()


def test_partner_add_with_a_bad_id_does_not_create_a_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    database = tmp_path / "coalition.db"
    _key, public = key_pair(tmp_path / "keys")

    exit_code, _out, err = run_cli(
        capsys, *add_args(f"sqlite:///{database}", public, partner_id="Bad Id!")
    )

    assert exit_code == 1
    assert_one_line_error(err)
    assert not database.exists()


def test_partner_add_invalid_kind_is_a_usage_error_that_writes_nothing(
    capsys: pytest.CaptureFixture[str], database_url: str, engine: Engine, tmp_path: Path
) -> None:
    _key, public = key_pair(tmp_path)
    before = table_snapshot(engine)

    with pytest.raises(SystemExit) as exited:
        main(add_args(database_url, public, kind="spaceline"))

    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == ""
    assert err.splitlines()[-1].startswith("coalition partner add: error: argument --kind")
    assert "spaceline" in err.splitlines()[-1]
    assert table_snapshot(engine) == before
