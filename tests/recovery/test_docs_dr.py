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


def test_the_page_says_what_a_new_user_needs_to_know() -> None:
    """The user review of issue 27: where the DR context comes from, the complete permissions (with gke.md's role),
    the billed cluster a drill leaves, which Prometheus to read, and what the RTO leaves out."""
    page = PAGE.read_text()
    flat = " ".join(page.split())
    assert (
        "gcloud container clusters get-credentials findly-production-dr --region us-east1 --project findly-now" in page
    )
    assert "gke_<project>_<region>_<name>" in page
    for permission in ("dns.changes.list", "container.clusters.update", "container.clusters.create"):
        assert permission in page, permission
    assert "roles/container.admin" not in page  # gke.md's role: roles/container.clusterAdmin
    assert "roles/container.clusterAdmin" in (PAGE.parent / "gke.md").read_text()
    assert "roles/container.clusterAdmin" in page
    assert "creates a real GKE cluster" in flat
    assert "never deletes it" in flat
    assert "selects **no cluster**" in flat
    assert 'cluster="findly-production-dr"' in page
    assert "not in it: …" in page
    assert "dns_cache_seconds" in page
    assert "findly-infra extras --dr" in page
