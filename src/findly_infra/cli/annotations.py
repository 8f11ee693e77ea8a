"""A watch's steps as GitHub Actions annotations (issue 26): each analysis that fails or finds no verdict, each stage
the rollout enters, each wait for approval or evidence, and what stopped it (a pause, a rollback, an abort) becomes
one workflow command naming the criterion, its value, its threshold and the window — not one per passing interval.

GitHub shows at most 10 warning, 10 error and 10 notice annotations per step and 50 per job (actions/toolkit,
docs/problem-matchers.md, "Limitations"), so a watch spends them with care: the stop always gets one; the failed or
inconclusive analyses and the stage notices are capped below 10, leaving room for the step's other annotations (the
simulation's warning, the result); past the cap the facts are in the log and the step summary only. The command's
result keeps its own annotation (``stopped for a person: … waits for …``: what would unblock it). The commands'
format and escaping: https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions
(``::warning title=…::…``; :func:`findly_infra.cli.present.annotate` escapes the message and the properties)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from findly_infra.cli import present

if TYPE_CHECKING:
    from findly_infra.application.service import Outcome

__all__ = ["StepAnnotations"]

_STOPPED = {"rolled_back": "rolled back", "rollout_paused": "paused", "rollout_aborted": "aborted"}


class StepAnnotations:
    """Annotates the steps of one watch (one CLI invocation) where it runs in GitHub Actions; does nothing elsewhere."""

    ANALYSES = 6
    """Warnings for failed or inconclusive analyses in one step of a workflow (of GitHub's 10 warnings a step)."""
    NOTICES = 8
    """Notices of stages entered and waits (of GitHub's 10 notices a step)."""

    def __init__(self, window: str) -> None:
        self.window = window
        self._analyses = 0
        self._notices = 0
        self._waits: set[tuple[str, tuple[str, ...]]] = set()

    def __call__(self, outcome: Outcome, facts: dict[str, Any]) -> None:
        """Annotate the step of *outcome*, whose facts are *facts* (see ``application.steps.step_facts``)."""
        if not present.in_github_actions():
            return
        view = outcome.view
        version = view.rollout.version if view.rollout else (view.candidate.version if view.candidate else "")
        who = f"{view.service} {version} in {view.environment}".replace("  ", " ")
        stage = facts["stage"]
        at_stage = f" at stage {stage['n']}/{stage['of']} ({stage['weight']}%)" if stage else ""
        stopped = facts["stopped"]
        if stopped is not None:
            level = "warning" if stopped["event"] == "rollout_paused" else "error"
            failing = self._criteria(stopped["failing"], view)
            message = f"{stopped['reason']}{': ' + failing if failing else ''}"  # the result says what unblocks it
            present.annotate(
                level, message, title=f"{who}: {_STOPPED.get(stopped['event'], stopped['event'])}{at_stage}"
            )
            return
        verdict = facts["verdict"]
        if verdict in ("fail", "inconclusive"):
            failing = self._criteria([c for c in facts["criteria"] if c["verdict"] != "pass"], view)
            what = "analysis failed" if verdict == "fail" else "analysis without a verdict"
            if self._analyses < self.ANALYSES:  # past it, the log and the step summary have them
                self._analyses += 1
                present.annotate("warning", failing or what, title=f"{who}: {what}{at_stage}")
        if any(event.type == "traffic_shifted" for event in outcome.events) and stage is not None:
            weights = ", ".join(f"{name} {weight}%" for name, weight in facts["weights"].items())
            self._notice(f"{who}: stage {stage['n']}/{stage['of']}", f"traffic {weights}")
        waiting = view.waiting_for
        wait = None if waiting is None else (waiting.kind.value, waiting.needs)  # its message counts down: not it
        if waiting is not None and wait is not None and waiting.kind.value != "person" and wait not in self._waits:
            self._waits.add(wait)
            self._notice(f"{who}: waits for {waiting.kind.value}", f"{who} waits for {waiting.message}")

    def _criteria(self, criteria: list[dict[str, Any]], view: Any) -> str:
        """``error_rate 5.000% (threshold < 0.5%) FAILED over the last 1 minute``: the watch's words
        (``application.steps.criterion_text``)."""
        from findly_infra.application.steps import VERDICT_WORDS, bound_text, shown, triggers

        trigger = triggers(view)
        said = ", ".join(
            f"{c['metric']} {shown(c['metric'], c['value'])} {bound_text(c['threshold'], trigger=trigger)} "
            f"{VERDICT_WORDS.get(c['verdict'], '?')}"
            for c in criteria
        )
        return f"{said} over the last {self.window}" if said else ""

    def _notice(self, title: str, message: str) -> None:
        if self._notices < self.NOTICES:
            self._notices += 1
            present.annotate("notice", message, title=title)
