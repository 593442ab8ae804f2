"""Shared test options and fixtures.

``--integration`` selects tests marked ``integration`` (whole recipes, ../shared/data); without it
they are skipped. ``shared_data`` points at ../shared/data and skips cleanly when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--integration", action="store_true", help="also run integration tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--integration"):
        return
    skip = pytest.mark.skip(reason="integration test: run with --integration")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kenlm_tools() -> None:
    """Skip (with the reason) when KenLM's ``lmplz`` / ``build_binary`` are not built yet."""
    from unsup_asr.text.lm import find_kenlm_tool

    try:
        find_kenlm_tool("lmplz")
        find_kenlm_tool("build_binary")
    except RuntimeError as e:
        pytest.skip(f"KenLM binaries not built yet ({e})")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}; integration data absent")
    return SHARED_DATA
