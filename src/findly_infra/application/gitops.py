"""Releases handed to a GitOps controller (``gitops:``, ``domain.gitops``): the ``Workloads`` port of the environments
bound to a Git repository instead of a cluster.

Converging such an environment to what the log says is a commit, not an apply:

1. **The version the log runs there** (a rolling update's one track: the candidate while a rollout is under way,
   else what serves) against the image the environment's overlay holds at the head of the followed branch.
2. **Hand it off** when they differ: a rollout going forward commits the overlay with that image line changed,
   and the version label the analysis finds its pods by — nothing else (``domain.gitops.set_image``,
   ``set_version_label``: the file ``render`` writes for that version) — keyed by the rollout (``change_key``) so
   that a command killed after the push finds its commit again instead of making a second; a rollout rolled back
   (or a release's return) reverts the rollout's own commit — found in the event log (``GitOpsCommitted``). With
   ``pull_request: true`` the commit is proposed in a pull request, and the step waits for a person to merge it
   (:class:`HandOffPendingError`).
3. **Follow the controller**: its Application (Kustomization) is read through the Kubernetes API until it reports a
   revision that includes the commit, deployed and healthy (``domain.gitops.read_application``/
   ``read_kustomization``), polling within a ready timeout. A controller that reports it failed at that revision
   fails the rollout as a Deployment past its progress deadline does (``WorkloadNotReadyError(failed=True)``).

The commits are recorded in the service's event log by ``PipelineService`` once the converge returned (or raised):
:meth:`GitOpsWorkloads.handoffs` gives what it made or found, and the service appends those not recorded yet.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from findly_infra.application.ports import BadInputError, ClusterObjects, DependencyError, GitRepository
from findly_infra.application.workloads import WorkloadNotReadyError
from findly_infra.domain.events import Event
from findly_infra.domain.gitops import (
    FLUX_GIT_REPOSITORY,
    ControllerKind,
    ControllerReading,
    ControllerVerdict,
    GitChange,
    GitCommit,
    GitOpsCommitted,
    GitOpsReverted,
    GitOpsSettings,
    change_key,
    operation_revision_of,
    overlay_path,
    read_controller,
    reported_revision,
    set_image,
    set_version_label,
    source_mismatch,
    version_label_of,
)
from findly_infra.domain.tracks import Holding
from findly_infra.domain.view import EnvironmentView

__all__ = ["GitOpsReading", "GitOpsWorkloads", "HandOff", "HandOffPendingError"]

log = logging.getLogger("findly_infra.gitops")

HandOff = GitOpsCommitted | GitOpsReverted


class HandOffPendingError(Exception):
    """The hand-off waits for a person: its pull request is open. Merging it lets the next command follow the
    controller; nothing failed (exit 6, the pull request's URL in the output)."""

    def __init__(self, message: str, *, url: str, environment: str) -> None:
        super().__init__(message)
        self.url = url
        self.environment = environment


@attrs.frozen
class GitOpsReading:
    """What ``status`` shows of a GitOps environment: the latest hand-off recorded (or made), and what the
    controller reports."""

    repository: str
    branch: str
    controller: str
    """``Application argocd/findly-production`` or ``Kustomization flux-system/findly-production``."""
    handoff: HandOff | None
    reading: ControllerReading

    def describe(self) -> str:
        said = f"{self.controller}: {self.reading.verdict.value} ({self.reading.message})"
        if self.reading.warning:
            said += f"; warning: {self.reading.warning}"
        if self.handoff is None:
            return f"{said}; nothing handed to {self.repository} yet"
        made = "reverted by" if isinstance(self.handoff, GitOpsReverted) else "committed"
        where = f", pull request {self.handoff.pull_request}" if self.handoff.pull_request else ""
        return f"{said}; {self.handoff.version} {made} {self.handoff.commit[:12]} on {self.handoff.branch}{where}"


@attrs.define
class GitOpsWorkloads:
    """The ``Workloads`` port of the environments *settings* binds: commits to *repository*, and the controller's
    object read through *objects* (environment -> the ``ClusterObjects`` where its Application lives)."""

    settings: GitOpsSettings
    repository: GitRepository
    objects: Callable[[str], ClusterObjects] = attrs.field(repr=False)
    images: Mapping[str, str]
    """Service -> its image (the platform file's ``services.<name>.image``)."""
    history: Callable[[str], Sequence[Event]] = attrs.field(repr=False)
    """A service's recorded events (the event log): where the rollout's commit is found to revert it."""
    version_label: str = "version"
    """The label the analysis finds a version's pods by (``metrics.version_label``): changed with the image."""
    ready_timeout: float = 600.0
    """How long what the controller applied may take to come out healthy (or Degraded), counted from when it first
    reports our revision: the Deployment's ``progressDeadlineSeconds`` (``render`` writes the rolling strategy's
    ``progress_deadline`` there), past which Kubernetes marks it ``ProgressDeadlineExceeded`` and Argo CD ``Degraded``
    (gitops-engine pkg/health/health_deployment.go)."""
    sync_timeout: float = 300.0
    """How long the controller may take to report our revision at all (its poll: Argo CD's 120 s with up to 60 s of
    jitter, argo-cd docs/user-guide/auto_sync.md; Flux: the GitRepository's interval, then the Kustomization's)."""
    settle: float = 60.0
    """A margin after :attr:`ready_timeout` for the controller to read the Deployment's new health (its refresh)."""
    poll_interval: float = 5.0
    sleep: Callable[[float], object] = attrs.field(default=time.sleep, repr=False)
    monotonic: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)
    _made: dict[tuple[str, str], list[HandOff]] = attrs.field(factory=dict, init=False, repr=False)

    def binds(self, environment: str) -> bool:
        return self.settings.binding(environment) is not None

    # ---- converge ------------------------------------------------------------------------------------------------

    def converge(self, view: EnvironmentView, at: datetime) -> bool:  # noqa: PLR0912 - one branch per case
        """Hand the version *view* runs to the repository where the overlay holds another, then wait until the
        controller deployed it; whether a commit was pushed."""
        wanted = _wanted(view)
        rollout = view.rollout
        service, environment = view.service, view.environment
        api_version, kind, namespace, name = self.settings.controller_object(environment)
        # before anything is decided or committed: an object that deploys another overlay, branch or repository is
        # bad input (the service repairs the cluster before deciding: the command stops with nothing recorded)
        self._check_source(environment, self.objects(environment).get(api_version, kind, namespace, name))
        if wanted is None and (rollout is None or rollout.phase.active):
            return False  # nothing runs there yet: nothing to hand off
        path = overlay_path(self.settings, environment, service)
        text = self.repository.read(path)
        image = self.images[service]
        if text is None:
            raise BadInputError(
                f"{path} is not in {self.settings.repository} at the head of {self.settings.branch}: write the tree "
                f"first (`findly-infra render --out {self.settings.path or '.'}` in the repository, committed and "
                f"pushed), then run the command again; nothing was committed"
            )
        new, held = set_image(text, image, wanted or "")
        if held is not None and wanted is not None:  # its pods labelled as it runs: the label's value as the file
            # holds it (a digest-pinned image has no tag to find it by: review finding 13)
            labelled = version_label_of(text, self.version_label) or ("" if held.startswith("@") else held)
            new = set_version_label(new, self.version_label, labelled, wanted)
        if held is None:
            raise BadInputError(
                f"{path} in {self.settings.repository} has no image: line of {image} (the platform file's "
                f"services.{service}.image): render the tree again from this platform file; nothing was committed"
            )
        recorded = self._recorded(service, environment)
        if wanted is None:  # a first release rolled back: its commit reverted, back to what the repository had
            return self._unreleased(view, (path, text), held, recorded)
        forward = rollout is not None and rollout.phase.active and wanted == rollout.version
        started = (rollout.started if rollout is not None else at).isoformat()
        made: GitCommit | None = None
        if forward:
            key = change_key(service, environment, wanted, started)
            mine = next((event for event in recorded if event.key == key), None)
            if new != text:
                made = self._commit(view, path, new, wanted, held, key)
            elif mine is None:  # there, and not recorded: our commit pushed by a command killed before its record?
                made = self._found(view, path, new, wanted, held, key)
            target = mine if made is None else None
        elif new != text:  # going away from the candidate: hand the revert off and return, never wait for it
            # (an abort or rollback must not wait on a controller that is stuck — Argo CD without automated sync
            # "remains OutOfSync until synced", argo-cd docs/user-guide/auto_sync.md — or slow); the next command
            # follows the controller (the head then holds it: the branch below)
            made = self._return(view, (path, new), wanted, held, recorded, started)
            if made.pull_request is not None:
                self._pending(view, made.sha, made.pull_request, _Holds(view.service, wanted))
            return made.created
        else:  # the head holds it: the latest hand-off that put it there, if we made one
            target = recorded[-1] if recorded and _restores(recorded[-1], wanted) else None
            if target is None:  # ... or a revert a command killed after its push left unrecorded
                made = self._revert_found(view, (path, new), recorded, wanted, started)
        sha = made.sha if made is not None else target.commit if target is not None else None
        pull_request = made.pull_request if made is not None else None
        if pull_request is not None and new != text:
            self._pending(view, sha, pull_request, _Holds(service, wanted))
        # no commit of ours (the head already held it): a revision whose overlay holds it, never any revision
        self._wait(view, sha, wanted, failed=forward)
        return made is not None and made.created

    def _commit(  # noqa: PLR0917 - the commit, and what its event says
        self, view: EnvironmentView, path: str, new: str, wanted: str, held: str, key: str
    ) -> GitCommit:
        environment = view.environment
        message = f"{view.service}: {wanted} in {environment} (was {held or 'untagged'})"
        made = self.repository.commit(GitChange({path: new}, message, key))
        self._note(
            view,
            GitOpsCommitted(
                service=view.service,
                environment=environment,
                version=wanted,
                at=_at(view),
                actor="findly",
                reason=_reason(made, "handed off", self.settings.branch),
                commit=made.sha,
                branch=made.branch,
                files=(path,),
                pull_request=made.pull_request,
                key=key,
            ),
        )
        return made

    def _found(  # noqa: PLR0917 - as _commit
        self, view: EnvironmentView, path: str, new: str, wanted: str, held: str, key: str
    ) -> GitCommit | None:
        """The commit carrying *key*, where the head already holds *wanted* (the repository finds it by its key and
        makes none); ``None`` where no commit carries it — the file held it before (rendered with it, or changed
        by hand): nothing to hand off, and nothing to record."""
        try:
            return self._commit(view, path, new, wanted, held, key)
        except BadInputError:  # "nothing to commit": no commit of ours put it there
            return None

    def _return(  # noqa: PLR0917 - the step, and what it needs of the converge
        self,
        view: EnvironmentView,
        edit: tuple[str, str],
        wanted: str,
        held: str,
        recorded: Sequence[HandOff],
        started: str,
    ) -> GitCommit:
        """Back to *wanted* (rolled back, aborted, a release's return): the revert of the commit that put *held*
        there, where the log recorded it and nothing reverted it yet — made by recomputing our file on the head
        (*edit*: the image set back to *wanted*, with its version label), so that only our change is undone; a
        ``git revert`` only where the version before is not known (*wanted* is *held*: a first release) — else a
        commit of *wanted* (someone changed the file by hand, or the commit was not ours)."""
        ours = _ours(recorded, held)
        path, new = edit
        if ours is None:
            key = change_key(view.service, view.environment, wanted, started)
            return self._commit(view, path, new, wanted, held, key)
        key = (
            f"revert:{ours.key}" if ours.key else change_key(view.service, view.environment, held, started, revert=True)
        )
        message = f"{view.service}: back to {wanted} in {view.environment} (reverts {held}, {ours.commit[:12]})"
        if wanted != held:  # the version to go back to is known: our file recomputed, nothing else (review finding 10)
            # a `git revert` of what was merged would undo all of it: merged by squash, that is one commit carrying
            # every change of the pull request's branch — a reviewer's too (GitHub's about-pull-request-merges)
            # its body says what it undoes as `git revert` writes it, for people and tools reading the history
            undoes = f"{message}\n\nThis reverts commit {ours.commit}."
            made = self.repository.commit(GitChange({path: new}, undoes, key))
        else:  # nothing served before (a first release): the version before ours is not known — git's revert
            made = self.repository.revert(ours.commit, key=key, message=message)
        self._note(
            view,
            GitOpsReverted(
                service=view.service,
                environment=view.environment,
                version=held,
                at=_at(view),
                actor="findly",
                reason=_reason(made, f"reverted {ours.commit[:12]} ({held})", self.settings.branch)
                + f"; {self._object_name(view.environment)} deploys it at its next sync (`status` says when)",
                commit=made.sha,
                reverts=ours.commit,
                branch=made.branch,
                pull_request=made.pull_request,
                key=key,
            ),
        )
        return made

    def _unreleased(self, view: EnvironmentView, edit: tuple[str, str], held: str, recorded: Sequence[HandOff]) -> bool:
        """Nothing serves by the log (the environment's first rollout stopped): the commit that put *held* there
        reverted, where the log recorded one not reverted yet; else nothing to do (but to record the revert a
        killed command pushed)."""
        rollout = view.rollout
        assert rollout is not None
        started = rollout.started.isoformat()
        if _ours(recorded, held) is None:
            found = self._revert_found(view, edit, recorded, held, started)
            if found is not None:
                self._wait(view, found.sha, held, failed=False)
            return False
        made = self._return(view, edit, held, held, recorded, started)
        if made.pull_request is not None:  # as converge: a revert proposed waits for a person
            self._pending(view, made.sha, made.pull_request, _Holds(view.service, not_tag=held))
        return made.created

    def _revert_found(
        self, view: EnvironmentView, edit: tuple[str, str], recorded: Sequence[HandOff], holds: str, started: str
    ) -> GitCommit | None:
        """The head holds *holds*, but the log's latest hand-off is a commit of another version that nothing
        recorded reverted: a command killed after it pushed the revert, before it recorded it. That revert, found by
        its key (and noted, to be recorded) — never made again; ``None`` where no commit carries the key (the file
        was changed by hand: nothing of ours to record)."""
        latest = recorded[-1] if recorded else None
        if (
            not isinstance(latest, GitOpsCommitted)
            or latest.version == holds
            or _ours(recorded, latest.version) is not latest
        ):
            return None
        try:
            return self._return(view, edit, holds, latest.version, recorded, started)
        except BadInputError:  # "nothing to commit", or it does not apply: no revert of ours put it there
            return None

    def _pending(self, view: EnvironmentView, sha: str | None, url: str, holds: _Holds) -> None:
        """An open pull request the controller does not follow yet: the step waits for a person to merge it."""
        found = self._read(view.environment, view.service, sha, holds)
        if found.verdict is ControllerVerdict.DEPLOYED:
            return  # merged meanwhile, and already deployed
        raise HandOffPendingError(
            f"{view.service} in {view.environment} waits for its pull request to be merged: {url} (commit "
            f"{(sha or '')[:12]}); once merged, the next command follows {self._object_name(view.environment)}",
            url=url,
            environment=view.environment,
        )

    def _wait(self, view: EnvironmentView, sha: str | None, wanted: str, *, failed: bool) -> ControllerReading:
        """Until the controller reports *sha* deployed at a revision whose overlay holds *wanted* (*sha* ``None``:
        no commit of ours put it there — any such revision), failed, or the ready timeout passes."""
        # two bounds (review finding 8): the controller's poll, then the Deployment's progress deadline counted from
        # when it applied our revision — counted from the commit, the wait would always end before a failing
        # Deployment could be Degraded, and a failing version be exit 5 instead of rolled back
        deadline = self.monotonic() + self.sync_timeout  # until it reports our revision at all
        applied = False
        name = self._object_name(view.environment)
        polls = 0
        while True:
            reading, ours = self._reading(view.environment, view.service, sha, _Holds(view.service, wanted))
            if ours and not applied:  # it applied our revision: the progress deadline runs from now
                applied = True
                deadline = self.monotonic() + self.ready_timeout + self.settle
            if reading.verdict is ControllerVerdict.DEPLOYED:
                if reading.warning:  # said at run time: a gitops-* check cannot see the controller's object
                    log.warning("%s in %s: %s", view.service, view.environment, reading.warning)
                return reading
            # a failure judged final only at a revision that is ours: the one it reports may still be the one our
            # commit (a revert, say) replaces — Flux keeps the failed revision's HealthCheckFailed until it has
            # reconciled the next (kustomize-controller: lastAttemptedRevision moves when it tries it)
            # and only going forward (*failed*): a revert's wait goes on to its deadline — what the controller says
            # between two reconciliations (Flux's lastAttemptedRevision moved, its Ready not yet) is no verdict
            if reading.verdict is ControllerVerdict.FAILED and ours and failed:
                raise WorkloadNotReadyError(
                    f"{name} failed to deploy {view.service}'s commit {(sha or '')[:12]}: {reading.message}",
                    failed=failed,
                    reason=f"{name}: {reading.message}",
                )
            if self.monotonic() >= deadline:
                within = (
                    f"within {self.ready_timeout + self.settle:g}s of applying it"
                    if applied
                    else f"within {self.sync_timeout:g}s"
                )
                raise WorkloadNotReadyError(
                    f"{name} has not deployed {view.service}'s commit {(sha or '')[:12]} {within}: "
                    f"{reading.message}; the next command waits again"
                )
            self.sleep(min(self.poll_interval, 0.25 * 2**polls))
            polls += 1

    def _read(self, environment: str, service: str, sha: str | None, holds: _Holds | None = None) -> ControllerReading:
        """:meth:`_reading`'s reading."""
        return self._reading(environment, service, sha, holds)[0]

    def _reading(
        self, environment: str, service: str, sha: str | None, holds: _Holds | None = None
    ) -> tuple[ControllerReading, bool]:
        """What the controller reports of *sha* (``None``: of whatever it applied). With *holds*, the revision it
        applied counts as ours only where the service's overlay file, read at that revision, holds the tag *holds*
        says: git ancestry alone would take a later commit that put another image back (someone else's) for ours,
        and with no commit of ours (*sha* ``None``) any older revision would do — the controller deployed that
        revision's tree, not its history's (argo-cd pkg/apis/application/v1alpha1/types.go ``SyncStatus.Revision``:
        "the revision the comparison has been performed to"; kustomize-controller
        internal/controller/kustomization_controller.go ``obj.Status.LastAppliedRevision = revision``). Argo CD: the
        revision of its latest sync operation is judged the same way, and the health judged is the service's own
        Deployment's (``domain.gitops.read_application``). With it, whether the revision it reports is ours (it
        applied it, or is applying it)."""
        api_version, kind, namespace, name = self.settings.controller_object(environment)
        found: Mapping[str, Any] | None = self.objects(environment).get(api_version, kind, namespace, name)
        self._check_source(environment, found)
        revision = reported_revision(self.settings.controller, found, self.settings.repository)
        includes, held = self._ours(environment, revision, sha, holds)
        operation: bool | None = None
        if self.settings.controller is ControllerKind.ARGOCD:
            operated = operation_revision_of(found)
            if operated is not None and operated != revision:
                operation = self._ours(environment, operated, sha, holds)[0] is True
        reading = read_controller(self.settings.controller, found, includes, operation=operation, resources=(service,))
        if includes is False and held is not None and holds is not None and revision is not None:
            changed = " (changed after the hand-off)" if sha is not None else ""
            reading = attrs.evolve(
                reading,
                message=f"{reading.message}; its overlay at {revision[:12]} holds {holds.service} {held}, "
                f"{holds.said()}{changed}",
            )
        return reading, includes is True

    def _check_source(self, environment: str, found: Mapping[str, Any] | None) -> None:
        """Bad input where the controller's object does not deploy the environment's overlay from the repository's
        branch (``domain.gitops.source_mismatch``): an Application of another overlay would report every new head
        Synced and Healthy, and one of another branch never the commit. Flux: the ``GitRepository`` its
        ``spec.sourceRef`` names is read too, where it can be."""
        source: Mapping[str, Any] | None = None
        if found is not None and self.settings.controller is ControllerKind.FLUX:
            reference = _mapping(_mapping(found.get("spec")).get("sourceRef"))
            if reference.get("kind", "GitRepository") == "GitRepository" and reference.get("name"):
                namespace = str(reference.get("namespace") or _mapping(found.get("metadata")).get("namespace") or "")
                # not readable (no permission, not served: bad input of the adapter's; out of reach): spec.path is
                # still checked
                with contextlib.suppress(DependencyError, BadInputError):
                    source = self.objects(environment).get(*FLUX_GIT_REPOSITORY, namespace, str(reference["name"]))
        said = source_mismatch(self.settings, environment, found, source)
        if said is not None:
            raise BadInputError(f"{self._object_name(environment)} does not deploy what findly-infra hands off: {said}")

    def _ours(
        self, environment: str, revision: str | None, sha: str | None, holds: _Holds | None
    ) -> tuple[bool | None, str | None]:
        """Whether *revision* is ours — has *sha* in its history, and holds what *holds* says — and the tag its
        overlay holds (``None``: not read). ``None``: a revision the repository does not know."""
        if revision is None:
            return (None if sha is not None or holds is not None else True), None
        includes = True if sha is None else self.repository.includes(revision, sha)
        if includes is not True or holds is None:
            return includes, None
        held = self._tag_at(environment, holds.service, revision)
        return (None if held is None else holds.fits(held)), held

    def _tag_at(self, environment: str, service: str, revision: str) -> str | None:
        """The image tag *service*'s overlay holds at *revision* (``None``: no such file, or no image line of it)."""
        text = self.repository.read_at(revision, overlay_path(self.settings, environment, service))
        if text is None:
            return None
        return set_image(text, self.images[service], "")[1]

    def _object_name(self, environment: str) -> str:
        _, kind, namespace, name = self.settings.controller_object(environment)
        return f"{kind} {namespace}/{name}"

    # ---- what the log records --------------------------------------------------------------------------------------

    def _note(self, view: EnvironmentView, event: HandOff) -> None:
        self._made.setdefault((view.service, view.environment), []).append(event)

    def handoffs(self, service: str, environment: str) -> tuple[HandOff, ...]:
        """The hand-offs made (or found by key) since last asked, to record: each at most once."""
        return tuple(self._made.pop((service, environment), ()))

    def _recorded(self, service: str, environment: str) -> list[HandOff]:
        """The environment's hand-offs in the log, then those made in this process and not yet recorded."""
        found = [
            event
            for event in self.history(service)
            if isinstance(event, GitOpsCommitted | GitOpsReverted) and event.environment == environment
        ]
        keys = {event.key for event in found}
        found += [event for event in self._made.get((service, environment), ()) if event.key not in keys]
        return found

    # ---- reading back ----------------------------------------------------------------------------------------------

    def holding(self, service: str, environment: str) -> Holding:
        """What the controller applied, where it reports the latest hand-off deployed: the overlay's image tag at
        the revision it applied, on the one track, with all of the traffic. Where it does not (yet), nothing is
        known to run."""
        reading = self.reading(service, environment).reading
        if reading.verdict is not ControllerVerdict.DEPLOYED or reading.revision is None:
            return Holding()
        tag = self._tag_at(environment, service, reading.revision)  # what it applied, not the head (a later push)
        if not tag or tag.startswith("@"):
            return Holding()
        return Holding({service: tag}, {tag: 100})

    def reading(self, service: str, environment: str) -> GitOpsReading:
        """``status``: the latest hand-off, and what the controller reports of it."""
        recorded = self._recorded(service, environment)
        latest = recorded[-1] if recorded else None
        return GitOpsReading(
            self.settings.repository,
            self.settings.branch,
            self._object_name(environment),
            latest,
            self._read(environment, service, latest.commit if latest is not None else None, _expected(service, latest)),
        )


@attrs.frozen
class _Holds:
    """What the overlay of *service* must hold at the revision the controller applied for it to be ours: *tag*, or
    (a revert's, as ``status`` reads it) any tag but *not_tag*."""

    service: str
    tag: str | None = None
    not_tag: str | None = None

    def fits(self, held: str) -> bool:
        return held == self.tag if self.tag is not None else held != self.not_tag

    def said(self) -> str:
        return f"not {self.tag}" if self.tag is not None else f"still {self.not_tag}"


def _wanted(view: EnvironmentView) -> str | None:
    """The version a rolling update runs for *view* (``domain.tracks.track_plan``'s one track): the candidate while
    a rollout holds the environment, else what serves."""
    active = view.rollout is not None and view.rollout.phase.active and view.candidate is not None
    running = view.candidate if active else view.serving
    return running.version if running is not None else None


def _expected(service: str, latest: HandOff | None) -> _Holds | None:
    """What the overlay holds once *latest* is deployed: its version, or — a revert — any but the one reverted."""
    if latest is None:
        return None
    if isinstance(latest, GitOpsReverted):
        return _Holds(service, not_tag=latest.version)
    return _Holds(service, tag=latest.version)


def _ours(recorded: Sequence[HandOff], held: str) -> GitOpsCommitted | None:
    """The latest recorded commit of *held* that no recorded revert undid."""
    reverted = {event.reverts for event in recorded if isinstance(event, GitOpsReverted)}
    return next(
        (
            event
            for event in reversed(recorded)
            if isinstance(event, GitOpsCommitted) and event.version == held and event.commit not in reverted
        ),
        None,
    )


def _restores(event: HandOff, version: str) -> bool:
    """Whether *event* left the overlay at *version*: a commit of it, or a revert (back to what came before)."""
    return isinstance(event, GitOpsReverted) or event.version == version


def _at(view: EnvironmentView) -> datetime:
    """A placeholder time: the service stamps each hand-off when it records it."""
    rollout = view.rollout
    return rollout.started if rollout is not None else datetime.min


def _reason(made: GitCommit, what: str, branch: str) -> str:
    where = f"pull request {made.pull_request} against {branch}" if made.pull_request else branch
    return f"{what}: commit {made.sha[:12]} on {where}"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
