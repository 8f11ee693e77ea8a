"""A release in one environment as GitHub Actions shows it (``cli.release_summary``): the step summary's table of
parts in order with each one's status and versions before and after, the failed part and why, what was returned,
what it waits for; the step's outputs; written only in Actions, and nothing in a reason can break the table."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.cli.release_summary import release_markdown, release_outputs, release_waits_for, report_release
from findly_infra.domain.releases import PartStatus, Release, ReleasePhase, releases
from tests.notifications.test_notify_releases import ORDER, OUTCOMES, PLATFORM, SERVICES, T0, _drive

LABELS = {
    PartStatus.PENDING: "pending",
    PartStatus.STARTED: "rolling out",
    PartStatus.DONE: "done",
    PartStatus.UNCHANGED: "already served",
    PartStatus.FAILED: "**failed**",
    PartStatus.RETURNED: "returned",
}


def _release(parts: int, outcomes: list[object]) -> Release:
    events = [event for batch in _drive(PLATFORM, parts, outcomes) for event in batch]
    return releases(events)["r1"]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.lists(OUTCOMES, min_size=1, max_size=3))
def test_every_part_is_a_row_in_order_with_its_status_and_the_outputs_agree(parts: int, outcomes: list[object]) -> None:
    release = _release(parts, outcomes)
    for environment in ORDER:
        markdown = release_markdown(release, environment, PLATFORM)
        outputs = release_outputs(release, environment, PLATFORM)
        assert outputs["release"] == "r1"
        assert outputs["release_parts"] == ",".join(str(part) for part in release.parts)  # dependencies first
        assert sorted(outputs["release_parts"].split(",")) == sorted(
            f"{s}=2.{i}.0" for i, s in enumerate(SERVICES[:parts])
        )
        here = release.environments.get(environment)
        if here is None:
            assert markdown.startswith(f"### Release r1 in {environment}: not entered")
            assert outputs["release_phase"] == ""
            continue
        assert markdown.startswith(f"### Release r1 in {environment}: {here.phase.value.replace('_', ' ')}")
        rows = [line for line in markdown.splitlines() if line.startswith("| ") and line[2].isdigit()]
        assert [row.split(" | ")[1] for row in rows] == [part.service for part in here.parts]  # in rollout order
        for row, part in zip(rows, here.parts, strict=True):
            assert row.count(" | ") == 6  # seven cells: nothing in a reason broke the row
            assert row.split(" | ")[3] == LABELS[part.status]
        assert outputs["release_phase"] == here.phase.value
        assert outputs["release_part_status"] == ",".join(f"{p.service}={p.status.value}" for p in here.parts)
        failed = [part for part in here.parts if part.status is PartStatus.FAILED]
        assert outputs["release_failed"] == ",".join(f"{p.service}={p.version}" for p in failed)
        for part in failed:  # the failed part, and why
            assert f"**Failed:** {part.service}={part.version} — {part.reason}" in markdown
        returned = [part for part in here.parts if part.status is PartStatus.RETURNED]
        if returned:
            assert "**Returned:**" in markdown
        if here.phase.under_way:
            assert outputs["release_waiting_for"]
            assert f"**Waits for:** {outputs['release_waiting_for']}" in markdown
        else:
            assert outputs["release_waiting_for"] == ""
            assert "**Waits for:**" not in markdown


def test_a_release_returned_after_its_last_part_failed_reads_part_by_part() -> None:
    release = _release(3, ["ok", "ok", ("fail", 2)])
    markdown = release_markdown(release, "production", PLATFORM)
    why = "error_rate 5.000% (threshold < 0.5%): fail"
    assert markdown.splitlines()[0] == "### Release r1 in production: rolled back"
    assert "approved by dave, frank" in markdown
    assert "| 1 | fn-posts | 2.0.0 | returned | nothing | 2.0.0 (left running: nothing served it before) |" in markdown
    assert "| 2 | fn-matcher | 2.2.0 | returned | 1.0.0 | 1.0.0 |" in markdown
    assert f"| 3 | fn-notifications | 2.1.0 | **failed** | 1.0.0 | 1.0.0 | {why} |" in markdown
    assert f"**Failed:** fn-notifications=2.1.0 — {why}" in markdown
    assert "**Returned:** fn-matcher=2.2.0 → 1.0.0; fn-posts=2.0.0 left running (nothing served it before)" in markdown
    assert release_outputs(release, "production", PLATFORM) == {
        "release": "r1",
        "release_environment": "production",
        "release_phase": "rolled_back",
        "release_parts": "fn-posts=2.0.0,fn-matcher=2.2.0,fn-notifications=2.1.0",
        "release_part_status": "fn-posts=returned,fn-matcher=returned,fn-notifications=failed",
        "release_failed": "fn-notifications=2.1.0",
        "release_waiting_for": "",
    }
    staging = release_markdown(release, "staging", PLATFORM)
    assert "| 2 | fn-matcher | 2.2.0 | done | 1.0.0 | 2.2.0 |" in staging


def test_a_release_waiting_in_production_says_for_whose_approval_then_for_which_part() -> None:
    release = _release(2, ["ok", "ok"])
    entered = release.enter("production", ORDER, actor="erin", at=T0 + timedelta(hours=1)).events
    waiting = release.apply(entered[0])
    assert release_waits_for(waiting, "production", PLATFORM) == (
        "an approval from each of devops-team and security-team for the whole release"
    )
    assert release_waits_for(waiting, "production") == "the start of fn-posts=2.0.0"  # no platform: the parts alone
    here = waiting.environments["production"]
    started = attrs.evolve(
        here, parts=(attrs.evolve(here.parts[0], status=PartStatus.STARTED, previous="1.0.0"), *here.parts[1:])
    )
    under_way = attrs.evolve(waiting, environments={**waiting.environments, "production": started})
    assert release_waits_for(under_way, "production", PLATFORM) == "fn-posts=2.0.0's rollout"
    markdown = release_markdown(under_way, "production", PLATFORM)
    assert "| 1 | fn-posts | 2.0.0 | rolling out | 1.0.0 | 1.0.0 → 2.0.0 (under way) |" in markdown
    assert "| 2 | fn-notifications | 2.1.0 | pending | — | — |" in markdown
    returning = attrs.evolve(started, phase=ReleasePhase.RETURNING)
    back = attrs.evolve(waiting, environments={**waiting.environments, "production": returning})
    assert release_waits_for(back, "production") == "the return of fn-posts=2.0.0 (its rollout rolled back)"


def test_a_reason_cannot_break_the_table() -> None:
    release = _release(2, [("fail", 1)])
    here = release.environments["development"]
    evil = "a | b\n| 9 | injected |\n::error::boom"
    parts = tuple(attrs.evolve(p, reason=evil) if p.status is PartStatus.FAILED else p for p in here.parts)
    release = attrs.evolve(release, environments={"development": attrs.evolve(here, parts=parts)})
    markdown = release_markdown(release, "development", PLATFORM)
    assert "\n| 9 | injected |" not in markdown
    assert "\n::error::" not in markdown
    assert "a \\| b" in markdown


def test_the_summary_and_outputs_are_written_in_actions_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    release = _release(3, ["ok", ("fail", 1)])
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    report_release(release, "staging", PLATFORM)
    assert not summary.exists()
    assert not output.exists()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    report_release(release, "staging", PLATFORM)
    assert summary.read_text() == release_markdown(release, "staging", PLATFORM) + "\n"
    written = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert written["release_phase"] == "rolled_back"
    assert written["release_failed"] == "fn-matcher=2.2.0"
    assert written == release_outputs(release, "staging", PLATFORM)
