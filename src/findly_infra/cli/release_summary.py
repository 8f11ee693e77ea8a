"""A release of several services in one environment, as GitHub Actions shows it: the step summary's Markdown (the
parts in the order they roll out, each part's status and versions before and after, the part that failed and why,
what was returned, what the release waits for) and the step's outputs. Commands hand it the release
(``domain.releases.Release``); nothing here decides anything.

The ``release`` commands call :func:`report_release` once they have the release as it stands after them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from findly_infra.cli import present
from findly_infra.domain.approvals import needed_text
from findly_infra.domain.releases import PartState, PartStatus, ReleaseInEnvironment, ReleasePhase

if TYPE_CHECKING:
    from findly_infra.domain.platform import Platform
    from findly_infra.domain.releases import Release

__all__ = ["release_markdown", "release_outputs", "release_waits_for", "report_release"]

_STATUS = {
    PartStatus.PENDING: "pending",
    PartStatus.STARTED: "rolling out",
    PartStatus.DONE: "done",
    PartStatus.UNCHANGED: "already served",
    PartStatus.FAILED: "**failed**",
    PartStatus.RETURNED: "returned",
    PartStatus.LEFT: "left, not returned",
}


def _cell(text: str) -> str:
    """*text* as one Markdown table cell: its pipes escaped, its line breaks spaces, its control characters shown."""
    return present.printable(text, one_line=True).replace("|", "\\|")


def _after(part: PartState) -> str:
    """What the part's service serves once the release is through with it (as far as it went)."""
    if part.status in (PartStatus.DONE, PartStatus.UNCHANGED):
        return part.version
    if part.status is PartStatus.STARTED:
        return f"{part.previous or '—'} → {part.version} (under way)"
    if part.status in (PartStatus.FAILED, PartStatus.RETURNED):
        return part.previous or f"{part.version} (left running: nothing served it before)"
    if part.status is PartStatus.LEFT:
        return f"left as it was: {part.reason}" if part.reason else "left as it was"
    return "—"


def _before(part: PartState) -> str:
    if part.status is PartStatus.PENDING:
        return "—"
    if part.status is PartStatus.UNCHANGED:
        return part.version
    return part.previous or "nothing"


def release_waits_for(release: Release, environment: str, platform: Platform | None = None) -> str:
    """What the release waits for in *environment*, in words (empty when it ended there). With *platform*, an
    environment that needs approval says which groups, while no part has started yet."""
    here = release.environments.get(environment)
    if here is None:
        return "entering: nothing is under way here yet"
    if here.phase is ReleasePhase.RETURNING:
        under_way = [f"{part.service}={part.version}" for part in here.parts if part.status is PartStatus.STARTED]
        returns = [f"{part.service} to {part.previous or 'nothing'}" for part in here.to_return]
        return "the return of " + "; ".join(
            [*(f"{text} (its rollout rolled back)" for text in under_way), *returns] or ["the release"]
        )
    if not here.phase.under_way:
        return ""
    return _rolling_out_waits(here, platform)


def _rolling_out_waits(here: ReleaseInEnvironment, platform: Platform | None) -> str:
    started = next((part for part in here.parts if part.status is PartStatus.STARTED), None)
    if started is not None:
        return f"{started.service}={started.version}'s rollout"
    pending = next((part for part in here.parts if part.status is PartStatus.PENDING), None)
    nothing_yet = all(part.status is PartStatus.PENDING for part in here.parts)
    if nothing_yet and platform is not None:
        settings = platform.environment(here.environment)
        if settings.approval_required and settings.approvers:
            so_far = f" (approved so far by {', '.join(here.approvers)})" if here.approvers else ""
            return f"{needed_text(settings.approvers)} for the whole release{so_far}"
    if pending is not None:
        return f"the start of {pending.service}={pending.version}"
    return "its end: every part is through"


def _facts(here: ReleaseInEnvironment) -> list[str]:
    lines = []
    failed = [part for part in here.parts if part.status is PartStatus.FAILED]
    for part in failed:
        lines.append(
            f"**Failed:** {part.service}={part.version} — {_cell(part.reason or 'its rollout did not succeed')}"
        )
    if here.phase in (ReleasePhase.RETURNING, ReleasePhase.ROLLED_BACK) and not here.failed and not failed:
        lines.append("**Rolled back** by a person, as a whole.")
    returned = [
        f"{part.service}={part.version} → {part.previous}"
        if part.previous
        else f"{part.service}={part.version} left running (nothing served it before)"
        for part in reversed(here.parts)
        if part.status is PartStatus.RETURNED
    ]
    if returned:
        lines.append(f"**Returned:** {_cell('; '.join(returned))}")
    left = [f"{part.service}={part.version}: {part.reason}" for part in here.parts if part.status is PartStatus.LEFT]
    if left:
        lines.append(f"**Left, not returned:** {_cell('; '.join(left))}")
    return lines


def release_markdown(release: Release, environment: str, platform: Platform | None = None) -> str:
    """The step summary of *release* in *environment*: its phase, who entered and approved it, a table of its parts
    in the order they roll out (status, before, after, note), the failed part and why, what was returned, and what
    it waits for."""
    here = release.environments.get(environment)
    title = f"### Release {_cell(release.name)} in {_cell(environment)}"
    if here is None:
        listed = ", ".join(str(part) for part in release.parts)
        return f"{title}: not entered\n\nParts: {_cell(listed)}"
    head = [f"{title}: {here.phase.value.replace('_', ' ')}", ""]
    who = f"Entered by {_cell(here.entered_by)} at {here.entered_at.isoformat()}"
    if here.approvers:
        who += f"; approved by {_cell(', '.join(here.approvers))}"
    if here.ended_at is not None:
        who += f"; ended at {here.ended_at.isoformat()}"
    rows = [
        "| # | part | version | status | before | after | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for index, part in enumerate(here.parts, 1):
        rows.append(
            f"| {index} | {_cell(part.service)} | {_cell(part.version)} | {_STATUS[part.status]} | "
            f"{_cell(_before(part))} | {_cell(_after(part))} | {_cell(part.reason)} |"
        )
    waits = release_waits_for(release, environment, platform)
    tail = _facts(here)
    if waits:
        tail.append(f"**Waits for:** {_cell(waits)}")
    return "\n".join([*head, who + ". Parts in the order they roll out (dependencies first):", "", *rows, "", *tail])


def release_outputs(
    release: Release, environment: str, platform: Platform | None = None, *, write: bool = False
) -> dict[str, str]:
    """The step's outputs: ``release``, ``release_environment``, ``release_phase`` (``rolling_out``, ``returning``,
    ``succeeded``, ``rolled_back``, empty when not entered), ``release_parts`` (``service=version`` in order,
    comma-separated), ``release_part_status`` (``service=status``, comma-separated), ``release_failed`` (the failed
    part, ``service=version``, or empty) and ``release_waiting_for`` (in words, empty when it ended). *write*: also
    write them to ``$GITHUB_OUTPUT`` (in Actions only: ``present.github_output``)."""
    here = release.environments.get(environment)
    failed = [part for part in here.parts if part.status is PartStatus.FAILED] if here else []
    outputs = {
        "release": release.name,
        "release_environment": environment,
        "release_phase": here.phase.value if here else "",
        "release_parts": ",".join(str(part) for part in release.parts),
        "release_part_status": ",".join(f"{p.service}={p.status.value}" for p in here.parts) if here else "",
        "release_failed": ",".join(f"{part.service}={part.version}" for part in failed),
        "release_waiting_for": release_waits_for(release, environment, platform),
    }
    if write:  # here, beside the literal: the Action's test reads the names written from it (tests/workflow)
        present.github_output(**outputs)
    return outputs


def report_release(release: Release, environment: str, platform: Platform | None = None) -> None:
    """In GitHub Actions: *release* in *environment* appended to ``$GITHUB_STEP_SUMMARY`` (:func:`release_markdown`)
    and its outputs written to ``$GITHUB_OUTPUT`` (:func:`release_outputs`); elsewhere nothing."""
    present.summary(lambda: release_markdown(release, environment, platform))
    release_outputs(release, environment, platform, write=True)
