"""The composition root: the one place adapters are built from settings, handed to the use cases, and closed.

The command line builds everything here (``Settings.from_environment`` then :func:`open_runtime`); so do
simulations (:func:`simulate`) and anyone's own tooling or tests, which may pass in-memory adapters
instead. Nothing else in the package constructs an adapter: use cases take ports.

>>> from findly_infra.bootstrap import Settings, load_platform, open_runtime
>>> settings = Settings(state="memory://")
>>> with open_runtime(settings, load_platform(settings, embedded_example=True)) as runtime:
...     runtime.service.status("fn-posts")[0].phase.value
'idle'
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from findly_infra.application.evidence import ReportReader
from findly_infra.application.integrity import Anchor, StreamVerdict
from findly_infra.application.ports import (
    AdvancingClock,
    BadInputError,
    Clock,
    ErrorBudgets,
    EventStore,
    IdentityProof,
    MetricsRecord,
    MetricsSource,
    SLOReports,
    TimeKeepingStore,
    Workloads,
)
from findly_infra.application.redaction import is_loopback, redact_url
from findly_infra.application.scenarios import SCENARIOS, START, Scenario
from findly_infra.application.service import PipelineService
from findly_infra.application.simulation import ScenarioSource, SimulationResult, run_simulation
from findly_infra.application.timekeeping import TimeMode, time_for, virtual_start
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.platform import Platform
from findly_infra.domain.tracks import Holding
from findly_infra.domain.view import EnvironmentView

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_STATE",
    "MissingExtraError",
    "Runtime",
    "Settings",
    "StateCheck",
    "check_state",
    "fresh_demo_state",
    "identity_proof",
    "load_platform",
    "open_runtime",
    "require_extra",
    "require_platform_file",
    "rollouts_affected",
    "simulate",
    "verify_state",
]

DEFAULT_CONFIG = "findly.yaml"
DEFAULT_STATE = ".findly/state.sqlite3"


def _time(text: str, name: str) -> datetime:
    """An ISO 8601 time as naive UTC (the clock's convention)."""
    try:
        at = datetime.fromisoformat(text)
        at = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    except (ValueError, OverflowError):
        raise BadInputError(f"{name} is an ISO 8601 time such as 2026-11-26T09:00:00Z, got {text!r}") from None
    if not 1970 <= at.year <= 9000:  # a rollout, an approval's age and a budget window are added to it
        raise BadInputError(f"{name} {text} is not a time a release happens at (years 1970 to 9000)")
    return at


def _seconds(text: str | None, name: str, default: float) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise BadInputError(f"{name} is a number of seconds above 0, got {text!r}")
    return value


@attrs.frozen
class Settings:
    """Where things are: the platform file, the state, the Prometheus, the time. Flags win over the
    environment (``FINDLY_*``), which wins over the platform file, which wins over the defaults."""

    config: str | None = None
    """The platform file (``None``: ``findly.yaml`` in the working folder)."""
    config_given: bool = False
    """Whether a platform file was named (else the embedded example may stand in where allowed)."""
    state: str = DEFAULT_STATE
    """``memory://``, a SQLite path (``sqlite://`` optional), or later ``postgresql://``."""
    prometheus_url: str | None = None
    prometheus_token: str | None = attrs.field(default=None, repr=False)
    now: datetime | None = None
    """Act at this time, in virtual time (replays of past metrics)."""
    kube_context: str | None = None
    """The kubeconfig context of the bound environments' cluster (``--context``, ``FINDLY_KUBE_CONTEXT``): overrides
    each binding's; for ``apply``/``diff`` it also names a cluster for an environment bound to none."""
    scenario: str = "healthy"
    """The scripted metrics where no Prometheus is named."""
    state_timeout: float = 30.0
    """How long a command waits for another one's write to the state (``FINDLY_STATE_TIMEOUT``, seconds)."""
    lease_seconds: float | None = None
    """How long a watch's lease on a rollout lasts unless renewed (``FINDLY_LEASE_SECONDS``; default three analysis
    intervals, at least two minutes): how soon another runner takes over from one that died."""
    allow_plain_http_credentials: bool = False
    """Send Prometheus credentials over plain ``http://`` beyond loopback
    (``FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS=1``)."""

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config: str | None = None,
        state: str | None = None,
        prometheus_url: str | None = None,
        now: str | None = None,
        scenario: str | None = None,
        kube_context: str | None = None,
    ) -> Settings:
        """Settings from flags (the arguments) and the environment (``FINDLY_CONFIG``, ``FINDLY_STATE``,
        ``FINDLY_PROMETHEUS_URL``, ``FINDLY_PROMETHEUS_TOKEN``, ``FINDLY_NOW``, ``FINDLY_SCENARIO``)."""
        env = os.environ if environ is None else environ
        config = config or env.get("FINDLY_CONFIG") or None
        now_text = now or env.get("FINDLY_NOW") or None
        return cls(
            config=config,
            config_given=config is not None,
            state=state or env.get("FINDLY_STATE") or DEFAULT_STATE,
            prometheus_url=prometheus_url or env.get("FINDLY_PROMETHEUS_URL") or None,
            prometheus_token=env.get("FINDLY_PROMETHEUS_TOKEN") or None,
            now=_time(now_text, "--now") if now_text else None,
            scenario=scenario or env.get("FINDLY_SCENARIO") or "healthy",
            kube_context=kube_context or env.get("FINDLY_KUBE_CONTEXT") or None,
            state_timeout=_seconds(env.get("FINDLY_STATE_TIMEOUT"), "FINDLY_STATE_TIMEOUT", 30.0),
            lease_seconds=(
                _seconds(env.get("FINDLY_LEASE_SECONDS"), "FINDLY_LEASE_SECONDS", 0.0)
                if env.get("FINDLY_LEASE_SECONDS")
                else None
            ),
            allow_plain_http_credentials=env.get("FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS") == "1",
        )

    @property
    def config_path(self) -> Path:
        return Path(self.config or DEFAULT_CONFIG)


class MissingExtraError(BadInputError):
    """Raised when a command needs an optional extra of the package that is not installed (exit 2, naming it)."""


def require_extra(extra: str, modules: tuple[str, ...], purpose: str) -> None:
    """Raise :class:`MissingExtraError` naming *extra* when one of *modules* cannot be imported (checked without
    importing them: a command that does not need them stays fast)."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"{purpose} needs the {extra!r} extra, which is not installed (no module {', '.join(missing)}): "
            f"pip install 'findly-infra[{extra}]'"
        )


def load_platform(settings: Settings, *, embedded_example: bool = False) -> Platform:
    """The platform file the settings name; with *embedded_example*, the shipped example stands in when no
    file was named and ``findly.yaml`` does not exist (the demo and simulations work anywhere).

    Raises :class:`BadInputError` listing every problem when the file is not valid.
    """
    from findly_infra.config.loader import validate_platform, validate_platform_text

    path = settings.config_path
    if embedded_example and not settings.config_given and not path.exists():
        from findly_infra.examples import example_platform_text

        report = validate_platform_text(example_platform_text(), source="the embedded example platform file")
    else:
        report = validate_platform(require_platform_file(settings))
    if report.platform is None:
        raise BadInputError("\n".join([f"{path} is not valid:", *(f"  {problem}" for problem in report.errors)]))
    return report.platform


def require_platform_file(settings: Settings) -> Path:
    """The platform file's path; raises :class:`BadInputError` saying what is missing and how to get it when
    there is no file there."""
    path = settings.config_path
    if path.exists():
        return path
    if settings.config_given:
        raise BadInputError(f"--config/FINDLY_CONFIG names {path}, which does not exist (from {Path.cwd()})")
    raise BadInputError(
        f"no platform file: there is no {path} in {Path.cwd()}; name one with --config PATH (or FINDLY_CONFIG), "
        f"or start from the example: findly-infra example > {DEFAULT_CONFIG}"
    )


@attrs.define
class Runtime:
    """Every port of one command, built and ready, and closed together (use it as a context manager)."""

    platform: Platform
    service: PipelineService
    clock: Clock
    virtual: AdvancingClock | None
    """The clock when time is virtual (scripted metrics, replays); ``None`` on the real clock."""
    scenarios: ScenarioSource | None
    """The scripted metrics when no Prometheus serves (``None``: live metrics)."""
    slo_reports: SLOReports | None
    metrics_record: MetricsRecord | None
    reports: ReportReader
    _stack: contextlib.ExitStack = attrs.field(repr=False)
    wall: Clock | None = None
    """The clock virtual time may not run ahead of (a durable store: no future timestamps); ``None``: no limit."""
    simulated: tuple[str, ...] = ()
    """What is simulated rather than real: ``"cluster"`` (no cluster is bound: traffic moves on the simulated
    cluster, nothing is deployed), ``"metrics"`` (no Prometheus is bound: scripted metrics judge the rollouts)."""
    scenario: str = "healthy"
    """The scripted scenario's name, when metrics are simulated."""
    bound: frozenset[str] = frozenset()
    """The environments bound to a real cluster (``kubernetes.clusters``): their traffic is not simulated."""

    def simulated_in(self, environment: str) -> tuple[str, ...]:
        """What is simulated for a command in *environment* (not the cluster, where one is bound)."""
        return tuple(part for part in self.simulated if not (part == "cluster" and environment in self.bound))

    @property
    def live_metrics(self) -> bool:
        """Whether a Prometheus serves the analyses (else scripted metrics do)."""
        return self.scenarios is None

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _sqlite_path(url: str) -> Path | None:
    """The SQLite file a state URL names (a path, or ``sqlite://PATH``); ``None`` for ``memory://``. Any other
    scheme raises :class:`BadInputError` — before anything is created."""
    if url == "memory://":
        return None
    if not url.strip():
        raise BadInputError("--state is empty: give a SQLite file, sqlite://PATH or memory://")
    if _is_postgres(url):
        raise BadInputError(f"this needs a SQLite state (a file or sqlite://PATH), got {redact_url(url)!r}")
    if "://" in url and not url.startswith("sqlite://"):
        raise BadInputError(
            f"--state is a SQLite file, sqlite://PATH, postgresql://… or memory://, got {redact_url(url)!r}"
        )
    return Path(url.removeprefix("sqlite://"))


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def _postgres(url: str, *, create: bool, timeout: float) -> Any:
    """The PostgreSQL store *url* names (``PostgresEventStore``), its schema migrated when *create*."""
    require_extra("postgresql", ("psycopg",), "a PostgreSQL state")
    from findly_infra.adapters.postgresql import PostgresEventStore

    return PostgresEventStore(url, create=create, timeout=timeout)


def _store(
    url: str, stack: contextlib.ExitStack, *, create: bool = True, timeout: float = 30.0
) -> tuple[EventStore, Workloads]:
    from findly_infra.adapters.memory import MemoryEventStore, SimulatedCluster

    if _is_postgres(url):
        from findly_infra.adapters.postgresql import PostgresSimulatedCluster

        postgres = _postgres(url, create=create, timeout=timeout)
        stack.callback(postgres.close)
        return postgres, PostgresSimulatedCluster(postgres)
    path = _sqlite_path(url)
    if path is None:
        return MemoryEventStore(), SimulatedCluster()
    from findly_infra.adapters.sqlite import SqliteEventStore, SqliteSimulatedCluster

    store = SqliteEventStore(path, create=create, timeout=timeout)
    stack.callback(store.close)
    return store, SqliteSimulatedCluster(store)


def _retry_logger(event: str) -> Callable[[Any], None]:
    """A stamina retry hook that logs *event* on stderr (stdout is the command's, and ``--json``'s, own)."""

    def on_retry(details: Any) -> None:
        from findly_infra.logs import logger

        cause = details.caused_by
        logger().warning(
            event,
            retry=details.retry_num,
            wait_seconds=round(details.wait_for, 3),
            caused_by=f"HTTP {cause.status}" if hasattr(cause, "status") else str(cause)[:200],
        )

    return on_retry


def _prometheus(settings: Settings, platform: Platform, stack: contextlib.ExitStack) -> Any:
    """The Prometheus client the settings or the platform file name (``None``: none is named)."""
    url = settings.prometheus_url or platform.prometheus.url
    if not url:
        return None
    shown = redact_url(url)
    if not url.startswith(("http://", "https://")):
        raise BadInputError(f"--prometheus-url is an http(s) address, got {shown!r}")
    secret = settings.prometheus_token is not None or urlsplit(url).password is not None
    if secret and url.startswith("http://") and not is_loopback(url) and not settings.allow_plain_http_credentials:
        raise BadInputError(
            f"Prometheus at {shown} is plain HTTP: its credentials (FINDLY_PROMETHEUS_TOKEN, or a password in the "
            "URL) would cross the network readable; use https://, or set FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS=1 "
            "where the network is trusted"
        )
    require_extra("prometheus", ("httpx", "stamina"), f"reading Prometheus at {shown}")
    from findly_infra.adapters.prometheus import PrometheusClient

    client = PrometheusClient(
        url,
        token=settings.prometheus_token,
        timeout=platform.prometheus.timeout.seconds,
        on_retry=_retry_logger("prometheus.retry_scheduled"),
    )
    stack.callback(client.close)
    return client


@attrs.frozen
class StateCheck:
    """What ``state check`` found: the streams and their events, and every problem (none: the state is sound)."""

    location: str
    streams: dict[str, int]
    problems: tuple[str, ...]

    @property
    def sound(self) -> bool:
        return not self.problems


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
class _Clusters:
    """The ``Workloads`` port of a platform: the environments the file binds to a cluster act on it (connected on
    first use, so a command on an environment bound to none never loads the Kubernetes client); the others on the
    simulated cluster."""

    platform: Platform
    simulated: Workloads
    context: str | None = None
    """``--context``: overrides each binding's context."""
    _built: dict[str, Any] = attrs.field(factory=dict, init=False)

    def binds(self, environment: str) -> bool:
        return self.platform.kubernetes.cluster_for(environment) is not None

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        if not self.binds(view.environment):
            return self.simulated.converge(view, at)
        return bool(self._for(view.environment).converge(view, at))

    def holding(self, service: str, environment: str) -> Holding:
        if not self.binds(environment):
            return self.simulated.holding(service, environment)
        held: Holding = self._for(environment).holding(service, environment)
        return held

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


def _workloads(platform: Platform, simulated: Workloads, context: str | None) -> Workloads:
    return _Clusters(platform, simulated, context) if platform.kubernetes.clusters else simulated


def cluster_objects(platform: Platform, environment: str, *, context: str | None = None) -> Any:
    """The objects of *environment*'s cluster (a ``ClusterObjects``): through *context* when given (``--context``),
    else as the platform file binds it (``kubernetes.clusters``). An environment bound to no cluster has none to
    reach: :class:`BadInputError` says so (it runs on the simulated cluster)."""
    env = platform.environment(environment)
    binding = platform.kubernetes.cluster_for(env.name)
    if context is None and binding is None:
        raise BadInputError(
            f"{env.name} is bound to no cluster (kubernetes.clusters.{env.name} in the platform file, or --context "
            "CONTEXT): its releases run on the simulated cluster, and there is nothing to apply to"
        )
    require_extra("kubernetes", ("kubernetes",), "reaching a Kubernetes cluster")
    from findly_infra.adapters.kubernetes import connect

    on_retry = _retry_logger("kubernetes.retry_scheduled")
    if context is not None:
        return connect(context=context, on_retry=on_retry)
    assert binding is not None
    return connect(context=binding.context, in_cluster=binding.in_cluster, on_retry=on_retry)


def check_state(settings: Settings) -> StateCheck:
    """The full check of the state the settings name: SQLite's integrity check, each stream's positions and each
    record (raises :class:`BadInputError` for a state that is not one, or does not exist)."""
    if _is_postgres(settings.state):
        postgres = _postgres(settings.state, create=False, timeout=settings.state_timeout)
        try:
            if postgres.schema_version() == 0:
                raise BadInputError(f"--state {postgres.location} has no findly state yet: there is nothing to check")
            counts: dict[str, int] = postgres.streams()
            found: list[str] = []
            for service in counts:  # every record read back through the codec
                try:
                    postgres.load(service)
                except BadInputError as exc:
                    found.append(str(exc))
        finally:
            postgres.close()
        return StateCheck(postgres.location, counts if not found else {}, tuple(found))
    path = _sqlite_path(settings.state)
    if path is None:
        raise BadInputError(
            "state check reads a durable state (a file, sqlite://PATH or postgresql://…), got 'memory://'"
        )
    from findly_infra.adapters.sqlite import SqliteEventStore

    if not path.exists():
        raise BadInputError(f"--state {path} does not exist: there is nothing to check")
    store = SqliteEventStore(path, create=False)
    try:
        problems = tuple(store.check())
        streams = {service: store.load(service)[1] for service in store.services()} if not problems else {}
    finally:
        store.close()
    return StateCheck(str(path), streams, problems)


def verify_state(settings: Settings, anchors: Sequence[Anchor] = ()) -> tuple[str, list[StreamVerdict]]:
    """Every stream's chain of links in the state the settings name, checked from its first event (and against
    *anchors*, heads kept elsewhere): (where, each stream's verdict). Read only."""
    from findly_infra.application.integrity import verify_stream

    if _is_postgres(settings.state):
        store: Any = _postgres(settings.state, create=False, timeout=settings.state_timeout)
        where = store.location
    else:
        path = _sqlite_path(settings.state)
        if path is None:
            raise BadInputError("state verify reads a durable state (a file, sqlite://PATH or postgresql://…)")
        if not path.exists():
            raise BadInputError(f"--state {path} does not exist: there is nothing to verify")
        from findly_infra.adapters.sqlite import SqliteEventStore

        store, where = SqliteEventStore(path, create=False), str(path)
    try:
        services = sorted(set(store.services()) | {anchor.service for anchor in anchors})
        return where, [verify_stream(service, store.chain(service), anchors) for service in services]
    finally:
        store.close()


def rollouts_affected(settings: Settings, platform: Platform) -> list[str]:
    """What *platform* (a platform file about to be used) changes for the rollouts under way in the state the
    settings name — nothing when that state does not exist or keeps nothing. Read only."""
    if not _is_postgres(settings.state):
        path = _sqlite_path(settings.state)
        if path is None or not path.is_file():
            return []
    found: list[str] = []
    with open_runtime(settings, platform, read_only=True, scripted=True) as runtime:
        for service in platform.all_services:
            try:
                found += runtime.service.pipeline(service.name).affected_rollouts()
            except BadInputError as exc:  # a damaged stream: said, and the others still checked
                found.append(f"{service.name}: {exc}")
    return found


def gke_clusters(platform: Platform, *, project: str | None = None, environ: Mapping[str, str] | None = None) -> Any:
    """The GKE adapter (``adapters.gke.GkeClusters``) for the file's ``gke_cluster``: its project from *project*
    (``--project``), else the file's ``gke_cluster.project``, else ``FINDLY_GCP_PROJECT``, else the credentials'.
    ``FINDLY_GKE_ENDPOINT`` overrides the API's address — on 127.0.0.1, a plain channel (a stand-in in tests)."""
    env = os.environ if environ is None else environ
    if platform.gke_cluster is None:
        raise BadInputError("the platform file has no gke_cluster section: there is no cluster to plan")
    require_extra("gke", ("google.cloud.container_v1",), "GKE")
    from findly_infra.adapters.gke import connect_gke

    endpoint, channel = _google_endpoint(env, "FINDLY_GKE_ENDPOINT")
    return connect_gke(_project(platform, project, env), endpoint=endpoint, channel=channel)


def secret_store(platform: Platform, *, project: str | None = None, environ: Mapping[str, str] | None = None) -> Any:
    """The Secret Manager adapter (``adapters.secret_manager.SecretStore``): the project as for GKE;
    ``FINDLY_SECRET_MANAGER_ENDPOINT`` overrides the API's address (on 127.0.0.1, a plain channel: a stand-in)."""
    env = os.environ if environ is None else environ
    require_extra("secret-manager", ("google.cloud.secretmanager_v1",), "Secret Manager")
    from findly_infra.adapters.secret_manager import connect_secret_manager

    endpoint, channel = _google_endpoint(env, "FINDLY_SECRET_MANAGER_ENDPOINT")
    return connect_secret_manager(_project(platform, project, env), endpoint=endpoint, channel=channel)


def identity_proof(platform: Platform, *, environ: Mapping[str, str] | None = None) -> IdentityProof:
    """How a command proves who acts where an environment's policy asks for verified people: a GitHub Actions OIDC
    token requested from the runner, verified against the file's ``github_oidc`` issuer, keys and audience."""
    env = os.environ if environ is None else environ
    require_extra("github", ("jwt", "httpx"), "verified identities")
    from findly_infra.adapters.github_oidc import ActionsIdentity, OidcVerifier

    oidc = platform.github_oidc
    return ActionsIdentity(OidcVerifier(oidc.audience, oidc.issuer, oidc.keys_url), env)


def _google_endpoint(env: Mapping[str, str], variable: str) -> tuple[str | None, Any]:
    """A Google API's address from *variable*: (``None``, a plain gRPC channel) on 127.0.0.1 — a stand-in — else
    (the endpoint or ``None``, no channel: the client's own TLS)."""
    endpoint = env.get(variable) or None
    if endpoint is not None and is_loopback(f"http://{endpoint}"):
        import grpc

        return None, grpc.insecure_channel(endpoint)
    return endpoint, None


def _project(platform: Platform, given: str | None, env: Mapping[str, str]) -> str:
    """The Google Cloud project: *given* (``--project``), else ``gke_cluster.project``, else ``FINDLY_GCP_PROJECT``,
    else the credentials'."""
    in_file = platform.gke_cluster.project if platform.gke_cluster is not None else None
    return given or in_file or env.get("FINDLY_GCP_PROJECT") or _default_project()


def _default_project() -> str:
    """The project of Application Default Credentials, when they name one."""
    try:
        import google.auth

        _, project = google.auth.default()
    except Exception as exc:  # noqa: BLE001 - no credentials at all: said, with what to do
        raise BadInputError(
            f"no Google Cloud project: give --project, gke_cluster.project in the file or FINDLY_GCP_PROJECT ({exc})"
        ) from None
    if not project:
        raise BadInputError("no Google Cloud project: give --project, gke_cluster.project or FINDLY_GCP_PROJECT")
    return str(project)


def _gated(platform: Platform) -> bool:
    managed = platform.secret_management
    return managed is not None and managed.release_gate and bool(managed.secrets)


@attrs.define
class _LazySecrets:
    """The release gate's secret store, reached on the first rollout that needs it (a command that starts none never
    loads the Secret Manager client)."""

    platform: Platform
    _store: Any = attrs.field(default=None, init=False)

    def observe(self, secret: str) -> Any:
        if self._store is None:
            self._store = secret_store(self.platform)
        return self._store.observe(secret)


def runner_identity(environ: Mapping[str, str] | None = None) -> str:
    """Who this process is, for rollout leases and ``status``: host and process, and the GitHub Actions run when
    there is one (``fv-runner-3:4242 (GitHub run 123456 attempt 2, deploy.yml)``)."""
    import socket

    env = os.environ if environ is None else environ
    who = f"{socket.gethostname()}:{os.getpid()}"
    if env.get("GITHUB_RUN_ID"):
        workflow = env.get("GITHUB_WORKFLOW", "")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        who += f" (GitHub run {env['GITHUB_RUN_ID']} attempt {attempt}{', ' + workflow if workflow else ''})"
    return who


def dead_here(lease: Any) -> bool:
    """Whether *lease*'s holder was a process of this machine that no longer runs (``host:pid …``, see
    :func:`runner_identity`): a watch killed here and run again takes its rollout back at once."""
    import socket

    host, _, rest = str(lease.holder).partition(":")
    pid_text = rest.split(" ", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False


@contextlib.contextmanager
def state_store(settings: Settings, *, read_only: bool = False) -> Iterator[EventStore]:
    """The store the settings name, alone: no runtime, no decision on how it keeps time (``state export`` and
    ``state import``, which carry the export's)."""
    with contextlib.ExitStack() as stack:
        store, _ = _store(settings.state, stack, create=not read_only, timeout=settings.state_timeout)
        yield store


def migrate_state(settings: Settings) -> tuple[str, int, int]:
    """Bring the state's schema to this version's: (where, the version found, the version now). SQLite states are
    brought up to date when opened; a PostgreSQL one by this (or by its first writing command)."""
    if _is_postgres(settings.state):
        store = _postgres(settings.state, create=False, timeout=settings.state_timeout)
        try:
            found, now = store.migrate()
        finally:
            store.close()
        return store.location, found, now
    path = _sqlite_path(settings.state)
    if path is None:
        raise BadInputError("state migrate needs a durable state (a file, sqlite://PATH or postgresql://…)")
    from findly_infra.adapters.sqlite import SCHEMA_VERSION, SqliteEventStore

    store_ = SqliteEventStore(path)
    store_.close()
    return str(path), SCHEMA_VERSION, SCHEMA_VERSION


def fresh_demo_state(url: str) -> None:
    """Make *url* a new, empty store of the demo's own: a file the demo made before is replaced; any other
    existing file is refused (:class:`BadInputError`) — the demo never writes over a team's state."""
    path = _sqlite_path(url)  # an unknown scheme is refused before any file is made
    if path is None:
        return
    from findly_infra.adapters.sqlite import SqliteEventStore

    if path.exists():
        store = SqliteEventStore(path, create=False)
        try:
            ours = store.is_demo()
        finally:
            store.close()
        if not ours:
            raise BadInputError(
                f"--state {path} exists and is not a demo's: the demo writes only to a new state (or one it made "
                "before); name another path"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SqliteEventStore(path)
    try:
        store.mark_demo()
    finally:
        store.close()


def _time_mode(
    settings: Settings, store: EventStore, wall: datetime, *, durable: bool, read_only: bool
) -> tuple[TimeMode, datetime | None]:
    """The time a command runs on, and where a rehearsal's clock resumes (its latest event) when no ``--now``
    says. A writing command on a state that has not decided decides it (``application.timekeeping``)."""
    if not durable:
        return "virtual", None
    if not isinstance(store, TimeKeepingStore):
        return time_for(None, settings.now, wall, where="(given)"), None
    where = redact_url(settings.state)
    kept = store.time_kept()
    if read_only:  # reads write nothing: --now only says when to look from
        mode = time_for(None, settings.now, wall, where=where) if kept is None or settings.now else kept
    else:
        mode = time_for(kept, settings.now, wall, where=where)
        if kept is None:  # this command decides; of two racing first commands, the first wins
            mode = time_for(store.keep_time(mode), settings.now, wall, where=where)
    resume = store.latest_time() if mode == "virtual" and settings.now is None else None
    return ("virtual" if mode == "virtual" else "wall"), resume


def open_runtime(
    settings: Settings,
    platform: Platform,
    *,
    service: str | None = None,
    scripted: bool = False,
    store: EventStore | None = None,
    cluster: Workloads | None = None,
    budgets: ErrorBudgets | None = None,
    read_only: bool = False,
) -> Runtime:
    """Build every port a command needs, on the state the settings name (or the *store* and simulated *cluster*
    given).

    Metrics come from Prometheus when one is named, else from the scripted scenario (``scripted`` ignores
    any Prometheus); environments the platform file binds to a cluster act on it, the others on the simulated
    cluster kept in the state (``Runtime.simulated`` says what is simulated). Time is the real clock, except: from
    ``settings.now``
    (a replay) and on a store that keeps nothing (``memory://``), time is virtual — it moves as fast as the
    rollout asks, starts never before *service*'s latest event, and on a durable store never runs ahead
    of the real clock (``Runtime.wall``): no future timestamp is ever stored. With *read_only* (``status``,
    ``history``, the metrics commands), a state that does not exist is read as empty and nothing is created.
    """
    from findly_infra.adapters.memory import MemoryEventStore, ScenarioMetrics, SystemClock, VirtualClock
    from findly_infra.adapters.reports import FileReports

    if settings.scenario not in SCENARIOS:
        raise BadInputError(f"unknown scenario {settings.scenario!r}; known: {', '.join(SCENARIOS)}")
    stack = contextlib.ExitStack()
    try:
        if store is None or cluster is None:
            store, cluster = _store(settings.state, stack, create=not read_only, timeout=settings.state_timeout)
        prometheus = None if scripted else _prometheus(settings, platform, stack)
        wall = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        durable = not isinstance(store, MemoryEventStore)
        mode, resume = _time_mode(settings, store, wall, durable=durable, read_only=read_only)
        start = settings.now if settings.now is not None and mode == "virtual" else resume or wall
        virtual = VirtualClock(start) if mode == "virtual" else None
        clock: Clock = virtual or SystemClock()
        scenarios: ScenarioMetrics | None = None
        metrics: MetricsSource
        slo_reports = record = None
        if prometheus is None:
            metrics = scenarios = ScenarioMetrics(SCENARIOS[settings.scenario])
        else:
            from findly_infra.adapters.prometheus import PrometheusBudgets, PrometheusMetrics

            window = timedelta(milliseconds=platform.prometheus.window.milliseconds)
            metrics = record = PrometheusMetrics(prometheus, platform.metrics, window)
            slo_reports = PrometheusBudgets(prometheus, platform.metrics, platform.slo_definitions)
            budgets = budgets or slo_reports
        workloads = _workloads(platform, cluster, settings.kube_context)
        pipelines = PipelineService(
            platform,
            store,
            clock,
            metrics,
            workloads,
            budgets,
            secrets=_LazySecrets(platform) if _gated(platform) else None,
            holder=runner_identity() if durable else "",
            dead=dead_here,
            wall=SystemClock(),
            lease_ttl=timedelta(seconds=settings.lease_seconds) if settings.lease_seconds else None,
        )
        if virtual is not None and service is not None:
            platform.service(service)
            virtual.current = virtual_start(start, pipelines.latest_time(service), wall)
        return Runtime(
            platform,
            pipelines,
            clock,
            virtual,
            scenarios,
            slo_reports,
            record,
            FileReports(),
            stack,
            wall=SystemClock() if durable and virtual is not None else None,
            simulated=("cluster",) + (("metrics",) if scenarios is not None else ()) + (("time",) if virtual else ()),
            scenario=settings.scenario,
            bound=frozenset(binding.environment for binding in platform.kubernetes.clusters),
        )
    except BaseException:
        stack.close()
        raise


def simulate(
    platform: Platform,
    service: str,
    environment: str,
    scenario: Scenario,
    *,
    strategy: StrategyKind | None = None,
    seed: int | None = None,
    version: str = "2.0.0",
    baseline: str = "1.0.0",
    human_approvals: bool = True,
    current_scenario: Scenario | None = None,
    rollout_start: datetime | None = None,
) -> SimulationResult:
    """A whole release in memory and virtual time (see ``application.simulation.run_simulation``), on the
    in-memory adapters: *seed* adds ±10% noise to every value but the request count."""
    from findly_infra.adapters.memory import MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock

    clock = VirtualClock(START if rollout_start is None else rollout_start - timedelta(days=1))
    metrics = ScenarioMetrics(SCENARIOS["healthy"], noise=random.Random(seed) if seed is not None else None)
    pipelines = PipelineService(platform, MemoryEventStore(), clock, metrics, SimulatedCluster())
    return run_simulation(
        pipelines,
        clock,
        metrics,
        service=service,
        environment=environment,
        scenario=scenario,
        strategy=strategy,
        version=version,
        baseline=baseline,
        human_approvals=human_approvals,
        current_scenario=current_scenario,
        rollout_start=rollout_start,
    )
