"""The install tests' fixtures: our wheel, and a fresh environment per extra, each built once for the session (in a
conftest, so that every module of this folder shares them — a fixture imported into a module is that module's own)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

WHEELHOUSE = Path(os.environ.get("FINDLY_WHEELHOUSE", ROOT / ".wheelhouse"))


def _wheelhouse() -> Path:
    if not WHEELHOUSE.is_dir() or not any(WHEELHOUSE.glob("*.whl")):
        message = f"no wheelhouse at {WHEELHOUSE}: run scripts/wheelhouse.sh (needs the network once)"
        if os.environ.get("FINDLY_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{message}; FINDLY_REQUIRE_TOOLS=1 requires it")
        pytest.skip(message)
    return WHEELHOUSE


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")},  # the wheelhouse alone
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """findly-infra's wheel, built from this checkout as a release builds it (hatchling, from the wheelhouse)."""
    house = _wheelhouse()
    out = tmp_path_factory.mktemp("wheel")
    _pip(
        Path(sys.executable), "wheel", "--no-deps", "--no-index", "--find-links", str(house), "-w", str(out), str(ROOT)
    )
    (built,) = out.glob("findly_infra-*.whl")
    return built


Installed = Callable[[str], Path]


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh environment with findly-infra and *extra* alone (``""``: the core): its ``bin`` folder."""
    made: dict[str, Path] = {}

    def install(extra: str) -> Path:
        if extra not in made:
            folder = tmp_path_factory.mktemp(f"venv-{extra or 'core'}")
            venv.create(folder, with_pip=True)
            python = folder / "bin" / "python"
            target = f"findly-infra[{extra}]" if extra else "findly-infra"
            _pip(
                python,
                "install",
                # no byte-compiling of every file installed (more than half of the install's time): what a command
                # imports is compiled when it first runs, as from any install
                "--no-compile",
                "--no-index",
                "--find-links",
                str(WHEELHOUSE),
                "--find-links",
                str(wheel.parent),
                target,
            )
            made[extra] = folder / "bin"
        return made[extra]

    return install
