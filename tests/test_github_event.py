"""``github SERVICE VERSION`` on the event that maps to staging (a merge to main): a version that never ran in
development — the merge commit, which the feature branch never built — is deployed there first, and the answer says
what is left before staging (exit 6, waiting for evidence); the same event run again once it is done promotes it to
staging. The rule (``domain.arrival``) with Hypothesis on the in-memory adapters; the command line's outcomes, exit
codes, ``--json`` and ``$GITHUB_OUTPUT``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.application.github import arrival, left_for
from findly_infra.application.service import PolicyRefusedError
from findly_infra.bootstrap import Runtime, Settings, load_platform, open_runtime
from findly_infra.domain import Phase, StrategyKind
from tests.conftest import EXAMPLE
from tests.test_release_cli import cli

NOW = datetime(2026, 11, 26, 9, 0)
SETTINGS = Settings(config=str(EXAMPLE), config_given=True, state="memory://", now=NOW)
SUITES = ("unit", "integration", "smoke")


def _runtime(scenario: str = "healthy") -> Runtime:
    settings_ = Settings(config=str(EXAMPLE), config_given=True, state="memory://", now=NOW, scenario=scenario)
    with open_runtime(settings_, load_platform(SETTINGS), service="fn-posts") as built:
        return built


# a history of development: what happened to the version the merge names (Y) and to another (Z) before the merge
step = st.sampled_from(["deploy-y", "deploy-z", "finish", "fail", "record-y", "fail-y"])


def _happen(runtime: Runtime, steps: list[str], suites: list[str]) -> None:
    release, clock = runtime.service, runtime.virtual
    assert clock is not None
    for what in steps:
        view = release.view("fn-posts", "development")
        try:
            if what in ("deploy-y", "deploy-z"):
                release.deploy("fn-posts", "y1" if what == "deploy-y" else "z1", "development", actor="erin")
            elif what in ("finish", "fail") and view.phase is Phase.PROGRESSING:
                if what == "fail":
                    release.rollback("fn-posts", "development", actor="erin", reason="bad build")
                else:
                    release.watch("fn-posts", "development", actor="findly", wait=clock.advance)
            elif what in ("record-y", "fail-y"):
                for suite in suites:
                    release.record_test("fn-posts", "y1", "development", suite, what == "record-y", actor="ci")
        except PolicyRefusedError:  # a second rollout while one is under way: refused, as it should be
            pass


@settings(max_examples=60)
@given(steps=st.lists(step, max_size=6), suites=st.lists(st.sampled_from(SUITES), unique=True))
def test_a_merge_deploys_where_the_version_has_not_run_and_what_is_left_is_what_the_rules_ask(
    steps: list[str], suites: list[str]
) -> None:
    """The event that maps to staging deploys Y to development exactly when Y is not there (no rollout of it is the
    latest there, it never succeeded there; suites recorded for it without a rollout do not count); otherwise it asks
    staging, and what is left before staging is what the promotion rules refuse on — nothing left, and staging
    takes it."""
    runtime = _runtime()
    _happen(runtime, steps, suites)
    release = runtime.service
    pipeline = release.pipeline("fn-posts", ("y1",))
    dev = pipeline.environments["development"]
    entered = "y1" in dev.succeeded or (dev.rollout is not None and dev.rollout.version == "y1")
    assert arrival(release, "fn-posts", "staging", "y1") == ("staging" if entered else "development")
    left = left_for(release, "fn-posts", "staging", "y1")
    assert left is not None
    assert left.previous == "development"
    assert set(left.suites) == {s for s in SUITES if not dev.has_passed("y1", s)}
    assert (left.rollout is None) == ("y1" in dev.succeeded)
    if entered and left.rollout is None and not left.suites:  # nothing left: staging takes it
        assert release.deploy("fn-posts", "y1", "staging", actor="erin").view.rollout is not None
    elif entered:
        with pytest.raises(PolicyRefusedError) as refused:
            release.deploy("fn-posts", "y1", "staging", actor="erin")
        assert refused.value.refusal.rule in ("promotion-order", "required-tests")


@settings(max_examples=30)
@given(steps=st.lists(step, max_size=6), suites=st.lists(st.sampled_from(SUITES), unique=True))
def test_doing_what_is_left_and_running_the_event_again_puts_the_version_on_staging(
    steps: list[str], suites: list[str]
) -> None:
    """From any history of development, a merge's version reaches staging by the loop a workflow runs — the event,
    what it says is left (the rollout in development, the suites), the event again — unless its rollout in
    development failed, which is refused (a retry is a new, explicit deploy); another version rolling out there is
    refused (one rollout at a time), and the job waits for it before trying again."""
    runtime = _runtime()
    _happen(runtime, steps, suites)
    release, clock = runtime.service, runtime.virtual
    assert clock is not None
    for _ in range(3):
        target = arrival(release, "fn-posts", "staging", "y1")
        if target == "development":
            if release.view("fn-posts", "development").phase is Phase.PROGRESSING:  # another version rolls out there:
                with pytest.raises(PolicyRefusedError, match="one-rollout-at-a-time"):  # refused; the job waits for it
                    release.deploy("fn-posts", "y1", "development", actor="erin")
                release.watch("fn-posts", "development", actor="findly", wait=clock.advance)
            release.deploy("fn-posts", "y1", "development", actor="erin")
        left = left_for(release, "fn-posts", "staging", "y1")
        assert left is not None
        if left.failed:
            with pytest.raises(PolicyRefusedError, match="promotion-order"):
                release.deploy("fn-posts", "y1", "staging", actor="erin")
            return
        if not left.waits:
            break
        if left.rollout == "progressing":
            release.watch("fn-posts", "development", actor="findly", wait=clock.advance)
        for suite in left.suites:
            release.record_test("fn-posts", "y1", "development", suite, True, actor="ci")
    else:
        pytest.fail("three runs of the event did not get y1 to staging")
    outcome = release.deploy("fn-posts", "y1", "staging", actor="erin")
    assert outcome.view.rollout is not None
    assert outcome.view.rollout.version == "y1"


# ---- the command line ------------------------------------------------------------------------------------------


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture
def merge(tmp_path: Path) -> dict[str, str]:
    return {
        "FINDLY_CONFIG": str(EXAMPLE),
        "FINDLY_ACTOR": "erin",
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        "FINDLY_NOW": "2026-01-05T09:00:00Z",
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/heads/main",
    }


def test_a_merge_of_a_version_never_in_development_deploys_it_there_first_and_says_what_is_left(
    merge: dict[str, str], tmp_path: Path
) -> None:
    code, document = cli(merge, "github", "fn-posts", "3f9c2e1")
    assert code == 6  # waiting for evidence, not refused (3)
    assert (document["outcome"], document["environment"], document["target"]) == ("started", "development", "staging")
    assert document["phase"] == "progressing"  # development's view: it rolls out there now
    left = document["left"]
    assert left["rollout"] == "progressing"  # type: ignore[index]
    assert left["suites"] == ["unit", "integration", "smoke"]  # type: ignore[index]
    assert "then run `findly-infra github fn-posts 3f9c2e1` again" in left["message"]  # type: ignore[index]
    outputs = _outputs(tmp_path / "out")
    assert (outputs["outcome"], outputs["environment"], outputs["target"]) == ("started", "development", "staging")
    assert (outputs["waiting_for"], outputs["waiting_needs"]) == ("evidence", "rollout,unit,integration,smoke")


def test_the_same_merge_run_again_once_development_is_done_promotes_to_staging(
    merge: dict[str, str], tmp_path: Path
) -> None:
    assert cli(merge, "github", "fn-posts", "3f9c2e1")[0] == 6
    code, document = cli(merge, "github", "fn-posts", "3f9c2e1")  # a retry meanwhile: still waiting, nothing new
    assert (code, document["outcome"], document["environment"]) == (6, "waiting", None)
    assert cli(merge, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    code, document = cli(merge, "github", "fn-posts", "3f9c2e1")
    assert (code, document["left"]["rollout"], document["left"]["suites"]) == (6, None, list(SUITES))  # type: ignore[index]
    for suite in SUITES:
        assert cli(merge, "record", "fn-posts", "3f9c2e1", "--env", "development", "--suite", suite, "--passed")[0] == 0
    code, document = cli(merge, "github", "fn-posts", "3f9c2e1")
    assert (code, document["outcome"], document["environment"], document["phase"]) == (
        0,
        "started",
        "staging",
        "progressing",
    )
    outputs = _outputs(tmp_path / "out")
    assert (outputs["outcome"], outputs["environment"], outputs["target"]) == ("started", "staging", "staging")


def test_a_merge_of_a_version_rolled_back_in_development_is_refused(merge: dict[str, str]) -> None:
    feature = {**merge, "GITHUB_REF": "refs/heads/feature/search"}
    assert cli(feature, "github", "fn-posts", "3f9c2e1")[0] == 0
    assert cli(merge, "rollback", "fn-posts", "--env", "development", "--reason", "bad build")[0] == 0
    code, document = cli(merge, "github", "fn-posts", "3f9c2e1")
    assert code == 3
    assert document["error"]["rule"] == "promotion-order"  # type: ignore[index]


def test_a_merge_of_a_version_that_ran_on_its_branch_goes_straight_to_staging(merge: dict[str, str]) -> None:
    feature = {**merge, "GITHUB_REF": "refs/heads/feature/search"}
    assert cli(feature, "github", "fn-posts", "3f9c2e1", "--strategy", "canary")[0] == 0
    assert cli(feature, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    for suite in SUITES:
        assert cli(merge, "record", "fn-posts", "3f9c2e1", "--env", "development", "--suite", suite, "--passed")[0] == 0
    code, document = cli(merge, "github", "fn-posts", "3f9c2e1")
    assert (code, document["environment"], document["target"]) == (0, "staging", "staging")
    assert StrategyKind(document["rollout"]["strategy"]) is StrategyKind.ROLLING  # type: ignore[index]
