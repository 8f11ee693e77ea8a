"""A GitOps controller for tests: it plays Argo CD's application controller and Flux's kustomize-controller against a
local bare Git repository and the Kubernetes stand-in (``testing.kubernetes``), writing the status they write.

    with KubernetesStandIn() as cluster:
        controller = GitOpsController(cluster, "/tmp/deploy.git", failing={"2.0.0"})
        ...                                # a commit lands on main
        controller.sync_once()             # Application: Synced to the head, health Progressing
        controller.sync_once()             # ... then Healthy (Degraded if the overlay runs 2.0.0)

It reads the followed branch's head with the git CLI, and for each ``Application`` (``argoproj.io/v1alpha1``) whose
``spec.source.repoURL`` is the repository and each ``Kustomization`` (``kustomize.toolkit.fluxcd.io/v1``) whose
``spec.sourceRef`` is the ``GitRepository`` it stands for, reads the images the overlay at ``spec.source.path`` /
``spec.path`` runs *at that commit* — so what it reports comes from Git, not from the code under test — and moves the
object's status one step, as the real controller does over one reconciliation:

- **Argo CD** (argoproj/argo-cd ``controller/appcontroller.go``, ``controller/sync.go``; the codes of
  ``pkg/apis/application/v1alpha1/types.go`` and gitops-engine ``pkg/health``, ``pkg/sync/common``): a new revision
  is compared (``status.sync`` ``OutOfSync`` at the new revision) and, with ``spec.syncPolicy.automated`` (or an
  ``operation`` a person asked for), synced: ``operationState`` ``Succeeded`` for it, ``sync`` ``Synced`` at it,
  ``health`` ``Progressing`` while the rollout runs, then ``Healthy`` — or ``Degraded`` when a container runs an image
  the test marks *failing*. Without automated sync it stays ``OutOfSync`` ("If not automated, the application remains
  OutOfSync until synced": https://argo-cd.readthedocs.io/en/stable/user-guide/auto_sync/). The whole object is
  merge-patched, status included: Argo CD's CRD has no status subresource.
- **Flux** (fluxcd/kustomize-controller ``internal/controller/kustomization_controller.go``; reasons from fluxcd/pkg
  ``apis/meta/conditions.go``): ``Ready`` ``Unknown``/``Progressing`` with ``Reconciling`` and
  ``lastAttemptedRevision`` set, then ``Ready`` ``True``/``ReconciliationSucceeded`` with ``lastAppliedRevision``
  ``<branch>@sha1:<sha>`` (fluxcd/pkg ``git/git.go``, ``Commit.String``) and ``observedGeneration`` — or, when a
  health check fails, ``Ready`` ``False``/``HealthCheckFailed``, ``lastAppliedRevision`` left where it was. Flux runs
  health checks only with ``spec.wait`` or ``spec.healthChecks``: without them a failing image is ``Ready`` as soon
  as it is applied, as with the real controller. Written through the ``/status`` subresource, as Flux's CRD declares.

What fails, fails as there: a path missing from the commit or a manifest that does not parse (Argo CD: ``sync``
``Unknown`` and a ``ComparisonError`` condition; Flux: ``ArtifactFailed``, ``BuildFailed``), a dependency not ready
(Flux ``dependsOn``: ``DependencyNotReady``). Faults a test sets: :attr:`GitOpsController.stuck` (Argo: the
application stays ``OutOfSync``, never synced; Flux: stays ``Reconciling``), :attr:`GitOpsController.paused` (the
controller is not running: nothing is written), :attr:`GitOpsController.apply_fails` (the apply is refused: Argo's
operation ``Failed``, Flux's ``ReconciliationFailed``). What it does not do is listed in ``docs/testing.md``.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from findly_infra.testing.kubernetes.server import KubernetesStandIn

__all__ = ["ARGO_MANAGER", "FLUX_MANAGER", "GitOpsController", "ManifestError", "image_tag"]

ARGO_MANAGER = "argocd-application-controller"
"""The field manager the test controller writes an Application's status as (Argo CD's controller patches it with
client-go, whose default manager is the binary's name)."""
FLUX_MANAGER = "gotk-kustomize-controller"
"""The field manager kustomize-controller writes its status as (fluxcd/kustomize-controller ``main.go``:
``StatusManager: fmt.Sprintf("gotk-%s", controllerName)``)."""
_APPLICATION = ("argoproj.io/v1alpha1", "Application")
_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
_POD_TEMPLATES = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class ManifestError(ValueError):
    """A manifest under the followed path that does not parse: the build fails."""


def image_tag(image: str) -> str:
    """The tag of an image reference (``ghcr.io/findly/posts:2.0.0`` → ``2.0.0``; none: ``latest``, as a container
    runtime reads it; a digest pin: the digest)."""
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _normal_url(url: str) -> str:
    """A repository URL as Argo CD compares two (argo-cd util/git/git.go ``SameURL``/``NormalizeGitURL``: trimmed,
    lower-cased, ``.git`` dropped; here also a trailing ``/``, which url.Parse keeps but a local path does not)."""
    return url.strip().lower().rstrip("/").removesuffix(".git")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitOpsController:
    """Argo CD and Flux, as far as their reports on a commit go. Drive it with :meth:`sync_once` (one reconciliation
    of every object it follows), or :meth:`start` a thread that does so every *interval* seconds until :meth:`stop`
    (also a context manager)."""

    def __init__(
        self,
        cluster: KubernetesStandIn,
        repository: str | Path,
        *,
        branch: str = "main",
        repo_url: str | None = None,
        flux_source: str = "flux-system",
        flux_source_namespace: str = "flux-system",
        failing: Iterable[str] | Callable[[str], bool] = (),
        interval: float = 0.05,
        show_running: bool = False,
    ) -> None:
        """*repository*: the bare repository's folder. *repo_url*: the URL the Applications name as
        ``spec.source.repoURL`` (default: the folder, bare or as a ``file://`` URL — both followed; compared as Argo CD
        compares them: case and a ``.git`` suffix aside). *flux_source*
        and *flux_source_namespace*: the ``GitRepository`` this controller stands for, which Kustomizations name
        in ``spec.sourceRef`` (``flux bootstrap`` names it ``flux-system``, in ``flux-system``). *failing*: image tags
        (or whole references) whose pods never become ready, or a predicate of the image reference. *show_running*:
        Argo CD's sync takes one more pass — first ``OutOfSync`` with ``operationState.phase: Running`` (a reader
        sees the operation under way), then its end."""
        self.cluster = cluster
        self.repository = Path(repository)
        self.branch = branch
        folder = str(self.repository)
        self.repo_urls = {_normal_url(url) for url in ([repo_url] if repo_url else [folder, f"file://{folder}"])}
        self.flux_source = flux_source
        self.flux_source_namespace = flux_source_namespace
        self.failing_tags: set[str] = (
            set() if callable(failing) else (failing if isinstance(failing, set) else set(failing))
        )
        """The failing tags (or whole references): the set given, which a test may change as it goes."""
        self.failing: Callable[[str], bool] = (
            failing
            if callable(failing)
            else lambda image: image in self.failing_tags or image_tag(image) in self.failing_tags
        )
        self.interval = interval
        self.stuck = False
        """A fault: Argo CD never syncs (the application stays ``OutOfSync`` at the new revision), Flux never
        finishes (``Ready`` ``Unknown``, ``Reconciling``)."""
        self.paused = False
        """A fault: the controller is not running — :meth:`sync_once` writes nothing."""
        self.apply_fails: str | None = None
        """A fault: applying the manifests fails with this message (an admission webhook, a quota, an immutable field)
        — Argo CD's sync operation ends ``Failed`` and the application stays ``OutOfSync``; Flux's ``Ready`` is
        ``False``, ``ReconciliationFailed``."""
        self.show_running = show_running
        self.reconciliations = 0
        self.errors: list[Exception] = []
        """What the background thread's passes raised (a stand-in stopped under it, a git failure), in order."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._workloads: dict[tuple[str, str], list[tuple[str, str]] | None] = {}

    # ---- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> GitOpsController:
        """Reconcile every :attr:`interval` seconds in a thread, until :meth:`stop`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gitops-controller", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> GitOpsController:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync_once()
            except Exception as exc:  # noqa: BLE001 - the thread goes on, as a controller does; the test reads them
                self.errors.append(exc)

    # ---- Git ------------------------------------------------------------------------------------------------------

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "--git-dir", str(self.repository), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise LookupError(done.stderr.strip())
        return done.stdout

    def head(self) -> str | None:
        """The followed branch's head commit, or ``None`` when the branch does not exist."""
        try:
            return self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{self.branch}^{{commit}}").strip()
        except LookupError:
            return None

    def images(self, revision: str, path: str) -> list[str] | None:
        """The images the manifests under *path* (a folder of the repository) run at *revision*: every container of
        every workload in every YAML document there; ``None`` when *path* is not in that commit."""
        found = self.workloads(revision, path)
        return None if found is None else [image for _, image in found]

    def workloads(self, revision: str, path: str) -> list[tuple[str, str]] | None:
        """(``Kind/namespace/name``, image) of every container of every workload under *path* at *revision* that runs
        pods (``replicas: 0`` runs none: a blue-green deployment's idle colour) (the
        namespace: the document's, else the folder's ``kustomization.yaml``'s, as kustomize sets it); ``None`` when
        *path* is not in that commit. Raises :class:`ManifestError` for a file there that is not YAML. Kept by
        (revision, folder): a commit's files never change, and a thread reconciling every few milliseconds would
        otherwise run ``git show`` on every manifest of every followed path at every pass."""
        folder = path.strip().removeprefix("./").strip("/")
        if not re.fullmatch(r"[0-9a-f]{40}", revision):  # a branch moves: read it each time
            return self._read_workloads(revision, folder)
        if (revision, folder) not in self._workloads:
            self._workloads[revision, folder] = self._read_workloads(revision, folder)
        found = self._workloads[revision, folder]
        return None if found is None else list(found)

    def _read_workloads(self, revision: str, folder: str) -> list[tuple[str, str]] | None:
        if self.tree(revision, folder) is None:
            return None
        listed = self._git("ls-tree", "-r", "--name-only", revision, "--", folder or ".").split("\n")
        namespace = ""
        for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            where = f"{folder}/{name}" if folder else name
            if where in listed:
                with contextlib.suppress(yaml.YAMLError):
                    kustomization = yaml.safe_load(self._git("show", f"{revision}:{where}"))
                    if isinstance(kustomization, dict):
                        namespace = str(kustomization.get("namespace") or "")
                break
        found: list[tuple[str, str]] = []
        for name in listed:
            if not name.endswith((".yaml", ".yml")):
                continue
            try:
                documents = list(yaml.safe_load_all(self._git("show", f"{revision}:{name}")))
            except yaml.YAMLError as exc:  # what kustomize build (and Argo CD's repo server) fails on
                raise ManifestError(f"{name}: {exc}".replace("\n", " ")) from None
            for document in documents:
                found.extend(_containers(document, namespace))
        return found

    def tree(self, revision: str, path: str) -> str | None:
        """The id of the tree at *path* in *revision* (``None``: not there) — equal ids, equal manifests."""
        folder = path.strip().removeprefix("./").strip("/")
        spec = f"{revision}:{folder}" if folder else f"{revision}^{{tree}}"
        try:
            return self._git("rev-parse", "--verify", "--quiet", spec).strip() or None
        except LookupError:
            return None

    # ---- one reconciliation ---------------------------------------------------------------------------------------

    def sync_once(self) -> int:
        """One reconciliation of every object this controller follows: how many it wrote to."""
        if self.paused:
            return 0
        with self._lock:
            head = self.head()
            written = 0
            for application in self.cluster.objects(*_APPLICATION):
                source = (application.get("spec") or {}).get("source") or {}
                if _normal_url(str(source.get("repoURL") or "")) not in self.repo_urls:
                    continue
                if str(source.get("targetRevision") or "HEAD") not in (
                    "HEAD",
                    self.branch,
                    f"refs/heads/{self.branch}",
                ):
                    continue
                if head is not None and self._argo(application, head, str(source.get("path") or "")):
                    written += 1
            for kustomization in self.cluster.objects(*_KUSTOMIZATION):
                spec = kustomization.get("spec") or {}
                reference = spec.get("sourceRef") or {}
                namespace = reference.get("namespace") or kustomization["metadata"]["namespace"]
                if reference.get("kind") != "GitRepository" or (reference.get("name"), namespace) != (
                    self.flux_source,
                    self.flux_source_namespace,
                ):
                    continue
                if head is not None and not spec.get("suspend") and self._flux(kustomization, head):
                    written += 1
            self.reconciliations += 1
            return written

    # ---- Argo CD --------------------------------------------------------------------------------------------------

    def _argo(self, application: Mapping[str, Any], head: str, path: str) -> bool:  # noqa: PLR0911 - one per state
        metadata = application["metadata"]
        spec = application.get("spec") or {}
        status = application.get("status") or {}
        sync = status.get("sync") or {}
        health = (status.get("health") or {}).get("status")
        now = _now()
        try:
            workloads = self.workloads(head, path)
            problem = "" if workloads is not None else f"{path}: app path does not exist"
        except ManifestError as exc:
            workloads, problem = None, f"Manifest generation error: {exc}"
        if workloads is None:  # no manifests from the commit: a ComparisonError condition, sync Unknown
            # (the repo server's "<path>: app path does not exist", controller/state_test.go; reported as a
            # ComparisonError condition, types.go ApplicationConditionComparisonError)
            message = f"Failed to load target state: {problem}"
            if sync.get("status") == "Unknown" and sync.get("revision") == head:
                return False
            return self._write_argo(
                metadata,
                {
                    "sync": {"status": "Unknown", "revision": head},
                    "conditions": [{"type": "ComparisonError", "message": message, "lastTransitionTime": now}],
                    "reconciledAt": now,
                },
            )
        automated = (spec.get("syncPolicy") or {}).get("automated")
        auto = isinstance(automated, dict) and automated.get("enabled", True) is not False
        requested = bool(application.get("operation"))
        synced_here = sync.get("status") == "Synced" and sync.get("revision") == head
        if not synced_here:
            if self.stuck or not (auto or requested):
                if sync.get("status") == "OutOfSync" and sync.get("revision") == head:
                    return False
                # compared, not synced: OutOfSync at the revision compared to (SyncStatus.Revision)
                return self._write_argo(
                    metadata, {"sync": {"status": "OutOfSync", "revision": head}, "reconciledAt": now}
                )
            operation = application.get("operation") or {"sync": {"revision": head}, "initiatedBy": {"automated": True}}
            state = status.get("operationState") or {}
            ran = (state.get("operation") or {}).get("sync", {}).get("revision") == head
            if ran and state.get("phase") in ("Failed", "Error") and not requested:
                # "Automated sync will only attempt one synchronization per unique combination of commit SHA1 and
                # application parameters" (user-guide/auto_sync.md): a failed one is not tried again
                return False
            if self.show_running and not (ran and state.get("phase") == "Running"):
                # the operation under way (gitops-engine sync_context.go: "one or more tasks are running")
                running = {"operation": operation, "phase": "Running", "message": "one or more tasks are running"}
                return self._write_argo(
                    metadata,
                    {
                        "sync": {"status": "OutOfSync", "revision": head},
                        "operationState": {**running, "startedAt": now},
                        "reconciledAt": now,
                    },
                )
            if self.apply_fails is not None:
                # sync_context.go: "one or more objects failed to apply" → OperationFailed; nothing synced
                failed = f"one or more objects failed to apply, reason: {self.apply_fails}"
                self.cluster.patch(
                    *_APPLICATION,
                    metadata["namespace"],
                    metadata["name"],
                    {
                        "operation": None,
                        "status": {
                            "sync": {"status": "OutOfSync", "revision": head},
                            "operationState": {
                                "operation": operation,
                                "phase": "Failed",
                                "message": failed,
                                "startedAt": state.get("startedAt") if ran else now,
                                "finishedAt": now,
                                "syncResult": {"revision": head},
                            },
                            "reconciledAt": now,
                        },
                    },
                    manager=ARGO_MANAGER,
                )
                return True
            # the sync operation (controller/sync.go) ends Succeeded; the resources it applied are then Progressing
            # until their rollout finishes (gitops-engine pkg/health/health_deployment.go) — unless the commit did
            # not change them (the same tree at the path): then nothing rolls out, and the health stays
            previous = sync.get("revision") if sync.get("status") == "Synced" else None
            unchanged = bool(previous and health and self.tree(str(previous), path) == self.tree(head, path))
            history = list(status.get("history") or [])
            source = dict(spec.get("source") or {})
            history.append(
                {
                    "id": (max((int(item.get("id", 0)) for item in history), default=-1) + 1),
                    "revision": head,
                    "deployStartedAt": now,
                    "deployedAt": now,
                    "source": source,
                }
            )
            limit = int(spec.get("revisionHistoryLimit", 10))  # types.go: RevisionHistoryLimit, "Default is 10"
            patch: dict[str, Any] = {
                "operation": None,  # the controller clears the operation it ran (appcontroller.go finishOperation)
                "status": {
                    "sync": {"status": "Synced", "revision": head, "comparedTo": {"source": source}},
                    "health": dict(status.get("health") or {})
                    if unchanged
                    else {
                        "status": "Progressing",
                        "message": "Waiting for rollout to finish: 0 of 1 updated replicas are available...",
                        "lastTransitionTime": now,
                    },
                    "operationState": {
                        "operation": operation,
                        "phase": "Succeeded",
                        "message": "successfully synced (all tasks run)",
                        "startedAt": state.get("startedAt") if ran and state.get("startedAt") else now,
                        "finishedAt": now,
                        "syncResult": {"revision": head, "source": source},
                    },
                    "history": history[-limit:] if limit > 0 else [],
                    "reconciledAt": now,
                    "summary": {"images": sorted({image for _, image in workloads})},
                    "resources": _resources(workloads, lambda _image: "Progressing")
                    if not unchanged
                    else status.get("resources"),
                    "conditions": None,
                },
            }
            self.cluster.patch(*_APPLICATION, metadata["namespace"], metadata["name"], patch, manager=ARGO_MANAGER)
            return True
        if health == "Progressing":
            bad = sorted({workload for workload, image in workloads if self.failing(image)})
            if bad:  # gitops-engine health_deployment.go: Degraded, "Deployment %q exceeded its progress deadline"
                names = ", ".join(f'"{workload.rsplit("/", 1)[-1]}"' for workload in bad)
                verdict = {
                    "status": "Degraded",
                    "message": f"Deployment {names} exceeded its progress deadline",
                    "lastTransitionTime": now,
                }
            else:
                verdict = {"status": "Healthy", "lastTransitionTime": now}
            own = _resources(workloads, lambda image: "Degraded" if self.failing(image) else "Healthy")
            return self._write_argo(metadata, {"health": verdict, "resources": own, "reconciledAt": now})
        return False

    def _write_argo(self, metadata: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        self.cluster.patch(
            *_APPLICATION, metadata["namespace"], metadata["name"], {"status": dict(status)}, manager=ARGO_MANAGER
        )
        return True

    # ---- Flux -----------------------------------------------------------------------------------------------------

    def _flux(self, kustomization: Mapping[str, Any], head: str) -> bool:  # noqa: PLR0911 - one per state
        metadata = kustomization["metadata"]
        spec = kustomization.get("spec") or {}
        status = kustomization.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
        ready = conditions.get("Ready") or {}
        revision = f"{self.branch}@sha1:{head}"
        generation = metadata.get("generation")
        checks = bool(spec.get("wait")) or bool(spec.get("healthChecks"))
        now = _now()
        settled = status.get("lastAttemptedRevision") == revision and ready.get("status") in ("True", "False")
        # reconciled at this revision and this generation: a success records the generation in observedGeneration,
        # a failure in its Ready condition's observedGeneration (a new commit or a spec change starts again; a
        # failed one is not retried at retryInterval here)
        seen = status.get("observedGeneration") if ready.get("status") == "True" else ready.get("observedGeneration")
        if settled and seen == generation:
            return False
        blocked = self._dependency_not_ready(kustomization, revision)
        if blocked:  # kustomization_controller.go checkDependencies → Ready False DependencyNotReady
            if ready.get("reason") == "DependencyNotReady" and ready.get("message") == blocked:
                return False
            return self._write_flux(metadata, status, {"Ready": ("False", "DependencyNotReady", blocked)}, {}, now)
        try:
            workloads = self.workloads(head, str(spec.get("path") or ""))
        except ManifestError as exc:  # kustomize build fails → Ready False BuildFailed (lastAttemptedRevision set)
            message = f"kustomize build failed: {exc}"
            if ready.get("reason") == "BuildFailed" and ready.get("message") == message:
                return False
            broken = {
                "Ready": ("False", "BuildFailed", message),
                "Reconciling": ("True", "ProgressingWithRetry", f"Building manifests for revision {revision}"),
            }
            return self._write_flux(metadata, status, broken, {"lastAttemptedRevision": revision}, now)
        if workloads is None:
            # "kustomization path not found" → Ready False ArtifactFailed, before lastAttemptedRevision is set
            message = f"kustomization path not found: stat {spec.get('path')}: no such file or directory"
            if ready.get("reason") == "ArtifactFailed" and ready.get("message") == message:
                return False
            return self._write_flux(metadata, status, {"Ready": ("False", "ArtifactFailed", message)}, {}, now)
        in_progress = ready.get("status") == "Unknown" and status.get("lastAttemptedRevision") == revision
        if not in_progress or self.stuck:
            if in_progress:
                return False
            # reconcile(): Ready Unknown "Reconciliation in progress", Reconciling, lastAttemptedRevision set
            changes: dict[str, tuple[str, str, str] | None] = {
                "Ready": ("Unknown", "Progressing", "Reconciliation in progress"),
                "Reconciling": ("True", "Progressing", f"Building manifests for revision {revision}"),
            }
            if checks:  # checkHealth(): Healthy Unknown while the health checks run
                changes["Healthy"] = ("Unknown", "Progressing", f"Running health checks for revision {revision}")
            return self._write_flux(metadata, status, changes, {"lastAttemptedRevision": revision}, now)
        if self.apply_fails is not None:  # the server-side apply fails → Ready False ReconciliationFailed
            return self._write_flux(
                metadata,
                status,
                {
                    "Ready": ("False", "ReconciliationFailed", self.apply_fails),
                    "Reconciling": ("True", "ProgressingWithRetry", f"Building manifests for revision {revision}"),
                },
                {},
                now,
            )
        bad = sorted({workload for workload, image in workloads if self.failing(image)})
        if checks and bad:
            # checkHealth() failed: Ready and Healthy False HealthCheckFailed; finalizeStatus() turns Reconciling's
            # reason to ProgressingWithRetry; lastAppliedRevision and observedGeneration are not moved
            # the wait's error (fluxcd/pkg ssa/manager_wait.go): "timeout waiting for: [Kind/ns/name status: '…']"
            stalled = ", ".join(f"{workload} status: 'InProgress'" for workload in bad)
            message = f"health check failed after 5m0s: timeout waiting for: [{stalled}]"
            return self._write_flux(
                metadata,
                status,
                {
                    "Ready": ("False", "HealthCheckFailed", message),
                    "Healthy": ("False", "HealthCheckFailed", message),
                    "Reconciling": ("True", "ProgressingWithRetry", f"Building manifests for revision {revision}"),
                },
                {},
                now,
            )
        # success: Ready True "Applied revision: …", lastAppliedRevision; finalizeStatus() removes Reconciling and
        # sets observedGeneration; Healthy True (reason Succeeded) after health checks, removed without them
        changes = {
            "Ready": ("True", "ReconciliationSucceeded", f"Applied revision: {revision}"),
            "Reconciling": None,
            "Healthy": ("True", "Succeeded", "Health check passed in 1s") if checks else None,
        }
        extra = {"lastAppliedRevision": revision, "lastAttemptedRevision": revision, "observedGeneration": generation}
        return self._write_flux(metadata, status, changes, extra, now)

    def _dependency_not_ready(self, kustomization: Mapping[str, Any], revision: str) -> str:
        """Why a dependency (``spec.dependsOn``) is not ready — checkDependencies: it exists, has observed its
        generation, is Ready, and has applied the same source revision — or ``""``."""
        namespace = kustomization["metadata"]["namespace"]
        for dependency in (kustomization.get("spec") or {}).get("dependsOn") or []:
            where = dependency.get("namespace") or namespace
            name = f"{where}/{dependency.get('name')}"
            found = self.cluster.get(*_KUSTOMIZATION, where, str(dependency.get("name")))
            if found is None:
                return f"dependency '{name}' not found"
            status = found.get("status") or {}
            ready = {c.get("type"): c for c in status.get("conditions") or []}.get("Ready") or {}
            if (
                status.get("observedGeneration") != found["metadata"].get("generation")
                or ready.get("status") != "True"
                or status.get("lastAppliedRevision") != revision
            ):
                return f"dependency '{name}' is not ready"
        return ""

    def _write_flux(
        self,
        metadata: Mapping[str, Any],
        status: Mapping[str, Any],
        changes: Mapping[str, tuple[str, str, str] | None],
        fields: Mapping[str, Any],
        now: str,
    ) -> bool:
        """Set (or, ``None``, remove) conditions as fluxcd/pkg ``runtime/conditions`` does: ``lastTransitionTime``
        moves only when the status does."""
        conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
        by_type = {c.get("type"): c for c in conditions}
        generation = metadata.get("generation")
        for kind, value in changes.items():
            if value is None:
                conditions = [c for c in conditions if c.get("type") != kind]
                by_type.pop(kind, None)
                continue
            state, reason, message = value
            previous = by_type.get(kind)
            condition = {
                "type": kind,
                "status": state,
                "reason": reason,
                "message": message,
                "observedGeneration": generation,
                "lastTransitionTime": previous["lastTransitionTime"]
                if previous and previous.get("status") == state and previous.get("lastTransitionTime")
                else now,
            }
            if previous is None:
                conditions.append(condition)
            else:
                conditions = [condition if c.get("type") == kind else c for c in conditions]
            by_type[kind] = condition
        self.cluster.patch(
            *_KUSTOMIZATION,
            metadata["namespace"],
            metadata["name"],
            {"status": {**fields, "conditions": conditions}},
            subresource="status",
            manager=FLUX_MANAGER,
        )
        return True


def _resources(workloads: list[tuple[str, str]], health: Callable[[str], str]) -> list[dict[str, Any]]:
    """``status.resources`` of an Application: each workload it deployed with its own health (argo-cd
    pkg/apis/application/v1alpha1/types.go ``ResourceStatus``: group, version, kind, namespace, name, status,
    health; written on every refresh, controller/appcontroller.go ``app.Status.Resources = compareResult.resources``).
    A workload is Degraded where one of its images is (*health* of each image), as gitops-engine judges each
    Deployment on its own (pkg/health/health_deployment.go)."""
    order = ("Healthy", "Progressing", "Degraded")  # gitops-engine health.go healthOrder, the codes used here
    worst: dict[str, str] = {}
    for workload, image in workloads:
        code = health(image)
        if order.index(code) >= order.index(worst.get(workload, "Healthy")):
            worst[workload] = code
    found = []
    for workload, code in sorted(worst.items()):
        kind, _, rest = workload.partition("/")
        namespace, _, name = rest.rpartition("/")
        group, version = ("batch", "v1") if kind == "Job" else ("apps", "v1")
        entry: dict[str, Any] = {"group": group, "version": version, "kind": kind, "name": name, "status": "Synced"}
        if namespace:
            entry["namespace"] = namespace
        entry["health"] = (
            {"status": code, "message": f'Deployment "{name}" exceeded its progress deadline'}
            if code == "Degraded"
            else {"status": code}
        )
        found.append(entry)
    return found


def _containers(document: Any, namespace: str) -> Iterator[tuple[str, str]]:
    """(``Kind/namespace/name``, image) of a workload document's pod template (containers and init containers); none
    for a workload scaled to zero."""
    if not isinstance(document, dict) or document.get("kind") not in _POD_TEMPLATES:
        return
    spec = document.get("spec") or {}
    if spec.get("replicas") == 0:  # nothing runs: a Deployment scaled to zero is healthy whatever its image
        # (gitops-engine pkg/health/health_deployment.go compares updated replicas to spec.replicas; kstatus alike)
        return
    metadata = document.get("metadata") or {}
    identifier = f"{document['kind']}/{metadata.get('namespace') or namespace}/{metadata.get('name')}"
    template = ((document.get("spec") or {}).get("template") or {}).get("spec") or {}
    for key in ("initContainers", "containers"):
        for container in template.get(key) or []:
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                yield identifier, container["image"]
