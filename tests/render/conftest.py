"""Fixtures for the render tests: the real tools, found on this machine (CI installs them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from findly_infra import load_platform
from findly_infra.render import render_platform, write_tree
from tests.conftest import EXAMPLE, KUBECTL_INSTALL, PROMETHEUS_INSTALL, require_tool


def tool(name: str) -> str:
    """kubectl or promtool: skipped with the install hint when missing (failed under FINDLY_REQUIRE_TOOLS=1)."""
    return require_tool(name, KUBECTL_INSTALL if name == "kubectl" else PROMETHEUS_INSTALL)


@pytest.fixture(scope="session")
def example_tree() -> dict[str, str]:
    return render_platform(load_platform(EXAMPLE))


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, example_tree: dict[str, str]) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    write_tree(example_tree, out)
    return out
