"""The scanners, plain functions: a corpus of texts searched for member data, secrets in raw, hex
and base64 forms, and ppids named beside another partner."""

from __future__ import annotations

import base64
import importlib
import pkgutil
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

import coalition.v1

BACKENDS = ("sqlite", "postgresql")
PARTNERS = ("skyway", "harbor", "orbit")
IDENTITY = "/coalition.v1.IdentityService/"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PPID = re.compile(r"pp_[a-z2-7]{26}")
# A partner named in a log line or span: `partner=orbit` (the pipeline's lines), or as a value.
PARTNER_NAMED = re.compile(r"\b(" + "|".join(PARTNERS) + r")\b")
# Secrets shorter than this are not searched in text: they would match by chance.
SECRET_TEXT_CHARS_MIN = 16

Row = tuple[object, ...]
Snapshot = dict[str, list[Row]]


# --- the scanners --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    place: str
    kind: str
    text: str


def encodings(secret: bytes) -> list[str]:
    """The ways a binary secret shows up in text: hex (either case) and base64 (either alphabet,
    padded or not)."""
    standard = base64.b64encode(secret).decode()
    urlsafe = base64.urlsafe_b64encode(secret).decode()
    forms = {secret.hex(), secret.hex().upper(), standard, urlsafe}
    forms |= {form.rstrip("=") for form in (standard, urlsafe)}
    return sorted(forms)


def text_of(value: object) -> str:
    """A value as text: bytes as latin-1 (every byte one character, so any ASCII run inside a
    binary column, a ppid or a member number in a serialized message, is found as it is)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


Corpus = dict[str, str]  # each distinct text -> the first place it was seen


def corpus_of(items: Iterable[tuple[str, str]]) -> Corpus:
    """(place, text) pairs as distinct texts: a row kept across snapshots is scanned once."""
    found: Corpus = {}
    for place, text in items:
        found.setdefault(text, place)
    return found


def member_data(corpus: Corpus, member_numbers: Iterable[str]) -> list[Finding]:
    everything = "\x00".join(corpus).casefold()
    findings: list[Finding] = []
    for number in {n.casefold() for n in member_numbers}:
        if number in everything:
            findings += [
                Finding(place, "member number", number)
                for text, place in corpus.items()
                if number in text.casefold()
            ]
    for text, place in corpus.items():
        findings += [Finding(place, "e-mail", m.group()) for m in EMAIL.finditer(text)]
    return findings


def secrets_in(corpus: Corpus, secrets: Mapping[str, str]) -> list[Finding]:
    """`secrets` maps each textual form of a secret to what it is."""
    everything = "\x00".join(corpus)
    findings: list[Finding] = []
    for form, kind in secrets.items():
        if form in everything:
            findings += [
                Finding(place, kind, form[:12] + "...")
                for text, place in corpus.items()
                if form in text
            ]
    return findings


def ppids_of_others(place: str, text: str, owners: Mapping[str, str]) -> list[Finding]:
    """A ppid is acceptable only where every partner named is the one it belongs to (or none
    is named); a ppid nobody enrolled is reported too."""
    named = set(PARTNER_NAMED.findall(text))
    findings: list[Finding] = []
    for ppid in set(PPID.findall(text)):
        owner = owners.get(ppid)
        if owner is None:
            findings.append(Finding(place, "ppid of no known partner", ppid))
        elif named - {owner}:
            others = ", ".join(sorted(named - {owner}))
            findings.append(Finding(place, f"{owner}'s ppid where {others} is named", ppid))
    return findings


def response_types() -> dict[str, type[Message]]:
    """Every coalition.v1 RPC's response class, by full method path."""
    types: dict[str, type[Message]] = {}
    for module_info in pkgutil.iter_modules(coalition.v1.__path__):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(f"coalition.v1.{module_info.name}")
            for service in module.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    path = f"/{service.full_name}/{method.name}"
                    types[path] = GetMessageClass(method.output_type)
    return types


RESPONSE_TYPES = response_types()


def rows_scanned(snapshots: Iterable[Snapshot]) -> int:
    return sum(len(rows) for snapshot in snapshots for rows in snapshot.values())
