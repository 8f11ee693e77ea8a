"""docs/secrets.md as a user would run it: its platform block added to the example, its console blocks against the
Secret Manager stand-in (a database password 45 days old, readable by one person too many; then the grants) at the
address the page shows; its scheduled workflow through the real actionlint."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import yaml

from findly_infra.testing.secret_manager import SecretManagerStandIn
from tests.conftest import EXAMPLE, ROOT
from tests.docs_examples import pages, run_console, user_environment
from tests.workflow.lint import actionlint as _actionlint

PAGE = ROOT / "docs" / "secrets.md"
SHOWN = "127.0.0.1:8444"


def test_the_pages_console_blocks_run_against_the_stand_in(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    own = (  # production's fn-posts pods, as Workload Identity names them
        "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
        "findly-now.svc.id.goog/subject/ns/findly-now-production/sa/fn-posts"
    )
    sm.add_secret("findly-now", "posts-db-password-production", b"first", readers=(own, "user:mallory@example.com"))
    sm.backdate("findly-now", "posts-db-password-production", timedelta(days=45))
    platform_block = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)[0]
    document = yaml.safe_load(EXAMPLE.read_text())
    for section, keys in yaml.safe_load(platform_block).items():  # beside what the example's sections say
        document[section].update(keys)
    project = tmp_path / "project"
    project.mkdir()
    (project / "findly.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    audit, grant = [block for block in pages()["secrets.md"] if SHOWN in block.text]
    env = user_environment(tmp_path, FINDLY_ACTOR="erin", NEW_PASSWORD="n3w-pa55word")
    run_console(audit, project, env, replace={SHOWN: sm.address})
    assert sm.payloads("findly-now", "posts-db-password-production")[-1] == (2, "ENABLED", b"n3w-pa55word")
    sm.add_secret("findly-now", "matcher-api-key-production", b"key")  # an administrator created it, as the page says
    run_console(grant, project, env, replace={SHOWN: sm.address})
    matcher = own.replace("/sa/fn-posts", "/sa/fn-matcher")
    assert matcher in sm.policy("findly-now", "matcher-api-key-production").bindings[0].members


def test_the_scheduled_audit_workflow_passes_actionlint(tmp_path: Path) -> None:
    workflow = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)[1]
    result = _actionlint(tmp_path, workflow)
    assert result.returncode == 0, result.stdout + result.stderr
