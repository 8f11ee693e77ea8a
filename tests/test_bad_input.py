"""No input makes loading print a traceback or hang: each gets a clear message (the CLI exits 2)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import validate_platform, validate_platform_text
from findly_infra.cli import main
from findly_infra.config.document import MAX_BYTES, MAX_NODES, parse_document

from .conftest import EXAMPLE

BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
environments: *i
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n# only a comment\n", "empty"),
        ("environments: [unclosed", "invalid YAML"),
        ("environments:\n  dev:\n   - a\n  b: c\n", "expected a mapping"),
        ("- just\n- a list\n", "mapping of sections"),
        ("42\n", "mapping of sections"),
        ("environments: !!python/object:os.system {}\n", "unsupported YAML tag"),
        ("environments: !!python/object/apply:os.system [ls]\n", "unsupported YAML tag"),
        ("environments: !!python/name:os.system ''\n", "invalid value"),
        ("environments: !!binary aGVsbG8=\n", "expected a mapping"),
        ("a: 1\n---\nb: 2\n", "invalid YAML"),
        (BILLION_LAUGHS, f"more than {MAX_NODES:,} values"),
        ("environments:\n  dev: {}\n  dev: {}\n", "appears twice"),
        ("[" * 5000 + "]" * 5000, "nest"),
        ("[" * 200_000 + "]" * 200_000, "nest"),
        ("- " * 100_000 + "x\n", "nest"),
        ("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 300)), "nest"),
        ("environments: {" + "a: {" * 200 + "}" * 201, "nest"),
        ("? [a, b]\n: c\n", "plain text"),
        ("environments:\n  dev:\n    x: " + "9" * 5000 + "\n", "the number is too large"),
        ("environments: [0x" + "f" * 5000 + "]\n", "the number is too large"),
    ],
)
def test_bad_documents_are_refused_with_a_message(text: str, message: str) -> None:
    report = validate_platform_text(text)
    assert not report.ok
    assert any(message in problem.message for problem in report.errors), [str(e) for e in report.errors]


def test_binary_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    report = validate_platform(path)
    assert [e.message for e in report.errors] == ["this is a binary file, not YAML text"]


def test_non_utf8_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    path.write_bytes("environments:\n  caf\xe9: {}\n".encode("latin-1"))
    assert "not UTF-8" in validate_platform(path).errors[0].message


def test_a_50_megabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    with path.open("wb") as out:
        out.truncate(50 * 1024 * 1024)
    report = validate_platform(path)
    assert "50.0 MiB" in report.errors[0].message
    assert MAX_BYTES < 50 * 1024 * 1024


def test_a_missing_file_and_a_directory_are_named(tmp_path: Path) -> None:
    assert validate_platform(tmp_path / "nope.yaml").errors[0].message.startswith("no such file")
    assert "is a directory" in validate_platform(tmp_path).errors[0].message


def test_lines_are_reported_for_yaml_syntax_errors() -> None:
    report = validate_platform_text("environments:\n  dev:\n    tests: [unit\n  prod: {}\n")
    assert report.errors[0].line is not None


def test_merge_keys_are_understood_and_own_keys_win() -> None:
    document = parse_document("defaults: &defaults {a: 1, b: 2}\nthing:\n  <<: *defaults\n  b: 3\n")
    assert document.data["thing"] == {"a": 1, "b": 3}


def test_anchors_that_stay_small_are_fine(example_text: str) -> None:
    text = example_text.replace(
        '    tests: ["e2e", "performance", "security", "load"]',
        '    tests: &staging_tests ["e2e", "performance", "security", "load"]',
    )
    assert validate_platform_text(text + "\n").ok


@given(st.binary(max_size=300))
def test_any_bytes_give_a_report_never_an_exception(raw: bytes) -> None:
    report = validate_platform_text(raw)
    assert report.ok or report.errors


@given(st.text(max_size=300))
def test_any_text_gives_a_report_never_an_exception(text: str) -> None:
    report = validate_platform_text(text)
    for problem in report.errors:
        assert problem.message


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=20,
    )
)
def test_any_yaml_value_under_a_section_gives_a_report(value: object) -> None:
    import yaml

    for section in ("environments", "canary_strategy", "gke_cluster", "alerting_rules", "approver_groups"):
        text = yaml.safe_dump(
            {"environments": {"dev": {"deployment_trigger": "Push to feature branches"}}} | {section: value}
        )
        report = validate_platform_text(text)
        assert report.ok or all(problem.message and problem.path for problem in report.errors)


def test_validate_refuses_an_expression_prometheus_refuses_and_names_its_place(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    path.write_text(EXAMPLE.read_text().replace("rate(http_requests_total{status=~'5..'}[5m]) > 0.05", "rat(x[5m]) >"))
    out = io.StringIO()
    assert main(["validate", str(path)], out=out) == 2
    assert (
        "error: alerting_rules.critical_alerts[1].expression (line 344): Prometheus refuses this expression, "
        "and with it the whole rules file: unknown function 'rat' (did you mean 'rate'?)\n"
    ) in out.getvalue()
    out = io.StringIO()
    assert main(["--json", "validate", str(path)], out=out) == 2
    [error] = json.loads(out.getvalue())["errors"]
    assert (error["path"], error["line"], error["rule"]) == (
        "alerting_rules.critical_alerts[1].expression",
        344,
        "promql",
    )


# ---- issue 23: the last doors that ended in exit 1 ------------------------------------------------------------------


def _command(env: dict[str, str], *args: str) -> tuple[int, dict[str, object]]:
    from unittest import mock

    out = io.StringIO()
    with mock.patch.dict(os.environ, {"GITHUB_ACTIONS": "", **env}):
        code = main(["--json", *args], out=out)
    return code, json.loads(out.getvalue())


def test_a_findly_file_where_the_state_folder_goes_is_named(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".findly").write_text("not a folder")
    del env["FINDLY_STATE"]  # the default: .findly/state.sqlite3 in the working folder
    code, document = _command(env, "deploy", "fn-posts", "1.0.0", "--env", "development")
    assert code == 2, document
    assert document["error"] == {  # type: ignore[comparison-overlap]
        "kind": "bad_input",
        "message": "--state .findly/state.sqlite3: .findly is a file, not a folder, so the state cannot be made "
        "there; move it away, or name another state with --state (or FINDLY_STATE)",
    }
    assert (tmp_path / ".findly").read_text() == "not a folder"
    code, document = _command({**env, "FINDLY_STATE": "here/deeper/state.sqlite3"}, "status", "fn-posts")
    assert code == 0  # a command that only reads makes nothing, and has nothing to refuse


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("FINDLY_STEP_DELAY", "abc", "FINDLY_STEP_DELAY is a number of seconds from 0 to 3600, got 'abc'"),
        ("FINDLY_STEP_DELAY", "-1", "FINDLY_STEP_DELAY is a number of seconds from 0 to 3600, got '-1'"),
        ("FINDLY_STEP_DELAY", "nan", "FINDLY_STEP_DELAY is a number of seconds"),
        ("FINDLY_STEP_DELAY", "1e400", "FINDLY_STEP_DELAY is a number of seconds"),
        ("FINDLY_STATE_TIMEOUT", "abc", "FINDLY_STATE_TIMEOUT is a number of seconds above 0, got 'abc'"),
        ("FINDLY_PROGRESS", "fancy", "FINDLY_PROGRESS is auto or lines, got 'fancy'"),
        ("FINDLY_NOW", "yesterday", "FINDLY_NOW is an ISO 8601 time"),
        ("FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS", "yes", "FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS is 1 (on) or 0 (off)"),
        ("FINDLY_PROMETHEUS_URL", "http://[::1", "FINDLY_PROMETHEUS_URL"),
        ("FINDLY_PROMETHEUS_URL", "http://127.0.0.1:99999", "Port out of range"),
        ("FINDLY_PROMETHEUS_TOKEN", "tökén", "FINDLY_PROMETHEUS_TOKEN holds a character an HTTP header cannot carry"),
        ("FINDLY_PROMETHEUS_TOKEN", "a\r\nX-Injected: 1", "(character 2: a space or a control character)"),
    ],
)
def test_every_findly_setting_that_cannot_be_used_is_named(
    env: dict[str, str], variable: str, value: str, said: str
) -> None:
    assert _command(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    code, document = _command({**env, variable: value}, "rollout", "fn-posts", "--env", "development", "--watch")
    assert code == 2, document
    assert said in document["error"]["message"]  # type: ignore[index]
    assert "tökén" not in json.dumps(document, ensure_ascii=False)  # a token is never shown


def test_a_step_delay_given_is_kept(env: dict[str, str]) -> None:
    from findly_infra.bootstrap import Settings

    assert Settings.from_environment({"FINDLY_STEP_DELAY": "0.25"}).step_delay == 0.25
    assert Settings.from_environment({}).step_delay == 0.0
    assert _command({**env, "FINDLY_STEP_DELAY": "0"}, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0


def test_a_non_ascii_runner_token_is_named_not_a_crash() -> None:
    from findly_infra.adapters.github_oidc import request_token
    from findly_infra.application.ports import BadInputError

    environ = {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "jé"}
    with pytest.raises(BadInputError, match="ACTIONS_ID_TOKEN_REQUEST_TOKEN holds a character an HTTP header"):
        request_token("findly", environ)


def test_a_non_ascii_token_given_to_the_prometheus_client_is_named() -> None:
    from findly_infra.adapters.prometheus import PrometheusClient
    from findly_infra.application.ports import BadInputError

    with pytest.raises(BadInputError, match="the Prometheus bearer token holds a character"):
        PrometheusClient("http://127.0.0.1:9", token="tökén").query("up", datetime(2026, 1, 1, tzinfo=UTC))


def test_a_non_ascii_token_in_a_kubeconfig_is_named(tmp_path: Path) -> None:
    from findly_infra.adapters.kubernetes import connect

    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "tökén"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    from findly_infra.application.ports import BadInputError

    with pytest.raises(BadInputError, match="'s token holds a character an HTTP header cannot carry"):
        connect(kubeconfig=str(kubeconfig))


@pytest.mark.parametrize("door", ["prometheus", "oidc", "kubernetes"])
def test_json_nested_too_deeply_from_a_dependency_is_not_a_crash(door: str) -> None:
    """100,000 '[' from a dependency: Python's JSON parser recursed until RecursionError (exit 1)."""
    from findly_infra.application.ports import DependencyError

    body = b"[" * 100_000 + b"]" * 100_000
    with _answering(400 if door == "kubernetes" else 200, body) as url:
        if door == "prometheus":
            from findly_infra.adapters.prometheus import PrometheusClient

            with pytest.raises(DependencyError, match="not JSON"):
                PrometheusClient(url, attempts=1).query("up", datetime(2026, 1, 1, tzinfo=UTC))
        elif door == "oidc":
            from findly_infra.adapters.github_oidc import request_token

            environ = {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{url}/t", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x"}
            with pytest.raises(DependencyError, match="answered no token"):
                request_token("findly", environ)
        else:
            from findly_infra.adapters.kubernetes import _json

            assert _json(body) is None


@contextlib.contextmanager
def _answering(status: int, body: bytes) -> Iterator[str]:
    """A loopback HTTP server answering every GET with *status* and *body*."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("FINDLY_GKE_ENDPOINT", "[::1", ["cluster", "plan"]),
        ("FINDLY_GKE_ENDPOINT", "127.0.0.1:99999", ["cluster", "plan"]),
    ],
)
def test_a_google_endpoint_that_is_not_host_and_port_is_named(
    env: dict[str, str], variable: str, value: str, command: list[str]
) -> None:
    code, document = _command({**env, variable: value, "FINDLY_GCP_PROJECT": "findly-now"}, *command)
    assert code == 2, document
    assert document["error"]["message"].startswith(f"{variable} is HOST:PORT, got {value!r}")  # type: ignore[index]


def test_the_secret_manager_endpoint_is_read_the_same_way() -> None:
    from findly_infra.application.ports import BadInputError
    from findly_infra.bootstrap.google import google_endpoint

    with pytest.raises(BadInputError, match=r"FINDLY_SECRET_MANAGER_ENDPOINT is HOST:PORT, got '\[::1'"):
        google_endpoint({"FINDLY_SECRET_MANAGER_ENDPOINT": "[::1"}, "FINDLY_SECRET_MANAGER_ENDPOINT")


def test_a_token_the_kubernetes_api_echoes_in_a_refusal_is_never_shown(tmp_path: Path) -> None:
    """The API server's Status message is shown on a 403; a proxy before it that repeats the Authorization header
    there must not have the kubeconfig's token printed."""
    from findly_infra.adapters.kubernetes import connect
    from findly_infra.application.ports import BadInputError

    token = "kube-t0ken.s3cret"
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": "Forbidden",
        "code": 403,
        "message": f"forbidden: 'Bearer {token}' may not get deployments (token {token})",
    }
    with _answering(403, json.dumps(status).encode()) as url:
        kubeconfig = tmp_path / "config"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "c", "cluster": {"server": url}}],
                    "users": [{"name": "u", "user": {"token": token}}],
                    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "x",
                }
            )
        )
        with pytest.raises(BadInputError) as raised:
            connect(kubeconfig=str(kubeconfig)).get("apps/v1", "Deployment", "findly-now-production", "fn-posts")
    assert "403 forbidden" in str(raised.value)
    assert token not in str(raised.value)
    assert "***" in str(raised.value)
