"""The Action (action.yml), run as GitHub runs a composite action (tests/workflow/runner.py): the page's own example
workflow, arguments that stay data, the command's exit code as the step's, its outputs passed through."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.workflow.conftest import MakeRunner, Repository, quick_platform
from tests.workflow.lint import actionlint, zizmor
from tests.workflow.runner import Event

pytestmark = pytest.mark.timeout(600)
PAGE = ROOT / "docs" / "github-action.md"


def _example() -> str:
    (workflow,) = [block for block in re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S) if "jobs:" in block]
    return workflow


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository(tmp_path / "services", quick_platform())


def test_the_page_s_example_runs_and_passes_the_linters(
    repo: Repository, make_runner: MakeRunner, pg_url: str, tmp_path: Path
) -> None:
    linted = actionlint(tmp_path / "lint", _example())
    assert linted.returncode == 0, linted.stdout
    workflow = tmp_path / "zizmor" / ".github" / "workflows" / "deploy.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(_example())
    audited = zizmor(workflow)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    sha = repo.commit("feature/search", "search")
    run = make_runner(repo, _example(), secrets={"FINDLY_STATE": pg_url}).run(
        Event("push", "refs/heads/feature/search", sha)
    )
    job = run.jobs["development"]
    assert job.result == "success", run.text()
    assert job.log[-1][2].strip() == "outcome=started phase=progressing extras=postgresql", job.text()


ARGUMENTS = """name: arguments
on: workflow_dispatch
permissions: {}
jobs:
  deploy:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    env:
      VERSION: ${{ inputs.version }}
    outputs:
      code: ${{ steps.deploy.outputs.exit-code }}
      outcome: ${{ steps.deploy.outputs.outcome }}
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1  # v7.0.1
        with: {persist-credentials: false}
      - id: deploy
        uses: ./
        with:
          args: |
            deploy
            fn-posts
            ${{ env.VERSION }}
            --env
            development
            --state
            memory://
"""


@pytest.mark.parametrize(
    "version",
    ["$(touch pwned)", "`touch pwned`; touch pwned", "1.0 --env production", "*"],
)
def test_a_version_typed_into_a_form_stays_one_argument(
    repo: Repository, make_runner: MakeRunner, version: str
) -> None:
    """No shell reads the arguments: each of these is one argument, which the tool refuses as a version (exit 2,
    the step failed with it), and nothing runs."""
    text = ARGUMENTS.replace(
        "on: workflow_dispatch", "on:\n  workflow_dispatch:\n    inputs: {version: {type: string}}"
    )
    runner = make_runner(repo, text)
    main = repo.commit("main", "a change")
    run = runner.run(Event("workflow_dispatch", "refs/heads/main", main, "erin", {"version": version}))
    job = run.jobs["deploy"]
    assert job.result == "failure", run.text()
    assert job.outputs["code"] == "2", run.text()
    assert job.log[1][1] == 2  # the step's exit code is the command's
    assert not list(runner.work.rglob("pwned"))


def test_the_outputs_and_the_exit_code_pass_through(repo: Repository, make_runner: MakeRunner) -> None:
    text = ARGUMENTS.replace(
        "on: workflow_dispatch", "on:\n  workflow_dispatch:\n    inputs: {version: {type: string}}"
    )
    runner = make_runner(repo, text)
    main = repo.commit("main", "a change")
    run = runner.run(Event("workflow_dispatch", "refs/heads/main", main, "erin", {"version": "1.4.0"}))
    assert run.jobs["deploy"].result == "success", run.text()
    assert run.jobs["deploy"].outputs == {"code": "0", "outcome": "started"}


def test_a_version_from_the_index_with_the_extras_given(
    repo: Repository, make_runner: MakeRunner, pip_env: dict[str, str], wheel: Path
) -> None:
    """`version` installs findly-infra from the index (here the wheelhouse and our wheel stand for PyPI), `extras`
    given skips asking `findly-infra extras`: the Action's other install path."""
    number = wheel.name.split("-")[1]
    text = ARGUMENTS.replace(
        "on: workflow_dispatch", "on:\n  workflow_dispatch:\n    inputs: {version: {type: string}}"
    )
    text = text.replace(
        "        with:\n          args: |",
        f"        with:\n          version: {number}\n          extras: github\n          args: |",
    )
    index = {**pip_env, "PIP_FIND_LINKS": f"{pip_env['PIP_FIND_LINKS']} {wheel.parent}"}
    runner = make_runner(repo, text, pip_env=index)
    main = repo.commit("main", "a change")
    run = runner.run(Event("workflow_dispatch", "refs/heads/main", main, "erin", {"version": "1.4.0"}))
    assert run.jobs["deploy"].result == "success", run.text()
    digest = hashlib.sha256(f"=={number}".encode()).hexdigest()[:16]
    assert f"-pypi-{digest}-extras-github" in run.jobs["deploy"].text()
    assert "-core" not in run.jobs["deploy"].text()  # no core install: the extras were given


def test_two_extras_and_a_range_make_a_cache_key_without_a_comma(
    repo: Repository, make_runner: MakeRunner, pip_env: dict[str, str], wheel: Path
) -> None:
    """actions/cache refuses a key with a comma (@actions/cache checkKey): the key once held the extras as given
    (postgresql,prometheus) and the specifier (>=1.2,<2), so every job with two extras failed at the cache step."""
    number = wheel.name.split("-")[1]
    text = ARGUMENTS.replace(
        "on: workflow_dispatch", "on:\n  workflow_dispatch:\n    inputs: {version: {type: string}}"
    )
    text = text.replace(
        "        with:\n          args: |",
        f"        with:\n          version: '>={number},<99'\n          extras: github,postgresql\n          args: |",
    )
    index = {**pip_env, "PIP_FIND_LINKS": f"{pip_env['PIP_FIND_LINKS']} {wheel.parent}"}
    runner = make_runner(repo, text, pip_env=index)
    main = repo.commit("main", "a change")
    run = runner.run(Event("workflow_dispatch", "refs/heads/main", main, "erin", {"version": "1.4.0"}))
    assert run.jobs["deploy"].result == "success", run.text()
    assert "-extras-github+postgresql" in run.jobs["deploy"].text()
    assert runner.cache.saved
    assert all("," not in key for key in runner.cache.saved)


def test_a_venv_whose_interpreter_moved_is_made_again(
    repo: Repository, make_runner: MakeRunner, tool_python: Path, tmp_path: Path
) -> None:
    """A cached venv names the interpreter it was made with: on a runner where setup-python's Python is elsewhere
    (self-hosted, another tool-cache path) the restored venv's scripts cannot start. The key holds a digest of the
    Python's path, and a restored venv is used only when its Python imports findly_infra."""
    first = tmp_path / "toolcache-a" / "bin"
    first.mkdir(parents=True)
    (first / "python").symlink_to(Path(tool_python).resolve())  # an interpreter of its own path
    text = ARGUMENTS.replace(
        "on: workflow_dispatch", "on:\n  workflow_dispatch:\n    inputs: {version: {type: string}}"
    ).replace("        with:\n          args: |", "        with:\n          extras: github\n          args: |")
    main = repo.commit("main", "a change")
    event = Event("workflow_dispatch", "refs/heads/main", main, "erin", {"version": "1.4.0"})
    runner = make_runner(repo, text)
    runner.python = first / "python"
    assert runner.run(event).jobs["deploy"].result == "success"
    moved = tmp_path / "toolcache-b"
    (tmp_path / "toolcache-a").rename(moved)  # the interpreter moved: the cached venv's python dangles
    again = make_runner(repo, text)
    again.python = moved / "bin" / "python"
    run = again.run(event)
    assert run.jobs["deploy"].result == "success", run.text()
    assert run.jobs["deploy"].outputs["code"] == "0"


def test_the_scripts_run_on_bash_3_2_and_refuse_windows() -> None:
    """macOS runners have bash 3.2 (no mapfile; "${a[@]}" of an empty array fails under set -u) and no sha256sum;
    a Windows venv has Scripts\\, not bin/: the Action says so at once rather than failing somewhere later."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    text = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    assert "mapfile " not in text
    assert "readarray " not in text
    assert "sha256sum" not in text
    assert "shasum" not in text
    assert '"${args[@]}"' not in text.replace('${args[@]+"${args[@]}"}', "")
    assert '"$RUNNER_OS" != Linux && "$RUNNER_OS" != macOS' in text
