"""`cluster plan` on the seed's cluster against the GKE stand-in (the real client over gRPC on 127.0.0.1): calls and
wall time, beside one raw round trip; what `cluster apply` sends for the drifted cluster, and for the same file asking
for node auto-provisioning and Workload Identity (calls by method: one call and one operation per change, each polled
by its full name); and the client's import cost (paid only by the cluster commands).

    python benchmarks/gke.py
"""

from __future__ import annotations

import collections
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.gke.test_gke import _drifted

from findly_infra.cli import main
from findly_infra.examples import example_platform_text
from findly_infra.testing.gke import GkeStandIn


def main_() -> None:
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from google.cloud import container_v1"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr.splitlines()
    total = max(
        int(line.split("|")[1])
        for line in imported
        if line.startswith("import time:") and line.split("|")[1].strip().isdigit()
    )
    print(f"import google.cloud.container_v1: {total / 1000:.0f} ms (cumulative, -X importtime)")
    with tempfile.TemporaryDirectory() as folder, GkeStandIn() as gke:
        _drifted(gke)
        config = Path(folder) / "findly.yaml"
        config.write_text(example_platform_text())
        os.environ.update({"FINDLY_GKE_ENDPOINT": gke.address, "FINDLY_GCP_PROJECT": "findly-now"})
        client = gke.client()
        name = "projects/findly-now/locations/us-central1/clusters/findly-production"
        client.get_cluster(name=name)
        trips = []
        for _ in range(50):
            began = time.perf_counter()
            client.get_cluster(name=name, retry=None)
            trips.append(time.perf_counter() - began)
        plans = []
        for _ in range(20):
            before = len(gke.calls)
            began = time.perf_counter()
            code = main(["--config", str(config), "cluster", "plan"], out=io.StringIO())
            plans.append(time.perf_counter() - began)
            calls = len(gke.calls) - before
        assert code == 7
        print(f"raw round trip (get_cluster): {statistics.median(trips) * 1000:.2f} ms median")
        print(
            f"cluster plan, seed's cluster (2 pools, drifted): {calls} calls, {statistics.median(plans) * 1000:.1f} ms "
            f"median in process (of which the calls' round trips ~{calls * statistics.median(trips) * 1000:.1f} ms)"
        )
    _apply(example_platform_text(), "the seed's file")
    asked = example_platform_text().replace("  enabled: true\n", "  enabled: true\n  node_auto_provisioning: true\n", 1)
    asked = asked.replace('  location: "us-central1"\n', '  location: "us-central1"\n  workload_identity: true\n', 1)
    _apply(asked, "node auto-provisioning and Workload Identity asked for")


def _apply(text: str, what: str) -> None:
    import grpc

    from findly_infra.adapters.gke import connect_gke
    from findly_infra.config.loader import load_platform_text
    from findly_infra.domain.gke import ClusterSpec, plan_cluster

    platform = load_platform_text(text)
    assert platform.gke_cluster is not None
    desired = ClusterSpec.of(platform.gke_cluster, platform.cluster_autoscaler, project="findly-now")
    with GkeStandIn(polls=2) as gke:
        _drifted(gke)
        clusters = connect_gke("findly-now", channel=grpc.insecure_channel(gke.address), sleep=lambda _: None)
        plan = plan_cluster(desired, clusters.observe(desired.location, desired.name), delete_pools=True)
        before = len(gke.calls)
        began = time.perf_counter()
        report = clusters.apply(plan)
        took = time.perf_counter() - began
        methods = collections.Counter(method for method, _ in gke.calls[before:])
        print(
            f"cluster apply --delete-pools, drifted cluster, {what}: {len(report.done)} changes, "
            f"{sum(methods.values())} calls ({', '.join(f'{n} {m}' for m, n in sorted(methods.items()))}), "
            f"{took * 1000:.1f} ms with operations done after 2 polls and no sleeping"
        )


if __name__ == "__main__":
    main_()
