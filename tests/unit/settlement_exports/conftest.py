"""The ISO 20022 pain.001.001.09 schema, loaded once per module."""

from __future__ import annotations

import importlib.resources

import pytest
import xmlschema


@pytest.fixture(scope="module")
def pain001_schema() -> xmlschema.XMLSchema:
    path = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    return xmlschema.XMLSchema(str(path))
