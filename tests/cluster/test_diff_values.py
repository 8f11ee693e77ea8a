"""``diff --env`` shows values, as ``kubectl diff`` does: per object a unified diff of its YAML as the cluster holds
it against the object the server-side dry run returns (kubernetes/kubectl pkg/cmd/diff/diff.go: ``InfoObject.Live``
against ``InfoObject.Merged``), a Secret's values masked (``Masker``); ``--json`` the values structured."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import KubernetesObjects
from findly_infra.application.cluster_apply import Change, apply_environment, diff_environment
from findly_infra.application.ports import ClusterObjects
from findly_infra.cli import EXIT_DRIFT
from findly_infra.render.objects import environment_objects, for_apply
from tests.conftest import EXAMPLE

PLATFORM = load_platform(EXAMPLE)
NS = "findly-now-production"
IMAGE = "gcr.io/findly-now/fn-posts"


def production(versions: dict[str, str] | None = None, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return for_apply([*environment_objects(PLATFORM, "production", versions), *extra], "production")


def diff(kubeconfig: Path, tmp_path: Path, *args: str, json_: bool = False) -> tuple[int, str]:
    said = ["--json"] if json_ else []
    result = subprocess.run(
        [sys.executable, "-m", "findly_infra", *said, "diff", "--env", "production", "--context", "stand-in", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "FINDLY_CONFIG": str(EXAMPLE),
            "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
            "GITHUB_ACTIONS": "",
        },
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout


def body(change: Change) -> list[str]:
    """The unified diff's lines after its ``---``/``+++`` header and ``@@`` hunks' heads."""
    return [line for line in change.unified()[2:] if not line.startswith("@@")]


def test_a_changed_image_is_shown_old_and_new_as_a_unified_diff_of_the_yaml(
    objects: KubernetesObjects, kubeconfig: Path, tmp_path: Path
) -> None:
    apply_environment(objects, production({"fn-posts": "1.0.0"}), "production", NS)
    code, text = diff(kubeconfig, tmp_path, "--version", "fn-posts=2.0.0")
    assert code == EXIT_DRIFT
    lines = text.splitlines()
    start = lines.index(
        f"deployment.apps/fn-posts in {NS} configured (dry run): metadata.labels.version, "
        "spec.template.metadata.labels.version, spec.template.spec.containers[0].image"
    )
    assert lines[start + 1 : start + 3] == [
        f"--- live/{NS}/deployment.apps/fn-posts",
        f"+++ merged/{NS}/deployment.apps/fn-posts",
    ]
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith((" ", "-", "+", "@@")))
    section = lines[start + 3 : end]
    assert [line for line in section if line.startswith(("-", "+"))] == [
        "-    version: 1.0.0",
        "+    version: 2.0.0",
        "-        version: 1.0.0",
        "+        version: 2.0.0",
        f"-      - image: {IMAGE}:1.0.0",
        f"+      - image: {IMAGE}:2.0.0",
    ]
    code, structured = diff(kubeconfig, tmp_path, "--version", "fn-posts=2.0.0", json_=True)
    assert code == EXIT_DRIFT
    changed = {c["name"]: c for c in json.loads(structured)["changes"] if c["action"] != "unchanged"}
    assert changed["fn-posts"]["values"] == [
        {"path": "metadata.labels.version", "old": "1.0.0", "new": "2.0.0"},
        {"path": "spec.template.metadata.labels.version", "old": "1.0.0", "new": "2.0.0"},
        {"path": "spec.template.spec.containers[0].image", "old": f"{IMAGE}:1.0.0", "new": f"{IMAGE}:2.0.0"},
    ]


def secret(**data: str) -> dict[str, Any]:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fn-posts-db", "namespace": NS}}
    return for_apply([{**manifest, "type": "Opaque", "data": encoded}], "production")[0]


@attrs.define
class Secrets:
    """A cluster holding Secrets, as a server-side apply by one manager leaves them: the object applied, with the
    server's bookkeeping. findly-infra renders no Secret today (its adapter applies none), so the masking that
    guards ``diff`` against printing one is checked here, through the port."""

    objects: dict[tuple[str, str], dict[str, Any]] = attrs.Factory(dict)
    server: str = "fake"

    def apply_object(
        self,
        manifest: Mapping[str, Any],
        *,
        dry_run: bool = False,
        force: bool = False,  # noqa: ARG002 - one manager alone: nothing to conflict with
    ) -> tuple[dict[str, Any], bool]:
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        merged = copy.deepcopy(dict(manifest))
        merged["metadata"].update(resourceVersion="2", managedFields=[{"manager": "findly-infra"}])
        created = key not in self.objects
        if not dry_run:
            self.objects[key] = merged
        return merged, created

    def get(self, api_version: str, kind_name: str, namespace: str, name: str) -> dict[str, Any] | None:  # noqa: ARG002
        return self.objects.get((namespace, name))

    def managed(self, api_version: str, kind_name: str, namespace: str, selector: str) -> list[dict[str, Any]]:  # noqa: ARG002
        return [o for (ns, _), o in self.objects.items() if kind_name == "Secret" and ns == namespace]

    def served(self, kinds: Any) -> set[tuple[str, str]]:
        return set(kinds)

    def delete(self, api_version: str, kind_name: str, namespace: str, name: str, *, dry_run: bool = False) -> None:  # noqa: ARG002
        if not dry_run:
            del self.objects[(namespace, name)]


def test_a_secrets_values_are_never_shown_only_whether_each_changed() -> None:
    """kubectl diff masks a Secret's data: ``***`` where a value is the same, ``*** (before)`` / ``*** (after)``
    where it changes (kubernetes/kubectl pkg/cmd/diff/diff.go, ``Masker``)."""
    cluster = cast(ClusterObjects, Secrets())
    apply_environment(cluster, [secret(user="reader", password="hunter2")], "production", NS, prune=False)
    wanted = [secret(user="reader", password="correct-horse", token="t0k3n")]
    report = diff_environment(cluster, wanted, "production", NS, prune=False)
    (change,) = report.changes
    assert (change.kind, change.action, change.fields) == ("Secret", "configure", ("data.password", "data.token"))
    shown = "\n".join(change.unified()) + json.dumps(change.to_json())
    for value in ("reader", "hunter2", "correct-horse", "t0k3n"):
        assert value not in shown
        assert base64.b64encode(value.encode()).decode() not in shown
    assert body(change) == [
        " apiVersion: v1",
        " data:",
        "-  password: '*** (before)'",
        "+  password: '*** (after)'",
        "+  token: '***'",
        "   user: '***'",
        " kind: Secret",
        " metadata:",
    ]
    assert change.to_json()["values"] == [
        {"path": "data.password", "old": "*** (before)", "new": "*** (after)"},
        {"path": "data.token", "old": None, "new": "***"},
    ]
    created = diff_environment(cast(ClusterObjects, Secrets()), wanted, "production", NS, prune=False)
    assert [line for line in body(created.changes[0]) if "***" in line] == [
        "+  password: '***'",
        "+  token: '***'",
        "+  user: '***'",
    ]


def test_an_object_to_create_is_all_added_and_one_to_prune_all_removed(objects: KubernetesObjects) -> None:
    created = diff_environment(objects, production(), "production", NS)
    namespace = next(c for c in created.changes if c.kind == "Namespace")
    assert namespace.action == "create"
    assert body(namespace)
    assert all(line.startswith("+") for line in body(namespace))
    assert "+  name: findly-now-production" in body(namespace)
    assert namespace.unified()[:2] == [
        "--- live/namespace/findly-now-production",
        "+++ merged/namespace/findly-now-production",
    ]

    apply_environment(objects, production(), "production", NS)
    without = [o for o in production() if (o["kind"], o["metadata"]["name"]) != ("PodDisruptionBudget", "fn-posts")]
    pruned = diff_environment(objects, without, "production", NS)
    (gone,) = [c for c in pruned.changes if c.action != "unchanged"]
    assert (gone.kind, gone.name, gone.action) == ("PodDisruptionBudget", "fn-posts", "prune")
    assert body(gone)
    assert all(line.startswith("-") for line in body(gone))
    assert "-  name: fn-posts" in body(gone)
    assert all("managedFields" not in line and "resourceVersion" not in line for line in gone.unified())


def test_apply_carries_no_diff(objects: KubernetesObjects) -> None:
    report = apply_environment(objects, production(), "production", NS, dry_run=True)
    assert all(not change.unified() and "values" not in change.to_json() for change in report.changes)
