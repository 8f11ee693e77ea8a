"""A GitOps world for the release tests, on the real pieces: a platform file (the example, every environment handed
to a local bare repository, all rolling, production needing one approval), that repository seeded with ``findly-infra
render --out k8s`` and committed, the Kubernetes stand-in holding one Argo CD ``Application`` (or Flux
``Kustomization``) per environment, the test controller (``testing.gitops.GitOpsController``) playing Argo CD or Flux
in a thread, and the CLI run in-process on a SQLite state — through the composition root, as a person runs it.

The environment (``FINDLY_*``, ``KUBECONFIG``) is set once, before the controller's thread starts, and never changed
while it runs: a thread starting ``git`` while another changes ``os.environ`` reads a half-written environment."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
import yaml

from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.cli import main
from findly_infra.domain.events import Event
from findly_infra.examples import example_platform_text
from findly_infra.testing.gitops import GitOpsController
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.gitops.stand_in_repos import bare, git

SERVICES = ("fn-posts", "fn-matcher", "fn-notifications")
"""In dependency order (the example's ``depends_on``)."""
ENVIRONMENTS = ("development", "staging", "production")
SUITES = {"development": ("unit", "integration", "smoke"), "staging": ("e2e", "performance", "security", "load")}
TRAILER = "Findly-Change: "


def platform_text(repository: Path, controller: str) -> str:
    """The example, with production rolled out by ``rolling`` (a GitOps environment must) and approved by one group,
    a short rolling watch (one analysis, a second after the rollout), and every environment handed to
    *repository*, whose Applications (Kustomizations) live in the kubeconfig context ``stand-in``."""
    text = example_platform_text()
    text = text.replace('approvers: ["devops-team", "security-team"]', 'approvers: ["devops-team"]')
    text = text.replace('deployment_strategy: "blue-green"', 'deployment_strategy: "rolling"')
    assert text.count("depends_on") == 2, "the example's services changed"
    environments = "".join(f"    {env}: {{name: findly-{env}}}\n" for env in ENVIRONMENTS)
    return (
        text
        + f"""
rolling_strategy:
  progress_deadline: "60s"   # how long a rollout waits for the controller (a loaded machine: generous)
  watch: "0s"                # succeeded on the first passing analysis
  analysis: {{interval: "1s"}}

gitops:
  repository: "file://{repository}"
  controller: {controller}
  context: stand-in
  environments:
{environments}"""
    )


def overlay(environment: str, service: str) -> str:
    return f"k8s/overlays/{environment}/{service}/deployment-stable.yaml"


def plain_key(key: str) -> str:
    """A change key without the rollout's start (``fn-posts/staging/1.1.0/2026-…`` → ``fn-posts/staging/1.1.0``),
    the same in two runs of the same release."""
    return key.rsplit("/", 1)[0]


@attrs.frozen
class Commit:
    sha: str
    subject: str
    body: str
    key: str | None
    files: tuple[str, ...]
    changed: tuple[str, ...]
    """The lines the commit removed (``-``) and added (``+``), in order."""


@attrs.define
class World:
    """Everything that outlives one command: the folder (repository, state, clone cache, platform file)."""

    folder: Path
    controller: str = "argocd"
    failing: set[str] = attrs.field(factory=set)
    """Images (``service:version``) whose pods the controller never sees ready."""

    @property
    def repository(self) -> Path:
        return self.folder / "deploy.git"

    @property
    def state(self) -> Path:
        return self.folder / "state.sqlite3"

    def environment(self) -> dict[str, str]:
        return {
            "FINDLY_CONFIG": str(self.folder / "findly.yaml"),
            "FINDLY_STATE": str(self.state),
            "FINDLY_GITOPS_CACHE": str(self.folder / "cache"),
            "FINDLY_ACTOR": "erin",
            "KUBECONFIG": str(self.folder / "kubeconfig"),
            "GITHUB_ACTIONS": "",
            "GITHUB_TOKEN": "",
        }

    def seed(self, version: str) -> str:
        """The repository, made and seeded: the tree ``render --out k8s`` writes for *version* of every service,
        committed and pushed by a person; its head."""
        (self.folder / "findly.yaml").write_text(platform_text(self.repository, self.controller), encoding="utf-8")
        bare(self.repository)
        work = self.folder / "work"
        git("clone", "--quiet", str(self.repository), str(work))
        versions = [f"--version={service}={version}" for service in SERVICES]
        with mock.patch.dict(os.environ, self.environment()):
            assert main(["render", "--out", str(work / "k8s"), *versions], out=io.StringIO()) == 0
        git("add", "k8s", cwd=work)
        git("commit", "--quiet", "-m", "the rendered tree", cwd=work)
        git("push", "--quiet", "origin", "HEAD:main", cwd=work)
        return self.head()

    @contextlib.contextmanager
    def running(self) -> Iterator[Running]:
        """The stand-in (its kubeconfig written), the controller's objects, the controller's thread, and the
        environment set for the CLI — for as long as the block runs."""
        with (
            KubernetesStandIn() as cluster,
            mock.patch.dict(os.environ, self.environment()),
        ):
            (self.folder / "kubeconfig").write_text(yaml.safe_dump(cluster.kubeconfig()), encoding="utf-8")
            for namespace in ("argocd", "flux-system"):
                cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            for environment in ENVIRONMENTS:
                cluster.apply(self._object(environment))
            failing: Callable[[str], bool] = lambda image: image.rsplit("/", 1)[-1] in self.failing  # noqa: E731
            with GitOpsController(cluster, self.repository, failing=failing, interval=0.02) as controller:
                yield Running(self, cluster, controller)
            assert controller.errors == [], controller.errors

    def _object(self, environment: str) -> dict[str, Any]:
        name = {"name": f"findly-{environment}"}
        path = f"k8s/overlays/{environment}"
        if self.controller == "argocd":
            return {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {**name, "namespace": "argocd"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": f"file://{self.repository}", "path": path, "targetRevision": "main"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": f"findly-{environment}"},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                },
            }
        return {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {**name, "namespace": "flux-system"},
            "spec": {
                "interval": "1m",
                "prune": True,
                "wait": True,
                "path": f"./{path}",
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            },
        }

    # ---- reading back -------------------------------------------------------------------------------------------

    def head(self) -> str:
        return git("rev-parse", "main", cwd=self.repository)

    def commits(self, since: str) -> list[Commit]:
        """The commits of main after *since*, oldest first."""
        found = []
        for sha in git("rev-list", "--reverse", f"{since}..main", cwd=self.repository).split():
            message = git("log", "-1", "--format=%B", sha, cwd=self.repository)
            keys = [line[len(TRAILER) :].strip() for line in message.splitlines() if line.startswith(TRAILER)]
            files = git("diff-tree", "--no-commit-id", "--name-only", "-r", sha, cwd=self.repository).split()
            diff = git("show", "--format=", "--unified=0", sha, cwd=self.repository).splitlines()
            changed = tuple(line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))
            subject, _, body = message.partition("\n")
            found.append(Commit(sha, subject, body, keys[-1] if keys else None, tuple(files), changed))
        return found

    def read(self, path: str, revision: str = "main") -> str:
        return git("show", f"{revision}:{path}", cwd=self.repository)

    def events(self, stream: str) -> list[Event]:
        store = SqliteEventStore(self.state, create=False)
        try:
            return store.load(stream)[0]
        finally:
            store.close()


@attrs.define
class Running:
    world: World
    cluster: KubernetesStandIn
    controller: GitOpsController

    def cli(self, *args: str) -> tuple[int, Any]:
        """One command, in-process (``--json``: its document)."""
        out = io.StringIO()
        code = main(list(args), out=out)
        return code, json.loads(out.getvalue()) if "--json" in args else out.getvalue()

    def record_suites(self, environment: str, version: str) -> None:
        """CI's part: every suite of *environment* passed for each service's *version*."""
        for service in SERVICES:
            for suite in SUITES[environment]:
                code, said = self.cli("record", service, version, "--env", environment, "--suite", suite, "--passed")
                assert code == 0, said

    def status(self, environment: str) -> dict[str, Any]:
        kind = ("argoproj.io/v1alpha1", "Application", "argocd")
        if self.world.controller != "argocd":
            kind = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system")
        found = self.cluster.get(*kind, f"findly-{environment}")
        assert found is not None
        return dict(found.get("status") or {})


_SHA = re.compile(r"\b[0-9a-f]{12,40}\b")


def without_shas(text: str) -> str:
    return _SHA.sub("<sha>", text)
