"""A real Alertmanager for tests and benchmarks, and scrape targets whose series change while Prometheus watches.

    with ScrapeTargets() as targets, AlertmanagerServer(config_text, folder=tmp_path / "am") as alertmanager:
        targets.set("fn-posts", "")          # serves an empty exposition: up == 1
        targets.down("fn-posts")              # answers 503: Prometheus records up == 0 for the target
        ...

Needs Debian's ``prometheus-alertmanager`` package (its server binary is ``prometheus-alertmanager``; upstream's is
``alertmanager``: either is found). The server runs on a free port of 127.0.0.1 with clustering off
(``--cluster.listen-address=`` empty) and its own storage folder.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

from findly_infra.domain.notation import Duration
from findly_infra.testing._processes import stop

__all__ = [
    "AlertmanagerServer",
    "AlertmanagerServerError",
    "ScrapeTargets",
    "alertmanager_binary",
    "routed_receiver",
    "scaled_config",
    "scaled_rule_groups",
]


def routed_receiver(labels: dict[str, str], config: dict[str, Any]) -> str:
    """Where a rendered Alertmanager configuration sends an alert with *labels*: its first route whose matchers all
    match (the rendered routes are one level deep, their matchers ``label="value"`` or ``label=~"a|b"``), else the
    root's receiver — as Alertmanager's routing tree does for such a tree (``amtool config routes test`` agrees:
    tests/render/test_alertmanager.py)."""
    for route in config["route"]["routes"]:
        found = [re.fullmatch(r'(\w+)(=~?)"(.*)"', matcher) for matcher in route["matchers"]]
        if all(
            m is not None and re.fullmatch(m[3] if m[2] == "=~" else re.escape(m[3]), labels.get(m[1], ""))
            for m in found
        ):
            return str(route["receiver"])
    return str(config["route"]["receiver"])


def _scaled(text: str, factor: float) -> str:
    return Duration(max(1, round(Duration.parse(text).milliseconds * factor))).format()


def scaled_rule_groups(groups: list[dict[str, Any]], factor: float) -> list[dict[str, Any]]:
    """Rule groups with every ``interval`` and ``for`` multiplied by *factor* (``1/30``: 15 s → 500 ms, 1 m → 2 s),
    so that a test sees in seconds what takes minutes; the expressions (their rate windows) are left as written."""
    return [
        {
            **group,
            **({"interval": _scaled(group["interval"], factor)} if "interval" in group else {}),
            "rules": [
                {**rule, **({"for": _scaled(rule["for"], factor)} if "for" in rule else {})} for rule in group["rules"]
            ],
        }
        for group in groups
    ]


def scaled_config(config: dict[str, Any], factor: float) -> dict[str, Any]:
    """An Alertmanager configuration with its route's ``group_wait``, ``group_interval`` and ``repeat_interval``
    (at every level of the routing tree) multiplied by *factor*."""

    def route(node: dict[str, Any]) -> dict[str, Any]:
        timed = {key: _scaled(value, factor) for key, value in node.items() if key.endswith(("_wait", "_interval"))}
        return {**node, **timed, **({"routes": [route(r) for r in node["routes"]]} if "routes" in node else {})}

    return {**config, "route": route(config["route"])}


class AlertmanagerServerError(RuntimeError):
    """Raised when the binary is missing, refuses the configuration, or does not come up."""


def alertmanager_binary() -> str | None:
    """The Alertmanager server on ``PATH``: Debian's ``prometheus-alertmanager`` or upstream's ``alertmanager``."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.define
class AlertmanagerServer:
    """Serves *config* (an ``alertmanager.yml``) on 127.0.0.1 from *folder* (its storage, and the config file)."""

    config: str
    folder: Path
    ready_timeout: float = 20.0
    port: int = 0
    """The port of 127.0.0.1 to serve on; 0: a free one."""
    url: str = attrs.field(default="", init=False)
    _process: subprocess.Popen[bytes] | None = attrs.field(default=None, init=False, repr=False)

    def start(self) -> str:
        import httpx

        binary = alertmanager_binary()
        if binary is None:
            raise AlertmanagerServerError(
                "alertmanager is not installed (Debian: apt-get install prometheus-alertmanager)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "alertmanager.yml"
        config.write_text(self.config)
        port = self.port or _free_port()
        log = (self.folder / "alertmanager.log").open("wb")
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # one Alertmanager, no gossip: nothing listens beyond 127.0.0.1
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            if self._process.poll() is not None:
                self._process = None
                raise AlertmanagerServerError(f"Alertmanager stopped before it served: {self.log()[-2000:]}")
            time.sleep(0.05)
        self.stop()
        raise AlertmanagerServerError(f"Alertmanager did not become ready within {self.ready_timeout:g} s")

    def log(self) -> str:
        """What the server wrote (its log lines), for a failing test's message."""
        path = self.folder / "alertmanager.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None:
            stop(self._process)
            self._process = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class ScrapeTargets:
    """Scrape targets on one free port of 127.0.0.1: ``/<name>/metrics`` serves what :meth:`set` last gave it (the
    text exposition format), or 503 after :meth:`down` — a failed scrape, so ``up == 0`` for that target."""

    def __init__(self) -> None:
        self._bodies: dict[str, str] = {}
        self._down: set[str] = set()
        self._lock = threading.Lock()
        targets = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/").removesuffix("/metrics")
                with targets._lock:
                    body = None if name in targets._down else targets._bodies.get(name)
                status = 503 if body is None else 200
                data = (body or "").encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def set(self, name: str, exposition: str) -> None:
        """Serve *exposition* at ``/<name>/metrics`` (and bring the target back up)."""
        with self._lock:
            self._bodies[name] = exposition
            self._down.discard(name)

    def down(self, name: str) -> None:
        """Answer 503 at ``/<name>/metrics``: the target is down."""
        with self._lock:
            self._down.add(name)

    def path(self, name: str) -> str:
        return f"/{name}/metrics"

    def __enter__(self) -> ScrapeTargets:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
