"""A Kubernetes API server on 127.0.0.1 for tests (``KubernetesStandIn``): the real ``kubernetes`` client and
``kubectl`` talk to it over HTTP; it validates with the real schemas (and Istio's published CRD rules) and keeps
server-side apply, ``resourceVersion``, status, scale, paging and watch semantics, worded as kube-apiserver words its
answers. Needs the ``testing`` extra (``kubernetes-validate``, ``jsonschema``, ``cel-python``)."""

from __future__ import annotations

from findly_infra.testing.kubernetes.server import APIError, AuditRecord, Fault, KubernetesStandIn

__all__ = ["APIError", "AuditRecord", "Fault", "KubernetesStandIn"]
