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
    "hashlib",  # digests are computations: a purpose audience names what a token acts on
    "functools",
    "ipaddress",
    "json",  # encoding values only (dumps), never a file
    "itertools",
    "math",
    "operator",
    "re",
    "string",
    "types",
    "typing",
    "unicodedata",  # character data only
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in SRC.rglob("*.py")}


def _main_block(statement: ast.stmt) -> bool:
    test = statement.test if isinstance(statement, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and [type(c) for c in test.comparators] == [ast.Constant]
        and getattr(test.comparators[0], "value", None) == "__main__"
    )


def _arrows(name: str) -> set[str]:
    """The package's own modules that *name* imports — at the top, inside functions, or for type checking; not
    in its ``if __name__ == "__main__":`` block, which runs only when the module is the program (``python -m``: a
    stand-in's launcher), never when it is imported."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    tree.body = [statement for statement in tree.body if not _main_block(statement)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:  # `from package import module` is an arrow to the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {target for target in found if target in MODULES and target != name}


GRAPH = {name: _arrows(name) for name in MODULES}

# What each part of the package may import of the package (DESIGN.md: dependencies point inward only).
# The composition root (bootstrap) is the one place adapters are built, and hands the use cases what they need
# (the renderer of an environment's objects, for the workloads on a cluster); `testing` ships the in-memory
# adapters and the simulator for users' own tests, so it may reach them too.
ALLOWED = {
    "domain": {"domain"},
    "config": {"domain", "config", "promql", "render"},  # validate parses the PromQL the file carries and renders
    "render": {"domain", "render", "promql"},
    "promql": {"domain", "promql"},
    "application": {"domain", "application"},
    "adapters": {"domain", "application", "adapters", "promql"},
    "bootstrap": {"domain", "application", "adapters", "bootstrap", "config", "examples", "logs", "render"},
    "cli": {"", "domain", "application", "config", "render", "examples", "bootstrap", "cli", "logs"},
    "__main__": {"cli"},
    "testing": {"domain", "application", "adapters", "config", "examples", "bootstrap", "testing"},
    "logs": set(),
    "examples": set(),
}


def _part(name: str) -> str:
    """The layer a module belongs to: ``findly_infra.cli.present`` -> ``cli``; the root package -> ``""``
    (its ``__version__``; its public names load lazily, by name)."""
    return name.split(".")[1] if name.count(".") else ""


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "findly_infra"))
def test_dependencies_point_inward(name: str) -> None:
    part = _part(name)
    assert part in ALLOWED, f"{name} belongs to no layer the architecture knows"
    for target in GRAPH[name]:
        assert _part(target) in ALLOWED[part], f"{name} imports {target}"


def test_no_adapter_is_imported_outside_the_adapters_and_the_composition_root() -> None:
    for name, targets in GRAPH.items():
        if _part(name) in ("adapters", "bootstrap", "testing"):
            continue
        assert not {t for t in targets if _part(t) == "adapters"}, name


def test_no_module_imports_itself_back_through_a_circle() -> None:
    def reaches(start: str, goal: str) -> list[str] | None:
        seen, paths = {start}, [[start]]
        while paths:
            path = paths.pop()
            for following in sorted(GRAPH[path[-1]]):
                if following == goal:
                    return [*path, goal]
                if following not in seen:
                    seen.add(following)
                    paths.append([*path, following])
        return None

    for name in MODULES:
        circle = reaches(name, name)
        assert circle is None, " -> ".join(circle)


def test_no_private_name_crosses_a_module() -> None:
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("findly_infra"):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                assert not private, f"{name} imports {private} from {node.module}"


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
