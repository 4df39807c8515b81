"""The suite covers every port: each public method of each storage port is named in a contract
module's COVERS, and each name there is called in that module.

The ports are UnitOfWorkFactory, UnitOfWork and the repositories its properties return, plus
every other Protocol of exchange/domain/ports.py except those the callers implement."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from pathlib import Path
from types import ModuleType

from exchange.domain import ports

# Implemented by the hub's callers (clock, API-layer signers), not by a storage backend.
NOT_STORAGE_PORTS = {"Clock", "EventEncoder", "QuoteSealer"}
CONTRACT_MODULE = re.compile(r"test_\w+_port$")


def _is_protocol(candidate: object) -> bool:
    return inspect.isclass(candidate) and bool(getattr(candidate, "_is_protocol", False))


def port_protocols() -> dict[str, type]:
    found: dict[str, type] = {"UnitOfWork": ports.UnitOfWork}
    found["UnitOfWorkFactory"] = ports.UnitOfWorkFactory
    for name, member in vars(ports.UnitOfWork).items():
        if isinstance(member, property) and member.fget is not None:
            port = typing.get_type_hints(member.fget)["return"]
            assert _is_protocol(port), f"UnitOfWork.{name} is not typed as a Protocol"
            found[port.__name__] = port
    for name, member in vars(ports).items():
        defined_here = getattr(member, "__module__", None) == ports.__name__
        if _is_protocol(member) and defined_here and name not in NOT_STORAGE_PORTS:
            found[name] = member
    return found


def public_methods(port: type) -> set[str]:
    return {
        name
        for name, member in vars(port).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }


def contract_modules() -> list[ModuleType]:
    package = Path(__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(package)]) if CONTRACT_MODULE.match(m.name)]
    return [importlib.import_module(f"{__package__}.{name}") for name in sorted(names)]


def declared() -> dict[str, str]:
    """Port.method → the module that covers it."""
    covers: dict[str, str] = {}
    for module in contract_modules():
        for name in getattr(module, "COVERS", set()):
            assert name not in covers, f"{name} is declared by {covers[name]} and {module.__name__}"
            covers[name] = module.__name__
    return covers


def test_every_public_method_of_every_port_is_covered() -> None:
    required = {
        f"{port_name}.{method}"
        for port_name, port in port_protocols().items()
        for method in public_methods(port)
    }
    assert required, "no ports found"
    covered = declared()
    assert sorted(required - set(covered)) == [], "port methods no contract test covers"
    assert sorted(set(covered) - required) == [], "COVERS names a method no port has"


def test_each_module_calls_the_methods_it_covers() -> None:
    uncalled = []
    for module in contract_modules():
        source = inspect.getsource(module)
        for name in sorted(getattr(module, "COVERS", set())):
            if f".{name.split('.', 1)[1]}(" not in source:
                uncalled.append(f"{module.__name__}: {name}")
    assert uncalled == []


def test_every_contract_module_declares_what_it_covers() -> None:
    assert [m.__name__ for m in contract_modules() if not getattr(m, "COVERS", None)] == []
