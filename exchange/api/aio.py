"""The gRPC entrypoint on grpc.aio: unary calls on worker threads, streams on the event loop.

An open Subscribe stream waits on the event loop between messages and holds no worker thread,
so streams never take the capacity unary calls need (DESIGN §3.6). The request pipeline stays
blocking (SQLAlchemy sessions); each unary call, and each piece of a stream's storage work,
runs on the worker pool with the caller's context (its trace span) carried over.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar, cast

import grpc

from exchange.api.authentication import request_nonce
from exchange.api.calls import (
    IncomingCall,
    OpenedStream,
    Outcome,
    RpcMethod,
    StreamContext,
)
from exchange.api.pipeline import RequestPipeline, serialized
from exchange.domain.errors import DomainError, ErrorCode

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class StreamLimits:
    """Caps on concurrent Subscribe streams: per partner, and for the whole hub process."""

    per_partner_max: int
    hub_max: int


class StreamSlots:
    """Counts open streams; used on the event loop only, so it needs no lock."""

    def __init__(self, stream_limits: StreamLimits) -> None:
        self.limits = stream_limits
        self.open_by_partner: dict[str, int] = {}
        self.open_total = 0

    def acquire(self, partner_id: str) -> bool:
        held = self.open_by_partner.get(partner_id, 0)
        if held >= self.limits.per_partner_max or self.open_total >= self.limits.hub_max:
            return False
        self.open_by_partner[partner_id] = held + 1
        self.open_total += 1
        return True

    def release(self, partner_id: str) -> None:
        held = self.open_by_partner[partner_id] - 1
        assert held >= 0 and self.open_total > 0, "a stream slot released twice"
        if held:
            self.open_by_partner[partner_id] = held
        else:
            del self.open_by_partner[partner_id]
        self.open_total -= 1


def stream_limit_reached(stream_limits: StreamLimits) -> DomainError:
    return DomainError(
        ErrorCode.STREAM_LIMIT_REACHED,
        f"too many open streams: at most {stream_limits.per_partner_max} per partner"
        f" and {stream_limits.hub_max} per hub process; close one and retry",
    )


def _incoming(context: grpc.aio.ServicerContext[bytes, bytes]) -> IncomingCall:
    auth_context = cast(Mapping[str, Sequence[bytes]], context.auth_context())
    return IncomingCall(tuple(context.invocation_metadata() or ()), auth_context)


async def _abort(context: grpc.aio.ServicerContext[bytes, bytes], outcome: Outcome) -> NoReturn:
    await context.abort(outcome.status, outcome.details, outcome.trailers)
    raise AssertionError("abort raises")


class GrpcEntrypoint:
    """Turns declared RPC methods into grpc.aio handlers around the request pipeline."""

    def __init__(
        self, pipeline: RequestPipeline, workers: ThreadPoolExecutor, slots: StreamSlots
    ) -> None:
        self.pipeline = pipeline
        self.workers = workers
        self.slots = slots

    async def in_worker(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the worker pool, in a copy of the caller's context."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, function, *args)
        return await asyncio.get_running_loop().run_in_executor(self.workers, call)

    async def _storage_work(self, function: Callable[..., T], *args: Any) -> T:
        """A stream's storage work on the pool, retried by the unit-of-work factory."""
        retrying = self.pipeline.uow_factory.retrying
        return await self.in_worker(retrying, functools.partial(function, *args))

    def unary(self, method: RpcMethod) -> Callable[..., Any]:
        async def handle(body: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            outcome = await self.in_worker(self.pipeline.handle, method, body, _incoming(context))
            if outcome.refused:
                await _abort(context, outcome)
            context.set_trailing_metadata(outcome.trailers)
            return outcome.response

        return handle

    def stream(self, method: RpcMethod) -> Callable[..., AsyncIterator[bytes]]:
        async def handle(
            body: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
        ) -> AsyncIterator[bytes]:
            opened = await self.in_worker(
                self.pipeline.open_stream, method, body, _incoming(context)
            )
            if isinstance(opened, Outcome):
                await _abort(context, opened)
            if not self.slots.acquire(opened.partner_id):
                refused = stream_limit_reached(self.slots.limits)
                await _abort(context, self.pipeline.stream_refusal(method.path, opened, refused))
            try:
                async for message in self._messages(method, opened, context):
                    yield message
            finally:
                self.slots.release(opened.partner_id)

        return handle

    async def _messages(
        self,
        method: RpcMethod,
        opened: OpenedStream,
        context: grpc.aio.ServicerContext[bytes, bytes],
    ) -> AsyncIterator[bytes]:
        stream = StreamContext(opened.partner_id, opened.request_id, self._storage_work)
        # Cancellation (the caller left) is a BaseException and passes through untouched.
        try:
            async for message in serialized(method.implementation(opened.request, stream)):
                yield message
        except Exception as failure:
            await _abort(context, self.pipeline.stream_refusal(method.path, opened, failure))

    def undeclared(self, path: str) -> Callable[..., Any]:
        async def refuse(_body: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            log.error("refused call to %s: the method declares no policy", path)
            error = DomainError(ErrorCode.METHOD_NOT_DECLARED, "method not available")
            nonce = request_nonce(_incoming(context).metadata)
            await _abort(context, self.pipeline.refusal(path, error, nonce, "-"))

        return refuse
