"""Snapshots of a service's pipeline, so that a command's cost does not grow with its history: a command reads the
latest snapshot and only the events after it. A snapshot is derived from the events — never the source of truth —
and is trusted only as far as the stream vouches for it.

**Sealed.** A snapshot is kept as its canonical text (:func:`snapshot_text`), with the link of the event it folds up
to (the chain's value at ``version - 1``, ``application.integrity``) and a digest over the service, the version, that
link and the text (:func:`digest_of`); the store writes the same digest on that event's row (its *seal*), in the same
transaction. A command reads the snapshot together with that one event — one indexed read — and uses it only when
all of it holds (:func:`trusted`): the event is there, its link is the snapshot's, the digest is the one its text
gives, and the event seals that digest. Anything else — a snapshot ahead of its stream or of another stream, edited
in its body, version or link, of a stream rewritten since, written by an older findly-infra (format 2, unsealed) — is
refused: the stream is read whole, the command says so on stderr (:func:`say_refused`), and the next writing command
rebuilds it. Someone who can write the snapshots but not the events therefore cannot make a command read anything
but the fold of the events: the seal is on the event's row, and SHA-256 cannot be matched by another text.

**Checked whole.** ``findly-infra state verify`` and ``state check`` fold every stream again up to its snapshot
(:func:`verify_snapshot`) and compare, naming the first difference — which also finds a snapshot forged by someone
who could write the events' rows too (a seal is not covered by the chain of links).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import typing
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
import cattrs

from findly_infra.application.integrity import SnapshotVerdict
from findly_infra.application.ports import KeptSnapshot, Snapshot, StateError
from findly_infra.domain.events import Event
from findly_infra.domain.pipeline import DeploymentPipeline
from findly_infra.domain.platform import Platform
from findly_infra.domain.state import EnvironmentState, HistoryError, Phase, bounded_records, fold, live_versions

__all__ = [
    "READ_FORMATS",
    "SNAPSHOT_EVERY",
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_PAGE",
    "digest_of",
    "from_snapshot",
    "restore",
    "say_refused",
    "sealed",
    "snapshot_of",
    "snapshot_text",
    "trusted",
    "verify_snapshot",
]

SNAPSHOT_FORMAT = 6
"""The layout of a snapshot's body; another one is ignored (and the stream read whole). 2: approvals carry the
approver's id and the runs that approved. 3: each approval carries its whole evidence (a snapshot without it would make
every verified approval a name, which no longer counts where identities are verified); and sealed — kept as canonical
text, with the link of the event it folds up to and a digest, the digest also on that event's row (a snapshot of
format 2 is never trusted: it is rebuilt). 4: each environment keeps the rollout that let its current version in
(``EnvironmentState.let_in``), whose entry must stay proven for a bound cluster to serve it, and each rollout who
started the one it replaces (``Rollout.replaced``) — a snapshot of format 3 lacks them: it is rebuilt. 5: bounded —
the records of versions (``succeeded``, ``passed``, ``failed``) are kept for the versions the environments hold
(``domain.state.live_versions``) alone, whatever the length of the history; the use cases read back the records of
any other version a command names, by version, from the stream (``DeploymentPipeline.with_records``). A snapshot of
format 4 (every record) is still read, as it is whole, and the next writing command replaces it. 6: each environment
keeps the rollout that let in the version its current one replaced (``EnvironmentState.let_in_before``), which a
release's return to that version makes the entry of what serves again (``DeploymentPipeline.return_to``); a snapshot
of format 4 or 5 lacks it, and is read only where no environment holds a success that could be returned (else the
stream is read whole, and the next writing command replaces it)."""

READ_FORMATS = (4, 5, SNAPSHOT_FORMAT)
"""The formats this version reads: 4 (every version's records: a whole pipeline), 5 (bounded) and 6 (bounded, with
``let_in_before``)."""

SNAPSHOT_EVERY = 500
"""A writing command saves a new snapshot once the stream is this many events past the last one: a command reads
at most about this many events, whatever the length of the history."""

SNAPSHOT_PAGE = 5000
"""Events read at a time when a snapshot is built from the whole stream (``state snapshot``): its memory is that of a
page and of the pipeline, whatever the length of the history."""

log = logging.getLogger("findly_infra.snapshots")
"""Where a refused snapshot is said (a warning): the command line sends it to stderr with its other logs."""


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
    converter.register_structure_hook(datetime, lambda value, _type: datetime.fromisoformat(value))
    converter.register_unstructure_hook_func(  # sets as sorted lists: JSON has no sets, and the text is stable
        _is_set,
        lambda value: sorted(converter.unstructure(item) for item in value),
    )
    # the sets that grow with every release (versions that succeeded, suites passed): read without per-item dispatch,
    # so that a snapshot of thousands of releases still reads in a few milliseconds
    converter.register_structure_hook_func(
        lambda kind: kind == frozenset[str], lambda value, _type: frozenset(map(str, value))
    )
    converter.register_structure_hook_func(
        lambda kind: kind == frozenset[tuple[str, str]],
        lambda value, _type: frozenset((str(first), str(second)) for first, second in value),
    )
    return converter


def _is_set(kind: Any) -> bool:
    return kind is frozenset or typing.get_origin(kind) is frozenset


_EMPTY = EnvironmentState()


def _body(
    service: str,
    version: int,
    updated: datetime | None,
    environments: Mapping[str, EnvironmentState],
    *,
    form: int = SNAPSHOT_FORMAT,
) -> dict[str, Any]:
    """The snapshot of *environments*, bounded: the records of the versions they hold alone (any other's are read
    back by version when a command names it). Whole or bounded, the same state gives the same body. *form* 4: every
    record, as that format kept them (what ``state verify`` compares a snapshot of that format with)."""
    converter = _converter()
    keep: frozenset[str] = frozenset()
    for state in environments.values():
        keep |= live_versions(state)
    return {
        "format": form,
        "service": service,
        "version": version,
        "updated": None if updated is None else updated.isoformat(),
        "environments": {
            name: _unstructured(converter, bounded_records(state, keep) if form > 4 else state, form)
            for name, state in environments.items()
            if state != _EMPTY
        },
    }


def _unstructured(converter: cattrs.Converter, state: EnvironmentState, form: int) -> dict[str, Any]:
    """*state* as format *form* kept it (before 6: without ``let_in_before``)."""
    body: dict[str, Any] = converter.unstructure(state)
    if form < 6:
        body.pop("let_in_before", None)
    return body


def _returnable(environments: Mapping[str, EnvironmentState]) -> bool:
    """Whether an environment holds a success a release could return from (what a snapshot before format 6 cannot
    say how to return to: the rollout that let its previous version in)."""
    for state in environments.values():
        rollout = state.rollout
        if rollout is not None and rollout.phase is Phase.SUCCEEDED and rollout.previous is not None:
            return True
    return False


def _canonical(body: Mapping[str, Any]) -> str:
    """One text for one body: keys sorted, no spaces (NaN kept as JSON's ``NaN``, as the event store keeps it)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def snapshot_of(pipeline: DeploymentPipeline) -> dict[str, Any]:
    """The pipeline's state as JSON-able data, at its version (environments with nothing recorded left out), bounded
    (:data:`SNAPSHOT_FORMAT` 5). Raises ``ValueError`` when *pipeline* lacks the records of a version its
    environments hold (``DeploymentPipeline.unread``): they are read back first."""
    unread = pipeline.unread()
    if unread:
        raise ValueError(f"{pipeline.service}: the records of {', '.join(unread)} are not read back: no snapshot")
    return _body(pipeline.service, pipeline.version, pipeline.updated, pipeline.environments)


def snapshot_text(pipeline: DeploymentPipeline) -> str:
    """The pipeline's snapshot as a store keeps it: canonical JSON (the same pipeline, the same text)."""
    return _canonical(snapshot_of(pipeline))


def from_snapshot(platform: Platform, service: str, snapshot: dict[str, Any]) -> DeploymentPipeline | None:
    """The pipeline *snapshot* describes, for *platform*; ``None`` when it is not one this version can read."""
    if (
        not isinstance(snapshot, dict)
        or snapshot.get("format") not in READ_FORMATS
        or snapshot.get("service") != service
    ):
        return None
    converter = _converter()
    try:
        environments = {
            str(name): converter.structure(state, EnvironmentState)
            for name, state in dict(snapshot["environments"]).items()
        }
        version = int(snapshot["version"])
        updated = None if snapshot.get("updated") is None else datetime.fromisoformat(snapshot["updated"])
    except (KeyError, TypeError, ValueError, cattrs.BaseValidationError):
        return None
    if snapshot["format"] < 6 and _returnable(environments):
        return None
    start = DeploymentPipeline.start(platform, service)
    pipeline = attrs.evolve(
        start, environments={**start.environments, **environments}, version=version, updated=updated
    )
    if snapshot["format"] == 4:  # every record: whole
        return pipeline
    return attrs.evolve(pipeline, held=pipeline.live_versions(), records_before=version)


# ---- sealed snapshots ----------------------------------------------------------------------------------------------


def digest_of(service: str, version: int, link: str, text: str) -> str:
    """The digest of a snapshot: hex SHA-256 over a tag, its service, its version, the link of the event it folds up
    to and its text, each on its own line (the tag's line can never begin an event's link, which begins with the
    previous link's 64 hex digits)."""
    return hashlib.sha256(f"findly-snapshot\n{service}\n{version}\n{link}\n{text}".encode()).hexdigest()


def sealed(service: str, version: int, text: str, link: str) -> Snapshot:
    """The snapshot *text* of *service* at *version*, after the event whose link is *link*, with its digest (the
    store writes the same digest on that event's row)."""
    return Snapshot(service, version, text, link, digest_of(service, version, link, text))


def trusted(kept: KeptSnapshot) -> str | None:  # noqa: PLR0911 - each way a snapshot can fail is said apart
    """Why *kept* may not be used — ``None`` when it may: it was sealed by this version, the stream has the event it
    folds up to, that event's link is the snapshot's, its digest is the one its service, version, link and text give,
    and the event's row seals that digest. Costs no read: only what :class:`KeptSnapshot` holds."""
    snapshot = kept.snapshot
    last = snapshot.version - 1
    if snapshot.link is None or snapshot.digest is None:
        return "is not sealed (no link or digest: written by an older findly-infra, or edited)"
    if snapshot.version < 1:
        return "folds no event: a snapshot folds at least one"
    if kept.event_link is None:
        return f"folds up to event {last}, which the stream does not have"
    if kept.event_link != snapshot.link:
        return (
            f"does not match event {last} of the stream (another link: the stream was changed after it was taken, or "
            "the snapshot was edited)"
        )
    if digest_of(snapshot.service, snapshot.version, snapshot.link, snapshot.text) != snapshot.digest:
        return "does not match its digest: its body, version or link was changed after it was written"
    if kept.event_seal != snapshot.digest:
        return f"is not the snapshot sealed on event {last}: it was not written by findly-infra"
    return None


def restore(platform: Platform, service: str, kept: KeptSnapshot) -> DeploymentPipeline | str:
    """The pipeline *kept* holds, when it may be trusted (:func:`trusted`) and read; else why not."""
    problem = trusted(kept) if kept.snapshot.service == service else f"is of {kept.snapshot.service}, not {service}"
    if problem is not None:
        return problem
    try:
        body = json.loads(kept.snapshot.text)
    except ValueError:
        return "is not JSON"
    pipeline = from_snapshot(platform, service, body) if isinstance(body, dict) else None
    if pipeline is None:
        return "cannot be read by this version (another format, or not a snapshot)"
    if pipeline.version != kept.snapshot.version:
        return f"says event {pipeline.version} inside and {kept.snapshot.version} outside"
    return pipeline


def say_refused(service: str, version: int, problem: str) -> None:
    """Say on stderr (a warning log line) that *service*'s snapshot at *version* was refused, and what happens."""
    log.warning(
        "%s: the snapshot at event %d %s: not used — the stream is read whole; the next writing command (or "
        "`findly-infra state snapshot`) rebuilds it",
        service,
        version,
        problem,
        extra={"findly_event": "snapshot.refused", "service": service, "version": version, "problem": problem},
    )


# ---- the whole check: the stream folded again -----------------------------------------------------------------------


def verify_snapshot(kept: KeptSnapshot, events: Iterable[Event]) -> SnapshotVerdict:  # noqa: PLR0911 - said apart
    """Fold *events* (the stream from its first, in order) up to *kept*'s version and compare with it: the first
    difference of body or link (the link of the stored event it folds up to, read beside it), or why it cannot be
    compared. A snapshot written before snapshots were sealed is not a problem — no command uses it — but is said
    (``note``)."""
    snapshot = kept.snapshot
    service, version = snapshot.service, snapshot.version
    if snapshot.link is None or snapshot.digest is None:
        return SnapshotVerdict(
            service,
            version,
            note="is not sealed (written by an older findly-infra): no command uses it; `findly-infra state "
            "snapshot` rebuilds it",
        )
    if version < 1:
        return SnapshotVerdict(service, version, "folds no event: a snapshot folds at least one")
    environments: dict[str, EnvironmentState] = {}
    count, updated = 0, None
    try:
        for event in events:
            if count == version:
                break
            environments[event.environment] = fold(environments.get(event.environment) or _EMPTY, event)
            updated = event.at if updated is None else max(updated, event.at)
            count += 1
    except (HistoryError, StateError) as exc:
        return SnapshotVerdict(
            service, version, f"cannot be compared: the stream cannot be folded past event {count} ({exc})"
        )
    if count < version:
        return SnapshotVerdict(service, version, f"is at event {version}, and the stream has {count} events")
    if kept.event_link != snapshot.link:
        return SnapshotVerdict(
            service,
            version,
            f"does not match event {version - 1} of the stream (its link is {_short(snapshot.link)}, the stream's "
            f"{_short(kept.event_link)})",
        )
    try:  # compared in its own format: one of format 4 (every record) is still read, and trusted, by commands
        form = json.loads(snapshot.text).get("format")
    except (ValueError, AttributeError):
        form = None
    form = form if form in READ_FORMATS else SNAPSHOT_FORMAT
    expected = _canonical(_body(service, version, updated, environments, form=form))
    if expected != snapshot.text:
        return SnapshotVerdict(
            service, version, f"is not the fold of the events: {_first_difference(snapshot.text, expected)}"
        )
    if digest_of(service, version, snapshot.link, snapshot.text) != snapshot.digest:
        return SnapshotVerdict(service, version, "does not match its digest (its body and link are right)")
    if kept.event_seal != snapshot.digest:
        return SnapshotVerdict(
            service,
            version,
            f"is right, but event {version - 1} does not seal it (its seal was changed or removed): commands refuse "
            "it until it is rebuilt",
        )
    return SnapshotVerdict(service, version)


def _short(value: str | None) -> str:
    return "none" if value is None else f"{value[:12]}…"


def _first_difference(kept: str, expected: str) -> str:
    """Where the kept text first differs from the fold's, as a path and the two values."""
    try:
        found = json.loads(kept)
    except ValueError:
        return "the snapshot is not JSON"
    path = _difference(found, json.loads(expected), "")
    if path is None:  # the same data in another text (spaces, key order): not what this version writes
        return "the same data, not in the text this version writes"
    where, says, truth = path
    return f"{where or 'the whole body'}: the snapshot says {says}, the events {truth}"


_Difference = tuple[str, str, str]
"""Where two bodies differ first: the path (``environments.development.passed[0]``), what the snapshot says there,
what the events say."""


def _difference(kept: Any, expected: Any, where: str) -> _Difference | None:
    if isinstance(kept, dict) and isinstance(expected, dict):
        return _dict_difference(kept, expected, where)
    if isinstance(kept, list) and isinstance(expected, list):
        for index, (one, other) in enumerate(zip(kept, expected, strict=False)):
            found = _difference(one, other, f"{where}[{index}]")
            if found is not None:
                return found
        return None if len(kept) == len(expected) else (where, f"{len(kept)} items", f"{len(expected)}")
    if _canonical({"v": kept}) != _canonical({"v": expected}):  # NaN equals NaN here, as in the text
        return where, _shown(kept), _shown(expected)
    return None


def _dict_difference(kept: dict[str, Any], expected: dict[str, Any], where: str) -> _Difference | None:
    for key in sorted(set(kept) | set(expected), key=str):
        if key not in kept or key not in expected:
            return _key(where, key), _shown(kept.get(key, ...)), _shown(expected.get(key, ...))
        found = _difference(kept[key], expected[key], _key(where, key))
        if found is not None:
            return found
    return None


def _key(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _shown(value: Any) -> str:
    if value is ...:
        return "nothing"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else f"{text[:57]}..."
