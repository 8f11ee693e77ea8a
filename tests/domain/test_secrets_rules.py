"""The rules of ``domain.secrets``, pinned one by one (issue 23: no test of the mutation run's selection called the
module): the Secret Manager ID of a secret and the IDs two environments share, who may read a secret and the grants
its pods need, each finding of the audit with its boundary and its exact words, who reads a secret under an IAM
condition and for how long, how a condition is judged — and how it is read: as CEL reads it
(google/cel-spec doc/langdef.md), never finding an expiry in a part that is not a conjunct of the whole — and the
release gate's ``secrets-present``. Fast and in-process: they run for every mutant."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.notation import Duration
from findly_infra.domain.secrets import (
    ConditionalReader,
    ConditionVerdict,
    ObservedSecret,
    SecretFinding,
    SecretGrant,
    SecretIdCollision,
    SecretProblem,
    SecretReader,
    SecretVersion,
    allowed_readers,
    audit_secrets,
    judge_condition,
    readers_at,
    secret_grants,
    secret_id,
    secret_id_collisions,
    unavailable_for,
)
from findly_infra.domain.security import ManagedSecret, SecretManagement, SecretType
from findly_infra.domain.workload_identity import WorkloadPool

NOW = datetime(2026, 11, 26, 9, 0)
PROJECT = "findly-now"
POOL = WorkloadPool(PROJECT, "123456789012")
NS = "findly-now-production"
DB = SecretType("database_credentials", Duration.of(days=30), access_pattern="Application service accounts only")
API = SecretType("api_keys", Duration.of(days=90))
SECRET = ManagedSecret("posts-db-password", "database_credentials", ("fn-posts",))
SECRETS = SecretManagement(secret_types=(DB, API), secrets=(SECRET,), grace_period=Duration.of(days=7))
NAME = "posts-db-password-production"
OWN = POOL.principal(NS, "fn-posts")
MALLORY = "user:mallory@example.com"
SHARED = f"serviceAccount:fn-posts@{PROJECT}.iam.gserviceaccount.com"


def _at(**age: float) -> datetime:
    return NOW - timedelta(**age)


def _audit(held: ObservedSecret | None, secrets: SecretManagement = SECRETS) -> tuple[SecretFinding, ...]:
    return audit_secrets(secrets, "production", POOL, NS, {NAME: held} if held is not None else {}, NOW)


def _stamp(moment: datetime) -> str:
    return f'timestamp("{moment.isoformat()}Z")'


# ---- secret IDs ---------------------------------------------------------------------------------------------------


def test_a_secrets_id_is_its_name_then_its_environment() -> None:
    assert secret_id(ManagedSecret("payments", "api_keys"), "eu-production") == "payments-eu-production"


def test_a_collision_names_each_place_and_says_both_or_all() -> None:
    two = SecretIdCollision("payments-eu-production", (("payments", "eu-production"), ("payments-eu", "production")))
    assert two.describe() == (
        "secret_management.secrets.payments in eu-production and secret_management.secrets.payments-eu in production "
        "are both the Secret Manager secret payments-eu-production (<name>-<environment>): each environment's pods "
        "would be granted, and audited against, the other's secret; rename one of the secrets"
    )
    three = SecretIdCollision("a-b-c-d", (("a", "b-c-d"), ("a-b", "c-d"), ("a-b-c", "d")))
    assert three.describe() == (
        "secret_management.secrets.a in b-c-d and secret_management.secrets.a-b in c-d and "
        "secret_management.secrets.a-b-c in d are all the Secret Manager secret a-b-c-d (<name>-<environment>): each "
        "environment's pods would be granted, and audited against, the other's secret; rename one of the secrets"
    )


def test_collisions_are_found_in_the_order_of_their_first_pair_and_an_environment_named_twice_counts_once() -> None:
    names = ("a", "a-b", "x", "a-b-c")
    secrets = SecretManagement(secrets=tuple(ManagedSecret(name, "api_keys") for name in names))
    assert secret_id_collisions(secrets, ["b-c-d", "c-d", "d", "d"]) == (
        SecretIdCollision("a-b-c-d", (("a", "b-c-d"), ("a-b", "c-d"), ("a-b-c", "d"))),
    )
    assert secret_id_collisions(secrets, ["production", "production"]) == ()
    assert secret_id_collisions(secrets, ["c", "b-c"]) == (SecretIdCollision("a-b-c", (("a", "b-c"), ("a-b", "c"))),)


@given(
    names=st.lists(st.sampled_from(["p", "p-e", "e", "p-e-w", "w"]), unique=True),
    environments=st.lists(st.sampled_from(["e", "e-w", "w", "p-e", "s"]), min_size=1),
)
def test_collisions_are_exactly_the_ids_of_more_than_one_pair(names: list[str], environments: list[str]) -> None:
    secrets = SecretManagement(secrets=tuple(ManagedSecret(name, "api_keys") for name in names))
    model: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        for environment in dict.fromkeys(environments):
            model.setdefault(f"{name}-{environment}", []).append((name, environment))
    expected = tuple(SecretIdCollision(i, tuple(places)) for i, places in model.items() if len(places) > 1)
    assert secret_id_collisions(secrets, environments) == expected


# ---- who may read, and the grants the pods need ---------------------------------------------------------------------


def test_who_may_read_is_each_reading_services_principal_and_the_listed_readers() -> None:
    secret = ManagedSecret("api", "api_keys", ("fn-matcher", "fn-posts"), (MALLORY,))
    assert allowed_readers(secret, "findly-now-staging", POOL) == frozenset(
        {POOL.principal("findly-now-staging", "fn-matcher"), POOL.principal("findly-now-staging", "fn-posts"), MALLORY}
    )
    assert allowed_readers(ManagedSecret("api", "api_keys"), NS, POOL) == frozenset()


def test_the_grants_are_each_secret_to_each_service_that_reads_it_in_the_files_order() -> None:
    secrets = SecretManagement(
        secrets=(
            ManagedSecret("b", "api_keys", ("fn-posts", "fn-matcher")),
            ManagedSecret("a", "api_keys", ("fn-matcher",), (MALLORY,)),
            ManagedSecret("c", "api_keys"),
        )
    )
    assert secret_grants(secrets, "staging", "findly-now-staging", POOL) == (
        SecretGrant("b-staging", "fn-posts", POOL.principal("findly-now-staging", "fn-posts")),
        SecretGrant("b-staging", "fn-matcher", POOL.principal("findly-now-staging", "fn-matcher")),
        SecretGrant("a-staging", "fn-matcher", POOL.principal("findly-now-staging", "fn-matcher")),
    )
    with pytest.raises(ValueError, match="the number of project findly-now is not known"):
        secret_grants(secrets, "staging", "findly-now-staging", WorkloadPool(PROJECT))


# ---- how a reader is described ------------------------------------------------------------------------------------


def test_a_reader_is_described_with_how_long_and_under_what() -> None:
    assert SecretReader(MALLORY).describe() == MALLORY
    assert SecretReader(MALLORY, datetime(2026, 12, 1, 7, 5, 9)).describe() == f"{MALLORY} (until 2026-12-01 07:05 UTC)"
    assert SecretReader(MALLORY, None, "x == 1").describe() == (
        f"{MALLORY} (under a condition the audit cannot judge: x == 1)"
    )
    assert SecretReader(MALLORY, None, "").describe() == (
        f"{MALLORY} (under a condition the audit cannot judge (hidden: policy version 1))"
    )
    assert SecretReader(MALLORY, datetime(2026, 12, 1), "x").describe() == (
        f"{MALLORY} (until 2026-12-01 00:00 UTC, under a condition the audit cannot judge: x)"
    )


# ---- the audit ----------------------------------------------------------------------------------------------------


def test_a_missing_secret_is_one_finding_and_the_next_secret_is_still_audited() -> None:
    other = ManagedSecret("other", "api_keys", ("fn-posts",))
    secrets = attrs.evolve(SECRETS, secrets=(SECRET, other))
    found = audit_secrets(secrets, "production", POOL, NS, {NAME: None}, NOW)
    assert found[0] == SecretFinding(NAME, SecretProblem.MISSING, f"{NAME} does not exist")
    assert found[1] == SecretFinding("other-production", SecretProblem.MISSING, "other-production does not exist")
    assert len(found) == 2


def test_a_fresh_secret_read_by_its_own_pods_alone_has_no_finding() -> None:
    assert _audit(ObservedSecret((SecretVersion("3", True, _at(days=2)),), frozenset({OWN}))) == ()


def test_no_enabled_version() -> None:
    held = ObservedSecret((SecretVersion("1", False, _at(days=100)), SecretVersion("2", False, _at(days=1))))
    assert _audit(attrs.evolve(held, readers=frozenset({OWN}))) == (
        SecretFinding(NAME, SecretProblem.NO_ENABLED_VERSION, f"{NAME} has no enabled version"),
    )


@given(extra=st.integers(-2, 2))
def test_rotation_is_overdue_only_once_the_latest_enabled_version_is_older_than_its_types_period(extra: int) -> None:
    latest = SecretVersion("7", True, NOW - timedelta(days=30, milliseconds=extra))
    held = ObservedSecret(
        (SecretVersion("9", False, _at(days=1)), latest, SecretVersion("6", False, _at(days=200))),
        frozenset({OWN}),
    )
    expected = (
        (
            SecretFinding(
                NAME,
                SecretProblem.ROTATION_OVERDUE,
                f"{NAME}'s latest version (7) is 30 days old: database_credentials rotate every 30 days",
            ),
        )
        if extra > 0
        else ()
    )
    assert _audit(held) == expected


def test_a_secret_of_a_type_the_file_does_not_define_is_not_judged_on_rotation() -> None:
    secrets = attrs.evolve(SECRETS, secrets=(attrs.evolve(SECRET, type="unknown"),))
    held = ObservedSecret((SecretVersion("1", True, _at(days=3000)),), frozenset({OWN, MALLORY}))
    assert _audit(held, secrets) == (
        SecretFinding(
            NAME,
            SecretProblem.UNEXPECTED_READER,
            f"{NAME} is readable by {MALLORY}, which its access does not allow (unknown: its services only)",
            (SecretReader(MALLORY),),
        ),
    )


@given(extra=st.integers(-2, 2))
def test_older_versions_are_stale_only_past_the_grace_period_after_the_latest(extra: int) -> None:
    held = ObservedSecret(
        (
            SecretVersion("1", True, _at(days=20)),
            SecretVersion("3", True, NOW - timedelta(days=7, milliseconds=extra)),
            SecretVersion("2", True, _at(days=10)),
            SecretVersion("0", False, _at(days=40)),
        ),
        frozenset({OWN}),
    )
    expected = (
        (
            SecretFinding(
                NAME,
                SecretProblem.STALE_VERSIONS,
                f"{NAME} still has 2, 1 enabled, 7 days after version 3 replaced them (grace period 7 days)",
            ),
        )
        if extra > 0
        else ()
    )
    assert _audit(held) == expected


def test_one_enabled_version_is_never_stale_and_short_ages_are_said_in_hours() -> None:
    secrets = attrs.evolve(SECRETS, grace_period=Duration.of(hours=1))
    alone = ObservedSecret((SecretVersion("1", True, _at(days=20)), SecretVersion("0", False, _at(days=21))))
    assert _audit(attrs.evolve(alone, readers=frozenset({OWN})), secrets) == ()
    held = ObservedSecret(
        (SecretVersion("1", True, _at(days=2)), SecretVersion("2", True, _at(hours=5))), frozenset({OWN})
    )
    assert _audit(held, secrets) == (
        SecretFinding(
            NAME,
            SecretProblem.STALE_VERSIONS,
            f"{NAME} still has 1 enabled, 5 hours after version 2 replaced them (grace period 1 hour)",
        ),
    )
    a_day = ObservedSecret(
        (SecretVersion("1", True, _at(days=2)), SecretVersion("2", True, _at(days=1))), frozenset({OWN})
    )
    assert "1 days after version 2" in _audit(a_day, secrets)[0].message
    half = ObservedSecret(
        (SecretVersion("1", True, _at(days=2)), SecretVersion("2", True, _at(hours=5, minutes=30))), frozenset({OWN})
    )
    assert "6 hours after version 2" in _audit(half, secrets)[0].message
    overdue = attrs.evolve(SECRETS, secret_types=(attrs.evolve(DB, rotation_period=Duration.of(hours=1)),))
    young = ObservedSecret((SecretVersion("4", True, _at(hours=23, minutes=40)),), frozenset({OWN}))
    assert _audit(young, overdue)[0].message == (
        f"{NAME}'s latest version (4) is 24 hours old: database_credentials rotate every 1 hour"
    )


def test_readers_the_access_does_not_allow_are_named_with_how_long_and_the_types_access() -> None:
    version = (SecretVersion("1", True, _at(days=1)),)
    held = ObservedSecret(
        version,
        frozenset({OWN, MALLORY, "group:all@x.io"}),
        (ConditionalReader("user:eve@example.com", f"request.time < {_stamp(NOW + timedelta(hours=5))}"),),
    )
    (finding,) = _audit(held)
    assert finding == SecretFinding(
        NAME,
        SecretProblem.UNEXPECTED_READER,
        f"{NAME} is readable by group:all@x.io, user:eve@example.com (until 2026-11-26 14:00 UTC), {MALLORY}, which "
        "its access does not allow (database_credentials: Application service accounts only)",
        (
            SecretReader("group:all@x.io"),
            SecretReader("user:eve@example.com", NOW + timedelta(hours=5)),
            SecretReader(MALLORY),
        ),
    )
    listed = attrs.evolve(SECRETS, secrets=(attrs.evolve(SECRET, readers=(MALLORY, "group:all@x.io")),))
    (finding,) = _audit(held, listed)
    assert [reader.member for reader in finding.readers] == ["user:eve@example.com"]


def test_a_shared_google_service_account_is_said_to_be_one_identity_for_every_environment() -> None:
    version = (SecretVersion("1", True, _at(days=1)),)
    (finding,) = _audit(ObservedSecret(version, frozenset({OWN, SHARED})))
    assert finding.message == (
        f"{NAME} is readable by {SHARED}, which its access does not allow (database_credentials: Application service "
        "accounts only); a Google service account per service is one identity for every environment (the pods of "
        "each environment that may act as it read this one's secret): grant each environment's pods their own "
        "principal (findly-infra secrets grant), or list the account in readers to keep it"
    )
    other = f"serviceAccount:fn-matcher@{PROJECT}.iam.gserviceaccount.com"  # not an account of a reading service
    (finding,) = _audit(ObservedSecret(version, frozenset({OWN, other})))
    assert finding.message.endswith("(database_credentials: Application service accounts only)")


def test_each_reading_service_whose_pods_hold_no_unconditional_grant_is_a_finding() -> None:
    secret = attrs.evolve(SECRET, services=("fn-posts", "fn-matcher", "fn-notifications"))
    secrets = attrs.evolve(SECRETS, secrets=(secret,))
    held = ObservedSecret(
        (SecretVersion("1", True, _at(days=1)),),
        frozenset({POOL.principal(NS, "fn-posts")}),
        (ConditionalReader(POOL.principal(NS, "fn-matcher"), f"request.time < {_stamp(NOW + timedelta(days=9))}"),),
    )
    assert _audit(held, secrets) == tuple(
        SecretFinding(
            NAME,
            SecretProblem.WORKLOAD_CANNOT_READ,
            f"{service}'s pods in production cannot read {NAME}: their principal (the Kubernetes ServiceAccount "
            f"{service} in {NS}, workload pool findly-now.svc.id.goog) holds no role on it that reads it "
            "unconditionally; grant it: findly-infra secrets grant --env production",
        )
        for service in ("fn-matcher", "fn-notifications")
    )


def test_the_findings_of_one_secret_come_in_one_order() -> None:
    held = ObservedSecret(
        (SecretVersion("1", True, _at(days=60)), SecretVersion("2", True, _at(days=40))), frozenset({MALLORY})
    )
    assert [f.problem for f in _audit(held)] == [
        SecretProblem.ROTATION_OVERDUE,
        SecretProblem.STALE_VERSIONS,
        SecretProblem.UNEXPECTED_READER,
        SecretProblem.WORKLOAD_CANNOT_READ,
    ]


# ---- who reads, and for how long ------------------------------------------------------------------------------------

FOREVER = "resource.name.endsWith('-production')"  # a condition the audit cannot judge


def _until(hours: int) -> str:
    return f"request.time < {_stamp(NOW + timedelta(hours=hours))}"


def test_readers_are_sorted_and_an_unconditional_grant_outlasts_every_condition() -> None:
    held = ObservedSecret(
        readers=frozenset({"user:b@x.io", "user:a@x.io"}),
        conditional=(
            ConditionalReader("user:b@x.io", FOREVER),
            ConditionalReader("user:c@x.io", _until(-1)),  # expired: not a reader
            ConditionalReader("user:0@x.io", _until(2)),
        ),
    )
    assert readers_at(held, NOW) == (
        SecretReader("user:0@x.io", NOW + timedelta(hours=2)),
        SecretReader("user:a@x.io"),
        SecretReader("user:b@x.io"),
    )


GRANTS = st.sampled_from(
    [
        _until(3),
        _until(7),
        _until(-3),
        f"request.time > {_stamp(NOW - timedelta(days=1))}",  # judged, and never ends
        FOREVER,
        f"{_until(5)} && {FOREVER}",
        f"{_until(9)} && {FOREVER}",
        "",
    ]
)


def _rank(reader: SecretReader) -> tuple[bool, datetime, bool]:
    """The model of "the longest-lasting grant wins": no end beats an end, a later end an earlier one; of two that
    end together, the judged one (it reads for certain)."""
    return reader.until is None, reader.until or datetime.min, reader.condition is None


def test_a_condition_not_judged_lasts_no_longer_than_its_own_expiry() -> None:
    """Defect (issue 23, found by pinning ``_longer``): a grant whose condition was not fully judged won over any
    expiry — even when its own expiry came first — so the audit said "until 14:00" of a member that reads for 100
    hours; and which of two endless grants was said hung on their order."""
    held = ObservedSecret(
        conditional=(ConditionalReader(MALLORY, _until(100)), ConditionalReader(MALLORY, f"{_until(5)} && {FOREVER}"))
    )
    assert readers_at(held, NOW) == (SecretReader(MALLORY, NOW + timedelta(hours=100)),)
    endless = f"request.time > {_stamp(NOW - timedelta(days=1))}"
    for grants in ((endless, FOREVER), (FOREVER, endless)):
        held = ObservedSecret(conditional=tuple(ConditionalReader(MALLORY, e) for e in grants))
        assert readers_at(held, NOW) == (SecretReader(MALLORY),)


@given(st.lists(GRANTS, min_size=1, max_size=4))
def test_a_members_longest_lasting_grant_is_the_one_said(expressions: list[str]) -> None:
    held = ObservedSecret(conditional=tuple(ConditionalReader(MALLORY, e) for e in expressions))
    candidates = []
    for expression in expressions:
        verdict = judge_condition(expression, NOW)
        if verdict.can_hold:
            candidates.append(SecretReader(MALLORY, verdict.until, None if verdict.judged else expression))
    best = None
    for candidate in candidates:  # the first of the longest
        if best is None or _rank(candidate) > _rank(best):
            best = candidate
    assert readers_at(held, NOW) == ((best,) if best is not None else ())


# ---- judging a condition ------------------------------------------------------------------------------------------

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


@st.composite
def bounds(draw: st.DrawFn) -> tuple[str, str | None, datetime | None]:
    """One part of a condition: (its text, the operator with request.time on the left or None, the moment)."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from([FOREVER, "true", 'request.time.getHours("Europe/Berlin") < 18'])), None, None
    op = draw(st.sampled_from(sorted(_FLIP)))
    moment = NOW + timedelta(minutes=draw(st.sampled_from([-600, -1, 0, 1, 600])))
    space = draw(st.sampled_from(["", " ", "  "]))
    if draw(st.booleans()):
        return f"{_stamp(moment)}{space}{_FLIP[op]}{space}request.time", op, moment
    return f"request.time{space}{op}{space}{_stamp(moment)}", op, moment


def test_a_conjunction_of_expiries_holds_until_the_earliest() -> None:
    """Exact, before the property below: a mutant fails here at once rather than in a long shrink."""
    assert judge_condition(f"{_until(9)} && {_until(4)} && {_until(6)}", NOW) == ConditionVerdict(
        True, NOW + timedelta(hours=4)
    )
    assert judge_condition(f"{_until(9)} && {_until(-1)} && {_until(-2)}", NOW) == ConditionVerdict(
        False, NOW - timedelta(hours=1)
    )


@given(parts=st.lists(bounds(), min_size=1, max_size=4), wrap=st.lists(st.booleans(), min_size=5, max_size=5))
def test_a_conjunction_holds_until_its_earliest_expiry_and_ends_at_the_first_passed(
    parts: list[tuple[str, str | None, datetime | None]], wrap: list[bool]
) -> None:
    texts = [f"({text})" if wrap[i] else text for i, (text, _, _) in enumerate(parts)]
    expression = " && ".join(texts)
    if wrap[-1]:
        expression = f"( {expression} )"
    until: datetime | None = None
    judged = True
    expected = None
    for _, op, moment in parts:
        if op is None or moment is None:
            judged = False
            continue
        if op in ("<", "<="):
            if moment < NOW or (op == "<" and moment == NOW):
                expected = ConditionVerdict(can_hold=False, until=moment)
                break
            until = moment if until is None else min(until, moment)
    if expected is None:
        expected = ConditionVerdict(can_hold=True, until=until, judged=judged)
    assert judge_condition(expression, NOW) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "()",
        f"{_until(-5)} || true",
        f"({_until(-5)}) || ({_until(-6)})",
        f'{_until(-5)} || resource.name == "a&&b"',
        "!(" + _until(-5) + ")",
        'request.time < timestamp("2026-13-45T00:00:00Z")',  # not a time
        'request.time < timestamp("2020-01-01T00:00:00")',  # no offset: not RFC 3339
        "request.time < timestamp(\"2020-01-01T00:00:00Z')",  # the quotes do not match
        f"{_until(-5)} == false",
        f"{_until(-5)}) && ({FOREVER}",  # not balanced: not understood
        f"{_until(-5)} && (x",
        f"true &&& {_until(-5)}",  # not CEL
        f"{_until(-5)} // a comment && true",  # a comment: not read here
        f"{FOREVER} // a comment\n && {_until(-5)}",
    ],
)
def test_a_condition_the_audit_cannot_read_may_hold(expression: str) -> None:
    assert judge_condition(expression, NOW) == ConditionVerdict(can_hold=True, until=None, judged=False)


def test_an_expiry_is_read_in_any_offset_and_either_quote() -> None:
    verdict = judge_condition("request.time <= timestamp('2026-11-26T11:30:00+02:00')", NOW)
    assert verdict == ConditionVerdict(can_hold=True, until=datetime(2026, 11, 26, 9, 30))
    assert judge_condition("request.time <= timestamp('2026-11-26T10:00:00+01:00')", NOW) == ConditionVerdict(
        True, datetime(2026, 11, 26, 9, 0)
    )
    assert judge_condition("request.time < timestamp('2026-11-26T10:00:00+01:00')", NOW) == ConditionVerdict(
        False, datetime(2026, 11, 26, 9, 0)
    )
    assert judge_condition(f'timestamp( "{NOW.isoformat()}Z" ) >= request.time', NOW) == ConditionVerdict(True, NOW)


@pytest.mark.parametrize(
    ("expression", "verdict"),
    [
        # a string literal may hold what would split the condition outside it: &&, ||, parentheses, escaped quotes
        (f'resource.name == "x || y" && {_until(-5)}', ConditionVerdict(False, NOW - timedelta(hours=5))),
        (f'resource.name == "a\\"|| (" && {_until(-5)}', ConditionVerdict(False, NOW - timedelta(hours=5))),
        (f"resource.name == 'it\\'s (' && {_until(-5)}", ConditionVerdict(False, NOW - timedelta(hours=5))),
        (f'({_until(-5)}) && (resource.name == ")(")', ConditionVerdict(False, NOW - timedelta(hours=5))),
        (f"(({_until(4)})) && ((true))", ConditionVerdict(True, NOW + timedelta(hours=4), judged=False)),
        (f"(X == 1 && {_until(4)})", ConditionVerdict(True, NOW + timedelta(hours=4), judged=False)),
        (f"{_until(9)} && {_until(4)} && {_until(6)}", ConditionVerdict(True, NOW + timedelta(hours=4))),
        (f"X == 1 && {_until(-5)}", ConditionVerdict(False, NOW - timedelta(hours=5))),
        (f"{FOREVER}&&{_until(-5)}", ConditionVerdict(False, NOW - timedelta(hours=5))),
        (f"({_until(4)})&&(x)", ConditionVerdict(True, NOW + timedelta(hours=4), judged=False)),
        (f'({_until(4)} && resource.name == "a\\\\") ', ConditionVerdict(True, NOW + timedelta(hours=4), judged=False)),
        # a part in parentheses is not a conjunct of the whole
        (f"({_until(-5)} || true) && {_until(4)}", ConditionVerdict(True, NOW + timedelta(hours=4), judged=False)),
    ],
)
def test_literals_and_parentheses_are_read_as_cel_reads_them(expression: str, verdict: ConditionVerdict) -> None:
    assert judge_condition(expression, NOW) == verdict


@pytest.mark.parametrize(
    "expression",
    [
        # `?:` binds looser than `&&` and `||` (google/cel-spec doc/langdef.md, operator precedence): the whole is a
        # conditional, not a conjunction — the expired part decides nothing here
        f"{_until(-5)} && false ? false : true",
        f"({_until(-5)}) ? false : true",
        # a list or a map is a bracket too: an expiry inside one is not a conjunct of the whole
        f"[false && {_until(-5)} && true, true][1]",
        f'{{"k": true && {_until(-5)} && true, "j": true}}["j"]',
        # a raw string does not escape its quote: r"\" is one backslash, and what follows is outside it
        f'{_until(-5)} && r"\\" || true || "" == ""',
        f'{_until(-5)} && rb"\\" || true || "\\""',
        f'{_until(-5)} && bR"\\" || true || "\\""',
        f'r"\\" || true || "\\"" && {_until(-5)}',
        # a triple-quoted string may hold a lone quote
        f'{_until(-5)} && """ " """ != "" || true',
        # a comment runs to the end of its line
        f"{_until(-5)} && true // ' \n || true",
    ],
)
def test_an_expiry_that_is_not_a_conjunct_of_the_whole_ends_nothing(expression: str) -> None:
    """Defect (issue 23, found by pinning ``_top_level``): the audit split a condition on ``&&`` without reading it as
    CEL does — a conditional (``?:``), a list or a map, a raw or triple-quoted string, a comment — and judged an
    expired part that is no conjunct of the whole as ending the grant: a reader that can read was not named."""
    verdict = judge_condition(expression, NOW)
    assert verdict.can_hold
    assert not verdict.judged


def test_a_raw_or_triple_quoted_string_that_hides_nothing_is_still_read() -> None:
    assert judge_condition(f'resource.name == r"a\\" && {_until(-5)}', NOW) == ConditionVerdict(
        False, NOW - timedelta(hours=5)
    )
    assert judge_condition(f'resource.name == """a"b""" && {_until(-5)}', NOW) == ConditionVerdict(
        False, NOW - timedelta(hours=5)
    )
    assert judge_condition(f"resource.name == '''it's''' && {_until(3)}", NOW) == ConditionVerdict(
        True, NOW + timedelta(hours=3), judged=False
    )


# ---- the release gate ---------------------------------------------------------------------------------------------


def test_the_gate_names_the_secrets_a_service_reads_that_are_missing_or_have_no_enabled_version() -> None:
    secrets = SecretManagement(
        secrets=(
            ManagedSecret("a", "api_keys", ("fn-posts",)),
            ManagedSecret("b", "api_keys", ("fn-matcher", "fn-posts")),
            ManagedSecret("c", "api_keys", ("fn-posts",)),
            ManagedSecret("d", "api_keys", ("fn-posts",)),
            ManagedSecret("e", "api_keys", ("fn-matcher",)),
        )
    )
    observed: dict[str, ObservedSecret | None] = {
        "a-staging": ObservedSecret((SecretVersion("1", False, NOW), SecretVersion("2", True, NOW))),
        "b-staging": ObservedSecret((SecretVersion("1", False, NOW),)),
        "c-staging": None,
    }
    assert unavailable_for("fn-posts", "staging", secrets, observed) == ("b-staging", "c-staging", "d-staging")
    assert unavailable_for("fn-matcher", "staging", secrets, observed) == ("b-staging", "e-staging")
    assert unavailable_for("fn-other", "staging", secrets, observed) == ()
