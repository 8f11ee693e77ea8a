"""The harness's stand-ins kept to the real services' rules (tests/workflow/runner.py): actions/cache's key checks
and its save only after a job that succeeded; GitHub's concurrency queue (`queue: max`)."""

from __future__ import annotations

import pytest

from tests.workflow.conftest import MakeRunner, Repository, quick_platform
from tests.workflow.runner import Event

pytestmark = pytest.mark.timeout(300)

CACHE = """name: cache
on: push
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae  # v5.0.5
        with:
          path: ${{ runner.temp }}/thing
          key: KEY
      - run: mkdir -p "$RUNNER_TEMP/thing" && exit EXIT
"""


@pytest.fixture
def repo(tmp_path: object) -> Repository:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    return Repository(tmp_path / "services", quick_platform())


@pytest.mark.parametrize("key", ["findly-extras-postgresql,prometheus", "findly-pypi>=1.2,<2", "k" * 513])
def test_the_cache_refuses_a_key_with_a_comma_or_over_512_characters(
    repo: Repository, make_runner: MakeRunner, key: str
) -> None:
    runner = make_runner(repo, CACHE.replace("KEY", key).replace("EXIT", "0"))
    run = runner.run(Event("push", "refs/heads/main", repo.commit("main", "x")))
    assert run.jobs["build"].result == "failure", run.text()
    assert "Key Validation Error" in run.text()


def test_the_cache_saves_only_after_a_job_that_succeeded(repo: Repository, make_runner: MakeRunner) -> None:
    sha = repo.commit("main", "x")
    failing = make_runner(repo, CACHE.replace("KEY", f"failed-{sha}").replace("EXIT", "1"))
    assert failing.run(Event("push", "refs/heads/main", sha)).jobs["build"].result == "failure"
    assert failing.cache.saved == []
    passing = make_runner(repo, CACHE.replace("KEY", f"passed-{sha}").replace("EXIT", "0"))
    assert passing.run(Event("push", "refs/heads/main", sha)).jobs["build"].result == "success"
    assert passing.cache.saved == [f"passed-{sha}"]


SERIAL = """name: serial
on: push
permissions: {}
jobs:
  deploy:
    runs-on: ubuntu-latest
    concurrency: {group: the-environment, cancel-in-progress: false QUEUE}
    steps:
      - run: sleep 1
"""


@pytest.mark.parametrize("queue", [False, True])
def test_three_runs_in_one_group(repo: Repository, make_runner: MakeRunner, queue: bool) -> None:
    """Without `queue`, one running and one pending: the third cancels the second's pending job (GitHub's docs).
    With `queue: max`, all three run, first come first served."""
    runner = make_runner(repo, SERIAL.replace(" QUEUE", ", queue: max" if queue else ""))
    shas = [repo.commit(branch, branch) for branch in ("feature/a", "main", "feature/b")]
    runs = runner.run_together(
        *(Event("push", f"refs/heads/{b}", s) for b, s in zip(("feature/a", "main", "feature/b"), shas, strict=True))
    )
    results = [run.jobs["deploy"].result for run in runs]
    if queue:
        assert results == ["success", "success", "success"]
        assert runner.concurrency.started == runner.concurrency.arrived
    else:
        assert results == ["success", "cancelled", "success"]  # main's pending job, cancelled by feature/b's
