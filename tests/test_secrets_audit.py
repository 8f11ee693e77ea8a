"""The secrets audit (``domain.secrets.audit_secrets``), property-tested over seeded ages: each problem is found exactly
when it holds — a missing secret, no enabled version, the latest version older than its type's rotation period, an
older version still enabled past the grace period, a reader the access does not allow (unconditionally, or under an
IAM condition that can still hold: until its expiry, or for ever when the audit cannot judge it) — and a fresh,
well-kept secret has none. No secret value reaches the audit: it sees versions and readers only."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import attrs
from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import ManagedSecret
from findly_infra.domain.secrets import (
    ConditionalReader,
    ObservedSecret,
    SecretProblem,
    SecretReader,
    SecretVersion,
    allowed_readers,
    audit_secrets,
    judge_condition,
    readers_at,
    secret_id,
)
from findly_infra.domain.workload_identity import WorkloadPool, kubernetes_principal

from .conftest import EXAMPLE

NOW = datetime(2026, 11, 26, 9, 0)
PROJECT = "findly-now"
POOL = WorkloadPool(PROJECT, "123456789012")
NS = "findly-now-production"
PLATFORM = load_platform(EXAMPLE)
assert PLATFORM.secret_management is not None
SECRETS = attrs.evolve(
    PLATFORM.secret_management,
    secrets=(ManagedSecret("posts-db-password", "database_credentials", ("fn-posts",)),),
)  # database_credentials: rotate every 30 days; grace period 7 days
SECRET = SECRETS.secrets[0]
NAME = secret_id(SECRET, "production")
OWN = POOL.principal(NS, "fn-posts")  # production's fn-posts pods: the secret's one reader
OWN_ELSEWHERE = kubernetes_principal("999999999999", PROJECT, NS, "fn-posts")  # the pool's name, another number
OTHERS = (
    "user:mallory@example.com",
    "group:all@x.io",
    POOL.principal("findly-now-staging", "fn-posts"),  # staging's pods read nothing of production's
    POOL.principal(NS, "fn-matcher"),  # another service of the environment
    f"serviceAccount:fn-posts@{PROJECT}.iam.gserviceaccount.com",  # a Google service account shared by environments
    OWN_ELSEWHERE,
)


def _expiry(hours: int) -> str:
    """A time-limited grant's condition, as the console writes it, expiring *hours* from NOW (before it: negative)."""
    return f'request.time < timestamp("{(NOW + timedelta(hours=hours)).isoformat()}Z")'


UNJUDGED = ('resource.name.endsWith("-production")', "", 'request.time.getHours("Europe/Berlin") < 18')

conditional_grants = st.lists(
    st.tuples(
        st.sampled_from((OWN, *OTHERS)),
        st.one_of(st.integers(-24 * 30, 24 * 30).map(_expiry), st.sampled_from(UNJUDGED)),
    ),
    max_size=3,
)


@given(
    ages=st.lists(st.tuples(st.integers(0, 120 * 24), st.booleans()), max_size=4),
    readers=st.sets(st.sampled_from((OWN, *OTHERS))),
    conditional=conditional_grants,
    exists=st.booleans(),
    number_known=st.booleans(),
)
def test_each_problem_is_found_exactly_when_it_holds(
    ages: list[tuple[int, bool]],
    readers: set[str],
    conditional: list[tuple[str, str]],
    exists: bool,
    number_known: bool,
) -> None:
    versions = tuple(
        SecretVersion(str(number), enabled, NOW - timedelta(hours=hours))
        for number, (hours, enabled) in enumerate(ages, 1)
    )
    grants = tuple(ConditionalReader(member, expression) for member, expression in conditional)
    observed = {NAME: ObservedSecret(versions, frozenset(readers), grants)} if exists else {}
    pool = POOL if number_known else WorkloadPool(PROJECT)  # without the number, the pool and KSA say who it is
    found = {finding.problem for finding in audit_secrets(SECRETS, "production", pool, NS, observed, NOW)}
    own = {OWN} if number_known else {OWN, OWN_ELSEWHERE}
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
        can_still_read = {member for member, expression in conditional if not _expired(expression)}
        if (readers | can_still_read) - own:
            expected.add(SecretProblem.UNEXPECTED_READER)
        if not readers & own:  # the pods need an unconditional grant: a condition ends, or may never hold
            expected.add(SecretProblem.WORKLOAD_CANNOT_READ)
    assert found == expected
    for problem in found:
        event(problem.value)
    if conditional:
        event("conditional grants: " + ("some expired" if any(_expired(e) for _, e in conditional) else "none expired"))


def _expired(expression: str) -> bool:
    """The model: only an expiry can end a grant, and only once it has passed (an unjudged condition never ends)."""
    if expression in UNJUDGED:
        return False
    moment = datetime.fromisoformat(expression.split('"')[1].removesuffix("Z"))
    return moment <= NOW


@given(
    hours=st.integers(-24 * 400, 24 * 400),
    inclusive=st.booleans(),
    flipped=st.booleans(),
    other=st.sampled_from(("", 'resource.name.startsWith("projects/x")', "true")),
    wrap=st.booleans(),
)
def test_a_time_limited_grant_reads_until_its_expiry_and_no_later(
    hours: int, inclusive: bool, flipped: bool, other: str, wrap: bool
) -> None:
    """``request.time < timestamp(T)`` (or ``<=``, or written the other way round), alone or and-ed with a part the
    audit cannot read: it can hold exactly while NOW is before T (at T too with ``<=``); an expiry in the past ends
    it whatever the other part says; a part not understood is said (never a reader missed)."""
    moment = NOW + timedelta(hours=hours)
    stamp = f'timestamp("{moment.isoformat()}Z")'
    op = "<=" if inclusive else "<"
    expiry = f"{stamp} {'>=' if inclusive else '>'} request.time" if flipped else f"request.time {op} {stamp}"
    expression = f"{expiry} && {other}" if other else expiry
    verdict = judge_condition(f"({expression})" if wrap else expression, NOW)
    holds = moment > NOW or (inclusive and moment == NOW)
    assert verdict.can_hold == holds
    assert verdict.until == moment
    assert verdict.judged == (not other or not holds)
    event("holds" if holds else "expired")


@given(hours=st.integers(-24 * 400, 24 * 400), other=st.sampled_from((UNJUDGED[0], "true", "false")))
def test_an_expiry_or_ed_with_anything_is_not_judged_and_counts_as_a_reader(hours: int, other: str) -> None:
    verdict = judge_condition(
        f'request.time < timestamp("{(NOW + timedelta(hours=hours)).isoformat()}Z") || {other}', NOW
    )
    assert (verdict.can_hold, verdict.judged, verdict.until) == (True, False, None)


def test_readers_at_keeps_each_members_longest_grant() -> None:
    mallory, eve = "user:mallory@example.com", "user:eve@example.com"
    held = ObservedSecret(
        readers=frozenset({OWN}),
        conditional=(
            ConditionalReader(OWN, _expiry(5)),  # also unconditional: the unconditional grant wins
            ConditionalReader(mallory, _expiry(5)),
            ConditionalReader(mallory, _expiry(50)),
            ConditionalReader(eve, _expiry(-1)),  # expired: not a reader
            ConditionalReader(eve, _expiry(-2)),
        ),
    )
    assert readers_at(held, NOW) == (
        SecretReader(OWN),
        SecretReader(mallory, NOW + timedelta(hours=50)),
    )
    hidden = ObservedSecret(conditional=(ConditionalReader(mallory, _expiry(5)), ConditionalReader(mallory, "")))
    assert readers_at(hidden, NOW) == (SecretReader(mallory, None, ""),)  # hidden (version 1): it may last for ever
    assert SecretReader(mallory, None, "").describe() == (
        "user:mallory@example.com (under a condition the audit cannot judge (hidden: policy version 1))"
    )


def test_a_fresh_well_kept_secret_has_no_finding_and_each_message_names_the_secret() -> None:
    fresh = ObservedSecret((SecretVersion("3", True, NOW - timedelta(days=2)),), frozenset({OWN}))
    assert audit_secrets(SECRETS, "production", POOL, NS, {NAME: fresh}, NOW) == ()
    stale = ObservedSecret(
        (SecretVersion("1", True, NOW - timedelta(days=60)), SecretVersion("2", True, NOW - timedelta(days=40))),
        frozenset({OWN, "user:mallory@example.com"}),
    )
    messages = [f.message for f in audit_secrets(SECRETS, "production", POOL, NS, {NAME: stale}, NOW)]
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
    assert allowed_readers(secret, "findly-now-staging", POOL) == {
        "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
        "findly-now.svc.id.goog/subject/ns/findly-now-staging/sa/fn-matcher",
        "serviceAccount:ci@findly-now.iam.gserviceaccount.com",
    }


def test_pods_whose_principal_cannot_read_a_secret_they_need_are_a_finding() -> None:
    """Defect (issue 22): nothing said that a service's pods could not read a secret they need — they fail at run
    time. Only an unconditional grant to the environment's own principal counts; a Google service account per
    service is one identity for every environment, and is said to be."""
    version = (SecretVersion("1", True, NOW - timedelta(days=1)),)
    shared = f"serviceAccount:fn-posts@{PROJECT}.iam.gserviceaccount.com"
    staging = POOL.principal("findly-now-staging", "fn-posts")
    held = ObservedSecret(version, frozenset({shared, staging}), (ConditionalReader(OWN, _expiry(5)),))
    findings = audit_secrets(SECRETS, "production", POOL, NS, {NAME: held}, NOW)
    assert [f.problem for f in findings] == [SecretProblem.UNEXPECTED_READER, SecretProblem.WORKLOAD_CANNOT_READ]
    unexpected, cannot = findings
    assert [r.member for r in unexpected.readers] == [staging, shared]
    assert "a Google service account per service is one identity for every environment" in unexpected.message
    assert cannot.message == (
        "fn-posts's pods in production cannot read posts-db-password-production: their principal (the Kubernetes "
        "ServiceAccount fn-posts in findly-now-production, workload pool findly-now.svc.id.goog) holds no role on it "
        "that reads it unconditionally; grant it: findly-infra secrets grant --env production"
    )
    kept = attrs.evolve(SECRETS, secrets=(attrs.evolve(SECRET, readers=(shared,)),))  # listed: kept, as readers are
    granted = ObservedSecret(version, frozenset({OWN, shared}))
    assert audit_secrets(kept, "production", POOL, NS, {NAME: granted}, NOW) == ()


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


# ---- fidelity review (issue 22): secret IDs that collide across environments; rotation periods Secret Manager takes


@given(
    names=st.lists(st.sampled_from(["payments", "payments-eu", "eu", "payments-eu-west", "api"]), unique=True),
    environments=st.lists(
        st.sampled_from(["production", "eu-production", "west-production", "eu-west-production", "staging"]),
        min_size=1,
        unique=True,
    ),
)
def test_validate_refuses_two_secrets_of_two_environments_that_are_one_secret_id(
    names: list[str], environments: list[str]
) -> None:
    """``<name>-<environment>`` is one Secret Manager secret for ``payments`` in ``eu-production`` and ``payments-eu``
    in ``production``: each environment's pods would be granted the other's. Refused, naming both places, exactly
    when two pairs meet."""
    from findly_infra.domain.checks import check_platform
    from findly_infra.domain.secrets import secret_id_collisions

    secrets = attrs.evolve(SECRETS, secrets=tuple(ManagedSecret(name, "api_keys", ("fn-posts",)) for name in names))
    ids = [f"{name}-{environment}" for name in names for environment in environments]
    collisions = secret_id_collisions(secrets, environments)
    assert {c.secret_id for c in collisions} == {i for i in ids if ids.count(i) > 1}
    for collision in collisions:
        assert all(f"{name}-{environment}" == collision.secret_id for name, environment in collision.places)
        event("collision")
    platform = attrs.evolve(
        PLATFORM,
        environments=tuple(attrs.evolve(PLATFORM.environments[0], name=name) for name in environments),
        secret_management=secrets,
    )
    findings = [f for f in check_platform(platform) if f.rule == "secret-ids"]
    assert len(findings) == len(collisions)
    for finding, collision in zip(findings, collisions, strict=True):
        assert finding.severity.value == "error"
        assert finding.path == ("secret_management", "secrets", collision.places[-1][0])
        for name, environment in collision.places:
            assert f"secret_management.secrets.{name} in {environment}" in finding.message


def test_the_reviews_example_is_refused_by_validate_exit_2_naming_both_places(tmp_path: Path) -> None:
    """/tmp/rev/e8: environments production and eu-production, secrets payments and payments-eu."""
    import io

    from findly_infra.cli import main

    text = EXAMPLE.read_text().replace(
        "  secret_types:\n",
        "  secrets:\n    payments: {type: api_keys, services: [fn-posts]}\n"
        "    payments-eu: {type: api_keys, services: [fn-matcher]}\n  secret_types:\n",
        1,
    )
    text = text.replace(
        '    rollback_capability: "automatic"\n',
        '    rollback_capability: "automatic"\n\n  eu-production:\n    purpose: "EU"\n'
        '    deployment_trigger: "Manual promotion from production"\n',
        1,
    )
    path = tmp_path / "findly.yaml"
    path.write_text(text)
    out = io.StringIO()
    assert main(["validate", str(path)], out=out) == 2
    (line,) = [line for line in out.getvalue().splitlines() if line.startswith("error: ")]
    assert line.startswith("error: secret_management.secrets.payments-eu (line ")
    assert "secret_management.secrets.payments in eu-production" in line
    assert "secret_management.secrets.payments-eu in production" in line
    assert "payments-eu-production" in line


@given(milliseconds=st.one_of(st.integers(1, 4_000_000_000_000), st.integers(3_599_000, 3_601_000)))
def test_a_rotation_period_is_one_secret_manager_takes(milliseconds: int) -> None:
    """Rotation.rotation_period (google/cloud/secretmanager/v1/resources.proto): "Must be in seconds and at least 3600s
    (1h) and at most 3153600000s (100 years)" — refused where the file says it, not by the API at `secrets schedule`."""
    import pytest

    from findly_infra.domain import Duration, InvariantError, SecretType

    fits = milliseconds % 1000 == 0 and 3_600_000 <= milliseconds <= 3_153_600_000_000
    event("fits" if fits else "refused")
    if fits:
        SecretType("api_keys", Duration(milliseconds))
    else:
        with pytest.raises(InvariantError, match="1 hour to 100 years") as refused:
            SecretType("api_keys", Duration(milliseconds))
        assert refused.value.field == "rotation_period"


def test_validate_names_the_place_of_a_rotation_period_under_an_hour() -> None:
    from findly_infra import validate_platform_text

    for period, said in (('"30m"', "got 30 minutes"), ('"36501 days"', "got 36501 days")):
        text = EXAMPLE.read_text().replace('rotation_period: "30 days"', f"rotation_period: {period}", 1)
        (error,) = validate_platform_text(text).errors
        assert error.path == "secret_management.secret_types.database_credentials.rotation_period"
        assert said in error.message
