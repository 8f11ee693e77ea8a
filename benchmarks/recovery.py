"""`dr drill` on two regions of stand-ins (``tests/recovery/two_regions.py``): the drill's measured RTO split by step,
for platforms of 10 and 100 services (the example's first service copied N times, production bound to the primary
region's Kubernetes stand-in, the DR region's a second one, GKE and Cloud DNS on their stand-ins), each run on a
fresh DR region (the DR cluster created by the drill's cluster step, every object created by its deploy step); then
a failover on that region, for the DNS step a drill only describes. Prints, per size: each step's median seconds
over the runs and its share of the seed's 15-minute RTO, and the API calls per service the stand-ins counted.

    python benchmarks/recovery.py [--runs 3] [--sizes 10,100]

What the stand-ins do not model, and a real DR region adds: GKE creates a cluster in minutes (the control plane, then
each pool's nodes: the stand-in's operation is done after two polls, which the adapter spaces 0.25 s then 0.5 s
apart); pods are scheduled, images pulled and containers started before a Deployment is Ready (the stand-in's
controller marks a Deployment ready within ~20 ms of its apply); Cloud DNS propagates a change to its name servers
(the stand-in's change is done on its first read) and resolvers keep the old answer for the record's TTL (60 s here);
no Prometheus is bound, so the health step is skipped (a real one waits for the first scrapes).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.recovery.two_regions import DR_CONTEXT, regions

STEPS = ("cluster", "deploy", "ready", "health", "dns")
TARGET = 900.0


def _one(services: int) -> tuple[dict[str, float], float, dict[str, int], float]:
    """One drill on a fresh DR region of *services* services: each step's seconds, the RTO, the calls each stand-in
    answered during the drill, and the failover's DNS step that follows it."""
    with tempfile.TemporaryDirectory() as folder, regions(Path(folder), services=services, apply_primary=False) as two:
        kube, audit, gke = two.dr.requests, len(two.dr.audit), len(two.gke.calls)
        code, shown = two.cli("--json", "--context", DR_CONTEXT, "dr", "drill", "--no-health-check")
        assert code == 0, shown
        assert len(shown["versions"]["production"]) == services
        steps = {step["step"]: step["seconds"] for step in shown["steps"]}
        calls = {"kubernetes": two.dr.requests - kube, "gke": len(two.gke.calls) - gke}
        verbs = collections.Counter(record.verb for record in two.dr.audit[audit:])
        calls.update({f"kubernetes {verb}": count for verb, count in sorted(verbs.items())})
        dns = len(two.dns.requests)
        code, failover = two.cli("--json", "dr", "failover", "--confirm", "--no-health-check")
        assert code == 0, failover
        calls["dns (failover)"] = len(two.dns.requests) - dns
        return steps, shown["rto"]["seconds"], calls, failover["steps"][-1]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10,100")
    args = parser.parse_args()
    for services in (int(size) for size in args.sizes.split(",")):
        runs = [_one(services) for _ in range(args.runs)]
        print(f"\n{services} services, median of {args.runs} drills (each on a fresh DR region)")
        print(f"{'step':<20} {'seconds':>9} {'share of 15 min':>16}")
        for step in STEPS:
            seconds = statistics.median(run[0][step] for run in runs)
            print(f"{step:<20} {seconds:>9.3f} {seconds / TARGET:>15.3%}")
        rto = statistics.median(run[1] for run in runs)
        print(f"{'RTO (drill)':<20} {rto:>9.3f} {rto / TARGET:>15.3%}")
        dns = statistics.median(run[3] for run in runs)
        print(f"{'dns (the failover)':<20} {dns:>9.3f} {dns / TARGET:>15.3%}   (a drill only describes it)")
        calls = runs[0][2]
        verbs = ", ".join(f"{key.split()[1]} {count}" for key, count in calls.items() if key.startswith("kubernetes "))
        print(
            "API calls: Kubernetes (DR cluster) "
            f"{calls['kubernetes']} requests = {calls['kubernetes'] / services:.1f} per service (audited as {verbs}: "
            f"an apply that creates is audited as create and patch); GKE {calls['gke']}; "
            f"Cloud DNS (the failover) {calls['dns (failover)']}"
        )


if __name__ == "__main__":
    main()
