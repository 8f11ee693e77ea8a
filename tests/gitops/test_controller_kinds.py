"""The Kubernetes stand-in serves Argo CD's Application and Flux's Kustomization as their published CRDs declare them
(testing/kubernetes/crds.py), to the real ``kubernetes`` client: created, read, patched, their status written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from findly_infra.testing.kubernetes import KubernetesStandIn

kubernetes = pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

ARGO = ("argoproj.io", "v1alpha1", "argocd", "applications")
FLUX = ("kustomize.toolkit.fluxcd.io", "v1", "flux-system", "kustomizations")


@pytest.fixture
def api() -> Iterator[Any]:
    with KubernetesStandIn() as cluster:
        client = kubernetes.client.ApiClient(cluster.configuration())
        core = kubernetes.client.CoreV1Api(client)
        for namespace in ("argocd", "flux-system"):
            core.create_namespace({"metadata": {"name": namespace}})
        yield kubernetes.client.CustomObjectsApi(client)


def application(name: str = "findly-production", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/findly-now/deploy.git", "path": "k8s/overlays/production"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "findly-production"},
            **spec,
        },
    }


def kustomization(name: str = "findly-production", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "1m",
            "prune": True,
            "path": "./k8s/overlays/production",
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            **spec,
        },
    }


def test_an_application_is_created_read_and_its_status_written_with_the_object(api: Any) -> None:
    created = api.create_namespaced_custom_object(*ARGO, application())
    assert created["metadata"]["generation"] == 1
    status = {
        "sync": {"status": "Synced", "revision": "a" * 40},
        "health": {"status": "Healthy"},
        "operationState": {"phase": "Succeeded", "operation": {}, "startedAt": "2026-12-01T10:00:00Z"},
        "reconciledAt": "2026-12-01T10:00:00Z",
    }
    # Argo CD's CRD has no status subresource ("subresources: {}"): the controller patches the whole object
    patched = api.patch_namespaced_custom_object(*ARGO, "findly-production", {"status": status})
    assert patched["status"] == status
    assert patched["metadata"]["generation"] == 1  # a status change is not a spec change
    read = api.get_namespaced_custom_object(*ARGO, "findly-production")
    assert read["status"]["sync"] == {"status": "Synced", "revision": "a" * 40}
    with pytest.raises(kubernetes.client.ApiException) as refused:
        api.patch_namespaced_custom_object_status(*ARGO, "findly-production", {"status": status})
    assert refused.value.status == 404


def test_an_application_without_project_or_destination_is_refused_as_the_crd_requires(api: Any) -> None:
    body = application()
    del body["spec"]["project"], body["spec"]["destination"]
    body["spec"]["source"] = {"path": "k8s"}  # repoURL is the source's one required field
    with pytest.raises(kubernetes.client.ApiException) as refused:
        api.create_namespaced_custom_object(*ARGO, body)
    assert refused.value.status == 422
    for field in ("spec.project", "spec.destination", "spec.source.repoURL"):
        assert f"{field}: Required value" in refused.value.body


def test_a_kustomization_status_moves_only_through_its_status_subresource(api: Any) -> None:
    created = api.create_namespaced_custom_object(*FLUX, kustomization())
    # the CRD's defaults, set by the server: spec.force false, status.observedGeneration -1
    assert created["spec"]["force"] is False
    assert created["status"] == {"observedGeneration": -1}
    ignored = api.patch_namespaced_custom_object(
        *FLUX, "findly-production", {"status": {"lastAppliedRevision": "main@sha1:" + "b" * 40}}
    )
    assert "lastAppliedRevision" not in ignored["status"]
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "ReconciliationSucceeded",
        "message": "Applied revision: main@sha1:" + "b" * 40,
        "lastTransitionTime": "2026-12-01T10:00:00Z",
    }
    written = api.patch_namespaced_custom_object_status(
        *FLUX,
        "findly-production",
        {
            "status": {"lastAppliedRevision": "main@sha1:" + "b" * 40, "observedGeneration": 1, "conditions": [ready]},
        },
    )
    assert written["status"]["conditions"] == [ready]
    assert written["status"]["lastAppliedRevision"] == "main@sha1:" + "b" * 40
    # and a status write leaves the spec alone
    untouched = api.patch_namespaced_custom_object_status(*FLUX, "findly-production", {"spec": {"path": "./other"}})
    assert untouched["spec"]["path"] == "./k8s/overlays/production"


def test_a_kustomization_is_checked_against_the_published_schema(api: Any) -> None:
    body = kustomization(interval="every minute")
    del body["spec"]["prune"]
    with pytest.raises(kubernetes.client.ApiException) as refused:
        api.create_namespaced_custom_object(*FLUX, body)
    assert refused.value.status == 422
    assert "spec.interval in body should match" in refused.value.body
    assert "spec.prune: Required value" in refused.value.body
    api.create_namespaced_custom_object(*FLUX, kustomization())
    condition = {"type": "Ready", "status": "Maybe", "reason": "Not a reason", "message": "", "lastTransitionTime": "x"}
    with pytest.raises(kubernetes.client.ApiException) as refused:
        api.patch_namespaced_custom_object_status(*FLUX, "findly-production", {"status": {"conditions": [condition]}})
    assert refused.value.status == 422
    message = json.loads(refused.value.body)["message"]
    assert 'status.conditions[0].status: Unsupported value: "Maybe"' in message
    assert "status.conditions[0].reason in body should match" in message


def test_discovery_lists_both_kinds_with_the_subresources_their_crds_declare(api: Any) -> None:
    def resources(path: str) -> set[str]:
        # as the adapter sends a request by path (adapters/kubernetes.py: param_serialize, then call_api)
        client = api.api_client
        request = client.param_serialize("GET", path, header_params={"Accept": "application/json"}, auth_settings=[])
        response = client.call_api(*request)
        response.read()
        return {resource["name"] for resource in json.loads(response.data)["resources"]}

    assert resources("/apis/argoproj.io/v1alpha1") == {"applications"}
    assert resources("/apis/kustomize.toolkit.fluxcd.io/v1") == {"kustomizations", "kustomizations/status"}
