"""The GitOps release killed at its writes: ``release watch`` of a release whose last part the controller (Argo CD)
reports failing — the last part's commit, its revert, then the reverts of the two done parts, last first — killed
at a write and run again, in-process on the real pieces (``gitops_world``), ends as the uninterrupted command ended:
the same commits on the branch (compared by their ``Findly-Change`` keys: none twice, no revert missing), each
recorded once in its service's log, the same release events, the overlay files back where they were.

The write points (as ``tests/releases/test_release_kill_matrix.py`` has them, plus Git's): each append to the
state — the release stream and a part's service stream — before and after, and each push to the repository, just
before and just after. A kill is a ``BaseException`` raised there (nothing catches it), and every later write of that
process dies too; the rerun is a new command on the same folder (state, repository, clone cache).

Every point of the command is one git push or state append away from another, and each point costs a run of the
command (git, and the controller's reconciliations), so the test kills at a sample: every kind of write in each
phase — the last part's forward commit (before and after its push), its recording, its revert, the release stream's
decision to turn back, a done part's revert — listed in ``SAMPLED``. ``FINDLY_GITOPS_KILL_MATRIX=full`` kills at
every point (``test_every_point``: all 32 pass, in about two minutes).

The world starts where a ``release watch r2`` killed just before it started the last part left it (fn-posts and
fn-matcher done, each with a version served before the release: ``r1``); "the uninterrupted command" is that
command run again from there, once, never killed."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra.adapters.git_repository import GitCliRepository
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.ports import Fence
from findly_infra.domain.events import Event
from findly_infra.domain.gitops import GitOpsCommitted, GitOpsReverted
from findly_infra.domain.releases import RELEASE_STREAM, ReleasePartStarted
from tests.gitops.gitops_world import SERVICES, World, overlay, plain_key

ENV = "development"
WATCH = ("release", "watch", "r2", "--environment", ENV)


class Killed(BaseException):
    """The process died here (a BaseException: nothing may catch a SIGKILL and go on)."""


@attrs.define
class WritePoints:
    """Each write the command reaches, named; it dies at the *dies_at*-th (1-based), and writes nothing after."""

    dies_at: int | None = None
    dies_before: str | None = None
    """Or: dies at the first point named so."""
    passed: list[str] = attrs.field(factory=list)
    dead: bool = False

    def reach(self, point: str) -> None:
        if self.dead:
            raise Killed(f"dead already: {point}")
        self.passed.append(point)
        if len(self.passed) == self.dies_at or point == self.dies_before:
            self.dead = True
            raise Killed(point)


def _what(service: str, events: Sequence[Event]) -> str:
    if service == RELEASE_STREAM:
        return "release stream: " + ", ".join(f"{e.type} {getattr(e, 'part', '')}".strip() for e in events)
    return f"{service}: {', '.join(event.type for event in events)}"


@contextlib.contextmanager
def write_points(points: WritePoints) -> Iterator[WritePoints]:
    """The state's appends and the repository's pushes, each a write point (the real adapters, called through)."""
    append = SqliteEventStore.append
    push = GitCliRepository._push

    def dying_append(
        store: SqliteEventStore, service: str, expected: int, events: Sequence[Event], *, fence: Fence | None = None
    ) -> int:
        what = _what(service, events)
        points.reach(f"before append ({what})")
        version = append(store, service, expected, events, fence=fence)
        points.reach(f"after append ({what})")
        return version

    def dying_push(repository: GitCliRepository, target: str) -> bool:
        subject = repository._git("log", "-1", "--format=%s").split(" (")[0]
        points.reach(f"before push ({subject})")
        pushed = push(repository, target)
        if pushed:
            points.reach(f"after push ({subject})")
        return pushed

    with (
        mock.patch.object(SqliteEventStore, "append", dying_append),
        mock.patch.object(GitCliRepository, "_push", dying_push),
    ):
        yield points


@attrs.frozen
class Snapshot:
    """The world just before ``release watch r2`` starts its last part (fn-posts and fn-matcher done), copied."""

    world: World
    copy: Path
    head: str
    counts: dict[str, int]
    """Each stream's events then."""

    def restore(self) -> None:
        shutil.rmtree(self.world.folder)
        shutil.copytree(self.copy, self.world.folder, symlinks=True)


def _summary(snapshot: Snapshot, code: int, points: WritePoints | None = None) -> dict[str, Any]:
    """What a run of the command left, the same however often it was killed: the keys of the commits on the branch,
    the hand-offs each service recorded (by key), each stream's new events, the overlay files, the exit code."""
    world = snapshot.world
    commits = world.commits(snapshot.head)
    keys = [plain_key(c.key or "") for c in commits]
    assert len(keys) == len(set(keys)), keys  # no commit made twice
    by_sha = {c.sha: c for c in commits}
    streams: dict[str, list[tuple[str, ...]]] = {}
    for stream in (RELEASE_STREAM, *SERVICES):
        new = world.events(stream)[snapshot.counts.get(stream, 0) :]
        streams[stream] = [
            (e.type, e.version, getattr(e, "part", ""))
            for e in new
            if e.type != "analysis_recorded" and e.environment in ("", ENV)
        ]
        handoffs = [e for e in new if isinstance(e, GitOpsCommitted | GitOpsReverted)]
        recorded = [plain_key(e.key) for e in handoffs]
        assert len(recorded) == len(set(recorded)), recorded  # each recorded once
        for event in handoffs:  # ... as the commit on the branch that carries its key
            assert by_sha[event.commit].key == event.key, event
    return {
        "code": code,
        "keys": keys,
        "streams": streams,
        "overlays": {s: world.read(overlay(ENV, s)) for s in SERVICES},
        **({"points": points.passed} if points is not None else {}),
    }


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    world = World(tmp_path_factory.mktemp("gitops-kills"), "argocd", failing={"fn-notifications:2.0.0"})
    world.seed("1.0.0")
    with world.running() as running:
        for name, version in (("r1", "1.1.0"), ("r2", "2.0.0")):
            code, said = running.cli("release", "create", name, *(f"{s}={version}" for s in SERVICES))
            assert code == 0, said
            code, said = running.cli("release", "promote", name, "--to", ENV)
            assert code == 0, said
            if name == "r1":
                code, said = running.cli(*WATCH[:2], name, *WATCH[3:])
                assert code == 0, said
        last = "before append (release stream: release_part_done fn-matcher, release_part_started fn-notifications)"
        with write_points(WritePoints(dies_before=last)), pytest.raises(Killed):
            running.cli(*WATCH)
    started = [e for e in world.events(RELEASE_STREAM) if isinstance(e, ReleasePartStarted) and e.release == "r2"]
    assert [e.part for e in started] == ["fn-posts", "fn-matcher"]
    copy = world.folder.parent / f"{world.folder.name}-snapshot"
    shutil.copytree(world.folder, copy, symlinks=True)
    counts = {stream: len(world.events(stream)) for stream in (RELEASE_STREAM, *SERVICES)}
    return Snapshot(world, copy, world.head(), counts)


@pytest.fixture(scope="module")
def clean(snapshot: Snapshot) -> dict[str, Any]:
    """The command, never killed: its write points and what it left."""
    snapshot.restore()
    with snapshot.world.running() as running, write_points(WritePoints()) as points:
        code, said = running.cli(*WATCH)
    assert code == 4, said  # rolled back as a whole
    return _summary(snapshot, code, points)


SAMPLED = (
    # the last part's commit: made in the clone but not pushed; pushed but not recorded
    "before push (fn-notifications: 2.0.0 in development)",
    "after push (fn-notifications: 2.0.0 in development)",
    # the controller reports it Degraded: rolled back, its revert pushed but not recorded
    "after push (fn-notifications: back to 1.1.0 in development)",
    # the release turns back (its decision recorded); a done part's revert pushed but not recorded
    "after append (release stream: release_part_failed fn-notifications, release_returning)",
    "after push (fn-matcher: back to 1.1.0 in development)",
)
"""Five of the command's 32 points (``FINDLY_GITOPS_KILL_MATRIX=full``: all of them, ~2 min): each kind of write in
each phase — the forward commit, its recording (by the next command), the revert, the release stream. A kill after a
write leaves what a kill before the next one leaves (the state, the repository), so an "after" point stands for both
— but before a push the clone holds a commit the remote does not: a point of its own."""


def _killed_and_run_again(snapshot: Snapshot, dies_at: int, clean: dict[str, Any]) -> None:
    snapshot.restore()
    with snapshot.world.running() as running:
        with write_points(WritePoints(dies_at)) as points, pytest.raises(Killed):
            running.cli(*WATCH)
        assert points.passed == clean["points"][:dies_at]  # died where it was meant to
        code, _ = running.cli(*WATCH)  # the same command again, never refused for the crash's sake
    got = _summary(snapshot, code)
    expected = {key: value for key, value in clean.items() if key != "points"}
    assert got == expected, clean["points"][dies_at - 1]


def test_the_sample_is_of_points_the_command_reaches_and_of_every_kind(clean: dict[str, Any]) -> None:
    assert clean["keys"] == [
        "fn-notifications/development/2.0.0",
        *(f"revert:{s}/development/2.0.0" for s in reversed(SERVICES)),
    ]
    assert set(SAMPLED) <= set(clean["points"]), sorted(set(SAMPLED) - set(clean["points"]))
    assert len(set(clean["points"])) == len(clean["points"])  # each point named once: the sample is unambiguous
    kinds = {point.split(" (")[0] + (" release" if "release stream" in point else "") for point in clean["points"]}
    assert kinds == {
        "before append",
        "after append",
        "before append release",
        "after append release",
        "before push",
        "after push",
    }


@pytest.mark.parametrize("point", SAMPLED)
def test_killed_at_a_write_and_run_again_ends_as_if_never_killed(
    snapshot: Snapshot, clean: dict[str, Any], point: str
) -> None:
    _killed_and_run_again(snapshot, clean["points"].index(point) + 1, clean)


@pytest.mark.skipif(os.environ.get("FINDLY_GITOPS_KILL_MATRIX") != "full", reason="FINDLY_GITOPS_KILL_MATRIX=full")
def test_every_point(snapshot: Snapshot, clean: dict[str, Any]) -> None:
    for dies_at in range(1, len(clean["points"]) + 1):
        _killed_and_run_again(snapshot, dies_at, clean)
