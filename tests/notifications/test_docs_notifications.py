"""docs/notifications.md can be found, and followed: README, pipeline.md and github-actions.md lead to it, README's
command line names `notify` and `render --check`, and the page's stand-in example reads its variables by the names
the receivers' launcher prints."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DOCS = ROOT / "docs"


def test_the_pages_that_lead_to_notifications_link_it() -> None:
    for page in ("pipeline.md", "github-actions.md", "alerting.md"):
        assert "](notifications.md" in (DOCS / page).read_text(), page
    readme = (ROOT / "README.md").read_text()
    assert "docs/notifications.md" in readme
    (row,) = [line for line in readme.splitlines() if line.startswith("| Command line |")]
    assert "`notify deliver`" in row
    assert "`render --check`" in row
    assert re.search(r"7 a difference or findings to act on \([^)]*`render --check`", row)
    docs_list = readme[readme.index("Documentation, one page per capability") :]
    assert "Alertmanager" in docs_list[: docs_list.index("docs/prometheus.md")]  # alerting.md's pages


def test_the_stand_in_example_uses_the_variables_the_launcher_prints() -> None:
    launcher = (ROOT / "src" / "findly_infra" / "testing" / "_launch.py").read_text()
    printed = set(re.findall(r'\("([A-Z_]+)", served\.', launcher))
    assert printed >= {"SLACK_WEBHOOK_URL", "PAGERDUTY_EVENTS_URL", "PAGERDUTY_ROUTING_KEY"}
    page = (DOCS / "notifications.md").read_text()
    example = page[page.index("python -m findly_infra.testing.receivers") :]
    example = example[: example.index("```")]
    read = set(re.findall(r"\{env: (\w+)\}", example))
    exported = set(re.findall(r"(?:export | )([A-Z_]+)=", example)) - {"FINDLY_ACTOR", "FINDLY_NOW", "FINDLY_SCENARIO"}
    assert read <= printed, read - printed
    assert exported <= printed, exported - printed
    assert "What a stand-in received" in page
