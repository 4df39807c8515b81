"""Fixtures of the console's tests: one demo hub and one console process per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.support import ConsoleProcess, DemoHub, demo_hub

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> DemoHub:
    return demo_hub(tmp_path_factory.mktemp("console-demo"))


@pytest.fixture(scope="session")
def console_url(hub: DemoHub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = ConsoleProcess(hub, tmp_path_factory.mktemp("console"))
    yield process.url
    process.stop()


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], console_url: str) -> dict[str, Any]:
    return {**browser_context_args, "base_url": console_url, "accept_downloads": True}
