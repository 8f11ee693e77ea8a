"""The release workflow and the Action, checked statically: actionlint (with shellcheck) and zizmor find nothing,
every action is pinned by a commit with its tag beside it, nothing typed into a form reaches a shell, concurrency is
per environment, and the Action declares every output the CLI writes."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.workflow.conftest import WORKFLOW
from tests.workflow.lint import actionlint, shellcheck, zizmor

ACTION = ROOT / "action.yml"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _workflow_steps() -> list[dict[str, Any]]:
    return [step for job in _load(WORKFLOW)["jobs"].values() for step in job["steps"]]


def _action_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _load(ACTION)["runs"]["steps"]
    return steps


def test_actionlint_and_shellcheck_pass_the_workflow_and_catch_a_broken_one(tmp_path: Path) -> None:
    text = WORKFLOW.read_text()
    passed = actionlint(tmp_path / "good", text)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    broken = text.replace(
        '"$FINDLY_BIN/findly-infra" record "$SERVICE" "$VERSION"',
        '"$FINDLY_BIN/findly-infra" record "$SERVICE" $VERSION',
        1,
    )
    assert broken != text
    failed = actionlint(tmp_path / "bad", broken)
    assert failed.returncode == 1
    assert "SC2086" in failed.stdout  # the unquoted variable, found by shellcheck through actionlint
    # and the Action's inputs as action.yml declares them: an input it does not have is an error
    wrong = actionlint(
        tmp_path / "input",
        text.replace("          args: |\n            deploy\n", "          argv: |\n            deploy\n", 1),
    )
    assert wrong.returncode == 1
    assert 'input "argv" is not defined' in wrong.stdout, wrong.stdout


def test_shellcheck_passes_the_action_s_scripts() -> None:
    scripts = [step["run"] for step in _action_steps() if "run" in step]
    assert len(scripts) == 5
    for script in scripts:
        assert "${{" not in script  # inputs reach the scripts as environment variables only
        result = shellcheck(script)
        assert result.returncode == 0, result.stdout


def _as_workflow(folder: Path, text: str) -> Path:
    path = folder / ".github" / "workflows" / "release.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def test_zizmor_finds_nothing_in_the_workflow_and_the_action(tmp_path: Path) -> None:
    result = zizmor(_as_workflow(tmp_path / "good", WORKFLOW.read_text()), ACTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr
    # and zizmor does read them: a step that writes an input into a script is found
    text = WORKFLOW.read_text().replace('version="$INPUT_VERSION"', 'version="${{ inputs.version }}"', 1)
    found = zizmor(_as_workflow(tmp_path / "bad", text))
    assert found.returncode != 0
    assert "template-injection" in found.stdout + found.stderr


PINNED = re.compile(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})  # (v\d+\.\d+\.\d+)$")


def test_every_action_is_pinned_by_a_commit_with_its_tag_beside_it() -> None:
    """The commits are the tags' in the actions' own repositories (git rev-parse TAG^{commit} of each, read when they
    were written: actions/checkout v7.0.1, setup-python v7.0.0, cache v5.0.5, google-github-actions/auth v3.0.0,
    get-gke-credentials v3.0.0, docker/login-action v4.1.0, setup-buildx-action v4.3.0, build-push-action v7.3.0)."""
    seen: dict[str, tuple[str, str]] = {}
    for path in (WORKFLOW, ACTION):
        for line in path.read_text().splitlines():
            if not re.match(r"\s*(- )?uses: ", line):
                continue
            if "findly-now/findly-infra@" in line:
                assert "zizmor: ignore[unpinned-uses]" in line  # our own: the page says to pin it by commit
                continue
            match = PINNED.search(line)
            assert match, line
            name, sha, tag = match.groups()
            assert seen.setdefault(name, (sha, tag)) == (sha, tag), (name, seen[name], (sha, tag))
    assert set(seen) == {
        "actions/checkout",
        "actions/setup-python",
        "actions/cache",
        "google-github-actions/auth",
        "google-github-actions/get-gke-credentials",
        "docker/login-action",
        "docker/setup-buildx-action",
        "docker/build-push-action",
    }


def test_nothing_typed_into_a_form_reaches_a_script() -> None:
    for step in _workflow_steps() + _action_steps():
        assert "${{" not in str(step.get("run", "")), step  # expressions only in env:, if: and with:


def test_concurrency_queues_per_environment_and_never_cancels_a_running_job() -> None:
    jobs = _load(WORKFLOW)["jobs"]
    for name in ("development", "staging", "production"):
        job = jobs[name]
        assert job["environment"] == name
        # queue: max: pending jobs wait in order, none cancelled (a branch's push never cancels main's pending job)
        assert job["concurrency"] == {"group": f"findly-{name}", "cancel-in-progress": False, "queue": "max"}
    # the approvals and the resume never share a deploy group: they would cancel a pending promotion
    assert "concurrency" not in jobs["approve"]
    assert jobs["resume"]["concurrency"]["group"] not in {
        f"findly-{n}" for n in ("development", "staging", "production")
    }
    for job in jobs.values():
        assert job["timeout-minutes"] > 0


def _dict_keys(node: ast.AST | None, assigned: dict[str, list[ast.expr]], seen: set[str]) -> set[str]:
    """The string keys a `**` splat hands on: a dict literal's (and those of the dicts it splats in turn), or of
    every dict literal assigned to the name splatted within the function (a parameter such as **extra adds none)."""
    if isinstance(node, ast.Dict):
        names = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:  # {**outputs, ...}
                names |= _dict_keys(value, assigned, seen)
        return names
    if isinstance(node, ast.Name) and node.id not in seen:
        names = set()
        for value in assigned.get(node.id, []):
            names |= _dict_keys(value, assigned, seen | {node.id})
        return names
    return set()


def _written_outputs() -> set[str]:
    """Every output name the CLI writes to $GITHUB_OUTPUT: the keywords of each github_output/outcome_outputs call,
    and the keys of every dict splatted into one (`**outputs`, followed to the dict literals assigned to that name in
    the same function), so that no path's outputs are missed; cluster diff's counts."""
    names: set[str] = set()
    for path in (ROOT / "src" / "findly_infra" / "cli").glob("*.py"):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            assigned: dict[str, list[ast.expr]] = {}
            for node in ast.walk(function):
                targets = node.targets if isinstance(node, ast.Assign) else []
                if isinstance(node, ast.AnnAssign) and node.value is not None:
                    targets = [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)  # type: ignore[arg-type]
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "github_output",
                    "outcome_outputs",
                ):
                    for keyword in node.keywords:
                        if keyword.arg:
                            names.add(keyword.arg)
                        else:
                            names |= _dict_keys(keyword.value, assigned, set())
    from findly_infra.application.cluster_apply import _ACTIONS

    return names | set(_ACTIONS) | {"differs"}


def test_the_action_passes_every_output_the_cli_writes_through() -> None:
    outputs = _load(ACTION)["outputs"]
    written = _written_outputs()
    assert {"phase", "outcome", "next_step_at", "verdict", "extras", "create"} <= written  # the walk sees them
    assert {"already", "serving_version", "target", "environment"} <= written  # splatted dicts: **outputs
    for name in written:
        assert name in outputs, name
        if name != "extras":
            assert outputs[name]["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    assert outputs["exit-code"]["value"] == "${{ steps.run.outputs.exit-code }}"
