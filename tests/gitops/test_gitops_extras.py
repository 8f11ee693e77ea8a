"""A GitOps environment whose controller cannot be read (the ``kubernetes`` extra missing) commits nothing: the
command ends in exit 2 naming the extra, before any change is pushed that the controller would deploy (user review,
issue 28: the commit was pushed, then the command failed with exit 5 saying "the cluster could not be told")."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from unittest import mock

import pytest

from findly_infra.cli import main
from findly_infra.examples import example_platform_text
from tests.gitops.stand_in_repos import bare, commit, git


def _platform(tmp_path: Path, repository: Path) -> Path:
    text = example_platform_text() + (
        f'\ngitops:\n  repository: "{repository}"\n  controller: argocd\n'
        "  environments:\n    development: {name: findly-development}\n"
    )
    path = tmp_path / "findly.yaml"
    path.write_text(text)
    return path


def test_a_gitops_promotion_without_the_kubernetes_extra_commits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = bare(tmp_path / "deploy.git")
    overlay = "k8s/overlays/development/fn-posts/deployment-stable.yaml"
    head = commit(repository, {overlay: "spec:\n  containers:\n  - image: gcr.io/findly-now/fn-posts:0.9.0\n"}, "seed")
    config = _platform(tmp_path, repository)
    env = {
        "FINDLY_CONFIG": str(config),
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        "FINDLY_ACTOR": "erin",
        "FINDLY_GITOPS_CACHE": str(tmp_path / "cache"),
    }
    from findly_infra.bootstrap import extras

    real = extras.missing_modules
    monkeypatch.setattr(
        extras, "missing_modules", lambda modules: ["kubernetes"] if "kubernetes" in modules else real(modules)
    )
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        code = main(["deploy", "fn-posts", "1.0.0", "--env", "development", "--json"], out=out)
    document = json.loads(out.getvalue())
    assert code == 2, document
    assert "'kubernetes' extra" in document["error"]["message"]
    assert git("--git-dir", str(repository), "rev-parse", "main") == head  # nothing pushed
    with mock.patch.dict(os.environ, env):
        out = io.StringIO()
        main(["history", "fn-posts", "--json"], out=out)
    assert not [e for e in json.loads(out.getvalue())["events"] if e["type"] == "rollout_started"]
