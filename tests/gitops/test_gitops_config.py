"""The platform file's ``gitops:`` section: read strictly (each error naming its place), written back as read, and
refused by ``validate`` (exit 2) where it cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from findly_infra.cli import main
from findly_infra.config.loader import dump_platform, load_platform_text, validate_platform_text
from findly_infra.domain.gitops import ControllerKind, GitOpsBinding

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "findly.yaml"
SECTION = """
gitops:
  repository: https://github.com/findly-now/deploy.git
  branch: main
  path: k8s
  controller: flux
  context: management
  environments:
    staging:
      name: findly-staging
      namespace: flux-system
"""


def test_the_section_is_read_and_written_back() -> None:
    platform = load_platform_text(EXAMPLE.read_text() + SECTION)
    assert platform.gitops is not None
    assert platform.gitops.controller is ControllerKind.FLUX
    assert platform.gitops.context == "management"
    assert platform.gitops.environments == (GitOpsBinding("staging", "findly-staging", "flux-system"),)
    assert load_platform_text(dump_platform(platform)).gitops == platform.gitops


@pytest.mark.parametrize(
    ("section", "place", "said"),
    [
        ("gitops:\n  repository: r\n  controler: flux\n  environments: {}\n", "gitops.controler", "did you mean"),
        ("gitops:\n  repository: r\n  controller: jenkins\n  environments: {}\n", "gitops.controller", "argocd"),
        ("gitops:\n  repository: r\n  branch: a..b\n  environments: {}\n", "gitops.branch", "branch name"),
        ("gitops:\n  repository: r\n  path: /k8s\n  environments: {}\n", "gitops.path", "inside the repository"),
        ("gitops:\n  repository: r\n  environments: {staging: {nam: x}}\n", "gitops.environments.staging", "name"),
        ("gitops:\n  repository: r\n  pull_request: 'yes'\n  environments: {}\n", "gitops.pull_request", ""),
        ("gitops:\n  repository: r\n  environments: {stagin: {name: x}}\n", "gitops.environments.stagin", "staging"),
    ],
)
def test_a_wrong_section_names_its_place(section: str, place: str, said: str) -> None:
    report = validate_platform_text(EXAMPLE.read_text() + section, source="findly.yaml")
    problems = [p for p in report.errors if p.path.startswith(place)]
    assert problems, report.errors
    assert said in " ".join(p.message for p in problems)


def test_validate_refuses_a_canary_environment_handed_to_gitops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "findly.yaml"
    # production rolls out blue-green in the example: its traffic split is not ours once the controller deploys it
    path.write_text(EXAMPLE.read_text() + SECTION.replace("staging", "production"))
    assert main(["validate", str(path)]) == 2
    said = capsys.readouterr()
    assert "environments.production.deployment_strategy" in said.out + said.err
    assert "use deployment_strategy: rolling there" in said.out + said.err
