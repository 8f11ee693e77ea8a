"""`findly-infra apply --env` and `diff --env` beside `kubectl apply --server-side` and `kubectl diff --server-side`
of the same objects, against the Kubernetes stand-in: API requests per object and CPU, whole commands as
subprocesses (user + sys of the children, ``resource.getrusage``), side by side in one run.

Each round starts two fresh stand-ins, one for each tool, and runs in each, interleaved: a first apply (every object
created, the namespace with them), a second one (nothing changed) and a diff (no difference). kubectl gets the
objects `findly-infra apply` composes (the environment's, with its labels), one file each, the Namespace first, in a
fresh discovery cache; `findly-infra` runs as a user runs it (`python -m findly_infra`, a SQLite state). Requests are
counted by the stand-in: those to an object or a kind (the audit log) per object, and discovery (`/api`, `/apis`,
`/openapi/v3`, `/version`) shown apart. The median of the rounds is printed. Our commands run with their bytecode
cached, as an installed package has it (``PYTHONDONTWRITEBYTECODE`` is removed from their environment and a first,
uncounted round writes it), and beside them the floor of any `findly-infra` command on this platform: `findly-infra
validate` (Python, the CLI and the platform file, no cluster), `import kubernetes` (the client library the adapter
reads the kubeconfig with) and Python's own start (``python -c pass``) — and the apply's own work: the same steps in
this process, the client thread's CPU (``time.thread_time``; the stand-in answers from its own threads).

At scale (``--services 100 1000``): the example platform with that many services (the seed's three and the rest
alike: an image and a port), its objects for ``--env`` rendered to files for kubectl, both tools' first and second
apply side by side as above, the whole command's CPU ratio at each size, and the MARGINAL CPU per object: the slope
between the two sizes, which takes out what a command pays once whatever it applies (start-up, discovery, the
platform file) — what each object costs each tool.

    python benchmarks/cluster_apply.py [--rounds 5] [--env production]
    python benchmarks/cluster_apply.py --services 100 1000 [--rounds 3] [--env production]
"""

from __future__ import annotations

import argparse
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
from typing import Any

import yaml

from findly_infra import load_platform
from findly_infra.render.objects import environment_objects, for_apply
from findly_infra.testing.kubernetes import KubernetesStandIn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "src" / "findly_infra" / "examples" / "findly.yaml"
STEPS = ("first apply (creates)", "second apply (unchanged)", "diff (no difference)")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(
    cluster: KubernetesStandIn, command: list[str], env: dict[str, str], ok: tuple[int, ...]
) -> tuple[int, int, float]:
    """Run *command*; (resource requests, discovery requests, CPU seconds)."""
    requests, audited, cpu = cluster.requests, len(cluster.audit), children_cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    resources = len(cluster.audit) - audited
    resources -= len([r for r in cluster.audit[audited:] if r.verb == "create"])  # an apply that creates: 1 request
    return resources, cluster.requests - requests - resources, children_cpu() - cpu


def scaled_platform_text(services: int) -> str:
    """The example platform with *services* services: the seed's three, then ``svc-0000`` … alike (an image and a
    port)."""
    from findly_infra.examples import example_platform_text

    text = example_platform_text()
    extra = "".join(
        f'  svc-{i:04d}:\n    image: "gcr.io/findly-now/svc-{i:04d}"\n    port: 8080\n' for i in range(services - 3)
    )
    return text.replace("\nservices:\n", "\nservices:\n" + extra, 1)


def one_round(
    kubectl: str,
    environment: str,
    objects: list[dict[str, Any]],
    config: Path = EXAMPLE,
    *,
    floor: bool = True,
    diff: bool = True,
) -> dict[tuple[str, str], tuple[int, int, float]]:
    results: dict[tuple[str, str], tuple[int, int, float]] = {}
    with (
        KubernetesStandIn() as theirs,
        KubernetesStandIn() as ours,
        tempfile.TemporaryDirectory() as folder,
    ):
        base = Path(folder)
        tree = base / "objects"
        tree.mkdir()
        ordered = sorted(objects, key=lambda o: o["kind"] != "Namespace")
        for index, manifest in enumerate(ordered):
            (tree / f"{index:04d}-{manifest['kind'].lower()}.yaml").write_text(yaml.safe_dump(manifest))
        configs = {}
        for name, cluster in (("kubectl", theirs), ("ours", ours)):
            configs[name] = base / f"{name}.kubeconfig"
            configs[name].write_text(yaml.safe_dump(cluster.kubeconfig()))
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["GITHUB_ACTIONS"] = ""
        kube = [kubectl, "--kubeconfig", str(configs["kubectl"]), "--cache-dir", str(base / "cache")]
        mine_env = {
            **env,
            "KUBECONFIG": str(configs["ours"]),
            "FINDLY_CONFIG": str(config),
            "FINDLY_STATE": str(base / "state.sqlite3"),
        }
        mine = [sys.executable, "-m", "findly_infra"]
        theirs_commands: list[tuple[list[str], tuple[int, ...]]] = [
            ([*kube, "apply", "--server-side", "-f", str(tree)], (0,)),
            ([*kube, "apply", "--server-side", "-f", str(tree)], (0,)),
            ([*kube, "diff", "--server-side", "-f", str(tree)], (0,)),
        ]
        ours_commands: list[tuple[list[str], tuple[int, ...]]] = [
            ([*mine, "apply", "--env", environment, "--context", "stand-in"], (0,)),
            ([*mine, "apply", "--env", environment, "--context", "stand-in"], (0,)),
            ([*mine, "diff", "--env", environment, "--context", "stand-in"], (0,)),
        ]
        if floor:
            results[("floor", "validate")] = measured(ours, [*mine, "validate"], mine_env, (0,))
            results[("floor", "import")] = measured(ours, [sys.executable, "-c", "import kubernetes"], mine_env, (0,))
            results[("floor", "python")] = measured(ours, [sys.executable, "-c", "pass"], mine_env, (0,))
        steps = STEPS if diff else STEPS[:2]
        for step, (kubectl_command, kubectl_ok), (our_command, our_ok) in zip(
            steps, theirs_commands, ours_commands, strict=False
        ):
            results[(step, "kubectl")] = measured(theirs, kubectl_command, env, kubectl_ok)
            results[(step, "ours")] = measured(ours, our_command, mine_env, our_ok)
    return results


def in_process(environment: str, objects: list[dict[str, Any]]) -> dict[str, float]:
    """The client thread's CPU seconds for each step, in this process (imports and startup not counted)."""
    from findly_infra.adapters.kubernetes import connect
    from findly_infra.application.cluster_apply import apply_environment, diff_environment

    namespace = next(str(o["metadata"]["name"]) for o in objects if o["kind"] == "Namespace")
    spent: dict[str, float] = {}
    with KubernetesStandIn() as cluster, tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "kubeconfig"
        config.write_text(yaml.safe_dump(cluster.kubeconfig()))
        api = connect(context="stand-in", kubeconfig=str(config))
        steps: list[Callable[[], object]] = [
            lambda: apply_environment(api, objects, environment, namespace),
            lambda: apply_environment(api, objects, environment, namespace),
            lambda: diff_environment(api, objects, environment, namespace),
        ]
        for step, run in zip(STEPS, steps, strict=True):
            start = time.thread_time()
            run()
            spent[step] = time.thread_time() - start
    return spent


def at_scale(kubectl: str, environment: str, sizes: list[int], rounds: int) -> None:
    """Both tools' first and second apply at each size in *sizes* (services), and the marginal CPU per object."""
    from findly_infra.config.loader import load_platform_text

    counts: dict[int, int] = {}
    measured_rounds: dict[int, list[dict[tuple[str, str], tuple[int, int, float]]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            text = scaled_platform_text(size)
            config = Path(folder) / f"findly-{size}.yaml"
            config.write_text(text)
            objects = for_apply(environment_objects(load_platform_text(text), environment), environment)
            counts[size] = len(objects)
            if size == sizes[0]:  # writes our bytecode, as installing a package does: not counted
                one_round(kubectl, environment, objects, config, floor=False, diff=False)
            measured_rounds[size] = [
                one_round(kubectl, environment, objects, config, floor=False, diff=False) for _ in range(rounds)
            ]
    print(f"{environment} at scale: median of {rounds} rounds, each tool on its own fresh stand-in")
    print(
        f"{'services':>8} {'objects':>7} {'step':26} {'requests/object':>15} {'kubectl':>8} "
        f"{'CPU s':>7} {'kubectl':>8} {'CPU ratio':>9}"
    )
    for size in sizes:
        results = measured_rounds[size]
        for step in STEPS[:2]:
            ours = statistics.median(r[(step, "ours")][2] for r in results)
            theirs = statistics.median(r[(step, "kubectl")][2] for r in results)
            ratio = statistics.median(r[(step, "ours")][2] / r[(step, "kubectl")][2] for r in results)
            requests = statistics.median(r[(step, "ours")][0] for r in results) / counts[size]
            their_requests = statistics.median(r[(step, "kubectl")][0] for r in results) / counts[size]
            print(
                f"{size:8d} {counts[size]:7d} {step:26} {requests:15.2f} {their_requests:8.2f} "
                f"{ours:7.2f} {theirs:8.2f} {ratio:9.2f}"
            )
    small, large = sizes[0], sizes[-1]
    added = counts[large] - counts[small]
    for step in STEPS[:2]:
        slope = {
            tool: (
                statistics.median(r[(step, tool)][2] for r in measured_rounds[large])
                - statistics.median(r[(step, tool)][2] for r in measured_rounds[small])
            )
            / added
            for tool in ("ours", "kubectl")
        }
        print(
            f"marginal CPU per object, {step}: ours {slope['ours'] * 1000:.2f} ms, kubectl "
            f"{slope['kubectl'] * 1000:.2f} ms ({slope['ours'] / slope['kubectl']:.2f}x; {small} to {large} services)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--env", default="production")
    parser.add_argument(
        "--services", type=int, nargs="+", metavar="N", help="at scale: the example platform with N services each"
    )
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise SystemExit("kubectl is not installed: https://kubernetes.io/docs/tasks/tools/")
    if args.services:
        if len(args.services) < 2 or min(args.services) < 3:
            raise SystemExit("--services: at least two sizes, each of 3 services or more (the seed's three)")
        at_scale(kubectl, args.env, sorted(args.services), args.rounds)
        return
    platform = load_platform(EXAMPLE)
    objects = for_apply(environment_objects(platform, args.env), args.env)
    count = len(objects)
    one_round(kubectl, args.env, objects)  # writes our bytecode, as installing a package does: not counted
    rounds = [one_round(kubectl, args.env, objects) for _ in range(args.rounds)]
    inside = [in_process(args.env, objects) for _ in range(args.rounds)]
    print(f"{args.env}: {count} objects; median of {args.rounds} rounds, each tool on its own fresh stand-in")
    print(
        f"{'':26} {'requests/object':>15} {'(+ discovery)':>13} {'kubectl':>8} {'(+ discovery)':>13} "
        f"{'CPU s':>6} {'kubectl':>8} {'CPU ratio':>9} {'in process':>10}"
    )

    def median(step: str, tool: str, field: int) -> float:
        return statistics.median(result[(step, tool)][field] for result in rounds)

    ratio: Callable[[str], float] = lambda step: statistics.median(  # noqa: E731 - per round, then the median
        result[(step, "ours")][2] / result[(step, "kubectl")][2] for result in rounds
    )
    for step in STEPS:
        print(
            f"{step:26} {median(step, 'ours', 0) / count:15.2f} {median(step, 'ours', 1):13.0f} "
            f"{median(step, 'kubectl', 0) / count:8.2f} {median(step, 'kubectl', 1):13.0f} "
            f"{median(step, 'ours', 2):6.2f} {median(step, 'kubectl', 2):8.2f} {ratio(step):9.2f} "
            f"{statistics.median(spent[step] for spent in inside):10.3f}"
        )

    validate = statistics.median(result[("floor", "validate")][2] for result in rounds)
    library = statistics.median(result[("floor", "import")][2] for result in rounds)
    python = statistics.median(result[("floor", "python")][2] for result in rounds)
    print(
        f"floor of any findly-infra command here: `findly-infra validate` {validate:.2f} s CPU, "
        f"`python -c 'import kubernetes'` {library:.2f} s CPU, `python -c pass` {python:.2f} s CPU"
    )


if __name__ == "__main__":
    main()
