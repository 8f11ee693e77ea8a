"""docs/disaster-recovery.md's ``failover:`` section is one the loader takes, as written."""

from __future__ import annotations

import re
from pathlib import Path

from findly_infra.config.loader import validate_platform_text
from tests.conftest import EXAMPLE

PAGE = Path(__file__).resolve().parents[2] / "docs" / "disaster-recovery.md"


def test_the_pages_failover_section_loads_beside_the_example() -> None:
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S) if "disaster_recovery:" in b]
    failover = block[block.index("failover:") :]
    text = EXAMPLE.read_text()
    text = text[: text.index("\n# How the platform is brought back in the DR region")] + "\n" + failover
    report = validate_platform_text(text, source="docs/disaster-recovery.md")
    assert report.platform is not None, report.errors
    assert report.platform.failover is not None
    assert report.platform.failover.dns is not None
    assert report.platform.failover.dns.project == "findly-now"
