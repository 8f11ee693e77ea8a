"""The documentation's console examples that read a Prometheus, run as a user would against a real one serving
the data the pages describe (tests/prometheus/conftest.py), at the pages' ``http://127.0.0.1:9090``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs_examples import pages, run_console, user_environment

PROMETHEUS = "http://127.0.0.1:9090"


@pytest.mark.parametrize(
    "page", [page for page, blocks in pages().items() if any(PROMETHEUS in block.text for block in blocks)]
)
def test_console_examples_that_read_prometheus(page: str, prometheus: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for block in pages()[page]:
        run_console(block, project, user_environment(tmp_path), replace={PROMETHEUS: prometheus})
