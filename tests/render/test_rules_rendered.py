"""The rules file says what the platform file says: an SLO of any name renders rules Prometheus takes, and an alert's
comments and strings survive being put on one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from findly_infra import load_platform_text
from findly_infra.render import render_platform, write_tree
from tests.conftest import EXAMPLE

from .conftest import tool

SEED_RATE_ALERT = "rate(http_requests_total{status=~'5..'}[5m]) > 0.05"


def _alert_exprs(text: str) -> list[str]:
    tree = render_platform(load_platform_text(text))
    groups = yaml.safe_load(tree["prometheus/alerts.rules.yaml"])["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_an_slo_named_with_quotes_and_backslashes_renders_rules_promtool_takes(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("  availability:\n", '  "avail \\"ability\\" \\\\ 1":\n', 1)
    platform = load_platform_text(text)
    assert 'avail "ability" \\ 1' in [slo.name for slo in platform.slo_definitions]
    write_tree(render_platform(platform), tmp_path)
    checked = subprocess.run(
        [tool("promtool"), "check", "rules", str(tmp_path / "prometheus" / "slo.rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_comment_in_an_alert_does_not_swallow_the_rest_of_it() -> None:
    """Joined onto one line as written, `# 5xx per second` would comment out the threshold that follows it."""
    expression = "|\n        rate(http_requests_total{status=~'5..'}[5m])  # 5xx per second\n          > 0.05"
    exprs = _alert_exprs(EXAMPLE.read_text().replace(f'"{SEED_RATE_ALERT}"', expression))
    assert "rate(http_requests_total{status=~'5..'}[5m]) > 0.05" in exprs


def test_spaces_inside_an_alerts_strings_are_kept() -> None:
    expression = "'up{instance=\"a  b\"}   ==   0'"
    assert 'up{instance="a  b"} == 0' in _alert_exprs(EXAMPLE.read_text().replace('"up == 0"', expression))
