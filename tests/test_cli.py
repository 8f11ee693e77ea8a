"""The command line contract: exit codes, --json, GitHub annotations, no tracebacks, light imports."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from findly_infra import __version__
from findly_infra.cli import main

from .conftest import EXAMPLE


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "findly_infra", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GITHUB_ACTIONS": "", **(env or {})},
        cwd=cwd,
        check=False,
    )


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"findly-infra {__version__}"
    helped = run("--help")
    assert helped.returncode == 0
    assert "validate" in helped.stdout


def test_validate_the_example_exits_0_and_prints_warnings() -> None:
    result = run("validate", str(EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid (0 errors, 5 warnings)" in result.stdout
    assert "warning: canary_strategy.traffic_progression (line " in result.stdout


def test_validate_reads_the_config_option_and_the_environment(tmp_path: Path) -> None:
    assert run("--config", str(EXAMPLE), "validate").returncode == 0
    assert run("validate", env={"FINDLY_CONFIG": str(EXAMPLE)}).returncode == 0
    (tmp_path / "findly.yaml").write_text(EXAMPLE.read_text())
    assert run("validate", cwd=tmp_path).returncode == 0


def test_strict_turns_warnings_into_failure() -> None:
    assert run("validate", "--strict", str(EXAMPLE)).returncode == 2


def test_validate_json_is_one_document_with_the_documented_shape() -> None:
    result = run("--json", "validate", str(EXAMPLE))
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["errors"] == []
    assert {"path", "message", "line", "rule"} <= set(document["warnings"][0])


def test_an_invalid_file_exits_2_with_located_errors(tmp_path: Path) -> None:
    broken = tmp_path / "findly.yaml"
    broken.write_text(EXAMPLE.read_text().replace('"security-team"]', '"secuirty-team"]'))
    result = run("validate", str(broken))
    assert result.returncode == 2
    assert (
        "error: environments.production.approvers[1] (line 30): unknown approver group 'secuirty-team' "
        "(did you mean 'security-team'?)" in result.stdout
    )
    document = json.loads(run("--json", "validate", str(broken)).stdout)
    assert document["ok"] is False
    assert document["error"]["kind"] == "bad_input"
    assert document["errors"][0] == {
        "path": "environments.production.approvers[1]",
        "message": "unknown approver group 'secuirty-team' (did you mean 'security-team'?)",
        "line": 30,
        "rule": "approver-groups",
    }


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02", b"[unclosed", b"- a\n- b\n", "environments: {caf\u00e9: 1}".encode("utf-16")],
    ids=["empty", "binary", "malformed", "list", "utf16"],
)
def test_bad_files_never_print_a_traceback(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "findly.yaml"
    path.write_bytes(content)
    for args in (("validate", str(path)), ("--json", "validate", str(path))):
        result = run(*args)
        assert result.returncode == 2
        assert "Traceback" not in result.stdout + result.stderr
    assert json.loads(run("--json", "validate", str(path)).stdout)["ok"] is False


def test_usage_errors_exit_2_and_json_stays_json() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    document = json.loads(run("--json", "frobnicate").stdout)
    assert document == {"ok": False, "error": {"kind": "usage", "message": document["error"]["message"]}}


def test_github_actions_gets_annotations(tmp_path: Path) -> None:
    broken = tmp_path / "findly.yaml"
    broken.write_text(EXAMPLE.read_text().replace("min_replicas: 3", "min_replicas: 30"))
    result = run("validate", str(broken), env={"GITHUB_ACTIONS": "true"})
    assert f"::error file={broken},line=" in result.stderr
    assert "hpa_configuration.fn_posts.min_replicas: min_replicas 30 is above max_replicas 20" in result.stderr
    clean = run("validate", str(EXAMPLE), env={"GITHUB_ACTIONS": "true"})
    assert "::warning file=" in clean.stderr


def test_example_prints_the_shipped_platform_file() -> None:
    assert run("example").stdout == EXAMPLE.read_text()


def test_validate_never_imports_the_cloud_sdks() -> None:
    code = (
        "import sys; from findly_infra.cli import main; main(['validate', sys.argv[1]]); "
        "heavy = sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('kubernetes', 'google', 'grpc', 'httpx', 'psycopg', 'jwt', 'cryptography')); "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(EXAMPLE)], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_version_imports_neither_yaml_nor_cattrs() -> None:
    code = "import sys; from findly_infra.cli import main; main(['--version'])"
    probe = f"{code}\n"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, runpy\ntry:\n    " + probe.strip() + "\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'cattrs', 'attrs', 'attr')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_main_can_be_called_in_process() -> None:
    out = io.StringIO()
    assert main(["--json", "validate", str(EXAMPLE)], out=out) == 0
    assert json.loads(out.getvalue())["ok"] is True


def _help(*command: str) -> str:
    """A command's ``--help``, its words on one line (argparse wraps them to the terminal)."""
    import argparse

    from findly_infra.cli.parser import build_parser

    parser = build_parser(command[0] if command else None)
    for name in command:  # down the subcommands: the parser each one declares
        (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = subparsers.choices[name]
    return " ".join(parser.format_help().split())


def test_the_help_says_every_command_that_exits_7() -> None:
    """Exit 7 is not only diff's: cluster plan's drift, secrets audit's findings and secrets grant --dry-run's
    something to grant end so too (cli/cluster_commands.py, gke_commands.py, secrets_commands.py: EXIT_DRIFT)."""
    epilog = _help()
    codes = epilog[epilog.index("Exit codes:") :]
    seven = codes[codes.index(" 7 ") : codes.index(" 1 a bug")]
    for command in ("diff", "cluster plan", "secrets audit", "secrets grant --dry-run"):
        assert command in seven, (command, seven)


def test_the_options_help_says_what_the_code_does() -> None:
    # the project as bootstrap.google.google_project decides it
    assert "gke_cluster.project, else $FINDLY_GCP_PROJECT, else the credentials'" in _help("cluster", "plan")
    assert "(exit 0, or 4 rolled back or aborted)" in _help("rollout")  # an aborted watch is 4 too
    assert "with --replay" in _help()  # simulate judges on Prometheus's record with --replay, not scripted metrics
    github = _help("github")
    assert "'Merge to main branch' is a push to it, 'Push to feature branches' a push to any other" in github
