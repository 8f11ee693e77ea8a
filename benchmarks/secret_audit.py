"""`secrets audit` of 100 secrets against the Secret Manager stand-in (the real client over gRPC on 127.0.0.1): calls
and wall time, beside one raw round trip; what the release gate asks of one secret (it reads no IAM policy); and
`secrets grant` of the same 100 secrets in another environment (every grant to make), then again (none to make).

    python benchmarks/secret_audit.py
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from findly_infra.cli import main
from findly_infra.examples import example_platform_text
from findly_infra.testing.secret_manager import SecretManagerStandIn

COUNT = 100


def main_() -> None:
    with tempfile.TemporaryDirectory() as folder, SecretManagerStandIn(page_size=25) as sm:
        document = yaml.safe_load(example_platform_text())
        document["secret_management"]["secrets"] = {
            f"secret-{n:03d}": {"type": "api_keys", "services": ["fn-posts"]} for n in range(COUNT)
        }
        document["gke_cluster"]["project_number"] = "123456789012"
        config = Path(folder) / "findly.yaml"
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        own = (  # production's fn-posts pods (Workload Identity)
            "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
            "findly-now.svc.id.goog/subject/ns/findly-now-production/sa/fn-posts"
        )
        for n in range(COUNT):
            sm.add_secret("findly-now", f"secret-{n:03d}-production", b"v1", b"v2", readers=(own,))
            sm.add_secret("findly-now", f"secret-{n:03d}-staging", b"v1")
        os.environ.update({"FINDLY_SECRET_MANAGER_ENDPOINT": sm.address, "FINDLY_GCP_PROJECT": "findly-now"})
        client = sm.client()
        name = "projects/findly-now/secrets/secret-000-production"
        client.get_secret(name=name)
        trips = []
        for _ in range(50):
            began = time.perf_counter()
            client.get_secret(name=name, retry=None)
            trips.append(time.perf_counter() - began)
        runs = []
        for _ in range(5):
            before = len(sm.calls)
            began = time.perf_counter()
            code = main(["--config", str(config), "secrets", "audit", "--env", "production"], out=io.StringIO())
            runs.append(time.perf_counter() - began)
            calls = len(sm.calls) - before
        assert code == 0, code
        from findly_infra.adapters.secret_manager import connect_secret_manager

        store = connect_secret_manager("findly-now", channel=sm.channel())
        gate_calls, gate_runs = 0, []
        for n in range(COUNT):
            before = len(sm.calls)
            began = time.perf_counter()
            assert store.observe(f"secret-{n:03d}-production") is not None
            gate_runs.append(time.perf_counter() - began)
            gate_calls = len(sm.calls) - before
        methods = ", ".join(sorted({method for method, _ in sm.calls[-gate_calls:]}))
        grants = []
        for _ in range(2):  # the first grants all 100, the second finds them held
            before = len(sm.calls)
            began = time.perf_counter()
            code = main(["--config", str(config), "secrets", "grant", "--env", "staging"], out=io.StringIO())
            grants.append((time.perf_counter() - began, len(sm.calls) - before))
            assert code == 0, code
        store.client.transport.close()
        client.transport.close()
        trip = statistics.median(trips)
        print(f"raw round trip (get_secret): {trip * 1000:.2f} ms median")
        print(
            f"secrets audit of {COUNT} secrets: {calls} calls ({calls / COUNT:.0f} per secret), "
            f"{statistics.median(runs) * 1000:.0f} ms median in process "
            f"(round trips alone ~{calls * trip * 1000:.0f} ms)"
        )
        print(
            f"release gate, one secret: {gate_calls} calls ({methods}), "
            f"{statistics.median(gate_runs) * 1000:.2f} ms median"
        )
        (made, made_calls), (held, held_calls) = grants
        print(
            f"secrets grant of {COUNT} secrets: {made_calls} calls, {made * 1000:.0f} ms (every grant made); "
            f"again: {held_calls} calls, {held * 1000:.0f} ms (all held, nothing written)"
        )


if __name__ == "__main__":
    sys.exit(main_())
