"""Fixtures for the render tests: the real tools, found on this machine (CI installs them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from findly_infra import load_platform
from findly_infra.render import render_platform, write_tree
from tests.conftest import EXAMPLE


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: .ci/run installs it (Debian's prometheus brings promtool)")
    return found


@pytest.fixture(scope="session")
def example_tree() -> dict[str, str]:
    return render_platform(load_platform(EXAMPLE))


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, example_tree: dict[str, str]) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    write_tree(example_tree, out)
    return out
