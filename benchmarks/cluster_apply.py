"""`apply` of the seed's whole production tree against the Kubernetes stand-in: objects per second, API requests per
object, and the raw HTTP round trip of the same server (GET /version) for scale.

The first apply creates every object; the second finds them unchanged (a server dry run, then an apply that writes
nothing). Each apply is preceded by a full server-side dry run and followed by the prune listing, so requests per
object are: get + dry-run apply + get + apply, plus one list per prunable kind.

    python benchmarks/cluster_apply.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import connect
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.render.objects import environment_objects, for_apply
from findly_infra.testing.kubernetes import KubernetesStandIn

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    platform = load_platform(ROOT / "examples" / "findly.yaml")
    objects = for_apply(environment_objects(platform, "production"), "production")
    namespace = platform.kubernetes.namespace_for("production")
    created, unchanged, per_request = [], [], []
    requests_created = requests_unchanged = 0
    for _ in range(args.rounds):
        with KubernetesStandIn() as cluster, tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "kubeconfig"
            config.write_text(yaml.safe_dump(cluster.kubeconfig()))
            api = connect(context="stand-in", kubeconfig=str(config))
            before = cluster.requests
            start = time.perf_counter()
            apply_environment(api, objects, "production", namespace)
            created.append(time.perf_counter() - start)
            requests_created = cluster.requests - before
            before = cluster.requests
            start = time.perf_counter()
            report = apply_environment(api, objects, "production", namespace)
            unchanged.append(time.perf_counter() - start)
            requests_unchanged = cluster.requests - before
            assert not report.differs
            http = api.api
            start = time.perf_counter()
            for _ in range(200):
                http.call_api("GET", f"{cluster.url}/version").read()
            per_request.append((time.perf_counter() - start) / 200)
    count = len(objects)
    raw = statistics.median(per_request)
    for label, times, requests in (
        ("first apply (creates)", created, requests_created),
        ("second apply (unchanged)", unchanged, requests_unchanged),
    ):
        median = statistics.median(times)
        print(
            f"{label:26} {count} objects in {median * 1000:7.1f} ms median: {count / median:6.1f} objects/s, "
            f"{requests} requests ({requests / count:.1f} per object), {median / requests * 1000:5.2f} ms per request"
        )
    print(f"{'raw round trip':26} GET /version {raw * 1000:.2f} ms (the stand-in's HTTP floor)")


if __name__ == "__main__":
    main()
