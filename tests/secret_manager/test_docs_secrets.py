"""docs/secrets.md as a user would run it: its platform block added to the example, its console block against the
Secret Manager stand-in (a database password 45 days old, readable by one person too many) at the address the page
shows; its scheduled workflow through the real actionlint."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import yaml

from findly_infra.testing.secret_manager import SecretManagerStandIn
from tests.conftest import EXAMPLE, ROOT
from tests.docs_examples import pages, run_console, user_environment
from tests.postgres.test_workflow import _actionlint

PAGE = ROOT / "docs" / "secrets.md"
SHOWN = "127.0.0.1:8444"


def test_the_pages_console_block_runs_against_the_stand_in(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    own = "serviceAccount:fn-posts@findly-now.iam.gserviceaccount.com"
    sm.add_secret("findly-now", "posts-db-password-production", b"first", readers=(own, "user:mallory@example.com"))
    sm.backdate("findly-now", "posts-db-password-production", timedelta(days=45))
    platform_block = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)[0]
    document = yaml.safe_load(EXAMPLE.read_text())
    document["secret_management"].update(yaml.safe_load(platform_block)["secret_management"])
    project = tmp_path / "project"
    project.mkdir()
    (project / "findly.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    (block,) = [block for block in pages()["secrets.md"] if SHOWN in block.text]
    env = user_environment(tmp_path, FINDLY_ACTOR="erin", NEW_PASSWORD="n3w-pa55word")
    run_console(block, project, env, replace={SHOWN: sm.address})
    assert sm.payloads("findly-now", "posts-db-password-production")[-1] == (2, "ENABLED", b"n3w-pa55word")


def test_the_scheduled_audit_workflow_passes_actionlint(tmp_path: Path) -> None:
    workflow = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)[1]
    result = _actionlint(tmp_path, workflow)
    assert result.returncode == 0, result.stdout + result.stderr
