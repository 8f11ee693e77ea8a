"""What the docs tell a user to install brings what the commands they then run need: the release workflow installs
through the Action, which derives the extras (a missing one is exit 2 on a real runner); each page that starts a
stand-in installs its extras."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT
from tests.docs_examples import DOCS


def _installed(run: str) -> set[str]:
    (extras,) = re.findall(r"findly-infra\[([a-z,-]+)\]", run)
    return set(extras.split(","))


def test_each_workflow_job_installs_the_extras_its_settings_need() -> None:
    """The release workflow runs findly-infra through the Action only, which installs what `findly-infra extras` says
    the settings need (tests/workflow runs it: PROMETHEUS_URL set, the prometheus extra is there); no job names
    extras by hand, so none can lack one."""
    workflow = yaml.safe_load((ROOT / "examples" / "workflows" / "release.yml").read_text())
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            assert "pip install" not in str(step.get("run", "")).replace("pip install --quiet pytest", ""), name
            if str(step.get("uses", "")).startswith("findly-now/findly-infra@"):
                assert "extras" not in step.get("with", {}), (name, step)


def test_each_page_that_starts_a_stand_in_installs_its_extras() -> None:
    launchers = {"kubernetes": {"kubernetes", "testing"}, "gke": {"gke"}, "secret_manager": {"secret-manager"}}
    for page in ("kubernetes.md", "gke.md", "secrets.md"):
        for block in re.findall(r"```sh\n(.*?)```", (DOCS / page).read_text(), re.S):
            started = re.findall(r"^python -m findly_infra\.testing\.(\w+)", block, re.M)
            if started:
                (install,) = [line for line in block.splitlines() if line.startswith("pip install")]
                for module in started:
                    assert launchers[module] <= _installed(install), (page, module)
