"""The layers keep their promises: a pure domain, a curated public API, a typed package."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import findly_infra
import findly_infra.domain

SRC = Path(findly_infra.__file__).parent
PURE_STDLIB = {
    "__future__",
    "abc",
    "collections",
    "dataclasses",
    "datetime",  # values only: the purity test below forbids reading the clock
    "decimal",
    "difflib",
    "enum",
    "fractions",
    "functools",
    "ipaddress",
    "itertools",
    "math",
    "operator",
    "re",
    "string",
    "types",
    "typing",
    "uuid",
}
IMPURE_CALLS = {"open", "print", "input", "exec", "eval"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted((SRC / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_only_pure_stdlib_attrs_and_itself(path: Path) -> None:
    lazy_loader = {"importlib"} if path.name == "__init__.py" else set()  # loads the domain's own modules on use
    for name in _imports(path):
        root = name.split(".")[0]
        assert (
            root in PURE_STDLIB | lazy_loader or root in ("attrs", "attr") or name.startswith("findly_infra.domain")
        ), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", sorted((SRC / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_does_no_io_and_reads_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in IMPURE_CALLS, f"{path.name}:{node.lineno} calls {node.func.id}"
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("now", "utcnow", "today", "monotonic", "time_ns"), f"{path.name}:{node.lineno}"


@pytest.mark.parametrize("layer", ["domain", "config"])
def test_dependencies_point_inward(layer: str) -> None:
    forbidden = {
        "domain": ("findly_infra.config", "findly_infra.adapters", "findly_infra.application", "findly_infra.cli"),
        "config": ("findly_infra.adapters", "findly_infra.application", "findly_infra.cli"),
    }[layer]
    for path in (SRC / layer).glob("*.py"):
        for name in _imports(path):
            assert not name.startswith(forbidden), f"{path.name} imports {name}"


def test_every_public_name_resolves() -> None:
    for name in findly_infra.__all__:
        assert getattr(findly_infra, name) is not None
    for name in findly_infra.domain.__all__:
        assert getattr(findly_infra.domain, name) is not None


def test_the_package_is_typed() -> None:
    assert (SRC / "py.typed").exists()


def test_the_domain_modules_all_have_an_all() -> None:
    for path in (SRC / "domain").glob("*.py"):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"findly_infra.domain.{path.stem}")
        assert hasattr(module, "__all__"), path.name
        for name in module.__all__:
            assert hasattr(module, name), f"{path.name}: {name}"
            assert name in findly_infra.domain.__all__, f"{name} is not exported from findly_infra.domain"


def test_importing_the_package_is_light() -> None:
    import subprocess

    code = (
        "import sys, findly_infra; "
        "print(sorted(m for m in sys.modules if m.startswith(('yaml', 'cattrs', 'findly_infra.'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
