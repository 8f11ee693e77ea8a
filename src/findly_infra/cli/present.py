"""Presentation, in one place: text for people, one JSON document for programs, and GitHub Actions'
outputs, step summary and annotations. Commands hand it values (views, outcomes, reports); nothing
here decides anything."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from findly_infra.application.analysis import AnalysisReport
    from findly_infra.application.service import Outcome
    from findly_infra.application.workloads import ClusterReading
    from findly_infra.domain.events import Event, MetricReading
    from findly_infra.domain.slo import BudgetReport, BudgetStatus
    from findly_infra.domain.view import EnvironmentView, Share

__all__ = [
    "analysis_json",
    "analysis_markdown",
    "analysis_text",
    "annotate",
    "emit",
    "emit_json",
    "github_output",
    "in_github_actions",
    "number",
    "outcome_json",
    "outcome_outputs",
    "printable",
    "reading_json",
    "report_json",
    "report_markdown",
    "report_text",
    "rollout_markdown",
    "say",
    "say_simulated",
    "shown",
    "simulation_notice",
    "step_json",
    "step_text",
    "summary",
    "view_json",
    "view_text",
]


# ---- channels ----------------------------------------------------------------------------------


def emit_json(document: Mapping[str, Any], out: IO[str]) -> None:
    out.write(json.dumps(document, indent=2, default=str) + "\n")


def emit(out: IO[str], as_json: bool, document: Mapping[str, Any], text: str) -> None:
    """The command's result: ``{"ok": true, ...document}`` with ``--json``, else *text* (made printable)."""
    if as_json:
        emit_json({"ok": True, **document}, out)
    elif text:
        text = printable(text)
        out.write(text if text.endswith("\n") else text + "\n")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str, *, one_line: bool = False) -> str:
    """*text* as it is safe to print to a terminal and a CI log: control characters (terminal escapes, carriage
    returns) shown as ``\\x1b``; with *one_line*, line breaks too (a value inside a line cannot start another);
    and a line that would be read as a GitHub workflow command (``::command::``) is broken up (``: :``)."""
    pattern = _LINE_BREAKS if one_line else _CONTROL
    text = pattern.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
    if "::" in text:
        text = "\n".join(
            ": :" + line.lstrip()[2:] if line.lstrip().startswith("::") else line for line in text.split("\n")
        )
    return text


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    """A workflow command's message, escaped as the runner unescapes it (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value (actions/toolkit ``escapeProperty``): also ``:`` and ``,``."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotate(
    level: str, message: str, file: str | None = None, line: int | None = None, *, title: str | None = None
) -> None:
    """A GitHub Actions annotation (``::error file=...,line=...,title=...::message``) when running in Actions; the
    message and properties escaped, so that nothing in them can end the command or start another."""
    if not in_github_actions():
        return
    properties = {"file": file, "line": str(line) if line else None, "title": title}
    place = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items() if value)
    sys.stderr.write(f"::{level}{' ' + place if place else ''}::{_escape_data(message)}\n")


def github_output(**values: str) -> None:
    """Key results as step outputs (``$GITHUB_OUTPUT``). A value with a line break is written in the multi-line
    form under a random delimiter, as actions/toolkit does, so that no value can write another output."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not (in_github_actions() and path):
        return
    with open(path, "a", encoding="utf-8") as output:
        for key, raw in values.items():
            value = str(raw)
            if "\n" not in value and "\r" not in value:
                output.write(f"{key}={value}\n")
                continue
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            output.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def summary(markdown: Callable[[], str]) -> None:
    """Append to the step summary (built only when running in Actions)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if in_github_actions() and path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(markdown() + "\n")


# ---- the read model ------------------------------------------------------------------------------


def _share(share: Share | None) -> dict[str, Any] | None:
    return None if share is None else {"version": share.version, "weight": share.weight}


def view_json(view: EnvironmentView) -> dict[str, Any]:
    """One environment of one service: ``serving`` is what holds it, ``candidate`` what is rolling out."""
    rollout = view.rollout
    waiting = view.waiting_for
    return {
        "service": view.service,
        "environment": view.environment,
        "phase": view.phase.value,
        "serving": _share(view.serving),
        "candidate": _share(view.candidate),
        "rollout": None
        if rollout is None
        else {
            "version": rollout.version,
            "previous": rollout.previous,
            "strategy": rollout.strategy.value,
            "phase": rollout.phase.value,
            "step": rollout.step,
            "step_weight": rollout.weight,
            "started": rollout.started.isoformat(),
            "started_by": rollout.started_by,
            "stopped_at": rollout.stopped_at.isoformat() if rollout.stopped_at else None,
        },
        "waiting_for": None
        if waiting is None
        else {
            "kind": waiting.kind.value,
            "needs": list(waiting.needs),
            "message": waiting.message,
            "deadline": waiting.deadline.isoformat() if waiting.deadline else None,
        },
        "stopped": view.stopped,
        "retired": view.retired,
    }


def reading_json(reading: ClusterReading) -> dict[str, Any]:
    """What a bound cluster holds for one service in one environment, read back (``status``): each Deployment's
    version, images and replicas (desired, ready), the weights by version through the subsets, and — beside what the
    log says (``expected``) — each drift between the two."""
    held, expected = reading.holding, reading.expected
    return {
        "bound": True,
        "read": True,
        "server": reading.server,
        "namespace": reading.namespace,
        "workloads": [
            {
                "name": workload.name,
                "track": workload.track,
                "version": workload.version,
                "images": list(workload.images),
                "replicas": workload.replicas,
                "ready": workload.ready,
                "not_ready": workload.not_ready or None,
            }
            for workload in reading.workloads
        ],
        "weights": dict(held.weights),
        "preview": held.preview,
        "expected": {"running": dict(expected.running), "weights": dict(expected.weights), "preview": expected.preview},
        "drift": list(reading.drift),
    }


def view_text(view: EnvironmentView) -> str:
    """``succeeded (serving 1.4.0 100%)``; ``progressing (serving 1.3.0 95%, canary 1.4.0 5%)``."""
    text = view.describe()
    if view.waiting_for is not None:
        text += f"; waiting for {view.waiting_for.message}"
    return printable(text, one_line=True)


def _criterion(reading: MetricReading, view: EnvironmentView) -> str:
    """``error_rate 0.200% (threshold < 1%) ok``: the value beside its bound, and its verdict
    (:func:`findly_infra.application.steps.criterion_text`)."""
    from findly_infra.application.steps import criterion_text, triggers

    return criterion_text(reading, trigger=triggers(view))


def step_json(outcome: Outcome, interval: timedelta, window: str, next_at: datetime | None = None) -> dict[str, Any]:
    """One step of a rollout as facts: see :func:`findly_infra.application.steps.step_facts`."""
    from findly_infra.application.steps import step_facts

    return step_facts(outcome, interval, window, next_at=next_at)


def step_text(outcome: Outcome, interval: timedelta, window: str, next_at: datetime | None = None) -> str:
    """A watch's line for one step: ``2026-11-20T09:01:00  progressing (serving 1.0.0 95%, canary 2.0.0 5%) — stage
    1/4: error_rate 0.200% (threshold < 1%) ok, latency_p95 183ms (threshold < 200ms) ok; next analysis at
    09:02:00``; a step that stopped the rollout says where and on what (the view says why): ``rolled_back (serving
    1.0.0 100%) — 2 failed analyses in this stage (threshold 2) — at stage 2/4: error_rate 5.000% (threshold < 0.5%)
    FAILED over the last 1 minute``."""
    from findly_infra.application.steps import last_analysis

    facts = step_json(outcome, interval, window, next_at)
    analysis = last_analysis(outcome.events)
    readings = analysis.readings if analysis else ()
    stopped = facts["stopped"]
    stage = facts["stage"]
    where = "" if stage is None else f"stage {stage['n']}/{stage['of']}"  # the weights are the view's
    if stopped is not None:
        shown_readings = [r for r in readings if r.verdict.value != "pass"]
        where = f"at {where}" if where else ""
    else:
        shown_readings = list(readings)
    criteria = ", ".join(_criterion(r, outcome.view) for r in shown_readings)
    if criteria and "no_verdict_because" in facts:  # why no verdict: too little traffic, no series, unreadable
        criteria += f" (no verdict: {facts['no_verdict_because']})"
    if criteria and stopped is not None:
        criteria += f" over the last {window}"
    elif not criteria and facts["verdict"] is not None and stopped is None:
        criteria = f"analysis {facts['verdict']}"
    detail = ": ".join(part for part in (where, criteria) if part)
    text = f"{facts['at'] or 'watching':19}  {view_text(outcome.view)}" + (f" — {detail}" if detail else "")
    if facts["next_step_at"] is not None:
        text += f"; next analysis at {facts['next_step_at'][11:19]}"
    return printable(text, one_line=True)


def outcome_json(outcome: Outcome, simulated: Sequence[str] = ()) -> dict[str, Any]:
    """A release command's document: the view after it, its events, and what of it was simulated."""
    from findly_infra.application.codec import event_shown

    return {
        **view_json(outcome.view),
        "events": [event_shown(e) for e in outcome.events],
        "already": outcome.already,
        **({"stopped_by": outcome.stopped_by} if outcome.stopped_by else {}),  # a watch stopped by another command
        "cluster_read": outcome.cluster_read,
        "simulated": bool(simulated),
        "simulation": list(simulated),
    }


def outcome_outputs(result: Outcome, simulated: Sequence[str] = (), **extra: str) -> None:
    """The GitHub outputs every release command gives: the phase, serving and candidate, the wait (its kind,
    what it needs and the sentence saying what would unblock it), and whether any of it was simulated."""
    view = result.view
    waiting = view.waiting_for
    outputs = {
        "phase": view.phase.value,
        "serving_version": view.serving.version if view.serving else "",
        "serving_weight": str(view.serving.weight if view.serving else 0),
        "candidate_version": view.candidate.version if view.candidate else "",
        "candidate_weight": str(view.candidate.weight if view.candidate else 0),
        "waiting_for": waiting.kind.value if waiting else "",
        "waiting_needs": ",".join(waiting.needs) if waiting else "",
        "waiting_message": waiting.message if waiting else "",
        "simulated": str(bool(simulated)).lower(),
    }
    github_output(**{**outputs, **extra})  # *extra* says more than the view (github: what is left before staging)


def simulation_notice(simulated: Sequence[str], scenario: str) -> str:
    """The sentence that says out loud what was simulated (empty when nothing was)."""
    parts = []
    if "cluster" in simulated:
        parts.append("no cluster is bound, so traffic moved on the simulated cluster and nothing was deployed")
    if "metrics" in simulated:
        parts.append(f"no Prometheus is bound, so the scripted {scenario!r} metrics judged the rollout")
    if "time" in simulated:
        parts.append("time is virtual, so the times recorded are the rehearsal's, not when this ran")
    return f"simulated: {'; '.join(parts)}" if parts else ""


def say_simulated(simulated: Sequence[str], scenario: str, as_json: bool) -> None:
    """Say it on stderr (a log event with ``--json``), as a warning annotation and in the step summary —
    never on stdout, which is the command's (and ``--json``'s) own."""
    notice = simulation_notice(simulated, scenario)
    if not notice:
        return
    say(notice, "release.simulated", as_json, simulated=list(simulated))
    annotate("warning", notice)
    summary(lambda: f"> **{notice}**")


def say(message: str, event: str, as_json: bool, *, info: bool = False, **context: Any) -> None:
    """A notice for people on stderr: a line of text, or with ``--json`` a structured log event (a warning; *info*:
    at level info, for news that needs no one)."""
    if as_json:
        from findly_infra.logs import logger

        (logger().info if info else logger().warning)(event, message=message, **context)
    else:
        sys.stderr.write(printable(message) + "\n")


def rollout_markdown(service: str, environment: str, events: list[Event], views: list[EnvironmentView]) -> str:
    """A step summary of a rollout: its last steps as a table and the new version's share as a Mermaid chart.

    *events* are *environment*'s events of the service, and *views* the environment after each of them.
    """
    rows = ["| time | event | version | detail |", "|---|---|---|---|"]
    weights: list[int] = []
    errors: list[str] = []
    for event, view in list(zip(events, views, strict=True))[-60:]:
        verdict = getattr(event, "verdict", None)
        if verdict is not None:
            readings = {r.metric: r.value for r in getattr(event, "readings", ())}
            error = readings.get("error_rate")
            errors.append("0" if error is None or math.isnan(error) else f"{error * 100:.3g}")
        weight = getattr(event, "weight", None)
        if verdict is not None:  # each criterion's value beside its threshold, and its verdict
            criteria = ", ".join(_criterion(r, view) for r in getattr(event, "readings", ()))
            detail: object = f"{verdict.value}: {criteria}".replace("|", "\\|") if criteria else verdict.value
        else:
            detail = weight if weight is not None else event.reason
        weights.append(view.rollout_share)
        rows.append(f"| {event.at.isoformat()} | {event.type} | {event.version} | {detail} |")
    chart = _chart(
        f"{service} in {environment}: traffic to the new version (%)", weights, '  y-axis "weight" 0 --> 100'
    )
    if errors:
        chart += _chart(f"{service} in {environment}: error rate of the new version at each analysis (%)", errors)
    return "\n".join([f"### {service} in {environment}", "", *rows, "", *chart])


def _chart(title: str, values: Iterable[object], axis: str = "") -> list[str]:
    points = [str(value) for value in values]
    return [
        "```mermaid",
        "xychart-beta",
        f'  title "{title}"',
        f"  x-axis [{', '.join(str(i) for i in range(len(points)))}]",
        *([axis] if axis else []),
        f"  line [{', '.join(points)}]",
        "```",
    ]


# ---- analyses ------------------------------------------------------------------------------------


def number(value: float | None) -> float | None:
    """JSON has no NaN: a missing value is null."""
    from findly_infra.application.steps import number as number_of

    return number_of(value)


def shown(metric: str, value: float | None) -> str:
    """A reading as a person reads it: ``0.100%``, ``183ms``; ``-`` for no data."""
    from findly_infra.application.steps import shown as shown_of

    return shown_of(metric, value)


def _rows(report: AnalysisReport, describe: Callable[[str, Any], str | None]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    baseline_query = report.baseline_query
    for reading in report.readings:
        row: dict[str, Any] = {
            "metric": reading.metric,
            "query": describe(reading.metric, report.query),
            "value": number(reading.value),
            "threshold": reading.threshold,
            "verdict": reading.verdict.value,
        }
        if reading.metric in report.relative and report.baseline is not None and baseline_query is not None:
            row["current_query"] = describe(reading.metric, baseline_query)
            row["current_value"] = number(report.baseline.get(reading.metric))
        rows.append(row)
    return rows


def analysis_json(report: AnalysisReport, describe: Callable[[str, Any], str | None]) -> dict[str, Any]:
    return {
        "version": report.query.version,
        "current": report.current,
        "at": report.query.at.isoformat(),
        "verdict": report.verdict.value,
        "requests": number(report.requests),
        "min_requests": report.strategy.analysis.min_requests,
        "criteria": _rows(report, describe),
    }


def analysis_text(report: AnalysisReport, window: str) -> str:
    query = report.query
    against = f", against {report.current}" if report.baseline is not None else ""
    head = (
        f"{query.service} {query.version} in {query.environment} at {query.at.isoformat()}: {report.verdict.value} "
        f"({report.requests_text} requests in the last {window}, at least "
        f"{report.strategy.analysis.min_requests} needed{against})"
    )
    lines = [
        f"  {r.metric:22} {shown(r.metric, number(r.value)):>12} {r.threshold:>24}  {r.verdict.value}"
        for r in report.readings
    ]
    return "\n".join([head, *lines])


def analysis_markdown(report: AnalysisReport) -> str:
    query = report.query
    table = [
        f"| `{r.metric}` | {shown(r.metric, number(r.value))} | `{r.threshold}` | {r.verdict.value} |"
        for r in report.readings
    ]
    return "\n".join(
        [
            f"### Analysis of {query.service} {query.version} in {query.environment}: {report.verdict.value}",
            f"{report.requests_text} requests (at least {report.strategy.analysis.min_requests} needed) "
            f"at {query.at.isoformat()}",
            "",
            "| metric | value | threshold | verdict |",
            "|---|---|---|---|",
            *table,
        ]
    )


# ---- error budgets -------------------------------------------------------------------------------


def _slo_fields(report: BudgetReport, status: Any) -> dict[str, Any]:
    """What every SLO's row says, budget or capacity: its name, objective, window and query."""
    window = status.slo.measurement_window
    return {
        "slo": status.slo.name,
        "objective": status.slo.target.format(),
        "window": window.describe(),
        "window_seconds": window.milliseconds / 1000,
        "query": report.queries[status.slo.name],
    }


def _burns(status: BudgetStatus) -> list[tuple[str, str]]:
    return [(window.format(), "-" if math.isnan(rate) else f"{rate:.2f}") for window, rate in status.burn_rates]


def report_json(report: BudgetReport) -> dict[str, Any]:
    slos = []
    for status in report.budgets:
        remaining = status.remaining_time
        slos.append(
            {
                **_slo_fields(report, status),
                "sli": number(status.sli),
                "error_ratio": number(status.error_ratio),
                "allowed_error_ratio": round(status.target.allowed_error_ratio, 12),
                "budget": status.target.error_budget.format(),
                "budget_remaining": number(status.remaining),
                "budget_remaining_minutes": None if remaining is None else remaining.milliseconds / 60_000,
                "exhausted": status.exhausted,
                "burn_rates": {window.format(): number(rate) for window, rate in status.burn_rates},
            }
        )
    capacity = [
        {
            **_slo_fields(report, status),
            "requests_per_second": number(status.requests_per_second),
            "utilization": number(status.utilization),
        }
        for status in report.capacities
    ]
    return {
        "service": report.service,
        "environment": report.environment,
        "at": report.at.isoformat(),
        "spent": [status.slo.name for status in report.spent],
        "slos": slos,
        "capacity": capacity,
        "notes": list(report.notes),
    }


def report_text(report: BudgetReport) -> str:
    lines = [f"{report.service} in {report.environment} at {report.at.isoformat()}"]
    for status in report.budgets:
        objective = f"{status.slo.target.format()} over {status.slo.measurement_window.describe()}"
        if status.measured:
            remaining = status.remaining_time
            left = "SPENT" if status.exhausted else f"{status.remaining:.0%} left"
            budget = (
                f"{left} ({remaining.describe() if remaining else '0s'} of {status.target.error_budget.describe()})"
            )
            sli = f"SLI {status.sli:.3%}"
        else:
            budget, sli = "no traffic: nothing spent", "SLI -"
        burns = "  ".join(f"{window} {rate}" for window, rate in _burns(status))
        lines.append(f"  {status.slo.name:14} {objective:48} {sli:13} budget {budget}")
        lines.append(f"  {'':14} burn rate  {burns}")
    for capacity in report.capacities:
        rps = capacity.requests_per_second
        load = "no traffic" if math.isnan(rps) else f"{rps:.1f} req/s"
        share = "" if math.isnan(capacity.utilization) else f" ({capacity.utilization:.0%} of capacity)"
        lines.append(f"  {capacity.slo.name:14} {capacity.slo.target.format():48} {load}{share}")
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)


def report_markdown(report: BudgetReport) -> str:
    """A GitHub step summary of ``slo status``: one row per SLO."""
    from findly_infra.domain.slo import BURN_WINDOWS

    rows = []
    for status in report.budgets:
        left = "-" if not status.measured else ("**spent**" if status.exhausted else f"{status.remaining:.0%}")
        burns = " | ".join(rate for _window, rate in _burns(status))
        sli = "-" if not status.measured else f"{status.sli:.3%}"
        rows.append(f"| {status.slo.name} | `{status.slo.target.format()}` | {sli} | {left} | {burns} |")
    windows = " | ".join(window.format() for window in BURN_WINDOWS)
    return "\n".join(
        [
            f"### Error budgets of {report.service} in {report.environment}",
            "",
            f"| SLO | objective | SLI | budget left | burn {windows} |",
            "|---|---|---|---|" + "---|" * len(BURN_WINDOWS),
            *rows,
        ]
    )
