"""``findly-infra extras``: the extras the release commands need with a platform file and settings — decided by the
predicates the composition root builds each adapter on, so that it can never disagree with the exit 2 "needs the X
extra" of a release command (``bootstrap.extras.needed_extras``). It runs on the core install: it imports no extra and
reaches nothing; it never prints a URL's credentials; in GitHub Actions it writes the step output ``extras``."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.bootstrap import extras as extras_module
from findly_infra.cli import main

from .conftest import EXAMPLE, PAST

SETTINGS = ("postgresql", "prometheus", "kubernetes", "github", "secret-manager")
CLOSED = "127.0.0.1:9"  # the discard port: nothing listens
HEAVY = ("kubernetes", "google", "grpc", "httpx", "psycopg", "jwt", "cryptography", "stamina")


def platform_file(folder: Path, needs: frozenset[str], *, url_in_file: bool = False) -> Path:
    """The example platform file with the sections that call for each extra of *needs* that the file decides:
    ``kubernetes.clusters`` (development bound), ``identity: {verified: true}`` (development), the release gate, and
    with *url_in_file*, ``prometheus.url``."""
    document = yaml.safe_load(EXAMPLE.read_text())
    if "kubernetes" in needs:
        document["kubernetes"]["clusters"] = {"development": {"context": "nowhere"}}
    if "github" in needs:
        document["environments"]["development"]["identity"] = {
            "verified": True,
            "repositories": ["findly-now/services"],
        }
    if "secret-manager" in needs:
        document["secret_management"]["secrets"] = {
            "posts-db-password": {"type": "database_credentials", "services": ["fn-posts"]}
        }
        document["secret_management"]["release_gate"] = True
    if "prometheus" in needs and url_in_file:
        document["prometheus"] = {"url": f"http://{CLOSED}"}
    path = folder / "findly.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def settings_env(folder: Path, needs: frozenset[str]) -> dict[str, str]:
    env = {
        "FINDLY_CONFIG": str(platform_file(folder, needs)),
        "FINDLY_STATE": str(folder / "state.sqlite3"),
    }
    if "postgresql" in needs:
        env["FINDLY_STATE"] = f"postgresql://findly:hunter2@{CLOSED}/findly"
    if "prometheus" in needs:
        env["FINDLY_PROMETHEUS_URL"] = f"http://{CLOSED}"
    return env


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("FINDLY_", "GITHUB_", "ACTIONS_")):
            monkeypatch.delenv(name)
    return monkeypatch


def findly(*args: str) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    code = main(["--json", *args], out=out)
    return code, json.loads(out.getvalue())


COMBINATIONS = [
    frozenset(chosen) for size in range(len(SETTINGS) + 1) for chosen in itertools.combinations(SETTINGS, size)
]


@pytest.mark.parametrize("needs", COMBINATIONS, ids=lambda needs: ",".join(sorted(needs)) or "core")
def test_extras_names_exactly_what_the_settings_and_the_file_call_for(
    needs: frozenset[str], tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    for name, value in settings_env(tmp_path, needs).items():
        clean_environment.setenv(name, value)
    code, document = findly("extras")
    assert code == 0, document
    assert document["extras"] == sorted(needs)
    assert list(document["why"]) == sorted(needs)  # type: ignore[call-overload]
    assert "hunter2" not in json.dumps(document)  # where the URL came from, never the URL
    out = io.StringIO()
    assert main(["extras"], out=out) == 0
    assert out.getvalue() == ",".join(sorted(needs)) + "\n"


@pytest.mark.parametrize("needs", COMBINATIONS, ids=lambda needs: ",".join(sorted(needs)) or "core")
def test_on_the_core_install_a_deploy_names_an_extra_of_the_list_or_succeeds(
    needs: frozenset[str], tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    """Soundness, on the core alone (every extra's modules missing): a deploy whose settings call for nothing
    succeeds; otherwise it ends in exit 2 naming an extra that ``extras`` listed — never one it left out."""
    for name, value in settings_env(tmp_path, needs).items():
        clean_environment.setenv(name, value)
    listed = findly("extras")[1]["extras"]
    clean_environment.setattr(extras_module, "missing_modules", list)
    if "github" not in needs:
        clean_environment.setenv("FINDLY_ACTOR", "erin")  # a verified environment refuses a name given (rule 3)
    if "kubernetes" not in needs:
        clean_environment.setenv("FINDLY_NOW", PAST)  # a rehearsal, except where a real cluster is bound
    code, document = findly("deploy", "fn-posts", "1.0.0", "--env", "development")
    if not needs:
        assert code == 0, document
        return
    assert code == 2, document
    message = str(document["error"]["message"])  # type: ignore[index]
    named = [extra for extra in SETTINGS if f"needs the {extra!r} extra" in message]
    assert named, message
    assert named[0] in listed, (message, listed)


@pytest.mark.parametrize("extra", SETTINGS)
def test_each_setting_alone_is_the_extra_the_deploy_names(
    extra: str, tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    """Tightness, setting by setting: the one extra ``extras`` lists is the one a deploy on the core reaches for."""
    needs = frozenset({extra})
    for name, value in settings_env(tmp_path, needs).items():
        clean_environment.setenv(name, value)
    assert findly("extras")[1]["extras"] == [extra]
    clean_environment.setattr(extras_module, "missing_modules", list)
    if extra != "github":
        clean_environment.setenv("FINDLY_ACTOR", "erin")
    if extra != "kubernetes":
        clean_environment.setenv("FINDLY_NOW", PAST)
    code, document = findly("deploy", "fn-posts", "1.0.0", "--env", "development")
    assert code == 2, document
    assert f"needs the {extra!r} extra" in str(document["error"]["message"])  # type: ignore[index]


def test_the_reasons_say_where_each_setting_came_from(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    config = platform_file(tmp_path, frozenset({"prometheus"}), url_in_file=True)
    code, document = findly("--config", str(config), "--state", "postgres://u:pw@db/findly", "extras")
    assert code == 0, document
    why = document["why"]
    assert why["postgresql"].startswith("--state is a postgres:// URL")  # type: ignore[index]
    assert why["prometheus"].startswith("the platform file's prometheus.url")  # type: ignore[index]
    clean_environment.setenv("FINDLY_PROMETHEUS_URL", "https://prometheus.example")
    assert findly("--config", str(config), "extras")[1]["why"]["prometheus"].startswith(  # type: ignore[index]
        "FINDLY_PROMETHEUS_URL names"
    )
    flag = findly("--config", str(config), "--prometheus-url", "https://p.example", "extras")[1]
    assert flag["why"]["prometheus"].startswith("--prometheus-url names")  # type: ignore[index]


def test_a_release_gate_with_no_secret_to_gate_needs_no_secret_manager(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    """``release_gate: true`` with no secret listed gates nothing: the runtime builds no Secret Manager client
    (``google.release_gated``), so neither does ``extras`` ask for its extra."""
    document = yaml.safe_load(EXAMPLE.read_text())
    document["secret_management"]["release_gate"] = True
    document["secret_management"].pop("secrets", None)
    config = tmp_path / "findly.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    assert findly("--config", str(config), "extras")[1]["extras"] == []


@given(password=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=6, max_size=20))
def test_no_credential_of_a_url_is_ever_printed(password: str) -> None:
    url = f"postgresql://findly:{password}@db.example:5432/findly"
    out = io.StringIO()
    assert main(["--json", "--config", str(EXAMPLE), "--state", url, "--prometheus-url", url, "extras"], out=out) == 0
    assert password not in out.getvalue()


def test_a_bad_platform_file_is_exit_2_naming_its_place(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "findly.yaml"
    bad.write_text(EXAMPLE.read_text().replace('deployment_strategy: "blue-green"', 'deployment_strategy: "big-bang"'))
    code, document = findly("--config", str(bad), "extras")
    assert code == 2
    assert "line " in str(document["error"]["message"]), document  # type: ignore[index]
    missing = findly("--config", str(tmp_path / "nowhere.yaml"), "extras")
    assert missing[0] == 2
    assert "nowhere.yaml" in str(missing[1]["error"]["message"])  # type: ignore[index]


def test_in_github_actions_it_writes_the_step_output(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    output = tmp_path / "output"
    clean_environment.setenv("GITHUB_ACTIONS", "true")
    clean_environment.setenv("GITHUB_OUTPUT", str(output))
    config = platform_file(tmp_path, frozenset({"kubernetes", "github"}))
    assert main(["--config", str(config), "--state", f"postgresql://{CLOSED}/f", "extras"], out=io.StringIO()) == 0
    assert output.read_text() == "extras=github,kubernetes,postgresql\n"
    output.write_text("")
    assert main(["--config", str(EXAMPLE), "extras"], out=io.StringIO()) == 0
    assert output.read_text() == "extras=\n"  # none: an empty output, which the install reads as the core


def test_it_imports_no_extra_and_reaches_nothing(tmp_path: Path) -> None:
    """Run before the extras are installed: no module of an extra is imported (the core install has none), and a
    PostgreSQL state that nothing serves is only named, never connected to."""
    config = platform_file(tmp_path, frozenset(SETTINGS))
    code = (
        "import sys; from findly_infra.cli import main; rc = main(sys.argv[1:]); "
        f"print(rc, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--config",
            str(config),
            "--state",
            f"postgresql://findly@{CLOSED}/findly",
            "--prometheus-url",
            f"http://{CLOSED}",
            "extras",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_"))},
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "github,kubernetes,postgresql,prometheus,secret-manager"
    assert lines[-1] == "0 []"


def test_every_extra_named_is_an_extra_of_the_package() -> None:
    """What ``extras`` prints is pasted into ``pip install 'findly-infra[…]'``: each name is an extra pyproject.toml
    declares, spelled as it declares it, and one whose modules ``require_extra`` checks."""
    import tomllib

    from findly_infra.bootstrap.extras import EXTRAS

    from .conftest import ROOT

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(SETTINGS) <= set(EXTRAS) <= set(declared)
