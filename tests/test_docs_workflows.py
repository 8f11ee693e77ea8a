"""The workflows the pages show install findly-infra as it can be installed today: through its own Action (from the
repository, at the ref the workflow names), never `pip install findly-infra` from an index — where it is not
published yet, so whatever someone registered under its name would run, here in jobs holding `id-token: write`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

PAGES = ("gke.md", "secrets.md", "notifications.md")  # their scheduled workflows (github-actions.md's: the Action's)


@pytest.mark.parametrize("page", PAGES)
def test_a_pages_workflow_runs_findly_infra_through_its_action(page: str) -> None:
    (text,) = [b for b in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / page).read_text(), re.S) if "jobs:" in b]
    steps = [step for job in yaml.safe_load(text)["jobs"].values() for step in job["steps"]]
    for step in steps:
        assert "findly-infra" not in str(step.get("run", "")), step  # neither installed nor run by a shell
    (action,) = [step for step in steps if str(step.get("uses", "")).startswith("findly-now/findly-infra@")]
    args = [line for line in action["with"]["args"].splitlines() if line]
    assert args[0] in ("cluster", "secrets", "notify"), args  # one argument per line: the Action's args input
    if args[0] != "notify":  # extras derives the release commands' only (and the receivers' notify needs)
        assert action["with"]["extras"] in ("gke", "secret-manager")
    auth = next(n for n, step in enumerate(steps) if "google-github-actions/auth" in str(step.get("uses", "")))
    assert auth < steps.index(action)  # the credentials first


def test_the_notify_jobs_variables_are_the_ones_its_section_reads() -> None:
    """docs/notifications.md: the scheduled job sets exactly the variables its `notifications:` section names with
    {env:}, and authenticates to Google Cloud since the section reads a {secret:}."""
    page = (ROOT / "docs" / "notifications.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.S)
    (section,) = [b for b in blocks if b.startswith("notifications:")]
    (job,) = [b for b in blocks if "jobs:" in b]
    names = set(re.findall(r"\{env: (\w+)\}", section))
    steps = [step for job_ in yaml.safe_load(job)["jobs"].values() for step in job_["steps"]]
    (action,) = [step for step in steps if str(step.get("uses", "")).startswith("findly-now/findly-infra@")]
    assert set(action["env"]) - {"FINDLY_STATE"} == names
    assert "{secret:" in section
    assert any(str(step.get("uses", "")).startswith("google-github-actions/auth@") for step in steps)


@pytest.mark.parametrize("page", PAGES)
def test_a_pages_workflow_passes_actionlint_and_zizmor(page: str, tmp_path: Path) -> None:
    from tests.workflow.lint import actionlint, zizmor

    (text,) = [b for b in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / page).read_text(), re.S) if "jobs:" in b]
    linted = actionlint(tmp_path / "actionlint", text)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    path = tmp_path / "zizmor" / ".github" / "workflows" / "notify.yml"
    path.parent.mkdir(parents=True)
    # the pages say to pin our Action by commit in your copy (github-action.md, Versions): as a copy would
    path.write_text(text.replace("findly-now/findly-infra@v1", "findly-now/findly-infra@" + "0" * 40))
    found = zizmor(path)
    assert found.returncode == 0, found.stdout + found.stderr
