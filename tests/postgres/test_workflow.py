"""Moved: the release workflow is run as GitHub runs it in tests/workflow (examples/workflows/release.yml). What the
pages' own workflow checks import from here stays importable (tests/gke, tests/secret_manager): the real actionlint,
with shellcheck, on a workflow text."""

from __future__ import annotations

from tests.workflow.lint import actionlint as _actionlint

__all__ = ["_actionlint"]
