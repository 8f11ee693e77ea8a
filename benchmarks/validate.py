"""In-process validation: how long loading and checking a platform file takes (and its PromQL check, the parser
included), and how it grows with services.

python benchmarks/validate.py
"""

from __future__ import annotations

import statistics
import time

import yaml

from findly_infra.config.expressions import expression_findings
from findly_infra.config.loader import load_platform_text, validate_platform_text
from findly_infra.examples import example_platform_text
from findly_infra.render.rules import rule_expressions


def _with_services(count: int) -> str:
    data = yaml.safe_load(example_platform_text())
    for index in range(count):
        name = f"svc-{index:04d}"
        data["services"][name] = {"image": f"gcr.io/findly-now/{name}", "port": 8080}
        data["hpa_configuration"][name.replace("-", "_")] = {
            "min_replicas": 2,
            "max_replicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target_utilization": 70}}],
        }
    return yaml.safe_dump(data, sort_keys=False)


def _time(text: str, repeat: int) -> tuple[float, float]:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        report = validate_platform_text(text)
        timings.append((time.perf_counter() - start) * 1000)
        assert report.ok, report.errors[:3]
    return statistics.median(timings), min(timings)


def main() -> None:
    example = example_platform_text()
    first_start = time.perf_counter()
    validate_platform_text(example)
    first = (time.perf_counter() - first_start) * 1000
    median, best = _time(example, 200)
    print(f"example platform file ({len(example):,} bytes): first call {first:.1f} ms (builds the converter),")
    print(f"  then median {median:.2f} ms, best {best:.2f} ms -> {1000 / median:,.0f} validations/s")
    platform = load_platform_text(example)
    checks = []
    for _ in range(200):
        start = time.perf_counter()
        list(expression_findings(platform))
        checks.append((time.perf_counter() - start) * 1000)
    count = len(list(rule_expressions(platform)))
    print(f"  of which the PromQL check ({count} expressions parsed): median {statistics.median(checks):.2f} ms")
    print(f"{'services':>8} {'bytes':>10} {'median ms':>10} {'ms/service':>11}")
    for count in (10, 100, 1000):
        text = _with_services(count)
        median, _best = _time(text, 10 if count < 1000 else 3)
        print(f"{count:8d} {len(text):10,d} {median:10.1f} {median / count:11.3f}")


if __name__ == "__main__":
    main()
