"""The secrets audit (``domain.secrets.audit_secrets``), property-tested over seeded ages: each problem is found exactly
when it holds — a missing secret, no enabled version, the latest version older than its type's rotation period, an
older version still enabled past the grace period, a reader the access does not allow — and a fresh, well-kept
secret has none. No secret value reaches the audit: it sees versions and readers only."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import ManagedSecret
from findly_infra.domain.secrets import (
    ObservedSecret,
    SecretProblem,
    SecretVersion,
    allowed_readers,
    audit_secrets,
    secret_id,
)

from .conftest import EXAMPLE

NOW = datetime(2026, 11, 26, 9, 0)
PROJECT = "findly-now"
PLATFORM = load_platform(EXAMPLE)
assert PLATFORM.secret_management is not None
SECRETS = attrs.evolve(
    PLATFORM.secret_management,
    secrets=(ManagedSecret("posts-db-password", "database_credentials", ("fn-posts",)),),
)  # database_credentials: rotate every 30 days; grace period 7 days
SECRET = SECRETS.secrets[0]
NAME = secret_id(SECRET, "production")
OWN = f"serviceAccount:fn-posts@{PROJECT}.iam.gserviceaccount.com"
OTHERS = ("user:mallory@example.com", "serviceAccount:fn-matcher@findly-now.iam.gserviceaccount.com", "group:all@x.io")


@given(
    ages=st.lists(st.tuples(st.integers(0, 120 * 24), st.booleans()), max_size=4),
    readers=st.sets(st.sampled_from((OWN, *OTHERS))),
    exists=st.booleans(),
)
def test_each_problem_is_found_exactly_when_it_holds(
    ages: list[tuple[int, bool]], readers: set[str], exists: bool
) -> None:
    versions = tuple(
        SecretVersion(str(number), enabled, NOW - timedelta(hours=hours))
        for number, (hours, enabled) in enumerate(ages, 1)
    )
    observed = {NAME: ObservedSecret(versions, frozenset(readers))} if exists else {}
    found = {finding.problem for finding in audit_secrets(SECRETS, "production", PROJECT, observed, NOW)}
    enabled = sorted((hours for hours, on in ages if on))
    expected = set()
    if not exists:
        expected.add(SecretProblem.MISSING)
    else:
        if not enabled:
            expected.add(SecretProblem.NO_ENABLED_VERSION)
        elif enabled[0] > 30 * 24:
            expected.add(SecretProblem.ROTATION_OVERDUE)
        if len(enabled) > 1 and enabled[0] > 7 * 24:
            expected.add(SecretProblem.STALE_VERSIONS)
        if readers - {OWN}:
            expected.add(SecretProblem.UNEXPECTED_READER)
    assert found == expected
    for problem in found:
        event(problem.value)


def test_a_fresh_well_kept_secret_has_no_finding_and_each_message_names_the_secret() -> None:
    fresh = ObservedSecret((SecretVersion("3", True, NOW - timedelta(days=2)),), frozenset({OWN}))
    assert audit_secrets(SECRETS, "production", PROJECT, {NAME: fresh}, NOW) == ()
    stale = ObservedSecret(
        (SecretVersion("1", True, NOW - timedelta(days=60)), SecretVersion("2", True, NOW - timedelta(days=40))),
        frozenset({OWN, "user:mallory@example.com"}),
    )
    messages = [f.message for f in audit_secrets(SECRETS, "production", PROJECT, {NAME: stale}, NOW)]
    assert messages == [
        "posts-db-password-production's latest version (2) is 40 days old: database_credentials rotate every 30 days",
        "posts-db-password-production still has 1 enabled, 40 days after version 2 replaced them (grace period 7 days)",
        "posts-db-password-production is readable by user:mallory@example.com, which its access does not allow "
        "(database_credentials: Application service accounts only)",
    ]


def test_who_may_read_a_secret() -> None:
    secret = ManagedSecret(
        "api", "api_keys", ("fn-matcher",), ("serviceAccount:ci@findly-now.iam.gserviceaccount.com",)
    )
    assert allowed_readers(secret, PROJECT) == {
        "serviceAccount:fn-matcher@findly-now.iam.gserviceaccount.com",
        "serviceAccount:ci@findly-now.iam.gserviceaccount.com",
    }


def test_the_platform_file_pages_secrets_load_as_written() -> None:
    import re

    import yaml

    from findly_infra.config.loader import validate_platform_text
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "platform-file.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "grace_period" in b]
    ours = yaml.safe_load(block)["secret_management"]
    document = yaml.safe_load(EXAMPLE.read_text())
    document["secret_management"].update(ours)
    report = validate_platform_text(yaml.safe_dump(document, sort_keys=False))  # the order of environments matters
    assert report.ok, [str(e) for e in report.errors]
    assert report.platform is not None
    assert report.platform.secret_management is not None
    assert [s.name for s in report.platform.secret_management.secrets] == ["posts-db-password", "matcher-api-key"]


# ---- the release gate -------------------------------------------------------------------------------------------

GATED = attrs.evolve(
    SECRETS,
    release_gate=True,
    secrets=(
        ManagedSecret("posts-db-password", "database_credentials", ("fn-posts",)),
        ManagedSecret("shared-api-key", "api_keys", ("fn-posts", "fn-matcher")),
        ManagedSecret("matcher-api-key", "api_keys", ("fn-matcher",)),
    ),
)


@given(
    st.dictionaries(st.sampled_from([f"{s.name}-staging" for s in GATED.secrets]), st.lists(st.booleans(), max_size=3))
)
def test_the_gate_names_exactly_the_secrets_a_service_cannot_read(held: dict[str, list[bool]]) -> None:
    from findly_infra.domain.secrets import unavailable_for

    observed = {
        name: ObservedSecret(tuple(SecretVersion(str(i), on, NOW) for i, on in enumerate(states, 1)))
        for name, states in held.items()
    }
    for service in ("fn-posts", "fn-matcher", "fn-notifications"):
        reads = [f"{s.name}-staging" for s in GATED.secrets if service in s.services]
        expected = tuple(name for name in reads if not any(held.get(name, [])))
        assert unavailable_for(service, "staging", GATED, observed) == expected


def test_a_rollout_whose_secrets_are_missing_is_refused_before_anything_is_recorded() -> None:
    import pytest

    from findly_infra.application.service import PipelineService, PolicyRefusedError
    from findly_infra.domain import StrategyKind
    from findly_infra.testing import (
        HEALTHY,
        MemoryEventStore,
        MemorySecrets,
        ScriptedMetrics,
        SimulatedCluster,
        VirtualClock,
    )

    platform = attrs.evolve(PLATFORM, secret_management=GATED)
    secrets = MemorySecrets({"posts-db-password-development": ObservedSecret((SecretVersion("1", False, NOW),))})
    store = MemoryEventStore()
    release = PipelineService(
        platform, store, VirtualClock(NOW), ScriptedMetrics(lambda _: HEALTHY), SimulatedCluster(), secrets=secrets
    )
    with pytest.raises(PolicyRefusedError) as refused:
        release.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    assert refused.value.refusal.rule == "secrets-present"
    assert "posts-db-password-development, shared-api-key-development" in refused.value.refusal.message
    assert store.load("fn-posts") == ([], 0)  # nothing recorded, no traffic moved
    enabled = ObservedSecret((SecretVersion("2", True, NOW),))
    secrets.secrets.update({"posts-db-password-development": enabled, "shared-api-key-development": enabled})
    started = release.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    assert started.events[0].type == "rollout_started"
    assert release.deploy("fn-posts", "1.0.0", "development", actor="erin").already  # a retry is not gated again
