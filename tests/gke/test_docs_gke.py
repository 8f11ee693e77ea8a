"""docs/gke.md as a user would run it: its console block against the GKE stand-in (seeded with the seed's cluster,
drifted), at the address the page shows; its scheduled workflow through the real actionlint."""

from __future__ import annotations

import re
from pathlib import Path

from findly_infra.testing.gke import GkeStandIn
from tests.conftest import ROOT
from tests.docs_examples import pages, run_console, user_environment
from tests.gke.test_gke import _drifted
from tests.test_docs import GKE
from tests.workflow.lint import actionlint as _actionlint

SHOWN = "127.0.0.1:8443"


def test_the_pages_console_block_runs_against_the_stand_in(gke: GkeStandIn, tmp_path: Path) -> None:
    _drifted(gke)
    blocks = [block for block in pages()["gke.md"] if GKE in block.text]
    assert len(blocks) == 2  # the seed's cluster, then node auto-provisioning and Workload Identity asked for
    project = tmp_path / "project"
    project.mkdir()
    for block in blocks:
        run_console(block, project, user_environment(tmp_path), replace={SHOWN: gke.address})


def test_the_scheduled_drift_workflow_passes_actionlint(tmp_path: Path) -> None:
    (workflow,) = [
        block
        for block in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "gke.md").read_text(), re.S)
        if "jobs:" in block
    ]
    result = _actionlint(tmp_path, workflow)
    assert result.returncode == 0, result.stdout + result.stderr
