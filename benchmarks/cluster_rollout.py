"""One rollout step on a cluster: API requests and wall time per step of a canary in an environment bound to the
Kubernetes stand-in (its controller making Deployments ready), beside the raw HTTP round trips those requests need.

A step that moves no traffic reads the tracks and the VirtualService back (gets, and a readiness check per running
track); a step that shifts weight also applies the VirtualService; starting and ending a rollout bring a track up or
down and wait until it is ready.

The service is built here with a virtual clock, so that a canary's steps come one after another at once: the
composition root (``open_runtime``) refuses virtual time on a bound cluster — a rehearsal must never move real
traffic — and the stand-in's controller does not care what time the log says.

    python benchmarks/cluster_rollout.py [--releases 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import attrs
import yaml

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import connect
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.application.workloads import ClusterWorkloads
from findly_infra.bootstrap import environment_renderer
from findly_infra.domain import ClusterBinding, StrategyKind
from findly_infra.render.access import access_objects
from findly_infra.testing import MemoryEventStore, ScenarioMetrics, VirtualClock
from findly_infra.testing.kubernetes import KubernetesStandIn

ROOT = Path(__file__).resolve().parent.parent
ENV, NS, SERVICE = "development", "findly-now-development", "fn-posts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--releases", type=int, default=3)
    args = parser.parse_args()
    example = load_platform(ROOT / "examples" / "findly.yaml")
    platform = attrs.evolve(
        example,
        kubernetes=attrs.evolve(example.kubernetes, clusters=(ClusterBinding(ENV, context="stand-in"),)),
    )
    step_requests: list[int] = []
    step_seconds: list[float] = []
    with KubernetesStandIn() as cluster, tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "kubeconfig"
        config.write_text(yaml.safe_dump(cluster.kubeconfig()))
        os.environ["KUBECONFIG"] = str(config)
        for manifest in access_objects(platform, ENV):
            cluster.apply(manifest, manager="admin")
        objects = connect(context="stand-in")
        apply_environment(objects, environment_renderer(platform)(ENV, StrategyKind.CANARY, {}), ENV, NS)
        clock = VirtualClock(datetime(2026, 1, 5, 9))
        workloads = ClusterWorkloads(objects, environment_renderer(platform), {ENV: NS}, {ENV: StrategyKind.CANARY})
        metrics = ScenarioMetrics(SCENARIOS["healthy"])
        release = PipelineService(platform, MemoryEventStore(), clock, metrics, workloads)
        with cluster.controller(interval=0.002):
            for number in range(1, args.releases + 1):
                release.deploy(SERVICE, f"{number}.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
                while release.view(SERVICE, ENV).phase.active:
                    clock.advance(release.interval(SERVICE, ENV))
                    before, start = cluster.requests, time.perf_counter()
                    release.step(SERVICE, ENV, actor="findly")
                    step_seconds.append(time.perf_counter() - start)
                    step_requests.append(cluster.requests - before)
        http = objects.api
        start = time.perf_counter()
        for _ in range(200):
            http.call_api("GET", f"{cluster.url}/version").read()
        raw = (time.perf_counter() - start) / 200
    median_requests = statistics.median(step_requests)
    median = statistics.median(step_seconds)
    print(f"{len(step_seconds)} rollout steps over {args.releases} canary releases")
    print(
        f"per step: {median_requests:.0f} API requests median (max {max(step_requests)}), "
        f"{median * 1000:.1f} ms median (max {max(step_seconds) * 1000:.1f} ms)"
    )
    print(
        f"raw round trip {raw * 1000:.2f} ms: the step's requests alone would take "
        f"{median_requests * raw * 1000:.1f} ms -> {median / (median_requests * raw):.2f}x"
    )


if __name__ == "__main__":
    main()
