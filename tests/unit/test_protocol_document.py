"""docs/protocol.md says what the hub does: its RPC table, its error table, its example bytes.

The RPC table must list every RPC of every coalition.v1 service with the policy its servicer
declares (read through the registry, as the hub serves them); the error table every
ErrorInfo.reason with its catalog status; and the worked example only bytes the generated
vectors hold, so the document cannot drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from google.protobuf.descriptor import ServiceDescriptor

from exchange.api.catalog import STATUS_BY_CODE
from exchange.api.registry import declared_methods
from exchange.domain.errors import ErrorCode

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")


def services() -> list[ServiceDescriptor]:
    """Every service of every generated coalition.v1 module: a new one cannot be missed."""
    found = []
    for path in sorted((REPO / "coalition" / "v1").glob("*_pb2.py")):
        module = importlib.import_module(f"coalition.v1.{path.stem}")
        found.extend(module.DESCRIPTOR.services_by_name.values())
    return found


def servicer_class(service: ServiceDescriptor) -> type:
    """`FooService` is implemented by `FooServicer` in exchange/api/*_servicer.py."""
    wanted = service.name.removesuffix("Service") + "Servicer"
    for path in sorted((REPO / "exchange" / "api").glob("*_servicer.py")):
        module = importlib.import_module(f"exchange.api.{path.stem}")
        found = getattr(module, wanted, None)
        if inspect.isclass(found):
            return found
    raise AssertionError(f"no {wanted} implements {service.full_name}")


RPC_ROW = re.compile(r"^\| `(\w+Service)/(\w+)` \| ([^|]+?) \| ([^|]+?) \|", re.MULTILINE)
ERROR_ROW = re.compile(r"^\| `([A-Z_]+)` \| `([A-Z_]+)` \|", re.MULTILINE)


def section(number: int) -> str:
    """The text of `## <number>. ...` up to the next top-level heading."""
    match = re.search(rf"^## {number}\. .*?(?=^## |\Z)", DOCUMENT, re.MULTILINE | re.DOTALL)
    assert match is not None, f"docs/protocol.md has no section {number}"
    return match.group(0)


def declared_rows() -> dict[str, tuple[str, str]]:
    """Service/Method -> (policy, idempotency key) as the hub's declarations make them."""
    rows = {}
    for service in services():
        declared = declared_methods(servicer_class(service), service)
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            assert path in declared, f"{path} has no @rpc declaration"
            rpc = declared[path]
            policy = "state-changing" if rpc.policy.changes_state else "read-only"
            if rpc.streaming:
                policy += " (server stream)"
            key = "required" if rpc.policy.changes_state else "not needed"
            rows[f"{service.name}/{method.name}"] = (policy, key)
    return rows


def test_every_service_of_the_package_is_found() -> None:
    names = {service.name for service in services()}
    assert {"PartnerService", "ExchangeService", "SettlementService"} <= names


def test_the_rpc_table_matches_the_registry() -> None:
    table = {
        f"{service}/{method}": (policy, key)
        for service, method, policy, key in RPC_ROW.findall(section(9))
    }
    assert table == declared_rows()


def test_every_error_reason_is_in_the_error_table_with_its_status() -> None:
    table = dict(ERROR_ROW.findall(section(12)))
    expected = {code.value: STATUS_BY_CODE[code].name for code in ErrorCode}
    assert table == expected


def vector_text() -> str:
    paths = sorted((REPO / "docs" / "vectors").glob("*.json"))
    return "\n".join(path.read_text(encoding="ascii") for path in paths)


def test_the_worked_example_quotes_only_bytes_the_vectors_hold() -> None:
    example = section(14)
    # Hex and base64 values, told from words by their digits.
    tokens = [
        token
        for token in re.findall(r"`([0-9A-Za-z+/=_-]{16,})`", example)
        if any(character.isdigit() for character in token)
    ]
    assert len(tokens) > 30, "the worked example quotes its bytes"
    vectors = vector_text()
    missing = [token for token in tokens if token not in vectors]
    assert missing == []


def test_every_vector_file_is_described_and_exists() -> None:
    described = set(re.findall(r"^\| `(\w+\.json)` \|", section(16), re.MULTILINE))
    present = {path.name for path in (REPO / "docs" / "vectors").glob("*.json")}
    assert described == present
    for name in re.findall(r"docs/vectors/(\w+\.json)", DOCUMENT):
        assert name in present, name
