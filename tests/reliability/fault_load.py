"""Load for the database-fault scenarios: partners as raw signed clients that retry.

Every logical call has one idempotency key and one body; on UNAVAILABLE, ABORTED or a
deadline the client sends the very same call again (a fresh nonce, the same key), as a
partner must. Each attempt's status is counted by RPC, so an INTERNAL cannot hide behind a
retry that later succeeded. The transfer flow runs in stages, one RPC at a time, so a fault
injected while a stage's calls are in flight is a fault during a call of that RPC.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import Message

from coalition.keys import SigningKey
from tests.reliability.fault_rpcs import hub_rpcs
from tests.support.raw_calls import SignedRequest, call_raw

Code = grpc.StatusCode

# What a partner retries with the same key: the hub (or its database) was briefly away.
RETRIED = frozenset({Code.UNAVAILABLE, Code.ABORTED, Code.DEADLINE_EXCEEDED})
RETRY_BACKOFF_S = (0.05, 0.4)
# A logical call that has no definitive answer after this long counts as lost.
CALL_S_MAX = 60.0
STAGE_WORKERS = 4
# Connections per client, each handed to a random hub process: with two processes, all six
# reach the same one once in 32 clients.
CHANNELS = 6
OWN_CONNECTION = (("grpc.use_local_subchannel_pool", 1),)
STAGE_S_MAX = 240.0


def method_path(rpc: str) -> str:
    return hub_rpcs()[rpc].path


@dataclass(frozen=True)
class Answer:
    """The definitive answer to one logical call (or the last retryable one, if it ran out)."""

    rpc: str
    partner_id: str
    key: str
    body: bytes
    code: Code
    reason: str
    response: bytes | None
    attempts: int
    stage: str

    @property
    def ok(self) -> bool:
        return self.code is Code.OK

    @property
    def unanswered(self) -> bool:
        return self.code in RETRIED


@dataclass
class LoadRecord:
    """Everything the clients saw, shared by the worker threads and the fault injectors."""

    stage: str = "setup"
    in_flight: int = 0
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def attempt(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def count(self, rpc: str, code: Code) -> None:
        with self._lock:
            self.attempts[(rpc, code.name)] += 1

    def keep(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def busy(self) -> bool:
        return self.in_flight > 0

    def attempts_with(self, code: Code) -> Counter[str]:
        return Counter({rpc: n for (rpc, name), n in self.attempts.items() if name == code.name})


class RetryingClient:
    """Signed raw calls for each partner, retried on the same idempotency key.

    Each attempt goes out on one of CHANNELS channels chosen at random, each its own TCP
    connection: with several hub processes on the port the kernel hands each connection to one
    of them, so calls spread over the processes and a retry often reaches another one.
    """

    def __init__(
        self, target: str, keys: dict[str, SigningKey], audience: str, record: LoadRecord
    ) -> None:
        self.channels = [
            grpc.insecure_channel(target, options=OWN_CONNECTION) for _ in range(CHANNELS)
        ]
        self.keys = keys
        self.audience = audience
        self.record = record
        self._rng = random.Random()

    def close(self) -> None:
        for channel in self.channels:
            channel.close()

    def call(self, rpc: str, partner_id: str, request: Message, key: str | None = None) -> Answer:
        body = request.SerializeToString(deterministic=True)
        changes_state = hub_rpcs()[rpc].changes_state
        key = (key or str(uuid.uuid4())) if changes_state else ""
        return self.send(rpc, partner_id, body, key, keep=changes_state)

    def send(self, rpc: str, partner_id: str, body: bytes, key: str, keep: bool = True) -> Answer:
        deadline = time.monotonic() + CALL_S_MAX
        attempts = 0
        while True:
            attempts += 1
            signed = SignedRequest(
                method_path(rpc),
                body,
                partner_id,
                self.keys[partner_id],
                self.audience,
                idempotency_key=key,
            )
            with self.record.attempt():
                channel = self._rng.choice(self.channels)
                raw = call_raw(channel, signed.method, body, signed.metadata())
            self.record.count(rpc, raw.code)
            if raw.code in RETRIED and time.monotonic() < deadline:
                time.sleep(self._rng.uniform(*RETRY_BACKOFF_S))
                continue
            answer = Answer(
                rpc,
                partner_id,
                key,
                body,
                raw.code,
                raw.reason,
                raw.response,
                attempts,
                self.record.stage,
            )
            if keep:
                self.record.keep(answer)
            return answer


Task = Callable[[], Answer]


def run_stage(record: LoadRecord, stage: str, tasks: Sequence[Task]) -> list[Answer]:
    """Runs one stage's calls on STAGE_WORKERS threads; the answers, in the tasks' order."""
    record.stage = stage
    with ThreadPoolExecutor(STAGE_WORKERS, thread_name_prefix=f"load-{stage}") as pool:
        futures = [pool.submit(task) for task in tasks]
        answers = [future.result(timeout=STAGE_S_MAX) for future in futures]
    record.stage = "between stages"
    return answers


def run_chains(record: LoadRecord, stage: str, chains: Sequence[Sequence[Task]]) -> list[Answer]:
    """Runs each chain's calls one after another, the chains side by side (calls that must
    not overlap, such as one partner's new versions of one thing); the answers, in order."""

    def chain_task(chain: Sequence[Task]) -> Callable[[], list[Answer]]:
        return lambda: [task() for task in chain]

    record.stage = stage
    with ThreadPoolExecutor(STAGE_WORKERS, thread_name_prefix=f"load-{stage}") as pool:
        futures = [pool.submit(chain_task(chain)) for chain in chains]
        answers = [a for future in futures for a in future.result(timeout=STAGE_S_MAX)]
    record.stage = "between stages"
    return answers
