"""Every launcher line the docs give (``python -m findly_infra.testing.NAME …``, in a shell block or a sentence) runs
as written — on a free port instead of the page's — serves, and prints what the page says it prints (the address
and the folder mapped back to the page's), then stops with exit 0 on SIGTERM. (A launcher a console block starts runs
with its page, in tests/test_docs.py.)"""

from __future__ import annotations

import re
import shlex
import signal
from pathlib import Path

import pytest

from tests.conftest import PROMETHEUS_INSTALL, require_tool
from tests.docs_examples import DOCS, console_blocks
from tests.test_launchers import launched

SHOWN_FOLDER = "/home/erin/try"  # the folder the pages show a kubeconfig written in
EXTRAS = {
    "kubernetes": "kubernetes_validate",
    "gke": "google.cloud.container_v1",
    "secret_manager": "google.cloud.secretmanager_v1",
    "github_oidc": "jwt",
    "prometheus": "httpx",
    "postgresql": "psycopg",
    "receivers": "attrs",  # no extra
    "cloud_dns": "attrs",  # no extra
}


def _launches() -> list[tuple[str, str, list[str]]]:
    """(page, the command, the lines the page shows it printing — the ``# …`` comments right after it)."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        for block in re.findall(r"```sh\n(.*?)```", text, re.S):
            lines = block.split("\n")
            for number, line in enumerate(lines):
                if line.startswith("python -m findly_infra.testing."):
                    shown = []
                    for after in lines[number + 1 :]:
                        if not after.startswith("# "):
                            break
                        shown.append(after[2:])
                    found.append((page.name, line, shown))
        for command in re.findall(r"`(python -m findly_infra\.testing\.[^`]*)`", text):
            if not re.search(r"[A-Z]{2,}|\[", command):  # a synopsis (--port PORT [--example]), not a command
                found.append((page.name, command, []))
    return found


def test_the_pages_give_the_launchers() -> None:
    pages = {page for page, _, _ in _launches()}
    started = {
        block.page
        for block in console_blocks()
        if any(step.command.startswith("python -m findly_infra.testing.") for step in block.steps)
    }
    assert {"testing.md"} <= pages
    assert {"kubernetes.md", "gke.md", "secrets.md", "prometheus.md", "state-and-evidence.md"} <= started


@pytest.mark.parametrize(("page", "command", "shown"), [pytest.param(*x, id=f"{x[0]}: {x[1]}") for x in _launches()])
def test_a_launcher_line_of_the_docs_runs_as_written(page: str, command: str, shown: list[str], tmp_path: Path) -> None:
    words = shlex.split(command.split("#", maxsplit=1)[0].rstrip(" &"))
    module = words[2].removeprefix("findly_infra.testing.")
    pytest.importorskip(EXTRAS[module], reason=f"the extra {module}'s launcher needs")
    if module == "prometheus":
        require_tool("prometheus", PROMETHEUS_INSTALL)
        require_tool("promtool", PROMETHEUS_INSTALL)
    if module == "postgresql":
        from findly_infra.testing.postgresql import postgres_binaries

        if postgres_binaries() is None:
            require_tool("initdb", "Debian: apt-get install postgresql")
    port = words[words.index("--port") + 1] if "--port" in words else None
    if port is not None:
        del words[words.index("--port") : words.index("--port") + 2]
    with launched(module, *words[3:], cwd=tmp_path) as stand_in:
        printed = stand_in.lines
        code, _ = stand_in.stop(signal.SIGTERM)
    assert code == 0
    actual = re.search(r"127\.0\.0\.1:(\d+)", "\n".join(printed))
    assert actual is not None
    mapped = [
        line.replace(f"127.0.0.1:{actual.group(1)}", f"127.0.0.1:{port}").replace(str(tmp_path), SHOWN_FOLDER)
        for line in printed
    ]
    for line in shown:
        assert line in mapped, f"{page}: `{command}` printed\n" + "\n".join(mapped) + f"\n\nnot\n{line}"
