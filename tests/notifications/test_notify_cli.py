"""End to end, through the command line and over HTTP to the receivers' stand-ins (``findly_infra.testing.receivers``,
which check the real payload formats): a production canary that rolls back, one that pauses, one waiting for approval
— each reaches the declared receivers exactly once, also when a receiver is down for a while (``notify deliver``
delivers it later), and ``history`` shows each delivery. The release's exit code and ``--json`` never depend on them.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from findly_infra.cli import main
from findly_infra.testing.receivers import ReceiversStandIn

pytest.importorskip("findly_infra.adapters.notifiers", reason="the receivers' adapters (adapters/notifiers.py)")
pytest.importorskip("httpx", reason="the receivers' adapters send with httpx")

PLATFORM = """
environments:
  staging:
    deployment_trigger: "Merge to main branch"
    tests: []
    approval_required: false
  production:
    deployment_trigger: "Manual promotion from staging"
    tests: []
    approval_required: true
    approvers: ["devops-team"]
    deployment_strategy: "canary"
    rollback_capability: "automatic"

canary_strategy:
  traffic_progression:
    - {stage: "Initial", canary_weight: 5, duration: "10 minutes"}
    - {stage: "Half", canary_weight: 50, duration: "10 minutes"}
    - {stage: "Full", canary_weight: 100, duration: "stable"}
  success_criteria:
    error_rate: "< 0.5%"
    latency_p95: "< 1.5 seconds"
  failure_handling:
    automatic_rollback: true
    rollback_threshold: "2 failed criteria"
    notification_channels: ["slack", "pagerduty"]

approver_groups:
  devops-team: [alice, bob]

services:
  fn-posts: {image: "gcr.io/findly-now/fn-posts"}

notifications:
  receivers:
    slack: {type: slack, url: {env: SLACK_WEBHOOK_URL}}
    pagerduty: {type: pagerduty, url: {env: PAGERDUTY_EVENTS_URL}, routing_key: {env: PAGERDUTY_ROUTING_KEY}}
    audit: {type: webhook, url: {env: WEBHOOK_URL}, signing_secret: {env: WEBHOOK_SECRET}}
  routes:
    - {environments: [production], severity: critical, receivers: [pagerduty]}
    - {severity: warning, receivers: [slack]}
    - {receivers: [audit]}
"""
PAST = "2026-01-05T09:00:00Z"


@pytest.fixture
def receivers() -> Iterator[ReceiversStandIn]:
    with ReceiversStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def env(tmp_path: Path, receivers: ReceiversStandIn) -> dict[str, str]:
    config = tmp_path / "findly.yaml"
    config.write_text(PLATFORM)
    return {
        "FINDLY_CONFIG": str(config),
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        "FINDLY_ACTOR": "erin",
        "FINDLY_NOW": PAST,
        "GITHUB_ACTIONS": "",
        "SLACK_WEBHOOK_URL": receivers.slack_url,
        "PAGERDUTY_EVENTS_URL": receivers.pagerduty_url,
        "PAGERDUTY_ROUTING_KEY": receivers.routing_key,
        "WEBHOOK_URL": receivers.webhook_url,
        "WEBHOOK_SECRET": receivers.webhook_secret,
    }


def cli(env: dict[str, str], *args: str) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        code = main(["--json", *args], out=out)
    document = json.loads(out.getvalue())
    assert code != 1, document
    return code, document


def to_production(env: dict[str, str], version: str = "2.0.0") -> None:
    """1.0.0 serves production; *version* is approved for it."""
    for release in ("1.0.0", version):
        assert cli(env, "deploy", "fn-posts", release, "--env", "staging")[0] == 0
        assert cli(env, "rollout", "fn-posts", "--env", "staging", "--watch")[0] == 0
        code, _ = cli(env, "promote", "fn-posts", release, "--to", "production")
        assert code in (3, 6)  # waits for an approval
        assert cli({**env, "FINDLY_ACTOR": "alice"}, "approve", "fn-posts", release, "--env", "production")[0] == 0
        if release == "1.0.0":
            assert cli(env, "promote", "fn-posts", release, "--to", "production")[0] == 0
            assert cli(env, "rollout", "fn-posts", "--env", "production", "--watch")[0] == 0


def test_a_production_rollback_pages_once_even_through_an_outage(
    env: dict[str, str], receivers: ReceiversStandIn
) -> None:
    to_production(env)
    receivers.pagerduty.down(requests=1)  # PagerDuty is down when the rollback happens
    assert cli(env, "promote", "fn-posts", "2.0.0", "--to", "production")[0] == 0
    code, document = cli(
        {**env, "FINDLY_SCENARIO": "error-spike"}, "rollout", "fn-posts", "--env", "production", "--watch"
    )
    assert (code, document["phase"]) == (4, "rolled_back")  # the release's own verdict, whatever the receivers said
    assert receivers.pagerduty.incident("findly/fn-posts/production/2.0.0") is None  # it was down
    code, document = cli(env, "notify", "deliver")  # the scheduled job, before the next attempt is due
    assert code == 0, document  # nothing due was left undelivered: the page waits for its next attempt
    code, document = cli(env, "notify", "deliver", "--all")  # a person, once PagerDuty is back
    assert code == 0, document
    incident = receivers.pagerduty.incident("findly/fn-posts/production/2.0.0")
    assert incident is not None
    assert incident.open
    triggers = [r for r in receivers.pagerduty.requests if r.status == 202]
    assert len(triggers) == 1  # exactly once
    summary = json.loads(triggers[0].body)["payload"]["summary"]
    assert "rolled back" in summary
    assert "error_rate" in summary
    texts = [" ".join(m.texts()) for m in receivers.slack.messages]
    assert sum("rolled back" in text for text in texts) == 1
    assert len(receivers.webhook.messages) == len({m.id for m in receivers.webhook.messages})  # once each
    code, document = cli(env, "notify", "deliver")
    assert code == 0
    assert len([r for r in receivers.pagerduty.requests if r.status == 202]) == 1  # nothing sent twice
    history = cli(env, "history", "fn-posts")[1]
    shown = {(d["receiver"], d["notification"]["kind"], d["state"]) for d in history["notifications"]}  # type: ignore[index, union-attr]
    assert ("pagerduty", "rolled_back", "delivered") in shown
    assert ("slack", "rolled_back", "delivered") in shown


def test_a_production_pause_pages_and_a_later_success_resolves_it(
    env: dict[str, str], receivers: ReceiversStandIn
) -> None:
    to_production(env)
    assert cli(env, "promote", "fn-posts", "2.0.0", "--to", "production")[0] == 0
    code, document = cli(
        {**env, "FINDLY_SCENARIO": "no-traffic"}, "rollout", "fn-posts", "--env", "production", "--watch"
    )
    assert (code, document["phase"]) == (6, "paused")
    incident = receivers.pagerduty.incident("findly/fn-posts/production/2.0.0")
    assert incident is not None
    assert incident.open
    assert cli(env, "resume", "fn-posts", "--env", "production")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "production", "--watch")[0] == 0
    incident = receivers.pagerduty.incident("findly/fn-posts/production/2.0.0")
    assert incident is not None
    assert not incident.open  # resolved by the version's success


def test_waiting_for_approval_reaches_slack_once_while_slack_is_down_for_a_while(
    env: dict[str, str], receivers: ReceiversStandIn
) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "staging")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "staging", "--watch")[0] == 0
    receivers.slack.down(requests=50)
    code, document = cli(env, "promote", "fn-posts", "1.0.0", "--to", "production")
    assert code in (3, 6), document  # the release's answer, not the receivers'
    assert cli(env, "notify", "deliver")[0] == 0  # tried as the command ended: nothing is due again yet
    code, document = cli(env, "notify", "deliver", "--all")
    assert code == 5  # a receiver could not be reached: said, with the next attempt
    assert "slack" in document["error"]["message"]  # type: ignore[index]
    assert "next attempt at" in document["error"]["message"]  # type: ignore[index]
    receivers.slack.restore()
    code, document = cli(env, "notify", "deliver", "--all")  # what waits for its next attempt, too
    assert code == 0, document
    waits = [m for m in receivers.slack.messages if "approval" in " ".join(m.texts())]
    assert len(waits) == 1
    assert "findly-infra approve fn-posts 1.0.0 --env production" in " ".join(waits[0].texts())
    assert receivers.pagerduty.requests == []  # a wait pages no one
    status = cli(env, "notify", "status")[1]
    slack = next(r for r in status["receivers"] if r["receiver"] == "slack")  # type: ignore[union-attr, index]
    assert slack["pending"] == 0
    assert slack["delivered"] >= 1


def test_the_step_summary_lists_the_deliveries(
    env: dict[str, str], receivers: ReceiversStandIn, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    github = {
        **env,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(tmp_path / "o"),
    }
    receivers.slack.down(requests=5)
    assert cli(github, "deploy", "fn-posts", "1.0.0", "--env", "staging")[0] == 0
    assert cli(github, "pause", "fn-posts", "--env", "staging", "--reason", "look first")[0] in (0, 6)
    text = summary.read_text()
    assert "#### Notifications" in text
    assert "| audit | 1 | 0 | 0 |" in text
    assert "| slack | 0 | 0 | 1 |" in text  # the pause: Slack is down, it waits for its next attempt
    assert receivers.slack_url not in text


def test_notify_test_and_secrets_never_shown(env: dict[str, str], receivers: ReceiversStandIn) -> None:
    code, document = cli(env, "notify", "test", "audit")
    assert code == 0, document
    assert len(receivers.webhook.messages) == 1
    code, document = cli({**env, "WEBHOOK_URL": ""}, "notify", "test", "audit")
    assert code == 5
    assert "$WEBHOOK_URL was not set" in document["error"]["message"]  # type: ignore[index]
    code, document = cli(env, "notify", "test", "nobody")
    assert code == 2
    everything = json.dumps(cli(env, "notify", "list")[1]) + json.dumps(cli(env, "notify", "status")[1])
    for secret in (receivers.slack_url, receivers.routing_key, receivers.webhook_secret):
        assert secret not in everything


def test_an_imported_past_is_not_told_again(env: dict[str, str], receivers: ReceiversStandIn, tmp_path: Path) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "staging")[0] == 0
    told = len(receivers.webhook.messages)
    assert told == 1  # rollout_started, to audit
    assert cli(env, "state", "export", "--output", str(tmp_path / "export.jsonl"))[0] == 0
    moved = {**env, "FINDLY_STATE": str(tmp_path / "moved.sqlite3")}
    assert cli(moved, "state", "import", str(tmp_path / "export.jsonl"))[0] == 0
    assert cli(moved, "notify", "deliver")[0] == 0
    assert len(receivers.webhook.requests) == told  # the imported past: not sent again (not even deduplicated)
    assert cli(moved, "rollback", "fn-posts", "--env", "staging", "--reason", "moved")[0] == 0
    assert len(receivers.webhook.requests) == told + 1  # what happens after the move is told


def test_notify_test_of_a_paging_receiver_opens_and_resolves_a_test_incident(
    env: dict[str, str], receivers: ReceiversStandIn
) -> None:
    code, document = cli(env, "notify", "test", "pagerduty")
    assert code == 0, document
    key = document["dedup_key"]
    assert isinstance(key, str)
    assert key.startswith("findly/test/pagerduty/")
    incident = receivers.pagerduty.incident(key)
    assert incident is not None  # it really reached PagerDuty: a trigger opened the test incident...
    assert not incident.open  # ...and a resolve closed it
    assert [e["event_action"] for e in receivers.pagerduty.events] == ["trigger", "resolve"]
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        assert main(["notify", "test", "pagerduty"], out=out) == 0
    assert "opened" in out.getvalue()
    assert "resolved" in out.getvalue()


def test_notify_test_of_a_paging_receiver_fails_when_unreachable_or_refused(
    env: dict[str, str], receivers: ReceiversStandIn
) -> None:
    code, document = cli(
        {**env, "PAGERDUTY_EVENTS_URL": "http://127.0.0.1:9/v2/enqueue"}, "notify", "test", "pagerduty"
    )
    assert code == 5, document
    assert "could not connect" in document["error"]["message"]  # type: ignore[index]
    assert document["permanent"] is False  # worth trying again
    code, document = cli({**env, "PAGERDUTY_ROUTING_KEY": "badkey"}, "notify", "test", "pagerduty")
    assert code == 5, document
    assert "400" in document["error"]["message"]  # type: ignore[index]  # refused for good: a bad key
    assert document["permanent"] is True
    assert receivers.pagerduty.incidents == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("notify", "list", "--service", "fn-post"), "fn-post"),
        (("notify", "deliver", "--budget", "-1"), "--budget"),
        (("notify", "deliver", "--budget", "0"), "--budget"),
        (("notify", "deliver", "--budget", "nan"), "--budget"),
        (("notify", "list", "--limit", "0"), "--limit"),
    ],
)
def test_bad_notify_input_is_exit_2_naming_it(env: dict[str, str], args: tuple[str, ...], named: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env), mock.patch("sys.stderr", err):
        code = main(list(args), out=out)
    assert code == 2, (out.getvalue(), err.getvalue())
    assert named in err.getvalue()
    if named == "fn-post":
        assert "fn-posts" in err.getvalue()  # the known services are named


def test_a_past_failure_is_said_as_past_with_its_time(env: dict[str, str], receivers: ReceiversStandIn) -> None:
    unset = {**env, "SLACK_WEBHOOK_URL": ""}
    assert cli(unset, "deploy", "fn-posts", "1.0.0", "--env", "staging")[0] == 0
    assert cli(unset, "pause", "fn-posts", "--env", "staging", "--reason", "look first")[0] in (0, 6)
    # the variable is set now: what is shown of slack's queued notification is the last attempt's, said as past
    code, document = cli(env, "notify", "deliver")
    assert code == 0, document
    slack = next(r for r in document["receivers"] if r["receiver"] == "slack")  # type: ignore[union-attr, index]
    assert slack["detail"].startswith("last attempt 20"), slack
    assert slack["detail"].endswith(": $SLACK_WEBHOOK_URL was not set"), slack
    status = next(r for r in cli(env, "notify", "status")[1]["receivers"] if r["receiver"] == "slack")  # type: ignore[union-attr, index]
    assert "is not set" not in status["detail"]
    assert "last attempt" in status["detail"]
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        assert main(["notify", "list"], out=out) == 0
    assert "is not set" not in out.getvalue()
    assert "(last attempt 20" in out.getvalue()


def test_the_delivery_log_is_a_warning_only_when_something_was_not_delivered(
    env: dict[str, str], receivers: ReceiversStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    def logged() -> dict[str, object]:
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        return next(line for line in lines if line.get("event") == "notify.delivered")

    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "staging")[0] == 0
    assert logged()["level"] == "info"  # all delivered: news, not a warning
    receivers.slack.down(requests=5)
    assert cli(env, "pause", "fn-posts", "--env", "staging", "--reason", "look first")[0] in (0, 6)
    assert logged()["level"] == "warning"  # slack is down: something waits


def test_a_rehearsals_slack_message_starts_with_its_prefix_and_names_its_subject_once(
    env: dict[str, str], receivers: ReceiversStandIn
) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "staging")[0] == 0
    assert cli(env, "pause", "fn-posts", "--env", "staging", "--reason", "look first")[0] in (0, 6)
    (message,) = receivers.slack.messages
    assert message.text.startswith("[rehearsal, virtual time] fn-posts 1.0.0 in staging: "), message.text
    assert message.text.count("fn-posts 1.0.0 in staging") == 1
    header = message.blocks[0]["text"]["text"]
    assert header.startswith("[rehearsal, virtual time] "), header
    for event in receivers.pagerduty.events:
        assert event["payload"]["summary"].startswith("[rehearsal, virtual time] ")


def test_validate_names_an_empty_route_and_suggests_an_environment(tmp_path: Path) -> None:
    config = tmp_path / "findly.yaml"
    routes = """  routes:
    - {environments: [production], severity: critical, receivers: [pagerduty]}
    - {severity: warning, receivers: [slack]}
    - {receivers: [audit]}
"""
    assert routes in PLATFORM
    config.write_text(
        PLATFORM.replace(
            routes,
            """  routes:
    - {environments: [prod], severity: critical, receivers: [pagerduty]}
    - {severity: warning, receivers: []}
""",
        )
    )
    out = io.StringIO()
    code = main(["--json", "validate", str(config)], out=out)
    assert code == 2
    errors = {e["path"]: e["message"] for e in json.loads(out.getvalue())["errors"]}
    assert "did you mean 'production'?" in errors["notifications.routes[0].environments[0]"], errors
    assert "known: staging, production" in errors["notifications.routes[0].environments[0]"]
    assert "at least one receiver" in errors["notifications.routes[1].receivers"], errors


def test_the_demos_state_never_tells_its_story(
    env: dict[str, str], receivers: ReceiversStandIn, tmp_path: Path
) -> None:
    """Review finding 5: the demo tells no one, but left its cursors at 0 — ``notify deliver`` on its state later
    told the whole story, a critical page included. Its story is marked told, as ``state import`` marks a past."""
    demo = str(tmp_path / "demo.sqlite3")
    environment = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    assert cli(environment, "--state", demo, "demo")[0] == 0
    assert cli(environment, "--state", demo, "notify", "deliver")[0] == 0
    assert receivers.slack.messages == []
    assert receivers.pagerduty.events == []
    assert receivers.webhook.requests == []


def test_notify_deliver_without_the_notifications_extra_is_exit_2_naming_it(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its job is to send: with receivers declared and nothing to send with, it says so (exit 2), never "ok" with
    everything still queued (user review, issue 28: exit 0, ``"ok": true``, 8 queued)."""
    from findly_infra.bootstrap import extras

    real = extras.missing_modules
    monkeypatch.setattr(extras, "missing_modules", lambda modules: ["httpx"] if "httpx" in modules else real(modules))
    code, document = cli(env, "notify", "deliver")
    assert code == 2, document
    assert "'notifications' extra" in str(document)
