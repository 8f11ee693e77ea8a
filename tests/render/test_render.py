"""Rendered manifests pass the real tools, say what the platform says, and never change by themselves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import Platform, StrategyKind
from findly_infra.render import render_platform, write_tree
from findly_infra.render.tree import dump
from findly_infra.testing.strategies import platforms
from tests.conftest import EXAMPLE

from .conftest import tool
from .manifests_check import check_manifest, documents


def test_rendering_is_deterministic(example_tree: dict[str, str], tmp_path: Path) -> None:
    again = render_platform(load_platform(EXAMPLE))
    assert again == example_tree
    assert write_tree(example_tree, tmp_path)  # first write creates every file
    assert write_tree(again, tmp_path) == []  # a second write changes no byte
    assert all("Rendered by findly-infra" in text and "202" not in text.split("\n")[0] for text in again.values())


def test_every_rendered_manifest_is_valid(example_tree: dict[str, str]) -> None:
    kinds = set()
    for path, text in example_tree.items():
        if path.startswith("prometheus/") or path.endswith("kustomization.yaml"):
            continue
        for document in documents(text):
            check_manifest(document, "1.32")
            kinds.add(document["kind"])
    assert kinds >= {
        "Deployment",
        "Service",
        "ServiceAccount",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "DestinationRule",
        "VirtualService",
        "Ingress",
        "Namespace",
        "ResourceQuota",
        "PrometheusRule",
    }


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_kustomize_builds_every_overlay_into_valid_objects(rendered: Path, environment: str) -> None:
    built = subprocess.run(
        [tool("kubectl"), "kustomize", str(rendered / "overlays" / environment)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    objects = documents(built.stdout)
    namespace = f"findly-now-{environment}"
    for document in objects:
        check_manifest(document, "1.32")
        if document["kind"] != "Namespace":
            assert document["metadata"].get("namespace") == namespace, document["metadata"]
    assert sum(1 for d in objects if d["kind"] == "Namespace") == 1


def test_promtool_accepts_the_rule_files_and_the_prometheus_rule_objects(rendered: Path, tmp_path: Path) -> None:
    files = sorted((rendered / "prometheus").glob("*.rules.yaml"))  # (beside them: alertmanager.yaml)
    assert [f.name for f in files] == ["alerts.rules.yaml", "slo.rules.yaml"]
    for path in sorted((rendered / "base" / "monitoring").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())["spec"]
        extracted = tmp_path / path.name
        extracted.write_text(yaml.safe_dump(spec))
        files.append(extracted)
    checked = subprocess.run(
        [tool("promtool"), "check", "rules", *map(str, files)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _object(tree: dict[str, str], path: str) -> dict[str, object]:
    return documents(tree[path])[0]


def test_each_environment_rolls_out_its_own_way(example_tree: dict[str, str]) -> None:
    assert "overlays/development/fn-posts/deployment-stable.yaml" in example_tree
    assert "overlays/development/fn-posts/virtualservice.yaml" not in example_tree  # rolling needs no routing
    route = _object(example_tree, "overlays/production/fn-posts/virtualservice.yaml")["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route] == [("stable", 100), ("green", 0)]
    green = _object(example_tree, "overlays/production/fn-posts/deployment-green.yaml")
    assert green["spec"]["replicas"] == 0
    canary = load_platform(EXAMPLE)
    import attrs

    as_canary = attrs.evolve(
        canary,
        environments=tuple(
            attrs.evolve(e, deployment_strategy=StrategyKind.CANARY) if e.name == "staging" else e
            for e in canary.environments
        ),
    )
    tree = render_platform(as_canary, environments=["staging"])
    subsets = _object(tree, "overlays/staging/fn-posts/destinationrule.yaml")["spec"]["subsets"]
    assert [s["name"] for s in subsets] == ["stable", "canary"]


def test_deployments_carry_the_labels_probes_and_resources_of_the_file(example_tree: dict[str, str]) -> None:
    deployment = _object(example_tree, "overlays/production/fn-posts/deployment-stable.yaml")
    pod = deployment["spec"]["template"]
    assert {"service": "fn-posts", "version": "latest", "track": "stable"}.items() <= pod["metadata"]["labels"].items()
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    development = _object(example_tree, "overlays/development/fn-posts/deployment-stable.yaml")
    assert development["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": "500m",
        "memory": "256Mi",
    }
    tree = render_platform(load_platform(EXAMPLE), environments=["production"], versions={"fn-posts": "1.4.2"})
    image = documents(tree["overlays/production/fn-posts/deployment-stable.yaml"])[0]["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image == "gcr.io/findly-now/fn-posts:1.4.2"


def test_autoscaling_has_the_seed_metrics(example_tree: dict[str, str]) -> None:
    posts = _object(example_tree, "base/fn-posts/hpa.yaml")["spec"]
    assert posts["minReplicas"] == 3
    assert posts["maxReplicas"] == 20
    assert [m["type"] for m in posts["metrics"]] == ["Resource", "Resource", "Pods"]
    assert posts["metrics"][2]["pods"]["metric"]["name"] == "http_requests_per_second"
    notifications = _object(example_tree, "base/fn-notifications/hpa.yaml")["spec"]
    assert notifications["metrics"][1]["external"]["metric"]["name"] == "kafka_consumer_lag"
    assert "base/fn-matcher/hpa.yaml" not in example_tree


def test_security_follows_the_seed_in_each_namespace(example_tree: dict[str, str]) -> None:
    policy = _object(example_tree, "overlays/staging/security/authorizationpolicy-allow-posts-to-notifications.yaml")
    rule = policy["spec"]["rules"][0]
    assert rule["from"][0]["source"]["principals"] == ["cluster.local/ns/findly-now-staging/sa/fn-posts"]
    assert rule["to"][0]["operation"] == {"methods": ["POST"], "paths": ["/api/notifications"]}
    assert policy["spec"]["selector"] == {"matchLabels": {"app": "fn-notifications"}}
    same = _object(example_tree, "overlays/staging/security/networkpolicy-allow-namespace-communication.yaml")
    assert same["spec"]["ingress"][0]["from"][0] == {
        "namespaceSelector": {"matchLabels": {"name": "findly-now-staging"}}
    }
    namespace = _object(example_tree, "overlays/staging/namespace.yaml")
    assert namespace["metadata"]["labels"]["name"] == "findly-now-staging"
    deny = _object(example_tree, "overlays/staging/security/networkpolicy-default-deny-all.yaml")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    mtls = _object(example_tree, "overlays/staging/security/peerauthentication.yaml")
    assert mtls["spec"] == {"mtls": {"mode": "STRICT"}}


def test_the_ingress_routes_the_seed_backends(example_tree: dict[str, str]) -> None:
    paths = _object(example_tree, "overlays/production/ingress.yaml")["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [
        ("/api/posts/*", "fn-posts"),
        ("/api/notifications/*", "fn-notifications"),
        ("/api/matches/*", "fn-matcher"),
    ]


@settings(max_examples=25)
@given(platforms())
def test_any_valid_platform_renders_valid_manifests(platform: Platform) -> None:
    tree = render_platform(platform)
    assert render_platform(platform) == tree
    for path, text in tree.items():
        if path.startswith("prometheus/") or path.endswith("kustomization.yaml"):
            continue
        for document in documents(text):
            check_manifest(document, "1.32")


def test_metric_names_from_the_file_flow_into_rules_and_labels(tmp_path: Path) -> None:
    import attrs

    from findly_infra.domain import MetricNames

    platform = attrs.evolve(
        load_platform(EXAMPLE),
        metrics=MetricNames(
            requests="api_requests_total",
            latency="api_latency_seconds",
            service_label="app_name",
            version_label="release",
            status_label="code",
            environment_label="stage",
        ),
    )
    tree = render_platform(platform)
    slo = tree["prometheus/slo.rules.yaml"]
    assert 'api_requests_total{code=~"5.."}' in slo
    assert "sum by (app_name, stage)" in slo  # one Prometheus may see every environment: never mix them
    assert "api_latency_seconds_bucket{le=~" in slo
    assert "http_requests_total" not in slo
    labels = documents(tree["overlays/production/fn-posts/deployment-stable.yaml"])[0]["spec"]["template"]["metadata"][
        "labels"
    ]
    assert labels["app_name"] == "fn-posts"
    assert labels["release"] == "latest"
    assert labels["stage"] == "production"
    write_tree(tree, tmp_path)
    checked = subprocess.run(
        [tool("promtool"), "check", "rules", *map(str, sorted((tmp_path / "prometheus").glob("*.rules.yaml")))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _documents_of(tree: dict[str, str]) -> list[object]:
    return [doc for name, text in sorted(tree.items()) if name.endswith(".yaml") for doc in yaml.safe_load_all(text)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_the_yaml_writer_reads_back_exactly_what_it_was_given(document: dict[str, object]) -> None:
    """Any text (quotes, colons, '#', 'yes', '1.0', newlines, control characters, Unicode) survives the writer."""
    assert yaml.safe_load(dump(document)) == document


def test_the_yaml_writer_reads_back_every_rendered_document(example_tree: dict[str, str]) -> None:
    documents = _documents_of(example_tree)
    assert len(documents) > 50
    for document in documents:
        assert yaml.safe_load(dump(document)) == document
    promql = next(text for text in example_tree.values() if "|-\n" in text or "|\n" in text)  # literal blocks
    assert "expr: |" in promql
