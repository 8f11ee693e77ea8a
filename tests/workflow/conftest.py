"""The release workflow's fixtures: a real git repository to check out, the runner's Python, our Action's source,
PyPI stood in by the wheelhouse, and one PostgreSQL server for the session (a database of its own per test)."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

from findly_infra.examples import example_platform_text
from tests.conftest import ROOT
from tests.install.conftest import _wheelhouse, wheel  # noqa: F401 - our wheel, built once
from tests.postgres.conftest import pg_url, postgres  # noqa: F401 - the session's server, shared
from tests.workflow.runner import Runner

WORKFLOW = ROOT / "examples" / "workflows" / "release.yml"
ACCOUNTS = {"alice": "1001", "bob": "1002", "carol": "3003", "dave": "4004", "erin": "5005", "mallory": "6666"}
"""GitHub's account ids of the people who push and dispatch."""
SUITES = ("unit", "integration", "smoke", "e2e", "performance", "security", "load")
_names = itertools.count()


def quick_platform(text: str | None = None) -> str:
    """The example platform file, its stages in seconds: a release runs on the real clock in a test's time (the
    notation reads "2 seconds"; an analysis every second; blue-green's bake and rolling's watch 2 s)."""
    text = text or example_platform_text()
    for minutes in ("10 minutes", "20 minutes", "30 minutes"):
        text = text.replace(f'duration: "{minutes}"', 'duration: "2 seconds"')
    analysis = "  analysis: {interval: 1s, min_requests: 100, inconclusive_limit: 3}\n"
    text = text.replace(
        '    notification_channels: ["slack", "pagerduty"]\n',
        '    notification_channels: ["slack", "pagerduty"]\n' + analysis,
        1,
    )
    text = text.replace(
        '    rollback: "100% blue, 0% green"\n', '    rollback: "100% blue, 0% green"\n  bake_time: 2s\n' + analysis, 1
    )
    return text.replace(
        "\nnetwork_policies:", "\nrolling_strategy:\n  watch: 2s\n" + analysis + "\nnetwork_policies:", 1
    )


def weakened(text: str) -> str:
    """A branch's platform file that drops production's approvals."""
    start = text.index("  production:\n")
    end = text.index("\n\n", start)
    section = text[start:end].replace("approval_required: true", "approval_required: false")
    section = section.replace('    approvers: ["devops-team", "security-team"]\n', "")
    # blue-green's "Manual approval required" step needs approver groups: the branch's canary has none to ask
    section = section.replace('deployment_strategy: "blue-green"', 'deployment_strategy: "canary"')
    return text[:start] + section + text[end:]


def _git(repo: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
        "GIT_AUTHOR_NAME": "erin",
        "GIT_AUTHOR_EMAIL": "erin@example.com",
        "GIT_COMMITTER_NAME": "erin",
        "GIT_COMMITTER_EMAIL": "erin@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    run = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return run.stdout.strip()


class Repository:
    """A real git repository: ``main``, and branches made from it."""

    def __init__(self, path: Path, platform: str) -> None:
        self.path = path
        path.mkdir()
        _git(path, "init", "--quiet", "--initial-branch=main")
        (path / "findly.yaml").write_text(platform)
        for suite in SUITES:
            (path / "tests" / suite).mkdir(parents=True)
            (path / "tests" / suite / f"test_{suite}.py").write_text("def test_it_works():\n    assert True\n")
        (path / "Dockerfile").write_text("FROM gcr.io/distroless/static\n")
        self.commit("main", "the service")

    def commit(self, branch: str, message: str, files: dict[str, str] | None = None) -> str:
        """A commit on *branch* (made from main when new): its SHA."""
        branches = _git(self.path, "branch", "--list", "--format=%(refname:short)").split()
        if branches and branch not in branches:
            _git(self.path, "checkout", "--quiet", "-b", branch, "main")
        elif branches:
            _git(self.path, "checkout", "--quiet", branch)
        for name, text in (files or {}).items():
            (self.path / name).write_text(text)
        _git(self.path, "add", "-A")
        _git(self.path, "commit", "--quiet", "--allow-empty", "-m", message)
        sha = _git(self.path, "rev-parse", "HEAD")
        _git(self.path, "checkout", "--quiet", "main")
        return sha


@pytest.fixture(scope="session")
def tool_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """actions/setup-python's Python, stood in: a venv of the Python running the tests, with pip and pytest (the
    hosted runner's image has pip; pytest from the machine's own wheels, offline)."""
    folder = tmp_path_factory.mktemp("hostedtoolcache") / "Python"
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "pytest"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python


@pytest.fixture(scope="session")
def action_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$GITHUB_ACTION_PATH: our repository's files as the runner downloads them at the ref (without .git)."""
    folder = tmp_path_factory.mktemp("actions") / "findly-infra"
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for name in listed:
        if name and (name.startswith("src/") or name in ("pyproject.toml", "README.md", "action.yml")):
            source = ROOT / name
            if source.is_file() and "__pycache__" not in name:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, folder / name)
    return folder


@pytest.fixture(scope="session")
def pip_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """PyPI, stood in by the wheelhouse: what a job's pip reads (and the only variables of the test's making). Running
    another workflow (FINDLY_RELEASE_WORKFLOW), findly-infra's own wheel is there too, for its `pip install` lines."""
    links = [str(_wheelhouse())]
    if os.environ.get("FINDLY_RELEASE_WORKFLOW"):
        links.append(str(request.getfixturevalue("wheel").parent))
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": " ".join(links), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="session")
def runner_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runners' folders and the actions/cache store, shared by the session's tests (a venv cached once)."""
    return tmp_path_factory.mktemp("runners")


MakeRunner = Callable[..., Runner]


@pytest.fixture
def make_runner(
    tool_python: Path,
    action_source: Path,
    pip_env: dict[str, str],
    runner_work: Path,
    postgres: object,  # noqa: F811 - the session's server
) -> MakeRunner:
    def make(repository: Repository, workflow: Path | str = WORKFLOW, **kwargs: object) -> Runner:
        work = runner_work / f"run-{next(_names)}"
        work.mkdir()
        runner = Runner(
            workflow,
            repository.path,
            work,
            action_path=action_source,
            python=tool_python,
            pip_env=kwargs.pop("pip_env", pip_env),  # type: ignore[arg-type]
            accounts=ACCOUNTS,
            postgres=postgres,
            **kwargs,  # type: ignore[arg-type]
        )
        shared = runner_work / "cache"
        shared.mkdir(exist_ok=True)
        runner.cache.store = shared  # one cache for the session: the Action's venvs are built once
        return runner

    return make
