"""The Kubernetes clusters the platform file binds environments to (``kubernetes.clusters``), reached on first use;
the simulated cluster for the others."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from findly_infra.application.ports import BadInputError, Workloads
from findly_infra.bootstrap.extras import require_extra
from findly_infra.bootstrap.retries import log_retries
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import Event
from findly_infra.domain.platform import Platform
from findly_infra.domain.tracks import Holding
from findly_infra.domain.view import EnvironmentView

if TYPE_CHECKING:
    from findly_infra.application.gitops import GitOpsReading
    from findly_infra.application.workloads import ClusterReading

__all__ = [
    "Clusters",
    "bound_environments",
    "cluster_objects",
    "environment_renderer",
    "gitops_objects",
    "workloads_for",
]


def environment_renderer(platform: Platform) -> Callable[[str, StrategyKind, Mapping[str, str]], list[dict[str, Any]]]:
    """(environment, strategy, versions) -> the environment's objects as ``apply`` sends them, rendered as if the
    environment rolled out by *strategy* (a rollout keeps the strategy it started with, whatever the file says)."""
    from findly_infra.render.objects import environment_objects, for_apply

    def render(environment: str, strategy: StrategyKind, versions: Mapping[str, str]) -> list[dict[str, Any]]:
        environments = tuple(
            attrs.evolve(env, deployment_strategy=strategy) if env.name == environment else env
            for env in platform.environments
        )
        variant = attrs.evolve(platform, environments=environments)
        return for_apply(environment_objects(variant, environment, versions), environment)

    return render


@attrs.define
class Clusters:
    """The ``Workloads`` port of a platform: the environments the file binds to a cluster act on it (connected on
    first use, so a command on an environment bound to none never loads the Kubernetes client); those it hands to a
    GitOps repository (``gitops:``) commit to it and follow its controller (``application.gitops``); the others act
    on the simulated cluster."""

    platform: Platform
    simulated: Workloads
    context: str | None = None
    """``--context``: overrides each binding's context."""
    history: Callable[[str], Sequence[Event]] = attrs.field(default=lambda _service: (), repr=False)
    """A service's recorded events (``gitops:``: where a rollout's commit is found to revert it)."""
    gitops_cache: Path | None = None
    """Where the GitOps repository's clone is kept (``$FINDLY_GITOPS_CACHE`` overrides it)."""
    gitops: Any = None
    """The GitOps environments' ``Workloads`` (``GitOpsWorkloads``): built on first use, or given (tests)."""
    _built: dict[str, Any] = attrs.field(factory=dict, init=False)

    def binds(self, environment: str) -> bool:
        return self.platform.kubernetes.cluster_for(environment) is not None

    def handed(self, environment: str) -> bool:
        """Whether *environment* is promoted through the GitOps repository (``gitops.environments``)."""
        return self.platform.gitops is not None and self.platform.gitops.binding(environment) is not None

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        if self.handed(view.environment):
            return bool(self._gitops().converge(view, at))
        if not self.binds(view.environment):
            return self.simulated.converge(view, at)
        return bool(self._for(view.environment).converge(view, at))

    def holding(self, service: str, environment: str) -> Holding:
        if self.handed(environment):
            gitops_held: Holding = self._gitops().holding(service, environment)
            return gitops_held
        if not self.binds(environment):
            return self.simulated.holding(service, environment)
        held: Holding = self._for(environment).holding(service, environment)
        return held

    def handoffs(self, service: str, environment: str) -> tuple[Any, ...]:
        """The GitOps hand-offs made since last asked, for the service to record (none where nothing was built)."""
        return tuple(self.gitops.handoffs(service, environment)) if self.gitops is not None else ()

    def gitops_reading(self, service: str, environment: str) -> GitOpsReading | None:
        """``status``: the latest hand-off and what the controller reports (``None``: not a GitOps environment)."""
        if not self.handed(environment):
            return None
        reading: GitOpsReading = self._gitops().reading(service, environment)
        return reading

    def leftovers(self, view: EnvironmentView, auto_cleanup: bool) -> tuple[str, ...]:
        """``TrackCleaner`` (``auto_cleanup``): the bound cluster's, else the simulated one's (where it cleans up);
        nothing in a GitOps environment (its one track leaves nothing behind)."""
        if self.handed(view.environment):
            return ()
        target: Any = self._for(view.environment) if self.binds(view.environment) else self.simulated
        return tuple(target.leftovers(view, auto_cleanup)) if hasattr(target, "leftovers") else ()

    def clean_up(self, view: EnvironmentView, auto_cleanup: bool, names: Sequence[str]) -> tuple[str, ...]:
        if self.handed(view.environment):
            return ()
        target: Any = self._for(view.environment) if self.binds(view.environment) else self.simulated
        return tuple(target.clean_up(view, auto_cleanup, names)) if hasattr(target, "clean_up") else ()

    def inspect(self, service: str, environment: str, expected: Holding) -> ClusterReading | None:
        """The bound cluster read back in detail (``status``); ``None`` for an environment bound to none."""
        if not self.binds(environment) or self.handed(environment):
            return None
        reading: ClusterReading | None = self._for(environment).inspect(service, environment, expected)
        return reading

    def _for(self, environment: str) -> Any:
        if environment not in self._built:
            from findly_infra.application.workloads import ClusterWorkloads

            env = self.platform.environment(environment)
            self._built[environment] = ClusterWorkloads(
                cluster_objects(self.platform, environment, context=self.context),
                environment_renderer(self.platform),
                {environment: self.platform.kubernetes.namespace_for(environment)},
                {environment: env.strategy},
                version_label=self.platform.metrics.version_label,
            )
        return self._built[environment]

    def _gitops(self) -> Any:
        if self.gitops is None:
            from findly_infra.application.gitops import GitOpsWorkloads

            settings = self.platform.gitops
            assert settings is not None
            # before anything is committed: a hand-off whose controller could not then be read would push a change
            # the controller deploys, and fail only afterwards (the first converge, a repair, builds this)
            require_extra("kubernetes", "reading the GitOps controller's status")
            if settings.pull_request:  # the pull requests go through GitHub's API (httpx, stamina)
                require_extra("gitops", "opening pull requests on GitHub (gitops.pull_request)")
            # the git adapter, loaded only for a GitOps environment
            from findly_infra.adapters.git_repository import open_repository

            cache = os.environ.get("FINDLY_GITOPS_CACHE") or self.gitops_cache or _default_cache()
            objects: dict[str, Any] = {}

            def controller(environment: str) -> Any:
                if environment not in objects:
                    objects[environment] = gitops_objects(self.platform, environment, context=self.context)
                return objects[environment]

            self.gitops = GitOpsWorkloads(
                settings,
                open_repository(
                    settings,
                    cache_dir=Path(cache),
                    token=os.environ.get("GITHUB_TOKEN") or None,
                    api_url=os.environ.get("GITHUB_API_URL") or "https://api.github.com",
                ),
                controller,
                {service.name: service.image or service.name for service in self.platform.all_services},
                self.history,
                version_label=self.platform.metrics.version_label,
                ready_timeout=self.platform.rolling_strategy.progress_deadline.milliseconds / 1000,
                sync_timeout=settings.sync_timeout.milliseconds / 1000,
            )
        return self.gitops


def _default_cache() -> Path:
    """``$XDG_CACHE_HOME/findly-infra/gitops`` (``~/.cache/...``) where no state folder names one."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "findly-infra" / "gitops"


def gitops_objects(platform: Platform, environment: str, *, context: str | None = None) -> Any:
    """The ``ClusterObjects`` where *environment*'s Application (Kustomization) lives: ``gitops.context`` (a
    management cluster) where the file names one — it names the controller's cluster, which ``--context`` (or
    ``FINDLY_KUBE_CONTEXT``, meant for a workload cluster) does not change —, else ``--context`` when given, else the
    kubeconfig's current context. (A GitOps environment has no ``kubernetes.clusters`` binding of its own: the
    ``gitops-cluster`` rule refuses one.)"""
    settings = platform.gitops
    assert settings is not None
    if settings.context is not None:
        return cluster_objects(platform, environment, context=settings.context, place="gitops.context")
    if context is not None:
        return cluster_objects(platform, environment, context=context)
    require_extra("kubernetes", "reading the GitOps controller's status")
    from findly_infra.adapters.kubernetes import KubeconfigError, connect

    log_retries()
    try:
        return connect()
    except KubeconfigError as exc:
        raise BadInputError(
            f"gitops (no gitops.context, no --context: the kubeconfig's current context, for {environment}'s "
            f"controller): {exc}"
        ) from None


def bound_environments(platform: Platform) -> tuple[str, ...]:
    """The environments the platform file binds to a real cluster (``kubernetes.clusters``): a command on one of
    them reaches that cluster (the ``kubernetes`` extra); the others run on the simulated cluster."""
    return tuple(binding.environment for binding in platform.kubernetes.clusters)


def workloads_for(
    platform: Platform,
    simulated: Workloads,
    context: str | None,
    *,
    history: Callable[[str], Sequence[Event]] | None = None,
    gitops_cache: Path | None = None,
) -> Workloads:
    """The platform's ``Workloads``: the simulated cluster alone where the file binds no environment to a cluster
    nor to a GitOps repository."""
    if not bound_environments(platform) and platform.gitops is None:
        return simulated
    return Clusters(platform, simulated, context, history or (lambda _service: ()), gitops_cache)


def cluster_objects(
    platform: Platform, environment: str, *, context: str | None = None, place: str | None = None
) -> Any:
    """The objects of *environment*'s cluster (a ``ClusterObjects``): through *context* when given (``--context``),
    else as the platform file binds it (``kubernetes.clusters``). An environment bound to no cluster has none to
    reach: :class:`BadInputError` says so (it runs on the simulated cluster). A binding the kubeconfig cannot serve
    (no such context, no current context, no kubeconfig) is bad input naming its place: the binding and its line, or
    ``--context``. *place* replaces that place in the error (the DR path: ``failover.context``, which
    ``FINDLY_KUBE_CONTEXT`` does not change)."""
    env = platform.environment(environment)
    binding = platform.kubernetes.cluster_for(env.name)
    if context is None and binding is None:
        raise BadInputError(
            f"{env.name} is bound to no cluster (kubernetes.clusters.{env.name} in the platform file, or --context "
            "CONTEXT): its releases run on the simulated cluster, and there is nothing to apply to"
        )
    require_extra("kubernetes", "reaching a Kubernetes cluster")
    import yaml  # the kubernetes client's own dependency: its kubeconfig loader parses the file with it

    from findly_infra.adapters.kubernetes import KubeconfigError, connect

    log_retries()
    try:
        if context is not None:
            return connect(context=context)
        assert binding is not None
        return connect(context=binding.context, in_cluster=binding.in_cluster)
    except KubeconfigError as exc:
        raise BadInputError(f"{place or _place(platform, env.name, context)}: {exc}") from None
    except yaml.YAMLError as exc:  # a malformed kubeconfig is bad input (exit 2), never a bug
        where = f" ({os.environ.get('KUBECONFIG') or '~/.kube/config'})"
        raise BadInputError(
            f"{place or _place(platform, env.name, context)}: the kubeconfig{where} is not valid YAML: {exc}"
        ) from None


def _place(platform: Platform, environment: str, context: str | None) -> str:
    """Where the cluster of *environment* was asked for: ``--context``, or its binding in the platform file (with the
    line, when the platform was read from one)."""
    if context is not None:
        return f"--context {context} (or FINDLY_KUBE_CONTEXT), for {environment}"
    from findly_infra.config.loader import source_line

    binding = platform.kubernetes.cluster_for(environment)
    key = (
        "context" if binding is not None and binding.context else "in_cluster" if binding and binding.in_cluster else ""
    )
    path = ("kubernetes", "clusters", environment, *((key,) if key else ()))
    line = source_line(platform, path)
    said = ".".join(path) + (f" (line {line})" if line else "")
    return said if key else f"{said}, the kubeconfig's current context"
