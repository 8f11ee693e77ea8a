"""The documentation's examples actually run."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = [
    pytest.param(block, id=f"{page.name}#{index}")
    for page in sorted((ROOT / "docs").glob("*.md"))
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


@pytest.mark.parametrize("code", BLOCKS)
def test_python_examples_run(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    script = tmp_path / "example.py"
    script.write_text(code)
    runpy.run_path(str(script), run_name="__main__")


def test_every_rule_is_documented() -> None:
    source = (ROOT / "src" / "findly_infra" / "domain" / "checks.py").read_text()
    names = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)",?\s*\)', source))  # each Finding ends with its rule's name
    assert len(names) >= 20
    page = (ROOT / "docs" / "platform-file.md").read_text()
    for name in names:
        assert f"`{name}`" in page, name


def test_the_github_actions_workflow_parses_and_its_commands_are_real() -> None:
    import shlex

    import yaml

    from findly_infra.cli.parser import build_parser

    page = (ROOT / "docs" / "github-actions.md").read_text()
    (workflow_text,) = re.findall(r"```yaml\n(.*?)```", page, re.S)
    workflow = yaml.safe_load(workflow_text)
    steps = workflow["jobs"]["release"]["steps"]
    commands = [
        line.strip()
        for step in steps
        for line in str(step.get("run", "")).splitlines()
        if line.strip().startswith("findly-infra")
    ]
    assert len(commands) >= 8
    for command in commands:
        words = shlex.split(command.replace("${{ inputs.version }}", "1.0.0").replace("$GITHUB_SHA", "3f9c2e1"))
        args = build_parser().parse_args(words[1:])
        assert args.command in ("validate", "deploy", "promote", "rollout", "record", "approve", "slo"), command


def test_the_prometheus_pages_configuration_loads_as_written() -> None:
    from findly_infra.config.loader import validate_platform_text

    example = (ROOT / "examples" / "findly.yaml").read_text()
    without = re.sub(r"\nmetrics:\n(?:  .*\n)+", "\n", example)  # the page shows the whole section
    for block in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "prometheus.md").read_text(), re.S):
        if block.startswith("canary_strategy:"):  # the seed's section, its criteria replaced by the page's
            start, end = re.search(r"  success_criteria:\n(?:    .*\n)+", example).span()  # type: ignore[union-attr]
            text = (
                example[:start] + "  success_criteria:\n" + block.split("  success_criteria:\n", 1)[1] + example[end:]
            )
        else:
            text = without + "\n" + block
        report = validate_platform_text(text)
        assert report.ok, [str(e) for e in report.errors]
