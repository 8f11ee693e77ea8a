"""A bare Git repository for the GitOps stand-ins' tests, and commits to it through a throwaway clone (git CLI)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd or Path.cwd())},
    )
    return done.stdout.strip()


def bare(path: Path, branch: str = "main") -> Path:
    git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(path))
    return path


def commit(
    repository: Path, files: Mapping[str, str | None], message: str, *, branch: str = "main", start: str | None = None
) -> str:
    """Commit *files* (path → text; ``None`` deletes) on *branch* of the bare *repository* (a new branch from *start*,
    default the branch itself or an empty history); the new head."""
    work = repository.parent / f"work-{os.getpid()}-{abs(hash((message, branch)))}"
    git("clone", "--quiet", str(repository), str(work))
    existing = git("ls-remote", "--heads", str(repository), branch)
    if existing:
        git("checkout", "--quiet", branch, cwd=work)
    elif start:
        git("checkout", "--quiet", "-b", branch, f"origin/{start}", cwd=work)
    else:
        git("checkout", "--quiet", "--orphan", branch, cwd=work)
    for name, text in files.items():
        target = work / name
        if text is None:
            git("rm", "--quiet", name, cwd=work)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        git("add", name, cwd=work)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
    git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work)
    subprocess.run(["rm", "-rf", str(work)], check=True)
    return head


def deployment(service: str, version: str, image: str = "ghcr.io/findly-now") -> str:
    """A rendered overlay's Deployment, as ``render`` writes one (the image is the part that matters here)."""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {service}
spec:
  selector:
    matchLabels:
      app: {service}
  template:
    metadata:
      labels:
        app: {service}
    spec:
      containers:
        - name: {service}
          image: "{image}/{service}:{version}"
"""
