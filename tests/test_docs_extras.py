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


def test_each_page_that_starts_a_server_says_which_extras_it_needs() -> None:
    """A page whose console blocks start a launcher names, before it, the extras it needs (``the `gke` extra``, with
    install.md's link, or a ``pip install`` of them)."""
    from tests.docs_examples import pages

    launchers = {
        "kubernetes": {"kubernetes", "testing"},
        "gke": {"gke"},
        "secret_manager": {"secret-manager"},
        "github_oidc": {"github"},
        "prometheus": {"prometheus"},
        "postgresql": {"postgresql"},
        "receivers": {"notifications"},  # the stand-ins need none; sending to them needs httpx, which it brings
        "cloud_dns": {"dns"},  # the stand-in needs none; google-cloud-dns, which reaches it, is the dns extra's
    }
    checked = 0
    for page, blocks in pages().items():
        text = (DOCS / page).read_text() if (DOCS / page).exists() else ""
        for block in blocks:
            for step in block.steps:
                started = re.match(r"python -m findly_infra\.testing\.(\w+)", step.command)
                if started is None:
                    continue
                before = text[: text.index(step.command)]
                installed = set().union(*(_installed(line) for line in re.findall(r"pip install '[^']*'", before)))
                for named in re.findall(r"((?:`[a-z-]+`(?:, | and )?)+) extras?\b", before):  # "the `x` extra"
                    installed |= set(re.findall(r"`([a-z-]+)`", named))  # (install.md says how: not on PyPI yet)
                assert launchers[started.group(1)] <= installed, (page, step.command, installed)
                checked += 1
    assert checked >= 5
