"""The rules of ``domain.workload_identity``, pinned against Google's documentation: the workload pool
``PROJECT_ID.svc.id.goog`` and the principal ``principal://iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/
workloadIdentityPools/PROJECT_ID.svc.id.goog/subject/ns/NAMESPACE/sa/KSA_NAME``
(https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity,
https://cloud.google.com/iam/docs/principal-identifiers); project IDs and numbers
(https://cloud.google.com/resource-manager/docs/creating-managing-projects); namespaces are DNS labels and
ServiceAccount names DNS subdomains (Kubernetes' object names)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.workload_identity import (
    KubernetesPrincipal,
    WorkloadPool,
    kubernetes_principal,
    parse_kubernetes_principal,
    project_number_problem,
    workload_pool,
)

PRINCIPAL = (
    "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/findly-now.svc.id.goog"
    "/subject/ns/prod/sa/fn-posts"
)


def test_the_pool_and_the_principal() -> None:
    assert workload_pool("findly-now") == "findly-now.svc.id.goog"
    assert kubernetes_principal("123", "findly-now", "prod", "fn-posts") == PRINCIPAL
    assert parse_kubernetes_principal(PRINCIPAL) == KubernetesPrincipal("123", "findly-now", "prod", "fn-posts")


@pytest.mark.parametrize("number", ["1", "123456789012", "9" * 20])
def test_project_numbers(number: str) -> None:
    assert project_number_problem(number) is None


@pytest.mark.parametrize("number", ["", "0", "012", "12a", "9" * 21, "-1", "1 "])
def test_not_project_numbers(number: str) -> None:
    assert project_number_problem(number) == (
        f"{number!r} is not a project number (its digits: gcloud projects describe PROJECT "
        "--format='value(projectNumber)')"
    )


def test_what_cannot_name_a_principal() -> None:
    with pytest.raises(ValueError, match=r"^'x' is not a project number"):
        kubernetes_principal("x", "findly-now", "prod", "fn")
    for project in ("findl", "Findly-now", "1findly", "findly-", "a" * 31):
        with pytest.raises(ValueError, match=r" ") as error:
            kubernetes_principal("1", project, "prod", "fn")
        assert str(error.value) == f"{project!r} is not a Google Cloud project ID"
    assert kubernetes_principal("1", "a" * 30, "prod", "fn").endswith("/sa/fn")
    for namespace in ("Prod", "-prod", "prod-", "a.b", "a" * 64, ""):
        with pytest.raises(ValueError, match=r" ") as error:
            kubernetes_principal("1", "findly-now", namespace, "fn")
        assert str(error.value) == f"{namespace!r} is not a Kubernetes namespace name"
    assert "/ns/" + "a" * 63 + "/" in kubernetes_principal("1", "findly-now", "a" * 63, "fn")
    for account in ("Fn", "-fn", "fn.", "a..b", "a" * 254, ""):
        with pytest.raises(ValueError, match=r" ") as error:
            kubernetes_principal("1", "findly-now", "prod", account)
        assert str(error.value) == f"{account!r} is not a Kubernetes ServiceAccount name"
    assert kubernetes_principal("1", "findly-now", "prod", "fn.posts-1").endswith("/sa/fn.posts-1")
    long = ".".join(["a" * 63] * 4)[:253]
    assert kubernetes_principal("1", "findly-now", "prod", long.rstrip(".")).endswith(long.rstrip("."))


@pytest.mark.parametrize(
    "member",
    [
        "serviceAccount:ci@p.iam.gserviceaccount.com",
        PRINCIPAL.replace("projects/123", "projects/x"),
        PRINCIPAL.replace("/locations/global/", "/locations/us/"),
        PRINCIPAL + "/more",
        "x" + PRINCIPAL,
        PRINCIPAL.replace(".svc.id.goog", ".example"),
    ],
)
def test_other_members_are_not_kubernetes_principals(member: str) -> None:
    assert parse_kubernetes_principal(member) is None


def test_a_pool_knows_its_principals() -> None:
    pool = WorkloadPool("findly-now", "123")
    assert pool.name == "findly-now.svc.id.goog"
    assert pool.principal("prod", "fn-posts") == PRINCIPAL
    assert pool.is_principal_of(PRINCIPAL, "prod", "fn-posts") is True
    assert pool.is_principal_of(PRINCIPAL, "staging", "fn-posts") is False
    assert pool.is_principal_of(PRINCIPAL, "prod", "fn-users") is False
    assert WorkloadPool("findly-other", "123").is_principal_of(PRINCIPAL, "prod", "fn-posts") is False
    assert WorkloadPool("findly-now", "456").is_principal_of(PRINCIPAL, "prod", "fn-posts") is False
    assert pool.is_principal_of("user:alice@example.com", "prod", "fn-posts") is False
    unnumbered = WorkloadPool("findly-now")
    assert unnumbered.is_principal_of(PRINCIPAL, "prod", "fn-posts") is True  # any number: the pool is the project's
    with pytest.raises(ValueError, match=r" ") as error:
        unnumbered.principal("prod", "fn-posts")
    assert str(error.value) == (
        "the number of project findly-now is not known: give gke_cluster.project_number (gcloud projects describe "
        "findly-now --format='value(projectNumber)')"
    )


@given(
    st.from_regex(r"\A[1-9][0-9]{0,19}\Z"),
    st.from_regex(r"\A[a-z][a-z0-9-]{4,28}[a-z0-9]\Z"),
    st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z"),
    st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?(\.[a-z0-9]{1,5})?\Z"),
)
def test_a_principal_reads_back_as_its_parts(number: str, project: str, namespace: str, account: str) -> None:
    principal = kubernetes_principal(number, project, namespace, account)
    assert parse_kubernetes_principal(principal) == KubernetesPrincipal(number, project, namespace, account)
    assert WorkloadPool(project, number).is_principal_of(principal, namespace, account)
