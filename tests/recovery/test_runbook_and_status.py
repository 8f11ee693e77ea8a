"""What a new user follows (the user review of issue 27): the generated runbook's commands run as printed (with the
state and the actor they need), a file with no ``failover:`` section gets no command that fails, the DR cluster's
kubeconfig context is said where it comes from, ``dr status`` shows the open operation once, and ``extras --dr``
names what the DR commands need."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from findly_infra.application.ports import DependencyError
from findly_infra.cli import main
from findly_infra.cli.parser import build_parser, command_of
from tests.conftest import EXAMPLE

COMMAND = re.compile(r"`(findly-infra [^`]*)`")


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        code = main(list(args), out=out)
    return code, out.getvalue()


def platform(folder: Path, *, failover: bool = True, receivers: bool = False, dns: bool = True) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text())
    if not failover:
        document.pop("failover")
    elif not dns:
        document["failover"].pop("dns")
    if receivers:
        document["notifications"] = {"receivers": {"slack": {"type": "slack", "url": {"env": "SLACK_WEBHOOK_URL"}}}}
    path = folder / "findly.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith(("FINDLY_", "GITHUB_")):
            monkeypatch.delenv(name)
    return {"GITHUB_ACTIONS": "", "KUBECONFIG": str(tmp_path / "no-kubeconfig")}


def runbook(env: dict[str, str], config: Path, folder: Path) -> str:
    code, _ = cli(
        env,
        "--config",
        str(config),
        "--state",
        str(folder / "rb.sqlite3"),
        "dr",
        "runbook",
        "--report",
        str(folder / "rb"),
    )
    assert code == 0
    return (folder / "rb" / "runbook.md").read_text()


def commands(text: str, state: Path, backup: Path) -> list[list[str]]:
    """Each command the runbook prints, its placeholders filled in as a reader would."""
    filled = {"STATE": str(state), "YOU": "alice", "BACKUP": str(backup), "DIR": str(backup.parent), "TEXT": "drill"}
    return [[filled.get(word, word) for word in shlex.split(found)][1:] for found in COMMAND.findall(text)]


@pytest.mark.parametrize("failover", [True, False], ids=["failover", "no-failover-section"])
def test_every_command_of_the_runbook_names_the_state_and_the_actor_and_runs(
    failover: bool, tmp_path: Path, env: dict[str, str]
) -> None:
    config = platform(tmp_path, failover=failover)
    text = runbook(env, config, tmp_path)
    state = tmp_path / "team.sqlite3"
    base = {**env, "FINDLY_CONFIG": str(config)}
    assert cli(base, "--state", str(state), "--actor", "alice", "dr", "drill", "--simulate")[0] == 0
    assert cli(base, "--state", str(state), "state", "backup", "--to", str(tmp_path / "backups"))[0] == 0
    (backup,) = (tmp_path / "backups").iterdir()
    found = commands(text, state, backup)
    assert found
    for argv in found:
        assert argv[:4] == ["--state", str(state), "--actor", "alice"], argv
        build_parser(command_of(argv)).parse_args(argv)  # every flag is one the command takes (else SystemExit)
    ran = set()
    for printed in found:  # those that reach no cloud run for real, on the state the drill wrote
        words = printed[4:]
        argv = printed
        if words[:2] == ["state", "restore"]:
            argv = ["--state", str(tmp_path / f"restored-{len(ran)}.sqlite3"), *printed[2:]]
        elif words[:1] == ["cluster"] or words[:2] == ["dr", "failover"] or words == ["dr", "drill"]:
            continue  # GKE / the DR cluster / Cloud DNS: parsed above (tests/recovery/test_end_to_end runs them)
        code, out = cli(base, *argv)
        expected = {3} if words[:2] == ["dr", "abandon"] else {0}  # nothing open: no-open-recovery
        if words[:3] == ["state", "backup", "--check"]:
            expected = {0, 3}  # its age against the RPO: within, or the rule rpo-target
        assert code in expected, (argv, out)
        ran.add(" ".join(words[:2]))
    assert {"state restore", "dr status", "dr history"} <= ran
    if not failover:
        assert "dr drill" in ran


def test_a_file_without_failover_gets_no_failover_command_but_what_to_add(tmp_path: Path, env: dict[str, str]) -> None:
    text = runbook(env, platform(tmp_path, failover=False), tmp_path)
    assert "no `failover:` section" in text
    assert "dr failover --confirm" not in text
    assert "cluster plan --dr" not in text
    assert "context `simulated`" not in text


@pytest.mark.parametrize("receivers", [False, True])
def test_the_receivers_are_paged_only_when_there_are_some(receivers: bool, tmp_path: Path, env: dict[str, str]) -> None:
    text = runbook(env, platform(tmp_path, receivers=receivers), tmp_path)
    assert ("page the receivers above" in text) is receivers


def test_the_runbook_says_where_the_dr_clusters_context_comes_from(tmp_path: Path, env: dict[str, str]) -> None:
    text = runbook(env, platform(tmp_path), tmp_path)
    command = "gcloud container clusters get-credentials findly-production-dr --region us-east1 --project findly-now"
    assert command in text
    assert "`gke_findly-now_us-east1_findly-production-dr` — `failover.context` names it" in text


def test_a_missing_dr_context_says_how_to_get_it_not_findly_kube_context(tmp_path: Path, env: dict[str, str]) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: other\nclusters: [{name: c, cluster: {server: "
        "'https://127.0.0.1:9'}}]\ncontexts: [{name: other, context: {cluster: c, user: u}}]\nusers: [{name: u, "
        "user: {token: t}}]\n"
    )
    pytest.importorskip("kubernetes")
    code, out = cli(
        {**env, "KUBECONFIG": str(kubeconfig), "FINDLY_KUBE_CONTEXT": "other"},
        "--json", "--config", str(platform(tmp_path, dns=False)), "--state", str(tmp_path / "s.sqlite3"),
        "--actor", "alice", "dr", "drill", "--no-cluster",
    )  # fmt: skip
    assert code == 2, out
    message = json.loads(out)["error"]["message"]
    assert "FINDLY_KUBE_CONTEXT" not in message
    assert "failover.context gke_findly-now_us-east1_findly-production-dr" in message
    assert "gcloud container clusters get-credentials findly-production-dr --region us-east1" in message


def test_dr_status_shows_the_open_operation_once_and_says_when_nothing_is_open(
    tmp_path: Path, env: dict[str, str]
) -> None:
    base = {**env, "FINDLY_CONFIG": str(EXAMPLE), "FINDLY_STATE": str(tmp_path / "s.sqlite3"), "FINDLY_ACTOR": "al"}
    assert cli(base, "dr", "drill", "--simulate")[0] == 0
    code, text = cli(base, "dr", "status")
    assert code == 0
    assert text.startswith("nothing open")
    assert text.count("SIMULATED drill") == 1

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise DependencyError("the simulated DR cluster is down (a test's fault)")

    with mock.patch("findly_infra.adapters.simulated_dr.MemoryClusterObjects.apply_object", down):
        code, _ = cli(base, "dr", "drill", "--simulate")
    assert code == 5
    code, text = cli(base, "dr", "status")
    assert code == 0
    assert text.startswith("open: SIMULATED drill")
    assert text.count("SIMULATED drill") == 1  # the open one is the latest: once
    assert "nothing open" not in text


def test_extras_dr_names_what_the_dr_commands_need(tmp_path: Path, env: dict[str, str]) -> None:
    config = str(platform(tmp_path))
    assert cli(env, "--config", config, "extras", "--dr") == (0, "dns,gke,kubernetes\n")
    assert cli(env, "--config", config, "extras") == (0, "\n")  # the release commands' need is unchanged
    code, out = cli(
        env, "--config", config, "--prometheus-url", "http://127.0.0.1:9", "--state",
        "postgresql://findly:hunter2@127.0.0.1:9/f", "--json", "extras", "--dr",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert document["extras"] == ["dns", "gke", "kubernetes", "postgresql", "prometheus"]
    assert "hunter2" not in out
    assert cli(env, "--config", str(platform(tmp_path, failover=False)), "extras", "--dr") == (0, "\n")


def test_the_rto_says_what_it_is_measured_from_and_what_it_leaves_out(tmp_path: Path, env: dict[str, str]) -> None:
    base = {**env, "FINDLY_CONFIG": str(EXAMPLE), "FINDLY_STATE": str(tmp_path / "s.sqlite3"), "FINDLY_ACTOR": "al"}
    code, out = cli(base, "--json", "dr", "drill", "--simulate", "--report", str(tmp_path / "report"))
    assert code == 0
    rto = json.loads(out)["rto"]
    assert "from the operation's start (recovery_started)" in rto["measured"]
    said = " ".join(rto["not_counted"])
    assert "setup before the operation started" in said
    assert "DNS caching" in said
    assert "simulated region" in said
    assert "the steps skipped: health, dns" in said
    (report,) = (tmp_path / "report").glob("dr-*.md")
    assert "What the RTO does not count" in report.read_text()
    code, text = cli(base, "dr", "history")
    assert "to the end of its last step; not in it: the command's setup" in text


def test_the_runbooks_commands_fail_over_for_real_on_the_stand_ins(tmp_path: Path) -> None:
    """The runbook's steps 3 and 5 — `cluster plan --dr`, `cluster apply --dr`, `dr failover --confirm` — as printed,
    on two regions of stand-ins (GKE, both clusters, Cloud DNS): the DR cluster created, DNS switched."""
    from tests.recovery.two_regions import DR_ADDRESS, regions

    with regions(tmp_path) as two:
        code, _ = two.cli("dr", "runbook", "--report", str(tmp_path / "rb"))
        assert code == 0
        text = (tmp_path / "rb" / "runbook.md").read_text()
        state = Path(two.env["FINDLY_STATE"])
        found = commands(text, state, tmp_path / "none" / "backup")
        outcomes = {}
        for argv in found:
            words = argv[4:]
            if words[:1] == ["cluster"] or words[:2] == ["dr", "failover"]:
                code, out = two.cli(*argv)
                if code == 3 and "health" in out:  # a failover that checks no health needs a person's flag (i27-drfix)
                    code, out = two.cli(*argv, "--no-health-check")
                outcomes[" ".join(words)] = code
                assert code in (0, 7), (argv, out)  # cluster plan: 7 while the DR cluster differs (is missing)
        assert outcomes == {"cluster plan --dr": 7, "cluster apply --dr": 0, "dr failover --confirm": 0}
        assert two.record() == DR_ADDRESS
