"""Two regions on the stand-ins, for the end-to-end tests and the benchmark: the primary region's cluster (a Kubernetes
stand-in, production bound to it), the DR region's (a second stand-in, reached through ``failover.context`` of the
same kubeconfig), GKE holding the primary cluster only (the DR one is created by the failover's ``cluster`` step),
Cloud DNS holding the zone with the record at the primary address, and a state whose services were released to
production — their events decided by the pipeline (``DeploymentPipeline``, as the use cases decide them), the primary
cluster then brought to them by ``findly-infra apply``."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
import yaml

from findly_infra import load_platform
from findly_infra.bootstrap import Settings, open_runtime
from findly_infra.cli import main
from findly_infra.domain.platform import Platform
from findly_infra.testing.cloud_dns import CloudDnsStandIn
from findly_infra.testing.cloud_dns import RecordSet as DnsRecordSet
from findly_infra.testing.gke import GkeStandIn
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.conftest import EXAMPLE
from tests.recovery.fakes import released

__all__ = [
    "DR_ADDRESS",
    "DR_CONTEXT",
    "NAMESPACE",
    "PRIMARY_ADDRESS",
    "PRIMARY_CONTEXT",
    "PROJECT",
    "RECORD",
    "ZONE",
    "Regions",
    "WatchedDns",
    "platform_text",
    "regions",
]

PROJECT = "findly-now"
PRIMARY_CONTEXT = "gke_findly-now_us-central1_findly-production"
DR_CONTEXT = "gke_findly-now_us-east1_findly-production-dr"
"""The example's ``failover.context``."""
ZONE, RECORD = "findly-now", "api.findly.now."
PRIMARY_ADDRESS, DR_ADDRESS = ("203.0.113.10",), ("198.51.100.10",)
NAMESPACE = "findly-now-production"


def platform_text(services: int = 0) -> str:
    """The example platform file with production bound to the primary region's cluster; with *services*, its
    ``services:`` section holding that many (``fn-svc-001`` …, each a copy of the example's first service)."""
    text = EXAMPLE.read_text()
    anchor = 'kubernetes:\n  namespace: "findly-now"\n'
    assert anchor in text
    text = text.replace(anchor, f"{anchor}  clusters:\n    production: {{context: {PRIMARY_CONTEXT}}}\n", 1)
    if services:
        document = yaml.safe_load(text)
        first = document["services"][0]
        document["services"] = [{**first, "name": f"fn-svc-{index:03d}"} for index in range(1, services + 1)]
        if "ingress_configuration" in document:  # its backends name the example's services: every service is ours
            del document["ingress_configuration"]
        text = yaml.safe_dump(document, sort_keys=False)
    return text


@attrs.define
class Regions:
    """What survives a process: the two clusters, GKE, Cloud DNS, the state, the platform file."""

    primary: KubernetesStandIn
    dr: KubernetesStandIn
    gke: GkeStandIn
    dns: WatchedDns
    folder: Path
    platform: Platform
    versions: dict[str, str]
    """Each service's version serving in production."""

    @property
    def env(self) -> dict[str, str]:
        """The environment a command runs in (the CLI reaches every stand-in through it; no Prometheus bound)."""
        return {
            "FINDLY_CONFIG": str(self.folder / "findly.yaml"),
            "FINDLY_STATE": str(self.folder / "state.sqlite3"),
            "FINDLY_ACTOR": "alice",
            "KUBECONFIG": str(self.folder / "kubeconfig"),
            "FINDLY_GKE_ENDPOINT": self.gke.address,
            "FINDLY_GCP_PROJECT": PROJECT,
            "FINDLY_DNS_ENDPOINT": self.dns.url,
            "FINDLY_PROMETHEUS_URL": "",
            "GITHUB_ACTIONS": "",
            "GITHUB_OUTPUT": "",
            "GITHUB_STEP_SUMMARY": "",
        }

    def cli(self, *args: str) -> tuple[int, Any]:
        """``findly-infra ARGS`` in this process; the JSON document with ``--json``, else the text."""
        out = io.StringIO()
        with mock.patch.dict(os.environ, self.env):
            os.environ.pop("FINDLY_PROMETHEUS_URL")
            code = main(list(args), out=out)
        text = out.getvalue()
        return code, json.loads(text) if "--json" in args else text

    def record(self) -> tuple[str, ...]:
        """What the zone's name servers answer for the failover's record (changes done only)."""
        found = [r for r in self.dns.served(ZONE) if (r.name, r.type) == (RECORD, "A")]
        return tuple(found[0].rrdatas) if found else ()

    def images(self, cluster: KubernetesStandIn) -> dict[str, str]:
        """Each Deployment of production's namespace in *cluster* that runs (replicas > 0), with its image's tag."""
        return {
            item["metadata"]["name"]: item["spec"]["template"]["spec"]["containers"][0]["image"].rpartition(":")[2]
            for item in cluster.objects("apps/v1", "Deployment", NAMESPACE)
            if item["spec"].get("replicas", 1) > 0
        }


@contextlib.contextmanager
def regions(
    folder: Path, *, services: int = 0, release: bool = True, gke_polls: int = 2, dr_ready: bool = True
) -> Iterator[Regions]:
    """Both regions serving, the primary's production released (each service at its own version), controllers making
    the clusters' Deployments ready (the DR cluster's only with *dr_ready*: else the test starts its controller)."""
    text = platform_text(services)
    (folder / "findly.yaml").write_text(text)
    platform = load_platform(folder / "findly.yaml")
    with contextlib.ExitStack() as stack:
        primary = stack.enter_context(KubernetesStandIn())
        dr = stack.enter_context(KubernetesStandIn())
        gke = stack.enter_context(GkeStandIn(polls=gke_polls))
        dns = stack.enter_context(WatchedDns(project=PROJECT))
        _kubeconfig(folder / "kubeconfig", {PRIMARY_CONTEXT: primary, DR_CONTEXT: dr})
        cluster = platform.gke_cluster
        assert cluster is not None
        gke.add_cluster(PROJECT, cluster.location, cluster.name)  # the primary only: the DR one is the failover's
        dns.add_zone(ZONE, "findly.now.", project=PROJECT)
        dns.add_records(ZONE, DnsRecordSet(RECORD, "A", 60, PRIMARY_ADDRESS))
        stack.enter_context(primary.controller())
        if dr_ready:
            stack.enter_context(dr.controller())
        made = Regions(primary, dr, gke, dns, folder, platform, {})
        if release:
            made.versions = _release(made)
        yield made


class WatchedDns(CloudDnsStandIn):
    """The Cloud DNS stand-in, and *before_change* called as each ``changes.create`` arrives, before it is handled
    (what the test saw then: it observes, it changes nothing the stand-in does)."""

    before_change: Callable[[], None] | None = None

    def _create_change(self, zone: Any, body: bytes) -> dict[str, Any]:
        if self.before_change is not None:
            self.before_change()
        return super()._create_change(zone, body)

    def created(self) -> list[Any]:
        """The changes our client made (not an administrator's edit, nor someone else's)."""
        return [change for change in self.changes(ZONE) if change.by == "api"]


def _kubeconfig(path: Path, clusters: Mapping[str, KubernetesStandIn]) -> None:
    """One kubeconfig, a context per region."""
    documents = [cluster.kubeconfig(context=name) for name, cluster in clusters.items()]
    merged = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [entry for document in documents for entry in document["clusters"]],
        "users": [entry for document in documents for entry in document["users"]],
        "contexts": [entry for document in documents for entry in document["contexts"]],
        "current-context": PRIMARY_CONTEXT,
    }
    path.write_text(yaml.safe_dump(merged))


def _release(regions: Regions) -> dict[str, str]:
    """Every service released by the book to production (its events appended to the state as the pipeline decided
    them), then the primary's production brought to the log by ``findly-infra apply``."""
    versions = {service.name: f"1.{index}.0" for index, service in enumerate(regions.platform.all_services, start=1)}
    settings = Settings(state=str(regions.folder / "state.sqlite3"))
    with open_runtime(settings, regions.platform) as runtime:
        store = runtime.service.store
        for service, version in versions.items():
            store.append(service, 0, released(service, version, platform=regions.platform))
    code, shown = regions.cli("--json", "apply", "--env", "production", "--wait", "--timeout", "60")
    assert code == 0, shown
    return versions
