"""Development sessions: `nox -s tests`, `nox -s lint`, `nox -s typecheck`, `nox -s bench`."""

from __future__ import annotations

import nox

nox.options.error_on_external_run = True
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (pass e.g. `-- -k platform` to select)."""
    session.install("-e", ".[dev]", "coverage[toml]")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "combine")
    session.run("coverage", "report", "--skip-covered", "--show-missing", "--fail-under=90")


@nox.session
def reliability(session: nox.Session) -> None:
    """The kill, race, corruption and hostile-input matrices with 1,000 examples a property, counted per matrix."""
    session.install("-e", ".[dev]")
    session.run("python", "scripts/reliability_report.py")


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing of the domain (mutmut): the kill rate per file (pass mutant names to run only some,
    e.g. `nox -s mutation -- "findly_infra.domain.pipeline*"`); the report checks each timeout again, alone."""
    session.install("-e", ".[dev]", "mutmut>=3.3")
    session.run("mutmut", "run", "--max-children", "2", *session.posargs, env={"HYPOTHESIS_PROFILE": "mutation"})
    session.run("python", "scripts/mutation_report.py", "--survivors")


@nox.session
def bench(session: nox.Session) -> None:
    """Print the benchmark figures (nothing here asserts on time)."""
    session.install("-e", ".[dev]")
    session.run("python", "benchmarks/startup.py")
    session.run("python", "benchmarks/bad_input.py")
    session.run("python", "benchmarks/validate.py")
    session.run("python", "benchmarks/render.py")
    session.run("python", "benchmarks/pipeline.py")
    session.run("python", "benchmarks/prometheus.py")
    session.run("python", "benchmarks/appends.py")
