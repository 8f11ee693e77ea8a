"""Render time for 10, 100 and 1,000 services across every environment of the example, and how it grows;
beside it, `kubectl kustomize` building one overlay of the same output (where kubectl is installed; it is given
at most 120 s).

python benchmarks/render.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time

import attrs

from findly_infra.domain import HorizontalAutoscaler, ResourceMetricTarget, Service
from findly_infra.examples import example_platform_text
from findly_infra.render import render_platform, write_tree


def kustomize_seconds(tree: dict[str, str]) -> str:
    """Wall time of `kubectl kustomize overlays/production` on *tree*, or why there is none."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return "kubectl not installed"
    with tempfile.TemporaryDirectory() as folder:
        write_tree(tree, folder)
        start = time.perf_counter()
        try:
            subprocess.run(
                [kubectl, "kustomize", f"{folder}/overlays/production"], capture_output=True, check=True, timeout=120
            )
        except subprocess.TimeoutExpired:
            return "over 120 s (stopped)"
        return f"{time.perf_counter() - start:.2f} s"


def main() -> None:
    from findly_infra.config.loader import load_platform_text

    base = load_platform_text(example_platform_text())
    print(f"{'services':>8} {'files':>7} {'MB':>6} {'median s':>9} {'ms/service':>11}  kubectl kustomize (one overlay)")
    previous = None
    for count in (10, 100, 1000):
        services = tuple(Service(f"svc-{i:04d}", image=f"gcr.io/findly-now/svc-{i:04d}") for i in range(count))
        autoscaling = tuple(
            HorizontalAutoscaler(s.name.replace("-", "_"), 2, 10, (ResourceMetricTarget("cpu", 70),)) for s in services
        )
        platform = attrs.evolve(base, services=services, hpa_configuration=autoscaling, ingress_configuration=None)
        timings = []
        for _ in range(3 if count < 1000 else 2):
            start = time.perf_counter()
            tree = render_platform(platform)
            timings.append(time.perf_counter() - start)
        median = statistics.median(timings)
        size = sum(len(text) for text in tree.values()) / 1e6
        growth = f"  x{median / previous:.1f} for x10 services" if previous else ""
        kustomize = kustomize_seconds(tree)
        print(f"{count:8d} {len(tree):7d} {size:6.1f} {median:9.3f} {median / count * 1000:11.2f}  {kustomize}{growth}")
        previous = median


if __name__ == "__main__":
    main()
