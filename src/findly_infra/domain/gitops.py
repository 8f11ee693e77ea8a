"""The GitOps hand-off: an environment bound to a Git repository instead of a cluster (``gitops:``). A promotion
there is a commit (or a pull request) that changes the version's image in the environment's rendered overlay — and
nothing else — and the rollout follows what the GitOps controller reports: an Argo CD ``Application``'s sync and
health, or a Flux ``Kustomization``'s ``Ready`` condition, read through the Kubernetes API. A rollback is a revert
commit.

What the file says::

    gitops:
      repository: "https://github.com/findly-now/deploy.git"
      branch: main               # the branch the controller follows
      path: k8s                  # where `findly-infra render --out` wrote the tree, in the repository
      pull_request: false        # true: push a branch and open a pull request against `branch`
      controller: argocd         # or flux
      context: management        # the kubeconfig context where the Applications (Kustomizations) live (wins
                                 # over --context); default: --context when given, else the current context
      environments:
        production:
          name: findly-production  # the Application (argocd) or Kustomization (flux)
          namespace: argocd        # default: argocd / flux-system

This module holds the settings, the pure reading of the controllers' published status (:func:`read_application`,
:func:`read_kustomization`), the one edit a promotion makes (:func:`set_image`), and the events that record the
commits. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.events import Event
from findly_infra.domain.notation import Duration

__all__ = [
    "ARGO_APPLICATION",
    "FLUX_GIT_REPOSITORY",
    "FLUX_KUSTOMIZATION",
    "ControllerKind",
    "ControllerReading",
    "ControllerVerdict",
    "GitChange",
    "GitCommit",
    "GitOpsBinding",
    "GitOpsCommitted",
    "GitOpsReverted",
    "GitOpsSettings",
    "change_key",
    "operation_revision_of",
    "overlay_folder",
    "overlay_path",
    "read_application",
    "read_controller",
    "read_kustomization",
    "reported_revision",
    "same_url",
    "set_image",
    "set_version_label",
    "source_mismatch",
    "version_label_of",
]

ARGO_APPLICATION = ("argoproj.io/v1alpha1", "Application")
"""Argo CD's Application (https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/)."""
FLUX_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
"""Flux's Kustomization (https://fluxcd.io/flux/components/kustomize/kustomizations/)."""
FLUX_GIT_REPOSITORY = ("source.toolkit.fluxcd.io/v1", "GitRepository")
"""Flux's GitRepository, which a Kustomization's ``spec.sourceRef`` names
(https://fluxcd.io/flux/components/source/gitrepositories/): read, where it may be, to check its URL and branch."""


class ControllerKind(enum.Enum):
    ARGOCD = "argocd"
    FLUX = "flux"

    @property
    def default_namespace(self) -> str:
        return "argocd" if self is ControllerKind.ARGOCD else "flux-system"

    @property
    def kind(self) -> tuple[str, str]:
        """(apiVersion, kind) of the object the controller reports on."""
        return ARGO_APPLICATION if self is ControllerKind.ARGOCD else FLUX_KUSTOMIZATION


@attrs.frozen
class GitOpsBinding:
    """One environment handed to the controller: the Application (or Kustomization) that deploys its overlay."""

    environment: str
    name: str
    namespace: str | None = None


_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[^\s~^:?*\[\\]+(?<!/)(?<!\.lock)(?<!\.)$")
"""``git check-ref-format --branch``'s rules, as far as a file's branch name needs them."""


@attrs.frozen
class GitOpsSettings:
    """``gitops:``: the repository the bound environments are promoted through, and who reports on them."""

    repository: str
    environments: tuple[GitOpsBinding, ...]
    branch: str = "main"
    path: str = "k8s"
    pull_request: bool = False
    controller: ControllerKind = ControllerKind.ARGOCD
    author: str = "findly-infra <findly-infra@users.noreply.github.com>"
    sync_timeout: Duration = Duration.of(minutes=5)
    """How long the controller may take to report a commit at all (``sync_timeout: 30s``) — its poll: Argo CD's
    120 s with up to 60 s of jitter (argo-cd docs/user-guide/auto_sync.md), Flux's GitRepository interval then its
    Kustomization's; a webhook makes it seconds. Then the rollout's ``progress_deadline`` runs from when it applied
    the commit."""
    context: str | None = None
    """The kubeconfig context of the cluster where the Applications (or Kustomizations) live — a management
    cluster; it wins over ``--context``. ``None``: ``--context`` (``FINDLY_KUBE_CONTEXT``) when given, else the
    kubeconfig's current context."""

    def __attrs_post_init__(self) -> None:
        if not self.repository.strip():
            raise InvariantError("the repository is named (a URL, or a path)", field="repository")
        if not _BRANCH.match(self.branch):
            raise InvariantError(f"{self.branch!r} is not a branch name git accepts", field="branch")
        if self.path.startswith("/") or ".." in self.path.split("/"):
            raise InvariantError(f"{self.path!r} must be a folder inside the repository", field="path")
        if self.context is not None and not self.context.strip():
            raise InvariantError("a context is a kubeconfig context's name (or leave it out)", field="context")
        names = [binding.environment for binding in self.environments]
        if len(set(names)) != len(names):
            raise InvariantError("an environment is bound twice", field="environments")

    def binding(self, environment: str) -> GitOpsBinding | None:
        for binding in self.environments:
            if binding.environment == environment:
                return binding
        return None

    def controller_object(self, environment: str) -> tuple[str, str, str, str]:
        """(apiVersion, kind, namespace, name) of the object that reports on *environment*."""
        binding = self.binding(environment)
        if binding is None:
            raise KeyError(environment)
        api_version, kind = self.controller.kind
        return api_version, kind, binding.namespace or self.controller.default_namespace, binding.name


def overlay_path(settings: GitOpsSettings, environment: str, service: str, track: str = "stable") -> str:
    """The file, in the repository, that holds *service*'s Deployment of *track* in *environment*'s overlay — as
    ``render`` writes it (``k8s/overlays/production/fn-posts/deployment-stable.yaml``)."""
    folder = settings.path.strip("/")
    prefix = f"{folder}/" if folder else ""
    return f"{prefix}overlays/{environment}/{service}/deployment-{track}.yaml"


# ---- the one edit a promotion makes ----------------------------------------------------------------------------

_IMAGE_LINE = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?image:\s*)(?P<quote>[\"']?)(?P<image>[^\s\"'#]+)(?P=quote)(?P<tail>.*)$"
)


def set_image(text: str, image: str, version: str) -> tuple[str, str | None]:
    """*text* (a rendered Deployment's YAML) with every ``image:`` of *image* set to the tag *version* — that line,
    and nothing else, changed (quotes, comments and layout kept); and the tag it replaced (``None``: *image* appears
    nowhere, the text unchanged). A digest pin (``@sha256:…``) is replaced by the tag."""
    replaced: str | None = None
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        match = _IMAGE_LINE.match(body)
        if match is None:
            continue
        reference = match["image"]
        name, tag = _split_reference(reference)
        if name != image:
            continue
        replaced = tag
        quote = match["quote"]
        lines[index] = f"{match['lead']}{quote}{image}:{version}{quote}{match['tail']}{ending}"
    return "".join(lines), replaced


def set_version_label(text: str, label: str, old: str, new: str) -> str:
    """*text* with every ``<label>: <old>`` line (a Deployment's and its pod template's version label, as ``render``
    writes them: ``version: "1.0.0"``) set to *new* — those lines, and nothing else, changed (quotes, comments and
    layout kept). The analysis finds a version's pods by that label (``metrics.version_label``): a promotion that
    changed only the image would run the new version under the old label. An empty *old* (a digest pin, no tag)
    changes nothing."""
    if not old or not label:
        return text
    pattern = re.compile(
        rf"^(?P<lead>\s*{re.escape(label)}:\s*)(?P<quote>[\"']?){re.escape(old)}(?P=quote)(?P<tail>\s*(?:#.*)?)$"
    )
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = pattern.match(body)
        if match is not None:
            quote = match["quote"] or ('"' if _needs_quotes(new) else "")
            lines[index] = f"{match['lead']}{quote}{new}{quote}{match['tail']}{line[len(body) :]}"
    return "".join(lines)


def version_label_of(text: str, label: str) -> str | None:
    """The value of the first ``<label>: <value>`` line of *text* (a rendered Deployment's version label, quotes
    taken off); ``None``: none. What :func:`set_version_label` is given as the old value where the image's tag cannot
    say it (a digest pin)."""
    if not label:
        return None
    pattern = re.compile(rf"^\s*{re.escape(label)}:\s*(?P<quote>[\"']?)(?P<value>[^\s\"'#]+)(?P=quote)\s*(?:#.*)?$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match is not None:
            return match["value"]
    return None


def _needs_quotes(value: str) -> bool:
    """Whether a label's value would read as something other than text unquoted (``1.0``, ``true``, ``null``)."""
    return bool(re.fullmatch(r"[-+]?[0-9._eE]+|true|false|yes|no|on|off|null|~", value, re.IGNORECASE))


def _split_reference(reference: str) -> tuple[str, str]:
    """``gcr.io/p/fn-posts:1.2.3`` -> (``gcr.io/p/fn-posts``, ``1.2.3``); ``…@sha256:…`` -> (its name, the digest)."""
    name, _, digest = reference.partition("@")
    tag = ""
    if _tagged(name):
        name, tag = name.rsplit(":", 1)
    return name, f"@{digest}" if digest else tag


def _tagged(reference: str) -> bool:
    """Whether the last ``:`` of *reference* starts a tag (not a registry's port: ``localhost:5000/x``)."""
    return ":" in reference and "/" not in reference.rsplit(":", 1)[1]


@attrs.frozen
class GitChange:
    """A commit to make: *files* (path in the repository -> its whole new text), its *message*, and its *key* — the
    ``Findly-Change:`` trailer by which a retried hand-off finds the commit an earlier, interrupted one made."""

    files: Mapping[str, str]
    message: str
    key: str


@attrs.frozen
class GitCommit:
    """A commit made (or found, by its key): its id, the branch it is on, and the pull request that proposes it
    (``None``: committed to the followed branch itself)."""

    sha: str
    branch: str
    pull_request: str | None = None
    """The pull request's URL."""
    created: bool = True
    """``False``: an earlier hand-off had made it (found by its key)."""


def change_key(service: str, environment: str, version: str, started: str, *, revert: bool = False) -> str:
    """The ``Findly-Change:`` key of a rollout's hand-off (``fn-posts/production/1.2.3/<rollout start>``), or of its
    revert."""
    return f"{'revert:' if revert else ''}{service}/{environment}/{version}/{started}"


# ---- the controllers' reports ----------------------------------------------------------------------------------


class ControllerVerdict(enum.Enum):
    DEPLOYED = "deployed"
    """The controller applied a revision that includes the commit, and what it deployed is healthy."""
    PROGRESSING = "progressing"
    """Not yet: the controller has not applied the commit, or what it applied is still becoming healthy."""
    FAILED = "failed"
    """The controller applied the commit and what it deployed failed (Degraded; Ready False for good)."""


@attrs.frozen
class ControllerReading:
    verdict: ControllerVerdict
    revision: str | None
    """The revision the controller last applied (``None``: none reported)."""
    message: str
    warning: str | None = None
    """What the reading cannot vouch for (a Flux Kustomization that checks no health: its Ready says it applied,
    not that the pods run), said at run time — in ``status`` and on the rollout's stderr."""


def reported_revision(
    kind: ControllerKind, found: Mapping[str, Any] | None, repository: str | None = None
) -> str | None:
    """The commit the controller's report is about, as *found* (the object's JSON) says: an Application's
    ``status.sync.revision`` (for a multi-source one, ``status.sync.revisions[i]`` of the ``spec.sources[i]`` whose
    ``repoURL`` is *repository* — types.go ``SyncStatus.Revisions``: "the revisions of multiple sources", one per
    source, in order; the first where *repository* is not given or none matches); a Kustomization's
    ``status.lastAppliedRevision`` — or, when ``Ready`` is ``False`` for a terminal reason, its
    ``status.lastAttemptedRevision``: kustomize-controller moves ``lastAppliedRevision`` only once the health checks
    passed (``internal/controller/kustomization_controller.go``: ``obj.Status.LastAppliedRevision = revision`` after
    ``checkHealth``), so a revision that failed them is named only as the one attempted. The ref is taken off
    (``main@sha1:<sha>`` -> ``<sha>``; the format before Flux 2.0, ``main/<sha>``, too). ``None``: none reported.
    Argo CD: pkg/apis/application/v1alpha1/types.go (``SyncStatus.Revision``, ``Revisions``); Flux:
    https://fluxcd.io/flux/components/kustomize/kustomizations/#last-applied-revision and #last-attempted-revision."""
    status = _mapping(_mapping(found).get("status"))
    if kind is ControllerKind.ARGOCD:
        sync = _mapping(status.get("sync"))
        revision = sync.get("revision")
        if not revision:
            revisions = sync.get("revisions")
            index = _source_index(found, repository)
            revision = revisions[index] if isinstance(revisions, list) and len(revisions) > index else None
        return str(revision) if revision else None
    ready = _ready(status)
    failed = str(ready.get("status")) == "False" and str(ready.get("reason") or "") in _FLUX_TERMINAL
    applied = (status.get("lastAttemptedRevision") if failed else None) or status.get("lastAppliedRevision")
    if not applied:
        return None
    text = str(applied)
    if "@" in text:  # <ref>@<algo>:<digest> (source-controller's revision format since Flux 2.0)
        text = text.rsplit("@", 1)[1]
        return text.split(":", 1)[1] if ":" in text else text
    return text.rsplit("/", 1)[-1]  # <branch>/<sha>: the format before Flux 2.0


def _source_index(found: Mapping[str, Any] | None, repository: str | None) -> int:
    """The index, in an Application's ``spec.sources``, of the source of *repository* (0: none given, or none)."""
    sources = _mapping(_mapping(found).get("spec")).get("sources")
    if repository is None or not isinstance(sources, list):
        return 0
    for index, source in enumerate(sources):
        if isinstance(source, Mapping) and same_url(str(source.get("repoURL") or ""), repository):
            return index
    return 0


def same_url(left: str, right: str) -> bool:
    """Whether two repository URLs name the same repository, as Argo CD compares them (argo-cd util/git/git.go
    ``SameURL``/``NormalizeGitURL``: trimmed, lower-cased, an scp-like ``git@host:org/repo`` read as
    ``ssh://git@host/org/repo``, ``.git`` dropped, the ``ssh://`` scheme dropped); here also a local path and its
    ``file://`` URL (a repository on this machine)."""

    def normal(url: str) -> str:
        url = url.strip().lower()
        if not url.startswith("ssh://") and re.match(r"^[\w.-]+@[\w.-]+:", url):  # scp-like: the first : is a /
            url = "ssh://" + url.replace(":", "/", 1)
        url = url.removesuffix(".git").removeprefix("ssh://")
        return url.removeprefix("file://")

    return bool(normal(left)) and normal(left) == normal(right)


def overlay_folder(settings: GitOpsSettings, environment: str) -> str:
    """The folder, in the repository, of *environment*'s overlay (its ``kustomization.yaml``): what its
    Application's ``spec.source.path`` (Kustomization's ``spec.path``) names."""
    folder = settings.path.strip("/")
    return f"{folder}/overlays/{environment}" if folder else f"overlays/{environment}"


def _folder(path: str) -> str:
    """A path as a controller reads it: ``./k8s/overlays/dev/`` -> ``k8s/overlays/dev``."""
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path.strip("/")


def source_mismatch(  # noqa: PLR0911 - one per field that can differ
    settings: GitOpsSettings,
    environment: str,
    found: Mapping[str, Any] | None,
    source: Mapping[str, Any] | None = None,
) -> str | None:
    """What in the controller's object *found* does not deploy *environment*'s overlay from ``gitops.repository``'s
    ``gitops.branch`` (``None``: it does, or says nothing of its source). Argo CD: the ``spec.source`` (or the
    ``spec.sources`` entry) of the repository — ``repoURL`` compared as Argo CD compares (:func:`same_url`), ``path``
    the overlay's folder, ``targetRevision`` the branch (``refs/heads/<branch>``; ``HEAD`` or none: the remote's
    default branch, taken as the branch — it cannot be told from here) (argo-cd types.go ``ApplicationSource``).
    Flux: ``spec.path`` the overlay's folder, and, where *source* (the ``GitRepository`` its ``spec.sourceRef``
    names) could be read, its ``spec.url`` and ``spec.ref.branch`` (https://fluxcd.io/flux/components/source/
    gitrepositories/)."""
    if found is None:
        return None
    binding = settings.binding(environment)
    name = binding.name if binding is not None else "?"
    where = f"gitops.environments.{environment}.name ({name})"
    folder = overlay_folder(settings, environment)
    spec = _mapping(found.get("spec"))
    if settings.controller is ControllerKind.ARGOCD:
        sources = [spec["source"]] if isinstance(spec.get("source"), Mapping) else []
        sources += [item for item in spec.get("sources") or [] if isinstance(item, Mapping)]
        if not sources:
            return None
        ours = [item for item in sources if same_url(str(item.get("repoURL") or ""), settings.repository)]
        if not ours:
            urls = ", ".join(repr(str(item.get("repoURL") or "")) for item in sources)
            return (
                f"{where}: its spec.source.repoURL is {urls}, not gitops.repository {settings.repository!r}: it does "
                "not deploy that repository"
            )
        item = ours[0]
        path = _folder(str(item.get("path") or ""))
        if path != folder:
            return f"{where}: its spec.source.path is {path or '(none)'!r}, not the overlay's folder {folder!r}"
        revision = str(item.get("targetRevision") or "HEAD")
        if revision not in {settings.branch, f"refs/heads/{settings.branch}", "HEAD"}:
            return f"{where}: its spec.source.targetRevision is {revision!r}, not gitops.branch {settings.branch!r}"
        return None
    path = _folder(str(spec.get("path") or ""))
    if "path" in spec and path != folder:
        return f"{where}: its spec.path is {path or '(none)'!r}, not the overlay's folder {folder!r}"
    if source is None:
        return None
    source_spec = _mapping(source.get("spec"))
    url = str(source_spec.get("url") or "")
    if url and not same_url(url, settings.repository):
        reference = _mapping(spec.get("sourceRef"))
        return (
            f"{where}: the GitRepository {reference.get('name')} of its spec.sourceRef has spec.url {url!r}, not "
            f"gitops.repository {settings.repository!r}"
        )
    branch = _mapping(source_spec.get("ref")).get("branch")
    if branch is not None and str(branch) != settings.branch:
        return f"{where}: its GitRepository's spec.ref.branch is {branch!r}, not gitops.branch {settings.branch!r}"
    return None


def _ready(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Kustomization's ``Ready`` condition (empty: none yet)."""
    for item in status.get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == "Ready":
            return item
    return {}


_ARGO_FAILED_OPERATION = frozenset({"Failed", "Error"})
"""``status.operationState.phase`` values that end a sync without applying it: gitops-engine
pkg/sync/common/types.go (``OperationFailed``, ``OperationError``; the others are Running, Terminating, Succeeded)."""


_ARGO_HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")
"""gitops-engine pkg/health/health.go ``healthOrder``: "health codes in order of most healthy to least healthy"."""

_ARGO_OPERATION_IN_PROGRESS = frozenset({"Running", "Terminating"})
"""gitops-engine pkg/sync/common/types.go: ``OperationPhase.Completed()`` is Failed, Error or Succeeded; Running and
Terminating are not done yet (a PostSync hook — the smoke tests argo-cd docs/user-guide/sync-waves.md describes — runs
while the resources are already Synced and Healthy)."""


def _own_health(status: Mapping[str, Any], resources: Collection[str]) -> tuple[str, str] | None:
    """The worst health (gitops-engine ``healthOrder``) of the Deployments named *resources* among
    ``status.resources`` (argo-cd types.go ``ResourceStatus``: group, kind, namespace, name, health; written on every
    refresh, controller/appcontroller.go ``app.Status.Resources = compareResult.resources``), with what it says;
    ``None``: none of them listed (the Application's own health stands)."""
    worst: tuple[int, str, str] | None = None
    for item in status.get("resources") or []:
        if not isinstance(item, Mapping) or item.get("kind") != "Deployment" or item.get("name") not in resources:
            continue
        if str(item.get("group") or "apps") != "apps" or item.get("hook"):
            continue
        health = _mapping(item.get("health"))
        code = str(health.get("status") or "Unknown")
        rank = _ARGO_HEALTH_ORDER.index(code) if code in _ARGO_HEALTH_ORDER else len(_ARGO_HEALTH_ORDER)
        namespace = item.get("namespace")
        said = f"Deployment {namespace}/{item.get('name')}" if namespace else f"Deployment {item.get('name')}"
        detail = f"{said} {code}" + (f": {health['message']}" if health.get("message") else "")
        if worst is None or rank > worst[0]:
            worst = (rank, code, detail)
    return None if worst is None else (worst[1], worst[2])


def read_application(  # noqa: PLR0911 - one per state the controller reports
    application: Mapping[str, Any] | None,
    includes: bool | None,
    *,
    operation: bool | None = None,
    resources: Collection[str] = (),
) -> ControllerReading:
    """An Argo CD Application's status (``status.sync.status``/``revision``, ``status.health.status``,
    ``status.operationState``, ``status.resources``), given whether its synced revision *includes* the commit
    (``None``: unknown revision) and whether the revision of its latest sync operation does (*operation*;
    ``None``: it is the synced revision itself, or none is named). Deployed: Synced at such a revision, the sync
    operation of such a revision finished (``Succeeded``: no PostSync hook still running), and Healthy. Failed: at
    such a revision, health Degraded, or the sync operation of such a revision Failed/Error. Otherwise progressing
    (OutOfSync, Progressing, Missing, Suspended, an older revision, an operation Running or Terminating).
    https://argo-cd.readthedocs.io/en/stable/operator-manual/health/

    The health judged is that of the service's own Deployments (*resources*: their names) where
    ``status.resources`` lists them — the Application's health is "the worst health of its immediate child
    resources" (argo-cd docs/operator-manual/health.md), so another service's Degraded Deployment in the same overlay
    would otherwise fail this one — else the Application's.

    Degraded fails it once Synced (while OutOfSync, health is still the older objects'). The codes, as Argo CD
    publishes them: sync ``Synced``/``OutOfSync``/``Unknown`` (argo-cd pkg/apis/application/v1alpha1/types.go,
    ``SyncStatusCode``); health ``Healthy``/``Progressing``/``Degraded``/``Suspended``/``Missing``/``Unknown``
    (gitops-engine pkg/health/health.go, ``HealthStatusCode``: "Degraded" is a resource that failed, or did not reach
    health in time — a Deployment past its progress deadline). An absent Application (``None``) is progressing: the
    controller has not made it yet (or we may not read it — the adapter says so as an error)."""
    revision = reported_revision(ControllerKind.ARGOCD, application)
    if application is None:
        return ControllerReading(ControllerVerdict.PROGRESSING, None, "the Application does not exist (yet)")
    status = _mapping(application.get("status"))
    sync = str(_mapping(status.get("sync")).get("status") or "Unknown")
    health_block = _mapping(status.get("health"))
    health = str(health_block.get("status") or "Unknown")
    health_said = str(health_block.get("message") or "")
    own = _own_health(status, resources) if resources else None
    if own is not None:
        health, health_said = own
    operation_state = _mapping(status.get("operationState"))
    phase = str(operation_state.get("phase") or "")
    operation_revision = operation_revision_of(application)
    ours = operation if operation is not None else operation_revision in (None, revision)
    said = f"sync {sync}, health {health}" + (f", operation {phase}" if phase else "")
    detail = health_said if health == "Degraded" and health_said else str(operation_state.get("message") or health_said)
    message = f"{said}: {detail}" if detail else said
    at = f" at {revision[:12]}" if revision else ""
    if includes is not True:  # not yet at a revision with the commit: whatever it says is of an older one
        why = "an older revision" if includes is False else "a revision the repository does not know"
        return ControllerReading(ControllerVerdict.PROGRESSING, revision, f"{message}{at} ({why})")
    # status.sync.revision is the revision the live state was compared with (types.go: "the revision the comparison
    # has been performed to"): health is of the live objects, so it speaks of that revision once Synced to it
    if sync == "Synced" and health == "Degraded":
        return ControllerReading(ControllerVerdict.FAILED, revision, f"{message}{at}")
    if phase in _ARGO_FAILED_OPERATION and ours:  # the sync of that revision
        return ControllerReading(ControllerVerdict.FAILED, revision, f"{message}{at}")
    if phase in _ARGO_OPERATION_IN_PROGRESS:  # hooks, waves: Synced and Healthy says nothing until it ends
        return ControllerReading(ControllerVerdict.PROGRESSING, revision, f"{message}{at} (its sync still running)")
    if phase and not ours:  # the latest operation synced an older revision: ours not applied by one yet
        why = "its latest sync operation is of an older revision"
        return ControllerReading(ControllerVerdict.PROGRESSING, revision, f"{message}{at} ({why})")
    if sync == "Synced" and health == "Healthy":
        return ControllerReading(ControllerVerdict.DEPLOYED, revision, f"{message}{at}")
    return ControllerReading(ControllerVerdict.PROGRESSING, revision, f"{message}{at}")


def operation_revision_of(application: Mapping[str, Any] | None) -> str | None:
    """The revision an Application's latest sync operation was performed to (``status.operationState.syncResult
    .revision``, or the first of ``revisions``: argo-cd types.go ``SyncOperationResult``); ``None``: none named."""
    result = _mapping(_mapping(_mapping(_mapping(application).get("status")).get("operationState")).get("syncResult"))
    revision = result.get("revision")
    if not revision:
        revisions = result.get("revisions")
        revision = revisions[0] if isinstance(revisions, list) and revisions else None
    return str(revision) if revision else None


_FLUX_TERMINAL = frozenset({"HealthCheckFailed", "ReconciliationFailed", "BuildFailed", "PruneFailed"})
"""Ready=False reasons of a Kustomization that applied (or tried to apply) its revision and failed: kustomize-controller
api/v1/condition_types.go (``HealthCheckFailedReason``, ``BuildFailedReason``) and fluxcd/pkg apis/meta
(``ReconciliationFailedReason``, ``PruneFailedReason``: kustomization_controller.go
``conditions.MarkFalse(obj, meta.ReadyCondition, meta.PruneFailedReason, …)`` after the apply). Others
(``Progressing``, ``DependencyNotReady``, ``ArtifactFailed``: the source is not there yet) say it has not got to the
revision."""


def read_kustomization(kustomization: Mapping[str, Any] | None, includes: bool | None) -> ControllerReading:
    """A Flux Kustomization's status: the ``Ready`` condition and ``status.lastAppliedRevision``
    (``main@sha1:<sha>``), given whether that revision *includes* the commit. Deployed: Ready True at such a revision
    (and ``observedGeneration`` current; with a warning where it checks no health). Failed: Ready False with a
    terminal reason at such a revision (HealthCheckFailed, ReconciliationFailed, BuildFailed, PruneFailed) — the
    generation then read from the Ready condition's own ``observedGeneration``, which a failure stamps while
    ``status.observedGeneration`` lags —, or Stalled True. Otherwise progressing.
    https://fluxcd.io/flux/components/kustomize/kustomizations/#kustomization-status

    *includes* is said of :func:`reported_revision`: ``lastAppliedRevision``, which moves only once a revision
    applied and passed its health checks — or, for a terminal Ready False, ``lastAttemptedRevision`` (the revision
    that failed). ``Stalled`` True (fluxcd/pkg ``apis/meta``: the reconciliation cannot go on without a change)
    fails whatever the revision."""
    revision = reported_revision(ControllerKind.FLUX, kustomization)
    if kustomization is None:
        return ControllerReading(ControllerVerdict.PROGRESSING, None, "the Kustomization does not exist (yet)")
    metadata = _mapping(kustomization.get("metadata"))
    status = _mapping(kustomization.get("status"))
    conditions = {str(item.get("type")): item for item in status.get("conditions") or [] if isinstance(item, Mapping)}
    ready = _mapping(conditions.get("Ready"))
    ready_status = str(ready.get("status") or "Unknown")
    reason = str(ready.get("reason") or "")
    said = f"Ready {ready_status}" + (f" ({reason})" if reason else "")
    message = f"{said}: {ready['message']}" if ready.get("message") else said
    at = f" at {revision[:12]}" if revision else ""
    stalled = _mapping(conditions.get("Stalled"))
    if str(stalled.get("status")) == "True":  # it will not go on by itself, whatever revision it is at
        why = stalled.get("message") or stalled.get("reason") or "stalled"
        return ControllerReading(ControllerVerdict.FAILED, revision, f"Stalled: {why}{at}")
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    terminal = ready_status == "False" and reason in _FLUX_TERMINAL
    if terminal:  # a failure moves only the Ready condition's observedGeneration (conditions.MarkFalse stamps it):
        # status.observedGeneration moves on success alone (kustomization_controller.go finalizeStatus: "if
        # conditions.IsTrue(obj, meta.ReadyCondition) { … obj.Status.ObservedGeneration = obj.Generation }")
        observed = ready.get("observedGeneration", observed)
    current = generation is None or observed is None or observed == generation
    if includes is not True or not current:
        why = (
            "its last spec not yet observed"
            if not current
            else "an older revision"
            if includes is False
            else "a revision the repository does not know"
        )
        return ControllerReading(ControllerVerdict.PROGRESSING, revision, f"{message}{at} ({why})")
    if ready_status == "True":
        return ControllerReading(ControllerVerdict.DEPLOYED, revision, f"{message}{at}", _unchecked(kustomization))
    if terminal:
        return ControllerReading(ControllerVerdict.FAILED, revision, f"{message}{at}")
    return ControllerReading(ControllerVerdict.PROGRESSING, revision, f"{message}{at}")


def _unchecked(kustomization: Mapping[str, Any]) -> str | None:
    """The warning of a Kustomization that checks no health: without ``spec.wait`` or ``spec.healthChecks`` its
    Ready True comes right after the apply, whatever the pods do (kustomize-controller
    internal/controller/kustomization_controller.go ``checkHealth``: ``if len(obj.Spec.HealthChecks) == 0 &&
    !obj.Spec.Wait { conditions.Delete(obj, meta.HealthyCondition); return nil }``)."""
    spec = _mapping(kustomization.get("spec"))
    if spec.get("wait") is True or spec.get("healthChecks"):
        return None
    metadata = _mapping(kustomization.get("metadata"))
    name = f"{metadata.get('namespace') or 'flux-system'}/{metadata.get('name') or '?'}"
    return (
        f"Kustomization {name} checks no health (no spec.wait, no spec.healthChecks): its Ready True says it applied "
        "the revision, not that the pods run — a version that never starts counts as deployed; set spec.wait: true "
        "(or spec.healthChecks naming the service's Deployment)"
    )


def read_controller(
    kind: ControllerKind,
    found: Mapping[str, Any] | None,
    includes: bool | None,
    *,
    operation: bool | None = None,
    resources: Collection[str] = (),
) -> ControllerReading:
    """:func:`read_application` (with *operation* and *resources*) or :func:`read_kustomization`, as *kind* says."""
    if kind is ControllerKind.ARGOCD:
        return read_application(found, includes, operation=operation, resources=resources)
    return read_kustomization(found, includes)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# ---- what the event log records ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class GitOpsCommitted(Event):
    """The rollout's hand-off: *commit* on *branch* changed the version's image in the environment's overlay
    (*files*), or proposes it in *pull_request* (its URL)."""

    commit: str
    branch: str
    files: tuple[str, ...] = ()
    pull_request: str | None = None
    key: str = ""


@attrs.frozen(kw_only=True)
class GitOpsReverted(Event):
    """A rollback handed off: *commit* reverts *reverts* (the rollout's own commit) on *branch*."""

    commit: str
    reverts: str
    branch: str
    pull_request: str | None = None
    key: str = ""
