"""`findly-infra render`: files on disk, exit codes and --json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import EXAMPLE
from tests.test_cli import run


def test_render_writes_every_environment_and_is_idempotent(tmp_path: Path) -> None:
    first = run("--config", str(EXAMPLE), "render", "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "rendered 83 files" in first.stdout  # an Ingress per environment (issue 22), alertmanager.yaml (26)
    assert (tmp_path / "overlays" / "production" / "kustomization.yaml").exists()
    again = json.loads(run("--config", str(EXAMPLE), "--json", "render", "--out", str(tmp_path)).stdout)
    assert again["ok"] is True
    assert again["changed"] == 0


def test_render_one_environment_leaves_the_others_alone(tmp_path: Path) -> None:
    assert run("--config", str(EXAMPLE), "render", "--out", str(tmp_path)).returncode == 0
    one = run(
        "--config", str(EXAMPLE), "render", "--out", str(tmp_path), "--env", "production", "--version", "fn-posts=2.0.1"
    )
    assert one.returncode == 0, one.stderr
    assert (tmp_path / "overlays" / "staging" / "kustomization.yaml").exists()
    assert (
        "fn-posts:2.0.1" in (tmp_path / "overlays" / "production" / "fn-posts" / "deployment-stable.yaml").read_text()
    )


def test_render_prunes_what_the_platform_no_longer_has(tmp_path: Path) -> None:
    assert run("--config", str(EXAMPLE), "render", "--out", str(tmp_path)).returncode == 0
    stale = tmp_path / "overlays" / "qa" / "old.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text((tmp_path / "overlays" / "staging" / "namespace.yaml").read_text())
    mine = tmp_path / "overlays" / "notes.yaml"
    mine.write_text("# my own file\n")
    assert run("--config", str(EXAMPLE), "render", "--out", str(tmp_path)).returncode == 0
    assert not stale.exists()
    assert not stale.parent.exists()
    assert mine.exists()  # only files we rendered are ever deleted


def test_render_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    unknown = json.loads(
        run("--config", str(EXAMPLE), "--json", "render", "--out", str(tmp_path), "--env", "prod").stdout
    )
    assert unknown["error"]["message"].startswith("unknown environment 'prod'")
    assert run("--config", str(EXAMPLE), "render", "--out", str(tmp_path), "--version", "fn-posts").returncode == 2
    assert run("--config", str(EXAMPLE), "render", "--out", str(tmp_path), "--version", "nope=1").returncode == 2
    broken = tmp_path / "findly.yaml"
    broken.write_text("environments: [")
    result = run("--config", str(broken), "render", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "invalid YAML" in result.stdout
    assert not (tmp_path / "out").exists()


def test_render_never_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.yaml").write_text("mine\n")
    out = tmp_path / "deploy"
    out.mkdir()
    (out / "base").symlink_to(outside)  # a link in the output tree leading out of it
    result = run("--config", str(EXAMPLE), "render", "--out", str(out))
    assert result.returncode == 2
    assert "is a symbolic link: render never writes through one" in result.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["precious.yaml"]  # nothing written or pruned out there
    assert (outside / "precious.yaml").read_text() == "mine\n"
    (out / "base").unlink()
    assert run("--config", str(EXAMPLE), "render", "--out", str(out)).returncode == 0
    victim = outside / "victim.yaml"
    victim.write_text(
        "# Rendered by findly-infra from the platform file. Do not edit: change the file and render again.\n"
    )
    (out / "overlays" / "gone").symlink_to(outside)  # a link among the folders render prunes
    assert run("--config", str(EXAMPLE), "render", "--out", str(out)).returncode == 0
    assert victim.exists()  # pruning never follows a link
