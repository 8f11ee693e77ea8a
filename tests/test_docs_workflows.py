"""The workflows the pages show install findly-infra as it can be installed today: through its own Action (from the
repository, at the ref the workflow names), never `pip install findly-infra` from an index — where it is not
published yet, so whatever someone registered under its name would run, here in jobs holding `id-token: write`."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import ROOT

PAGES = ("gke.md", "secrets.md")  # their scheduled workflows (github-actions.md's release workflow: the Action's page)


@pytest.mark.parametrize("page", PAGES)
def test_a_pages_workflow_runs_findly_infra_through_its_action(page: str) -> None:
    (text,) = [b for b in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / page).read_text(), re.S) if "jobs:" in b]
    steps = [step for job in yaml.safe_load(text)["jobs"].values() for step in job["steps"]]
    for step in steps:
        assert "findly-infra" not in str(step.get("run", "")), step  # neither installed nor run by a shell
    (action,) = [step for step in steps if str(step.get("uses", "")).startswith("findly-now/findly-infra@")]
    args = [line for line in action["with"]["args"].splitlines() if line]
    assert args[0] in ("cluster", "secrets"), args  # one argument per line: the Action's args input
    assert action["with"]["extras"] in ("gke", "secret-manager")  # extras derives the release commands' only
    auth = next(n for n, step in enumerate(steps) if "google-github-actions/auth" in str(step.get("uses", "")))
    assert auth < steps.index(action)  # the credentials first
