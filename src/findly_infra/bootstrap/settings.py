"""Where things are — the platform file, the state, Prometheus, the time — from flags, the environment (``FINDLY_*``)
and defaults; and the platform file itself, loaded or refused with every problem named."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import attrs

from findly_infra.application.ports import BadInputError
from findly_infra.application.timekeeping import era_problem
from findly_infra.domain.platform import Platform

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_STATE",
    "Settings",
    "load_platform",
    "refuse_throwaway_state",
    "require_platform_file",
]


DEFAULT_CONFIG = "findly.yaml"
DEFAULT_STATE = ".findly/state.sqlite3"
_MAX_DELAY = 3600.0


def _time(text: str, name: str) -> datetime:
    """An ISO 8601 time as naive UTC (the clock's convention)."""
    try:
        at = datetime.fromisoformat(text)
        at = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    except (ValueError, OverflowError):
        raise BadInputError(f"{name} is an ISO 8601 time such as 2026-11-26T09:00:00Z, got {text!r}") from None
    if (outside := era_problem(at)) is not None:  # a rollout, an approval's age and a budget window are added to it
        raise BadInputError(f"{name} {text} {outside}")
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


_DAY = 86_400.0


def _state_timeout(text: str | None) -> float:
    """``FINDLY_STATE_TIMEOUT``: above 0 and at most a day (PostgreSQL's timeouts are whole milliseconds in an
    int, and three times it must be one)."""
    seconds = _seconds(text, "FINDLY_STATE_TIMEOUT", 30.0)
    if seconds > _DAY:
        raise BadInputError(f"FINDLY_STATE_TIMEOUT is at most {_DAY:.0f} seconds (a day), got {text!r}")
    return seconds


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
    state_given: bool = False
    """Whether the state was named (``--state``, ``FINDLY_STATE``, a command's own such as the demo's), rather than
    the implicit default."""
    github_actions: bool = False
    """Whether this runs in a GitHub Actions job (``GITHUB_ACTIONS=true``): each job runs on a fresh runner, so the
    implicit default state would die with the job (:func:`refuse_throwaway_state`)."""
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
    """The state's bound (``FINDLY_STATE_TIMEOUT``, seconds, at most a day): how long a command waits for another
    one's write to the state; on PostgreSQL also how long connecting may take (libpq's ``connect_timeout``), a
    statement runs (twice it), and a request goes unanswered before its connection is cut (three times it: a server
    that stops answering), each unless the URL sets its own (docs/state-and-evidence.md)."""
    lease_seconds: float | None = None
    """How long a watch's lease on a rollout lasts unless renewed (``FINDLY_LEASE_SECONDS``; default three analysis
    intervals, at least two minutes): how soon another runner takes over from one that died."""
    allow_plain_http_credentials: bool = False
    """Send Prometheus credentials over plain ``http://`` beyond loopback
    (``FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS=1``)."""
    step_delay: float = 0.0
    """Real seconds a watch in virtual time pauses at each step, to be watched live (``FINDLY_STEP_DELAY``)."""
    progress: str = "auto"
    """How a watch shows its steps (``FINDLY_PROGRESS``): ``auto``, the block redrawn in place on a person's terminal
    and a line a step elsewhere; ``lines``, a line a step everywhere."""

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
        ``FINDLY_PROMETHEUS_URL``, ``FINDLY_PROMETHEUS_TOKEN``, ``FINDLY_NOW``, ``FINDLY_SCENARIO``, …): each value
        is checked here, and one that cannot be used is refused naming its variable (``BadInputError``)."""
        env = os.environ if environ is None else environ
        config = config or env.get("FINDLY_CONFIG") or None
        now_text = now or env.get("FINDLY_NOW") or None
        return cls(
            config=config,
            config_given=config is not None,
            state=state or env.get("FINDLY_STATE") or DEFAULT_STATE,
            state_given=bool(state or env.get("FINDLY_STATE")),
            github_actions=env.get("GITHUB_ACTIONS") == "true",
            prometheus_url=prometheus_url or env.get("FINDLY_PROMETHEUS_URL") or None,
            prometheus_token=_token(env.get("FINDLY_PROMETHEUS_TOKEN"), "FINDLY_PROMETHEUS_TOKEN"),
            now=_time(now_text, "--now" if now else "FINDLY_NOW") if now_text else None,
            scenario=scenario or env.get("FINDLY_SCENARIO") or "healthy",
            kube_context=kube_context or env.get("FINDLY_KUBE_CONTEXT") or None,
            state_timeout=_state_timeout(env.get("FINDLY_STATE_TIMEOUT")),
            lease_seconds=(
                _seconds(env.get("FINDLY_LEASE_SECONDS"), "FINDLY_LEASE_SECONDS", 0.0)
                if env.get("FINDLY_LEASE_SECONDS")
                else None
            ),
            allow_plain_http_credentials=_flag(
                env.get("FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS"), "FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS"
            ),
            step_delay=_delay(env.get("FINDLY_STEP_DELAY"), "FINDLY_STEP_DELAY"),
            progress=_progress(env.get("FINDLY_PROGRESS")),
        )

    @property
    def config_path(self) -> Path:
        return Path(self.config or DEFAULT_CONFIG)


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


def _delay(text: str | None, name: str) -> float:
    """A pause a person may ask for: a number of seconds from 0 to an hour."""
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= _MAX_DELAY:  # NaN too
        raise BadInputError(f"{name} is a number of seconds from 0 to {_MAX_DELAY:g}, got {text[:40]!r}")
    return value


def _progress(text: str | None) -> str:
    value = (text or "auto").strip().lower()
    if value not in ("auto", "lines"):
        raise BadInputError(f"FINDLY_PROGRESS is auto or lines, got {(text or '')[:40]!r}")
    return value


def _token(text: str | None, name: str) -> str | None:
    from findly_infra.application.redaction import header_token

    return header_token(text, name) if text else None


def _flag(text: str | None, name: str) -> bool:
    """``1`` is on; unset, empty or ``0`` is off; anything else (``yes``, ``true``) is refused, not read as off."""
    if text in (None, "", "0", "1"):
        return text == "1"
    raise BadInputError(f"{name} is 1 (on) or 0 (off), got {text[:40]!r}")


def refuse_throwaway_state(settings: Settings) -> None:
    """Refuse (bad input, exit 2), in a GitHub Actions job, a command that writes to the implicit default state: a
    SQLite file on the runner, which dies with the job — what it records would be gone, and the next job (another
    fresh runner) would not see it (a staging job refused by ``promotion-order``, an approve job with no state). A
    state named on purpose (``--state``, ``FINDLY_STATE``: PostgreSQL, or even a SQLite file or ``memory://``) goes."""
    if settings.github_actions and not settings.state_given:
        raise BadInputError(
            f"GITHUB_ACTIONS=true and no state is named: the default, {DEFAULT_STATE}, would be a file on this runner, "
            "and each job runs on a fresh runner, so what this command records would be gone when the job ends and "
            "no other job would see it. Set FINDLY_STATE to your team's postgresql://… (a repository secret), or "
            "pass --state explicitly to keep a state on this runner"
        )
