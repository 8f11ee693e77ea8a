"""The documentation's examples actually run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import KUBECTL_INSTALL, PROMETHEUS_INSTALL, require_tool
from tests.docs_examples import (
    console_blocks,
    expected_prints,
    in_order,
    matches,
    pages,
    python_blocks,
    run_console,
    run_python,
    user_environment,
)

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = "http://127.0.0.1:9090"  # blocks naming it run in tests/prometheus, against a real one
CLUSTER = "--context findly-prod"  # blocks naming it run in tests/cluster, against the Kubernetes stand-in
POSTGRES = "postgresql://findly@127.0.0.1:5432/findly"  # blocks naming it run in tests/postgres, against a real one
GKE = "FINDLY_GKE_ENDPOINT=127.0.0.1:8443"  # blocks naming it run in tests/gke, against the GKE stand-in
SECRETS = "FINDLY_SECRET_MANAGER_ENDPOINT=127.0.0.1:8444"  # in tests/secret_manager, against its stand-in


@pytest.mark.parametrize(
    "page",
    [
        page
        for page, blocks in pages().items()
        if not any(PROMETHEUS in block.text or CLUSTER in block.text for block in blocks) and page != "install.md"
    ],  # install.md installs packages: tests/install runs it, in a fresh environment, from the wheelhouse
)
def test_console_examples_run_from_another_folder(page: str, tmp_path: Path) -> None:
    """A page's console blocks, in order, in one folder of their own: as someone following the page would."""
    project = tmp_path / "project"
    project.mkdir()
    for block in pages()[page]:
        if block.steps[0].command.startswith("pip install") or any(m in block.text for m in (POSTGRES, GKE, SECRETS)):
            continue
        if "jq " in block.text:
            require_tool("jq", "Debian: apt-get install jq")
        if "kubectl " in block.text:
            require_tool("kubectl", KUBECTL_INSTALL)
        run_console(block, project, user_environment(tmp_path))


@pytest.mark.parametrize(
    ("name", "code"), [pytest.param(n, c, id=n) for n, c in python_blocks() if PROMETHEUS not in c]
)
def test_python_examples_run_from_another_folder(name: str, code: str, tmp_path: Path) -> None:
    if "findly_infra.testing.prometheus" in code:
        require_tool("prometheus", PROMETHEUS_INSTALL)
        require_tool("promtool", PROMETHEUS_INSTALL)
    if "findly_infra.testing.postgresql" in code:
        from findly_infra.testing.postgresql import postgres_binaries

        if postgres_binaries() is None:
            require_tool("initdb", "Debian: apt-get install postgresql")
    run_python(name, code, tmp_path, user_environment(tmp_path))


def test_the_harness_reads_what_the_pages_show() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert not matches(["a", "d"], ["a", "b", "d"])
    assert matches(["...", "c"], ["c"])
    assert in_order(["1 hour", "2.0"], ["[5]", "1 hour", "x", "2.0"])
    assert not in_order(["2.0"], ["2.0000000000001137"])
    assert expected_prints("print(x)  # 2.0\nfor y in z:\n    print(y)\n    # shown\n") == ["2.0", "shown"]
    assert len(console_blocks()) >= 10


def test_every_rule_is_documented() -> None:
    source = (ROOT / "src" / "findly_infra" / "domain" / "checks.py").read_text()
    names = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)",?\s*\)', source))  # each Finding ends with its rule's name
    assert len(names) >= 20
    page = (ROOT / "docs" / "platform-file.md").read_text()
    for name in names:
        assert f"`{name}`" in page, name


def test_the_github_actions_workflow_parses_and_its_commands_are_real() -> None:
    """The release workflow (examples/workflows/release.yml, which docs/github-actions.md links): each command it
    gives the Action, one argument per line, and each it runs from a script, parses as findly-infra's."""
    import shlex

    import yaml

    from findly_infra.cli.parser import build_parser

    workflow = yaml.safe_load((ROOT / "examples" / "workflows" / "release.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    values = {"${{ env.SERVICE }}": "fn-posts", "${{ env.VERSION }}": "1.0.0"}
    commands = [
        [values.get(line.strip(), line.strip()) for line in step["with"]["args"].splitlines() if line.strip()]
        for step in steps
        if str(step.get("uses", "")).startswith("findly-now/findly-infra@")
    ]
    commands += [
        shlex.split(line.strip().replace('"$VERSION"', "1.0.0").replace('"$suite"', "unit"))[1:]
        for step in steps
        for line in str(step.get("run", "")).splitlines()
        if line.strip().startswith('"$FINDLY_BIN/findly-infra"')
    ]
    assert len(commands) >= 10
    for words in commands:
        args = build_parser().parse_args(words)
        assert args.command in ("deploy", "promote", "rollout", "record", "approve", "state"), words
    assert "findly-infra/blob/main/examples/workflows/release.yml" in (ROOT / "docs" / "github-actions.md").read_text()


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


def test_the_kubernetes_pages_binding_loads_as_written() -> None:
    from findly_infra.config.loader import validate_platform_text

    example = (ROOT / "examples" / "findly.yaml").read_text()
    without = re.sub(r"\nkubernetes:\n(?:  .*\n)+", "\n", example)  # the page shows the whole section
    (block,) = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "kubernetes.md").read_text(), re.S)
    report = validate_platform_text(without + "\n" + block)
    assert report.ok, [str(e) for e in report.errors]
    assert report.platform is not None
    bindings = {b.environment: b for b in report.platform.kubernetes.clusters}
    assert bindings["production"].context == "gke_findly-now_us-central1_findly-now-prod"
    assert (bindings["staging"].context, bindings["staging"].in_cluster) == (None, False)
    assert "development" not in bindings  # commented out: the simulated cluster
