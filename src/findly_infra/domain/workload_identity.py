"""Which Kubernetes workload may read which secret, as IAM names it (pure).

Workload Identity Federation for GKE lets IAM grant a role to a Kubernetes ServiceAccount directly, as the principal

    principal://iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/PROJECT_ID.svc.id.goog/subject/ns/NAMESPACE/sa/KSA_NAME

— what Google recommends today ("Workload Identity Federation for GKE",
https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity, "Configure applications to use Workload
Identity Federation for GKE"; the identifier's form: https://cloud.google.com/iam/docs/principal-identifiers), with no
Google service account in between. Each service's pods run as the KSA ``<service>`` (the Deployment's
``serviceAccountName``) in its environment's namespace, so each environment's pods are their own principal: a grant on
``posts-db-password-production`` to production's ``fn-posts`` lets staging's ``fn-posts`` read nothing of it — which a
single Google service account per service, impersonated from every environment, would.

The pool is the project's (``PROJECT_ID.svc.id.goog``, the only one GKE gives a cluster); the number in the path is
that project's number. Every cluster of the project with Workload Identity shares the pool, so a namespace and KSA
name are one principal across them ("identity sameness", same page).
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "PRINCIPAL_PREFIX",
    "KubernetesPrincipal",
    "WorkloadPool",
    "kubernetes_principal",
    "parse_kubernetes_principal",
    "project_number_problem",
    "workload_pool",
]

PRINCIPAL_PREFIX = "principal://iam.googleapis.com/projects/"
_PROJECT_NUMBER = re.compile(r"^[1-9][0-9]{0,19}$")
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
"""A project ID: "6 to 30 lowercase letters, digits, or hyphens … start with a letter … cannot end with a hyphen"
(https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin)."""
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PRINCIPAL = re.compile(
    r"^principal://iam\.googleapis\.com/projects/(?P<number>[0-9]+)/locations/global/workloadIdentityPools/"
    r"(?P<project>[^/]+)\.svc\.id\.goog/subject/ns/(?P<namespace>[^/]+)/sa/(?P<account>[^/]+)$"
)


def workload_pool(project: str) -> str:
    """The Workload Identity pool of a project's clusters: "The workload pool is always PROJECT_ID.svc.id.goog"."""
    return f"{project}.svc.id.goog"


def project_number_problem(number: str) -> str | None:
    """What is wrong with *number* as a Google Cloud project number (digits, as ``gcloud projects describe``
    prints its ``projectNumber``), or ``None``."""
    if _PROJECT_NUMBER.match(number):
        return None
    return (
        f"{number!r} is not a project number (its digits: gcloud projects describe PROJECT "
        "--format='value(projectNumber)')"
    )


def kubernetes_principal(project_number: str, project: str, namespace: str, account: str) -> str:
    """The IAM principal of the Kubernetes ServiceAccount *account* in *namespace*, in the workload pool of *project*
    (whose number is *project_number*). Raises ``ValueError`` for parts that cannot name one: a number that is not
    digits, a project that is not a project ID, a namespace that is not a DNS label (Kubernetes' rule for
    namespaces) or an account that is not a DNS subdomain (its rule for ServiceAccount names)."""
    problem = project_number_problem(project_number)
    if problem is not None:
        raise ValueError(problem)
    if not _PROJECT_ID.match(project):
        raise ValueError(f"{project!r} is not a Google Cloud project ID")
    if not _DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise ValueError(f"{namespace!r} is not a Kubernetes namespace name")
    if not _DNS_SUBDOMAIN.match(account) or len(account) > 253:
        raise ValueError(f"{account!r} is not a Kubernetes ServiceAccount name")
    return (
        f"{PRINCIPAL_PREFIX}{project_number}/locations/global/workloadIdentityPools/{workload_pool(project)}"
        f"/subject/ns/{namespace}/sa/{account}"
    )


@attrs.frozen
class KubernetesPrincipal:
    """The parts of a Kubernetes ServiceAccount's principal."""

    project_number: str
    project: str
    namespace: str
    account: str


def parse_kubernetes_principal(member: str) -> KubernetesPrincipal | None:
    """The parts of a Kubernetes ServiceAccount's principal (:func:`kubernetes_principal`), or ``None`` for any other
    member."""
    match = _PRINCIPAL.match(member)
    if match is None:
        return None
    return KubernetesPrincipal(match["number"], match["project"], match["namespace"], match["account"])


@attrs.frozen
class WorkloadPool:
    """The workload pool of *project* (``<project>.svc.id.goog``) and, where known, that project's *number* — which
    the principal names, and which the platform file gives as ``gke_cluster.project_number``."""

    project: str
    number: str | None = None

    @property
    def name(self) -> str:
        return workload_pool(self.project)

    def principal(self, namespace: str, account: str) -> str:
        """The principal of *account* in *namespace*; ``ValueError`` when the project's number is not known."""
        if self.number is None:
            raise ValueError(
                f"the number of project {self.project} is not known: give gke_cluster.project_number (gcloud projects "
                f"describe {self.project} --format='value(projectNumber)')"
            )
        return kubernetes_principal(self.number, self.project, namespace, account)

    def is_principal_of(self, member: str, namespace: str, account: str) -> bool:
        """Whether *member* is *account* in *namespace* of this pool. Without the project's number, any number is
        taken: the pool ``<project>.svc.id.goog`` exists in that one project (GKE makes it; a pool of one's own cannot
        hold a ``.``), so the number adds nothing to who it is."""
        parsed = parse_kubernetes_principal(member)
        return (
            parsed is not None
            and parsed.project == self.project
            and parsed.namespace == namespace
            and parsed.account == account
            and (self.number is None or parsed.project_number == self.number)
        )
