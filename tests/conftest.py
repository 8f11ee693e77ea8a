"""Shared fixtures: the example platform file, as shipped, and its pieces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from findly_infra.examples import example_platform_text

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=1000)
# mutation testing (`nox -s mutation`): the same examples for every mutant, and fewer of them; no shrinking — a
# failing example is the kill, and shrinking it on a loaded machine took long enough to be scored a timeout instead
settings.register_profile(
    "mutation",
    parent=settings.get_profile("default"),
    max_examples=30,
    derandomize=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _count_examples() -> None:
    """In the reliability run (``scripts/reliability_report.py``): every example a property tries is an input tried,
    counted through Hypothesis' observability callbacks (one ``test_case`` observation per example run)."""
    from hypothesis.internal.observability import add_observability_callback

    from tests.reliability import tally

    def seen(observation: object, _thread: int | None = None) -> None:
        status = getattr(observation, "status", None)
        if getattr(observation, "type", None) == "test_case" and getattr(status, "value", status) != "gave_up":
            tally("examples")

    add_observability_callback(seen, all_threads=True)


if os.environ.get("FINDLY_RELIABILITY_TALLY"):
    _count_examples()

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "findly.yaml"
PAST = "2026-01-05T09:00:00Z"
"""A ``--now`` for releases on a durable store: virtual time from a past day runs as fast as it is asked (from now,
a durable store's scripted rollouts wait in real time, so that no future time is recorded)."""
OURS_MARKER = "# Our own sections"


@pytest.fixture(scope="session")
def example_text() -> str:
    return example_platform_text()


@pytest.fixture(scope="session")
def seed_only_text(example_text: str) -> str:
    """The seed's fifteen YAML blocks, exactly as the seed writes them, without our own sections."""
    return example_text[: example_text.index(OURS_MARKER)].rsplit("\n# ---", 1)[0]


def require_tool(name: str, install: str) -> str:
    """The path of an external tool a test runs. Missing, the test is skipped with how to install it — unless
    ``FINDLY_REQUIRE_TOOLS=1`` (set by ``.ci/run``), where a missing tool fails the run instead of thinning it."""
    import shutil

    found = shutil.which(name)
    if found is not None:
        return found
    message = f"{name} is not installed ({install})"
    if os.environ.get("FINDLY_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{message}; FINDLY_REQUIRE_TOOLS=1 requires it")
    pytest.skip(message)


PROMETHEUS_INSTALL = "Debian: apt-get install prometheus, which brings promtool"
ALERTMANAGER_INSTALL = "Debian: apt-get install prometheus-alertmanager, which brings amtool and the server"
KUBECTL_INSTALL = "kubectl, for 'kubectl kustomize': https://kubernetes.io/docs/tasks/tools/"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A durable store, in virtual time from a past day (from now, scripted rollouts would run at real pace)."""
    return {
        "FINDLY_CONFIG": str(EXAMPLE),
        "FINDLY_ACTOR": "erin",
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        "FINDLY_NOW": PAST,
    }
