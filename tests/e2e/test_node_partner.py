"""The Node.js example partner (examples/node) against a freshly started hub process.

The operator's path is the real one: `coalition keys generate` for the hub, `coalition partner
add` with the keys the example generated, `coalition serve`, and after the example's first
phase `coalition settle --close-now`; then the example reads and proves its statements. The
example verifies every signature it gets and exits non-zero on any failure. Nothing is
skipped: a missing Node.js or npm fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from exchange.config import ENVIRONMENT_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "node"
VECTORS = REPO_ROOT / "docs" / "vectors"
# The venv's own console script, next to the interpreter running the tests.
COALITION_CLI = Path(sys.executable).with_name("coalition")
# Not the default audience: the example must sign for the hub it was told about.
AUDIENCE = "coalition-node-e2e"
PARTNERS = (
    ("skyway", "Skyway Airlines", "airline", "SKYWAY_MILES"),
    ("harbor", "Harbor Hotels", "hotel", "HARBOR_POINTS"),
)
SERVICES = {
    "PartnerService",
    "IdentityService",
    "EventService",
    "TierService",
    "ExchangeService",
    "SettlementService",
    "AnalyticsService",
}
REFUSALS_PROVOKED = 4
NPM_CI_S_MAX = 300.0
NODE_S_MAX = 180.0
CLI_S_MAX = 120.0
HUB_START_S_MAX = 30.0
HUB_STOP_S_MAX = 15.0
HEALTH_POLL_S = 0.1
# Phase 1 must complete every transfer in one UTC business day (the default calendar).
MIDNIGHT_MARGIN = timedelta(minutes=3)
OUTPUT_TAIL_CHARS = 6_000


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not on PATH: the Node example needs Node.js 20+ and npm")
    return found


@pytest.fixture(scope="module")
def node_example() -> Path:
    """examples/node with its locked dependencies installed (`npm ci` when they are missing)."""
    node = tool("node")
    major = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    assert int(major.stdout.strip().lstrip("v").split(".")[0]) >= 20, major.stdout
    if not (EXAMPLE / "node_modules").is_dir():
        completed = subprocess.run(
            [tool("npm"), "ci", "--no-audit", "--no-fund"],
            cwd=EXAMPLE,
            capture_output=True,
            text=True,
            timeout=NPM_CI_S_MAX,
            check=False,
        )
        assert completed.returncode == 0, f"npm ci failed:\n{completed.stdout}{completed.stderr}"
    return EXAMPLE


def run(arguments: list[str], environment: dict[str, str], cwd: Path, timeout: float) -> str:
    """Runs a command; fails the test with its output unless it exits 0."""
    completed = subprocess.run(
        arguments, env=environment, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, (
        f"`{' '.join(arguments)}` exited {completed.returncode}:\n{output[-OUTPUT_TAIL_CHARS:]}"
    )
    return output


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hub_environment(database_url: str, port: int, hub_key: Path) -> dict[str, str]:
    """The environment of every `coalition` command here: ours, not the caller's."""
    inherited = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_NAMES.values()}
    return {
        **inherited,
        "PYTHONUNBUFFERED": "1",
        ENVIRONMENT_NAMES["database_url"]: database_url,
        ENVIRONMENT_NAMES["listen_address"]: f"127.0.0.1:{port}",
        ENVIRONMENT_NAMES["audience"]: AUDIENCE,
        ENVIRONMENT_NAMES["hub_key_path"]: str(hub_key),
    }


def wait_serving(process: subprocess.Popen[bytes], target: str, log: Path) -> None:
    deadline = time.monotonic() + HUB_START_S_MAX
    serving = health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the hub exited {process.returncode}:\n{log.read_text()}")
            with suppress(grpc.RpcError):
                request = health_pb2.HealthCheckRequest(service="")
                if stub.Check(request, timeout=1.0).status == serving:
                    return
            time.sleep(HEALTH_POLL_S)
    pytest.fail(f"the hub was not SERVING after {HUB_START_S_MAX} s:\n{log.read_text()}")


@contextmanager
def serving_hub(environment: dict[str, str], port: int, directory: Path) -> Iterator[str]:
    """`coalition serve` as a child process until the block ends; yields its target."""
    log = directory / "hub.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(COALITION_CLI), "serve"], env=environment, cwd=directory, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        target = f"127.0.0.1:{port}"
        wait_serving(process, target, log)
        yield target
    finally:
        process.terminate()
        try:
            process.wait(HUB_STOP_S_MAX)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(HUB_STOP_S_MAX)


def wait_clear_of_midnight() -> None:
    """Phase 1 takes seconds; started this far from a UTC midnight, it stays in one day."""
    now = datetime.now(UTC)
    next_midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    if next_midnight - now < MIDNIGHT_MARGIN:
        time.sleep((next_midnight - now).total_seconds() + 1)


def onboard(environment: dict[str, str], keys: Path, directory: Path) -> None:
    """The operator adds each partner with the first key the partner generated itself."""
    for partner_id, name, kind, program in PARTNERS:
        arguments = [
            str(COALITION_CLI), "partner", "add", "--id", partner_id, "--name", name,
            "--kind", kind, "--program", program,
            "--public-key", str(keys / f"{partner_id}.pub.pem"),
        ]  # fmt: skip
        run(arguments, environment, directory, CLI_S_MAX)


def node_phase(example: Path, phase: str, keys: Path, target: str, hub_public: Path) -> str:
    arguments = [
        tool("node"), "partner.js", phase, "--dir", str(keys), "--target", target,
        "--hub-key", str(hub_public), "--audience", AUDIENCE,
    ]  # fmt: skip
    output = run(arguments, dict(os.environ), example, NODE_S_MAX)
    assert f"[{phase}] ok:" in output, output
    return output


def test_the_node_example_recomputes_every_vector(node_example: Path, tmp_path: Path) -> None:
    output = run([tool("node"), "check_vectors.js"], dict(os.environ), node_example, NODE_S_MAX)
    assert "vectors agree" in output

    # One signature byte changed in a copy of the vectors: the check must see it.
    changed = tmp_path / "vectors"
    shutil.copytree(VECTORS, changed)
    requests = json.loads((changed / "requests.json").read_text())
    signature = requests["steps"][0]["metadata"][-1]["value"]
    assert requests["steps"][0]["metadata"][-1]["key"] == "cx-signature-bin"
    signature["hex"] = ("00" if signature["hex"][:2] != "00" else "01") + signature["hex"][2:]
    (changed / "requests.json").write_text(json.dumps(requests))
    completed = subprocess.run(
        [tool("node"), "check_vectors.js"], cwd=node_example, capture_output=True, text=True,
        env={**os.environ, "COALITION_VECTORS_DIR": str(changed)}, timeout=NODE_S_MAX,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "vectors differ" in completed.stderr


def test_the_node_partner_runs_a_day_against_a_real_hub(
    node_example: Path, database_url: str, tmp_path: Path
) -> None:
    keys, hub_dir = tmp_path / "partners", tmp_path / "hub"
    run([str(COALITION_CLI), "keys", "generate", "--out", str(hub_dir)], dict(os.environ),
        tmp_path, CLI_S_MAX)  # fmt: skip
    port = free_port()
    environment = hub_environment(database_url, port, hub_dir / "signing.key")
    run([tool("node"), "partner.js", "keygen", "--dir", str(keys)], dict(os.environ),
        node_example, NODE_S_MAX)  # fmt: skip
    onboard(environment, keys, tmp_path)
    hub_public = hub_dir / "signing.pub"
    with serving_hub(environment, port, tmp_path) as target:
        wait_clear_of_midnight()
        node_phase(node_example, "phase1", keys, target, hub_public)
        state = json.loads((keys / "state.json").read_text())
        day = state["transfers"][0]["business_day"]
        settled = run(
            [str(COALITION_CLI), "settle", "--date", day, "--close-now",
             "--out", str(tmp_path / "exports")],
            environment, tmp_path, CLI_S_MAX,
        )  # fmt: skip
        assert f"business day {day} settled: 3 records" in settled, settled
        node_phase(node_example, "phase2", keys, target, hub_public)
    run([str(COALITION_CLI), "check"], environment, tmp_path, CLI_S_MAX)

    state = json.loads((keys / "state.json").read_text())
    assert set(state["phase1"]["services"]) | set(state["phase2"]["services"]) == SERVICES
    assert [t["kind"] for t in state["transfers"]] == ["transfer", "transfer", "reversal"]
    assert state["phase1"]["hub_signatures_verified"] > 0
    # PROOF_OF_POSSESSION_INVALID, a revoked key, IDEMPOTENCY_KEY_MISSING, QUOTE_ALREADY_USED.
    assert state["phase1"]["refusals_verified"] == REFUSALS_PROVOKED
    assert state["phase2"]["hub_signatures_verified"] > 0
