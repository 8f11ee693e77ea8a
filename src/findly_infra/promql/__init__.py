"""PromQL pieces shared by the rendered rules and the Prometheus adapter (pure string building), and the check of
what Prometheus accepts (:func:`problem`, in ``check``; Go's regular expressions in ``regexp``), which ``validate``
runs on every expression a platform file carries or makes.

Both must measure the same thing the same way: an SLO's ratio of bad events in the recording rules is
the ratio ``slo status`` reads, and a bucket bound is matched however the client formats it.
"""

from __future__ import annotations

from findly_infra.domain.notation import format_number
from findly_infra.domain.operations import MetricNames
from findly_infra.promql.check import collapse, problem
from findly_infra.promql.regexp import go_regexp_problem

__all__ = [
    "collapse",
    "error_ratio",
    "go_regexp_problem",
    "le_matcher",
    "matchers",
    "problem",
    "slow_ratio",
    "string",
]


def le_matcher(seconds: float) -> str:
    """A regex for the ``le`` label of a bucket bound, however the client formats it (``0.2``, ``1``, ``1.0``).

    Used inside a PromQL raw string (backticks), so backslashes are the regex's own.
    """
    text = format_number(seconds).replace(".", "\\.")
    return f"{text}0*" if "." in format_number(seconds) else f"{text}(\\.0+)?"


def _quoted(value: str) -> str:
    """*value* escaped for a double-quoted PromQL string (a line break would end it: Prometheus's lexString)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def matchers(
    names: MetricNames, *, service: str | None = None, environment: str | None = None, version: str | None = None
) -> list[str]:
    """Label matchers for a service's series in one environment (and of one version), as names say."""
    found = []
    if service is not None:
        found.append(f'{names.service_label}="{_quoted(service)}"')
    if environment is not None and names.environment_label is not None:
        found.append(f'{names.environment_label}="{_quoted(environment)}"')
    if version is not None:
        found.append(f'{names.version_label}="{_quoted(version)}"')
    return found


def _series(metric: str, labels: list[str]) -> str:
    return metric + ("{" + ",".join(labels) + "}" if labels else "")


def error_ratio(names: MetricNames, labels: list[str], window: str, *, by: str = "", function: str = "rate") -> str:
    """5xx responses over all responses. A service that answers but never failed gives 0; one with no
    traffic gives nothing (no series, or NaN): no evidence either way."""
    aggregate = f"sum by ({by})" if by else "sum"
    total = f"{aggregate} ({function}({_series(names.requests, labels)}[{window}]))"
    bad = [*labels, f'{names.status_label}=~"5.."']
    errors = f"{aggregate} ({function}({_series(names.requests, bad)}[{window}]))"
    return f"(\n  {errors}\n  or 0 * {total}\n)\n/ ({total} > 0)"


def slow_ratio(
    names: MetricNames, labels: list[str], window: str, bound_seconds: float, *, by: str = "", function: str = "rate"
) -> str:
    """Requests slower than *bound_seconds* over all requests, from the histogram's buckets."""
    aggregate = f"sum by ({by})" if by else "sum"
    total = f"{aggregate} ({function}({_series(names.latency + '_count', labels)}[{window}]))"
    bucket = [*labels, f"le=~`{le_matcher(bound_seconds)}`"]
    fast = f"{aggregate} ({function}({_series(names.latency + '_bucket', bucket)}[{window}]))"
    return f"(\n  {total}\n  - {fast}\n)\n/ ({total} > 0)"


def string(value: str) -> str:
    """*value* as a PromQL double-quoted string."""
    return f'"{_quoted(value)}"'
