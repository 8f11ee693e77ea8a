"""The documentation's examples actually run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ALERTMANAGER_INSTALL, KUBECTL_INSTALL, PROMETHEUS_INSTALL, require_tool
from tests.docs_examples import (
    ConsoleBlock,
    console_blocks,
    expected_prints,
    free_ports,
    in_order,
    matches,
    pages,
    python_blocks,
    run_page,
    run_python,
    user_environment,
)

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = "http://127.0.0.1:9090"  # the address the pages show a Prometheus at (python blocks naming it: skipped)
SHOWN_PORTS = (5432, 6443, 8443, 8444, 8445, 8446, 8447, 9090)
"""The ports of 127.0.0.1 the pages start their servers on: each run takes free ones instead (``free_ports``), so
that pages run side by side and beside a server the machine already runs on one of them."""
LAUNCHERS = {  # what each launcher a page starts needs: (module to import, the extra) — else the page is skipped
    "kubernetes": ("kubernetes_validate", "testing"),
    "gke": ("google.cloud.container_v1", "gke"),
    "secret_manager": ("google.cloud.secretmanager_v1", "secret-manager"),
    "github_oidc": ("jwt", "github"),
    "postgresql": ("psycopg", "postgresql"),
    "prometheus": ("httpx", "prometheus"),
    "receivers": ("httpx", "prometheus"),  # the stand-ins need no extra; what sends to them needs httpx
    "cloud_dns": ("google.cloud.dns", "dns"),  # the stand-in needs no extra; the client that reaches it does
}


def _prepare(blocks: list[ConsoleBlock]) -> None:
    """Skip (with how to install it) when a tool the page's blocks run, or an extra its servers need, is missing."""
    text = "\n".join(block.text for block in blocks)
    if "jq " in text:
        require_tool("jq", "Debian: apt-get install jq")
    if "kubectl " in text:
        require_tool("kubectl", KUBECTL_INSTALL)
    if "amtool " in text:
        require_tool("amtool", ALERTMANAGER_INSTALL)
    for module in set(re.findall(r"python -m findly_infra\.testing\.(\w+)", text)):
        imported, extra = LAUNCHERS[module]
        pytest.importorskip(imported, reason=f"the {extra} extra: pip install 'findly-infra[{extra}]'")
        if module == "prometheus":
            require_tool("prometheus", PROMETHEUS_INSTALL)
            require_tool("promtool", PROMETHEUS_INSTALL)
        if module == "postgresql":
            from findly_infra.testing.postgresql import postgres_binaries

            if postgres_binaries() is None:
                require_tool("initdb", "Debian: apt-get install postgresql")


def _followed(blocks: list[ConsoleBlock]) -> list[ConsoleBlock]:
    """The blocks a reader runs in the page's folder: all but an install (tests/install runs those, in a fresh
    environment, from the wheelhouse)."""
    return [block for block in blocks if not block.steps[0].command.startswith("pip install")]


@pytest.mark.parametrize("page", [page for page in pages() if page != "install.md" and _followed(pages()[page])])
def test_console_examples_run_from_an_empty_folder(page: str, tmp_path: Path) -> None:
    """A page's console blocks, in order, as written, in one shell in an empty folder of their own, with only the
    installed package: as someone following the page would. A server the page needs is one the page starts itself
    (``python -m findly_infra.testing.… &``), on a free port instead of the one it shows; everything the page
    started is stopped when it ends."""
    blocks = _followed(pages()[page])
    _prepare(blocks)
    project = tmp_path / "project"
    project.mkdir()
    run_page(blocks, project, user_environment(tmp_path), replace=free_ports(*SHOWN_PORTS))


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


REACHED = {  # what a step shows of a server, and the launcher that starts it
    "127.0.0.1:5432": "postgresql",
    "127.0.0.1:6443": "kubernetes",
    "--context findly-prod": "kubernetes",
    "127.0.0.1:8443": "gke",
    "127.0.0.1:8444": "secret_manager",
    "127.0.0.1:8445": "github_oidc",
    "127.0.0.1:8446": "receivers",
    "127.0.0.1:8447": "cloud_dns",
    "127.0.0.1:9090": "prometheus",
}


def test_each_server_a_page_reaches_is_one_the_page_started_before() -> None:
    """A page's console blocks never reach a server that nothing on the page started: each address (or kubeconfig
    context) a step names is served by a launcher a step before it started — so that the page can be followed from
    an empty folder, and its test cannot pass on a server the test started behind the page's back."""
    reached = 0
    for blocks in pages().values():
        started: set[str] = set()
        for block in _followed(blocks):
            for step in block.steps:
                launched = re.match(r"python -m findly_infra\.testing\.(\w+)", step.command)
                if launched:
                    started.add(launched.group(1))
                    continue
                for shown, launcher in REACHED.items():
                    if shown in step.command:
                        assert launcher in started, f"{block.id}: `{step.command}` reaches {shown}, never started"
                        reached += 1
    assert reached >= 15


def test_the_simulation_pages_scenario_files_are_the_ones_its_commands_run() -> None:
    """A scenario file the simulation page shows is one of its console blocks writes and simulates (and the outcome
    it shows is checked there): no scenario sits in a yaml block no command runs."""
    page = (ROOT / "docs" / "simulation.md").read_text()
    assert not [block for block in re.findall(r"```yaml\n(.*?)```", page, re.S) if "{minute:" in block]
    (written,) = [block for block in pages()["simulation.md"] if "--scenario-file" in block.text]
    outcomes = [line for step in written.steps for line in step.expected if line.startswith("outcome:")]
    assert outcomes == [
        "outcome: rolled_back after 0:13:00 of virtual time",
        "outcome: paused after 0:22:00 of virtual time",
        "outcome: paused after 0:03:00 of virtual time",  # the pause the page explains: metrics it never named
    ]
