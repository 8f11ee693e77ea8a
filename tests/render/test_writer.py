"""The YAML writer and the tree writer made fast (issue 24) give what they gave before, and check what they checked.

The writer before issue 24 is kept verbatim in ``yaml_reference``: every document, rendered or arbitrary, must come
out byte for byte as it did (libyaml's emitter, ``yaml.CSafeDumper``, was measured and not taken: three times this
writer's time, and quoting otherwise in half the rendered documents — so there is one writer, not two to compare).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import HorizontalAutoscaler, Platform, ResourceMetricTarget, Service
from findly_infra.render import UnsafeOutputError, render_platform, write_tree
from findly_infra.render import tree as render_tree
from findly_infra.render.tree import HEADER, dump
from findly_infra.testing.strategies import platforms
from tests.conftest import EXAMPLE

from . import yaml_reference

# texts that recur (as keys and as values, across documents), with what YAML makes tricky: line breaks (a literal
# block as a value, quoted as a key), trailing spaces, quotes, reserved words, numbers, control characters
tricky = st.sampled_from(
    ["a", "app", "yes", "1.0", "", " x", "a: b", "#", "x\ny", "x\ny\n", "x \ny", "\n", "- a", "\x85", "é", "'\""]
)
texts = tricky | st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(texts, children, max_size=4)
        | st.dictionaries(st.integers() | st.booleans() | st.none(), children, max_size=2)
        | st.dictionaries(texts, children, max_size=2).map(MappingProxyType)  # a Mapping that is not a dict
    ),
    max_leaves=25,
)


@settings(max_examples=400)
@given(st.lists(documents, min_size=1, max_size=4))
def test_the_writer_writes_every_document_as_the_writer_before_it(batch: list[Any]) -> None:
    """One render's documents share what was already written (``_Texts``): a text met as a key must still be a
    literal block as a value, a number never a text."""
    shared = render_tree._Texts()
    assert [render_tree._dump(document, shared) for document in batch] == [
        yaml_reference.dump(document) for document in batch
    ]
    assert [dump(document) for document in batch] == [yaml_reference.dump(document) for document in batch]


def _spied_render(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str]]:
    """Render *platform*, recording each document the writer was given and what it wrote."""
    written: list[tuple[Any, str]] = []
    real = render_tree._dump

    def spy(document: Any, shared: Any) -> str:
        text = real(document, shared)
        written.append((document, text))
        return text

    with monkeypatch.context() as patch:
        patch.setattr(render_tree, "_dump", spy)
        render_platform(platform)
    return written


def _many_services(count: int) -> Platform:
    base = load_platform(EXAMPLE)
    services = tuple(Service(f"svc-{i:04d}", image=f"gcr.io/findly-now/svc-{i:04d}") for i in range(count))
    scaled = tuple(
        HorizontalAutoscaler(s.name.replace("-", "_"), 2, 10, (ResourceMetricTarget("cpu", 70),)) for s in services
    )
    return attrs.evolve(
        base, services=(*base.services, *services), hpa_configuration=(*base.hpa_configuration, *scaled)
    )


@pytest.mark.parametrize("platform", [load_platform(EXAMPLE), _many_services(300)], ids=["example", "300-services"])
def test_every_rendered_document_is_written_as_before(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    written = _spied_render(platform, monkeypatch)
    assert len(written) > 80
    for document, text in written:
        assert text == yaml_reference.dump(document)


@settings(max_examples=15, deadline=None)
@given(platforms())
def test_any_platform_renders_as_before(platform: Platform) -> None:
    with pytest.MonkeyPatch.context() as patch:
        written = _spied_render(platform, patch)
    for document, text in written:
        assert text == yaml_reference.dump(document)


# ---- the tree on disk -----------------------------------------------------------------------------------------


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call that names a path (not an open descriptor) to the functions that look at, open or make one: the
    filesystem checks writing a tree makes. The calls go through to the real functions."""
    calls: list[str] = []

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(path: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(path, int):
                calls.append(f"{name} {os.fspath(path)}")
            return real(path, *args, **kwargs)

        return call

    for name in ("stat", "lstat", "open", "mkdir", "scandir", "listdir", "rmdir", "unlink"):
        monkeypatch.setattr(os, name, spy(name, getattr(os, name)))
    monkeypatch.setattr(io, "open", spy("io.open", io.open))
    return calls


def _folders(tree: dict[str, str]) -> set[str]:
    return {parent.as_posix() for relative in tree for parent in Path(relative).parents if parent != Path()}


def test_writing_an_unchanged_tree_checks_each_folder_once_per_pass(
    example_tree: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once to check and compare, once to prune: not once per file and per folder above it (issue 24: that was
    half of writing a thousand services' tree)."""
    write_tree(example_tree, tmp_path)
    calls = _counting(monkeypatch)
    assert write_tree(example_tree, tmp_path) == []
    monkeypatch.undo()
    folders = _folders(example_tree) | {"."}  # (and the output folder, made sure of: two calls more)
    assert len(calls) <= len(example_tree) + 2 * len(folders) + 2, f"{len(calls)} calls, e.g. {calls[:12]}"


def test_a_path_leading_out_of_the_output_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    for relative in ("../outside.yaml", "base/../../outside.yaml", str(tmp_path / "absolute.yaml"), "base//x.yaml"):
        with pytest.raises(UnsafeOutputError, match="is not a path below"):
            write_tree({"base/a.yaml": HEADER, relative: HEADER}, out)
    assert sorted(tmp_path.iterdir()) == []  # nothing written, not even the folder


def test_a_link_anywhere_on_the_way_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    outside, out = tmp_path / "outside", tmp_path / "deploy"
    tree = {"base/a.yaml": HEADER + "a\n", "overlays/production/svc/deployment.yaml": HEADER + "d\n"}
    write_tree(tree, out)
    changed = {relative: text + "changed\n" for relative, text in tree.items()}
    for link in ("overlays/production/svc", "overlays/production/svc/deployment.yaml", "overlays"):
        outside.mkdir()
        moved = out / link
        moved.rename(outside / "moved")
        moved.symlink_to(outside / "moved")
        with pytest.raises(UnsafeOutputError, match=f"{moved} is a symbolic link"):
            write_tree(changed, out)
        assert (out / "base" / "a.yaml").read_text() == tree["base/a.yaml"]  # checked before anything is written
        moved.unlink()
        (outside / "moved").rename(moved)
        outside.rmdir()


def test_a_link_where_a_pruned_folder_would_be_is_left_alone(tmp_path: Path) -> None:
    """As before: pruning never follows a link, even one in the place of a whole folder it prunes."""
    outside, out = tmp_path / "outside", tmp_path / "deploy"
    outside.mkdir()
    (outside / "victim.yaml").write_text(HEADER + "not in the tree, but not ours either\n")
    out.mkdir()
    (out / "prometheus").symlink_to(outside)  # the tree has no prometheus/: nothing is written through the link
    (out / "access").write_text("a file where a folder would be\n")
    assert write_tree({"base/a.yaml": HEADER}, out) == [out / "base" / "a.yaml"]
    assert (outside / "victim.yaml").exists()
    assert (out / "prometheus").is_symlink()


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def test_files_saved_with_crlf_line_breaks_read_as_before(tmp_path: Path) -> None:
    """As before: a rendered file an editor saved with CRLF holds the same text (not rewritten), and one of ours no
    longer rendered is still ours (pruned)."""
    tree = {"base/a.yaml": HEADER + "a: 1\n"}
    write_tree(tree, tmp_path)
    (tmp_path / "base" / "a.yaml").write_bytes(_crlf(tree["base/a.yaml"]))
    (tmp_path / "base" / "gone.yaml").write_bytes(_crlf(HEADER + "b: 2\n"))
    (tmp_path / "base" / "mine.yaml").write_bytes(b"# mine\r\n")
    assert write_tree(tree, tmp_path) == [tmp_path / "base" / "gone.yaml"]
    assert (tmp_path / "base" / "a.yaml").read_bytes() == _crlf(tree["base/a.yaml"])
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == ["a.yaml", "mine.yaml"]


def test_a_folder_or_file_in_the_way_fails_before_anything_is_written(tmp_path: Path) -> None:
    tree = {"base/a.yaml": HEADER + "a\n", "base/svc/b.yaml": HEADER + "b\n"}
    write_tree(tree, tmp_path)
    changed = {relative: text + "changed\n" for relative, text in tree.items()}
    (tmp_path / "base" / "svc" / "b.yaml").unlink()
    (tmp_path / "base" / "svc").rmdir()
    (tmp_path / "base" / "svc").write_text("a file where a folder goes\n")
    with pytest.raises(NotADirectoryError, match=str(tmp_path / "base" / "svc")):
        write_tree(changed, tmp_path)
    assert (tmp_path / "base" / "a.yaml").read_text() == tree["base/a.yaml"]
