"""``render --out`` says what changed against the tree already there (issue 26): per file created, changed (with a
unified diff), removed (ours, no longer rendered) or kept (``--no-prune``), unchanged counted; ``--check`` writes
nothing and exits 7 when the folder differs; the files are written all or nothing."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path
from typing import Any

import pytest

from findly_infra.render import write_tree
from findly_infra.render.tree import HEADER, tree_changes
from tests.conftest import EXAMPLE
from tests.test_cli import run

DEPLOYMENT = "overlays/production/fn-posts/deployment-stable.yaml"


def render(out: Path, *args: str) -> Any:
    result = run("--config", str(EXAMPLE), "--json", "render", "--out", str(out), *args)
    assert result.returncode in (0, 7), result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def test_render_says_per_file_what_changed_with_a_diff_of_the_values(tmp_path: Path) -> None:
    first = render(tmp_path)[1]
    files = len(first["files"])  # (the count: other sections add files)
    assert first["counts"]["created"] == files
    stale = tmp_path / "overlays" / "qa" / "old.yaml"  # ours (our header), no longer rendered
    stale.parent.mkdir(parents=True)
    stale.write_text(HEADER + "kind: Namespace\n")
    mine = tmp_path / "overlays" / "notes.yaml"
    mine.write_text("# my own file\n")
    text = run(
        "--config", str(EXAMPLE), "render", "--out", str(tmp_path), "--env", "production", "--version", "fn-posts=2.0.1"
    )
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    head = re.fullmatch(
        rf"rendered (\d+) files into {re.escape(str(tmp_path))} \(2 changed: 2 changed, (\d+) unchanged\)", lines[0]
    )
    assert head is not None, lines[0]
    assert int(head.group(1)) == int(head.group(2)) + 2
    assert f"changed   {DEPLOYMENT}" in lines
    assert f"  --- a/{DEPLOYMENT}" in lines
    assert '  -        image: "gcr.io/findly-now/fn-posts:latest"' in lines
    assert '  +        image: "gcr.io/findly-now/fn-posts:2.0.1"' in lines
    assert stale.exists()  # --env production prunes overlays/production only
    code, document = render(tmp_path)
    assert code == 0
    changes = {change["path"]: change for change in document["changes"]}
    assert changes["overlays/qa/old.yaml"] == {"path": "overlays/qa/old.yaml", "state": "removed"}
    assert changes[DEPLOYMENT]["state"] == "changed"
    assert '+        image: "gcr.io/findly-now/fn-posts:latest"' in changes[DEPLOYMENT]["diff"].splitlines()
    assert "overlays/notes.yaml" not in changes  # not ours: never removed, never listed
    assert document["counts"] == {"created": 0, "changed": 2, "removed": 1, "kept": 0, "unchanged": files - 2}
    assert not stale.exists()
    assert mine.exists()


def test_render_check_writes_nothing_and_exits_7_when_the_folder_differs(tmp_path: Path) -> None:
    """For CI: a committed tree that the platform file no longer renders is caught (exit 7, as diff's)."""
    files = len(render(tmp_path)[1]["files"])
    code, document = render(tmp_path, "--check")
    assert (code, document["differs"], document["changes"]) == (0, False, [])
    deployment = tmp_path / DEPLOYMENT
    edited = deployment.read_text().replace("fn-posts:latest", "fn-posts:9.9.9")
    deployment.write_text(edited)
    stale = tmp_path / "base" / "gone.yaml"
    stale.write_text(HEADER + "kind: ConfigMap\n")
    text = run("--config", str(EXAMPLE), "render", "--out", str(tmp_path), "--check")
    assert text.returncode == 7
    said = f"{tmp_path} differs from the platform file (1 changed, 1 removed, {files - 1} unchanged)"
    assert text.stdout.startswith(said)
    assert '  -        image: "gcr.io/findly-now/fn-posts:9.9.9"' in text.stdout.splitlines()
    assert deployment.read_text() == edited  # nothing written ...
    assert stale.exists()  # ... nor removed
    code, document = render(tmp_path, "--check", "--no-prune")
    assert code == 7  # the edit; the stale file is kept as asked, and not a difference
    assert {"path": "base/gone.yaml", "state": "kept"} in document["changes"]


def test_a_failure_halfway_leaves_the_tree_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk on the third file: no file of the tree changed, nothing staged left, no folder made for it."""
    from findly_infra.render import tree as module

    tree = {f"base/svc{i}/a.yaml": HEADER + f"a: {i}\n" for i in range(4)}
    write_tree(tree, tmp_path)
    changed = {relative: text + "changed: true\n" for relative, text in tree.items()}
    changed["overlays/new/b.yaml"] = HEADER + "b: 1\n"
    real, calls = module._write, []

    def full_disk(*args: Any) -> None:
        calls.append(args)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(*args)

    monkeypatch.setattr(module, "_write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_tree(changed, tmp_path)
    monkeypatch.undo()
    assert {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == tree
    assert not (tmp_path / "overlays").exists()
    assert [c.state for c in tree_changes(changed, tmp_path)] == ["changed"] * 4 + ["created"]


def test_render_check_compares_with_the_render_of_the_same_env_and_version(tmp_path: Path) -> None:
    """Issue 26 (new user, item 19): a tree rendered with ``--version`` passes ``--check`` only with the same flags;
    render.md says so."""
    pinned = ("--env", "production", "--version", "fn-posts=1.4.2")
    render(tmp_path)
    render(tmp_path, *pinned)
    assert render(tmp_path, *pinned, "--check")[0] == 0
    assert render(tmp_path, "--check")[0] == 7
    page = " ".join((Path(__file__).parents[2] / "docs" / "render.md").read_text().split())
    assert "give it **the same `--env` and `--version`** as the render that made the tree" in page
