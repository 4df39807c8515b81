"""The hub's RPCs and their declared policies, read through the registry as the hub serves them.

Every service of every generated coalition.v1 module, and the `@rpc` declarations of the
servicer that implements it: the database-fault scenarios must fault every state-changing
RPC, so a new one (or a new service) joins the list the test demands without anyone adding it.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from google.protobuf.descriptor import ServiceDescriptor

from exchange.api.registry import declared_methods

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class HubRpc:
    name: str
    path: str
    changes_state: bool


def _services() -> list[ServiceDescriptor]:
    found = []
    for path in sorted((REPO / "coalition" / "v1").glob("*_pb2.py")):
        module = importlib.import_module(f"coalition.v1.{path.stem}")
        found.extend(module.DESCRIPTOR.services_by_name.values())
    return found


def _servicer_class(service: ServiceDescriptor) -> type:
    """`FooService` is implemented by `FooServicer` in exchange/api/*_servicer.py."""
    wanted = service.name.removesuffix("Service") + "Servicer"
    for path in sorted((REPO / "exchange" / "api").glob("*_servicer.py")):
        found = getattr(importlib.import_module(f"exchange.api.{path.stem}"), wanted, None)
        if inspect.isclass(found):
            return found
    raise AssertionError(f"no {wanted} implements {service.full_name}")


@cache
def hub_rpcs() -> dict[str, HubRpc]:
    """Every RPC of the hub by its method name (unique across the services)."""
    rpcs: dict[str, HubRpc] = {}
    for service in _services():
        declared = declared_methods(_servicer_class(service), service)
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            assert path in declared, f"{path} has no declared policy"
            assert method.name not in rpcs, f"two services declare {method.name}"
            rpcs[method.name] = HubRpc(method.name, path, declared[path].policy.changes_state)
    return rpcs


def state_changing_rpcs() -> frozenset[str]:
    return frozenset(name for name, rpc in hub_rpcs().items() if rpc.changes_state)
