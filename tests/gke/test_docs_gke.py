"""docs/gke.md's scheduled workflow, through the real actionlint. (Its console blocks run in tests/test_docs.py, as
written, against the GKE stand-in the page itself starts.)"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT
from tests.postgres.test_workflow import _actionlint


def test_the_scheduled_drift_workflow_passes_actionlint(tmp_path: Path) -> None:
    (workflow,) = [
        block
        for block in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "gke.md").read_text(), re.S)
        if "jobs:" in block
    ]
    result = _actionlint(tmp_path, workflow)
    assert result.returncode == 0, result.stdout + result.stderr
