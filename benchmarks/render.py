"""Render of 10, 100 and 1,000 services across every environment of the example: in process (render_platform, then
write_tree into a fresh folder and again over it, unchanged) and as a person runs it — the whole command,
`findly-infra --config FILE render --out DIR`, start-up and writing the tree included, into a fresh folder and again
over the same folder — with its growth for x10 services; beside it, in the same run, `kubectl kustomize` building
one overlay of the same output (where kubectl is installed; it is given at most 120 s).

The platform file is the example with N services, each with an autoscaler, and no Ingress. Figures are medians of
--rounds rounds, ours interleaved (the machine may be shared: compare within one run); "cpu" is the whole command's
CPU time (user + system, again over the same folder), which load on other cores does not inflate as it does wall
time. The command runs as an installed package does, with its bytecode cached (in a temporary folder, warmed once):
a PYTHONDONTWRITEBYTECODE checkout would otherwise compile every module at every start.

python benchmarks/render.py [--rounds 3] [--sizes 10 100 1000]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from findly_infra.examples import example_platform_text

SIZES = (10, 100, 1000)
KUSTOMIZE_LIMIT = 120


def platform_text(count: int) -> str:
    """The example platform file with *count* services, each autoscaled on CPU, and no Ingress."""
    document = yaml.safe_load(example_platform_text())
    document["services"] = {f"svc-{i:04d}": {"image": f"gcr.io/findly-now/svc-{i:04d}"} for i in range(count)}
    cpu = {"type": "Resource", "resource": {"name": "cpu", "target_utilization": 70}}
    document["hpa_configuration"] = {
        f"svc_{i:04d}": {"min_replicas": 2, "max_replicas": 10, "metrics": [cpu]} for i in range(count)
    }
    del document["ingress_configuration"]  # (its backends name the example's own services)
    del document["istio_configuration"]["authorization_policies"]
    return yaml.safe_dump(document, sort_keys=False)


def kustomize_seconds(tree_folder: Path) -> str:
    """Wall time of `kubectl kustomize overlays/production` on the rendered tree, or why there is none."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return "kubectl not installed"
    start = time.perf_counter()
    try:
        subprocess.run(
            [kubectl, "kustomize", str(tree_folder / "overlays" / "production")],
            capture_output=True,
            check=True,
            timeout=KUSTOMIZE_LIMIT,
        )
    except subprocess.TimeoutExpired:
        return f"over {KUSTOMIZE_LIMIT} s (stopped)"
    return f"{time.perf_counter() - start:.2f} s"


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _seconds(action: Callable[[], object]) -> tuple[float, float]:
    """Wall time of *action*, and the CPU time of the processes it ran (what it would take on an idle core)."""
    start, cpu = time.perf_counter(), _children_cpu()
    action()
    return time.perf_counter() - start, _children_cpu() - cpu


def _command(config: Path, out: Path, environment: dict[str, str]) -> Callable[[], object]:
    found = shutil.which("findly-infra")
    script = [found] if found else [sys.executable, "-m", "findly_infra"]
    argv = [*script, "--config", str(config), "render", "--out", str(out)]
    return lambda: subprocess.run(argv, env=environment, capture_output=True, check=True)


def main() -> None:
    from findly_infra.config.loader import load_platform_text
    from findly_infra.render import render_platform, write_tree

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, metavar="N", help="numbers of services")
    args = parser.parse_args()
    print(
        f"{'services':>8} {'files':>6} {'MB':>5} | in process: {'render':>6} {'write':>6} {'again':>6} "
        f"| whole command: {'fresh':>6} {'again':>6} {'cpu':>5} {'ms/svc':>6} | kubectl kustomize (one overlay)"
    )
    previous: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        environment["PYTHONPYCACHEPREFIX"] = str(work / "bytecode")
        for count in args.sizes:
            config = work / f"findly-{count}.yaml"
            config.write_text(platform_text(count))
            platform = load_platform_text(config.read_text())
            tree = render_platform(platform)
            _command(config, work / "warm", environment)()  # bytecode cached, page cache warm
            timings: dict[str, list[tuple[float, float]]] = {}
            for round_ in range(args.rounds):
                fresh, command_fresh = work / f"fresh-{count}-{round_}", work / f"command-{count}-{round_}"
                measured: dict[str, Callable[[], object]] = {
                    "render": functools.partial(render_platform, platform),
                    "write": functools.partial(write_tree, tree, fresh),
                    "again": functools.partial(write_tree, tree, fresh),
                    "command fresh": _command(config, command_fresh, environment),
                    "command again": _command(config, command_fresh, environment),
                }
                for name, action in measured.items():
                    timings.setdefault(name, []).append(_seconds(action))
                shutil.rmtree(fresh)
                if round_:
                    shutil.rmtree(command_fresh)
            median = {name: statistics.median(wall for wall, _cpu in values) for name, values in timings.items()}
            cpu = statistics.median(cpu for _wall, cpu in timings["command again"])
            kustomize = kustomize_seconds(work / f"command-{count}-0")
            shutil.rmtree(work / f"command-{count}-0")
            in_process = median["render"] + median["write"]
            whole = median["command fresh"]
            growth = (
                f"  x{in_process / previous[0]:.1f} in process, x{whole / previous[1]:.1f} whole, for x10 services"
                if previous
                else ""
            )
            print(
                f"{count:8d} {len(tree):6d} {sum(map(len, tree.values())) / 1e6:5.1f} | {'':11} "
                f"{median['render']:6.2f} {median['write']:6.2f} {median['again']:6.2f} | {'':14} "
                f"{whole:6.2f} {median['command again']:6.2f} {cpu:5.2f} {whole / count * 1000:6.1f} "
                f"| {kustomize}{growth}",
                flush=True,
            )
            previous = (in_process, whole)


if __name__ == "__main__":
    main()
