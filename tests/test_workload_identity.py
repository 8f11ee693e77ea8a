"""Who each environment's pods are to IAM (``domain.workload_identity``) and which grants they need
(``domain.secrets.secret_grants``), property-tested; and what ``validate`` says when the release gate is on but the
pods could not read their secrets (rule ``workload-identity``).

The principal's form is Google's: ``principal://iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/
workloadIdentityPools/PROJECT_ID.svc.id.goog/subject/ns/NAMESPACE/sa/KSA_NAME``
(https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity)."""

from __future__ import annotations

import attrs
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import load_platform, validate_platform_text
from findly_infra.domain import ManagedSecret
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.infrastructure import GKECluster
from findly_infra.domain.secrets import secret_grants
from findly_infra.domain.workload_identity import (
    WorkloadPool,
    kubernetes_principal,
    parse_kubernetes_principal,
)

from .conftest import EXAMPLE

projects = st.from_regex(r"\A[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")
numbers = st.integers(1, 10**19 - 1).map(str)
namespaces = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?\Z")
accounts = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")


@given(number=numbers, project=projects, namespace=namespaces, account=accounts)
def test_a_principal_is_googles_form_and_reads_back(number: str, project: str, namespace: str, account: str) -> None:
    member = kubernetes_principal(number, project, namespace, account)
    assert member == (
        f"principal://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/"
        f"{project}.svc.id.goog/subject/ns/{namespace}/sa/{account}"
    )
    parsed = parse_kubernetes_principal(member)
    assert parsed is not None
    assert (parsed.project_number, parsed.project, parsed.namespace, parsed.account) == (
        number,
        project,
        namespace,
        account,
    )
    pool = WorkloadPool(project, number)
    assert pool.principal(namespace, account) == member
    assert pool.is_principal_of(member, namespace, account)
    assert WorkloadPool(project).is_principal_of(member, namespace, account)  # the pool names the project
    assert not pool.is_principal_of(member, f"{namespace}-x", account)
    assert not WorkloadPool(project, f"{number}1").is_principal_of(member, namespace, account)
    assert not pool.is_principal_of(f"serviceAccount:{account}@{project}.iam.gserviceaccount.com", namespace, account)


@given(
    number=st.text(min_size=0, max_size=14).filter(lambda n: not (n.isascii() and n.isdigit() and n[0] != "0")),
    project=projects,
)
def test_a_project_number_is_its_digits_or_refused(number: str, project: str) -> None:
    with pytest.raises(ValueError, match="project number"):
        kubernetes_principal(number, project, "findly-now-production", "fn-posts")
    with pytest.raises(InvariantError, match="project number"):
        GKECluster("findly-production", "us-central1", project=project, project_number=number)
    with pytest.raises(ValueError, match=r"gke_cluster\.project_number"):
        WorkloadPool(project).principal("findly-now-production", "fn-posts")


@given(namespace=st.sampled_from(["Findly", "-x", "x" * 64, "a/b", ""]), account=st.sampled_from(["fn-posts", "A_B"]))
def test_names_kubernetes_would_refuse_name_no_principal(namespace: str, account: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes"):
        kubernetes_principal("123456789012", "findly-now", namespace, account)


readers = st.lists(st.sampled_from(["fn-posts", "fn-matcher", "fn-notifications"]), min_size=0, max_size=3, unique=True)


@given(
    secrets=st.lists(
        st.tuples(st.sampled_from(["db", "key", "token", "cert"]), readers), max_size=4, unique_by=lambda s: s[0]
    ),
    environments=st.lists(
        st.sampled_from(["development", "staging", "production"]), min_size=2, max_size=2, unique=True
    ),
)
def test_each_environments_grants_name_its_own_pods_only(
    secrets: list[tuple[str, list[str]]], environments: list[str]
) -> None:
    platform = load_platform(EXAMPLE)
    assert platform.secret_management is not None
    managed = attrs.evolve(
        platform.secret_management,
        secrets=tuple(ManagedSecret(name, "api_keys", tuple(services)) for name, services in secrets),
    )
    pool = WorkloadPool("findly-now", "123456789012")
    members = []
    for environment in environments:
        namespace = platform.kubernetes.namespace_for(environment)
        grants = secret_grants(managed, environment, namespace, pool)
        assert [(g.secret, g.service) for g in grants] == [
            (f"{name}-{environment}", service) for name, services in secrets for service in services
        ]
        for grant in grants:
            parsed = parse_kubernetes_principal(grant.member)
            assert parsed is not None
            assert (parsed.namespace, parsed.account) == (namespace, grant.service)
        members.append({g.member for g in grants})
    assert not members[0] & members[1]  # staging's pods are never granted production's secrets


def _validated(**changes: object) -> list[tuple[str, str, str]]:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["secret_management"]["secrets"] = {
        "posts-db-password": {"type": "database_credentials", "services": ["fn-posts"]}
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        document[section][field] = value
    report = validate_platform_text(yaml.safe_dump(document, sort_keys=False))
    assert report.ok, [str(e) for e in report.errors]
    return [(w.rule, w.path, w.message) for w in report.warnings if w.rule == "workload-identity"]


def test_validate_warns_when_the_gated_secrets_could_not_be_read_by_the_pods() -> None:
    """Defect (issue 22): ``release_gate: true`` checked that the secrets exist while nothing let the pods read them."""
    assert _validated() == []  # no gate: the file does not say the pods depend on them
    warned = _validated(secret_management__release_gate=True)
    assert [path for _, path, _ in warned] == ["gke_cluster.workload_identity", "gke_cluster.project_number"]
    assert "set it to true" in warned[0][2]
    assert "gcloud projects describe PROJECT --format='value(projectNumber)'" in warned[1][2]
    off = _validated(secret_management__release_gate=True, gke_cluster__workload_identity=False)
    assert "turns it off" in off[0][2]
    assert (
        _validated(
            secret_management__release_gate=True,
            gke_cluster__workload_identity=True,
            gke_cluster__project_number=123456789012,
        )
        == []
    )


def test_the_gke_pages_workload_identity_block_loads_as_written() -> None:
    import re

    from tests.conftest import ROOT

    page = (ROOT / "docs" / "gke.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "project_number" in b]
    document = yaml.safe_load(EXAMPLE.read_text())
    document["gke_cluster"].update(yaml.safe_load(block)["gke_cluster"])
    report = validate_platform_text(yaml.safe_dump(document, sort_keys=False))
    assert report.ok, [str(e) for e in report.errors]
    assert report.platform is not None
    cluster = report.platform.gke_cluster
    assert cluster is not None
    assert (cluster.project, cluster.project_number, cluster.workload_identity) == ("findly-now", "123456789012", True)
