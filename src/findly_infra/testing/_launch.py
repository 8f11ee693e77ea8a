"""Run a stand-in from a shell, for as long as you need it: ``python -m findly_infra.testing.kubernetes --port 6443``
(and ``.gke``, ``.secret_manager``, ``.github_oidc``, ``.receivers``, ``.cloud_dns``; ``.prometheus`` and
``.postgresql`` start the real servers, from their Debian packages' programs, with the docs' example data). What
they share: the arguments (``--port``), the checks that make bad input exit 2 with a clear message, the lines printed
on stdout (what to point the tool at), and serving on 127.0.0.1 until SIGINT or SIGTERM, then exit 0."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "cloud_dns",
    "github_oidc",
    "gke",
    "kubernetes",
    "launch",
    "postgresql",
    "prometheus",
    "receivers",
    "secret_manager",
]

Serve = Callable[[argparse.Namespace], tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]]
"""From the parsed arguments: the stand-in (a context manager serving on ``args.port`` while entered), and what to print
once it serves (from what ``__enter__`` returned)."""


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535, or 0: any free one)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535, or 0: any free one)")
    return port


def _in_use(port: int) -> str | None:
    """Why *port* of 127.0.0.1 cannot be listened on, or ``None``. (Binding without ``SO_REUSEPORT``: a server that
    would share the port with another — gRPC's default — is refused here rather than served beside it.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves bind
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def launch(
    prog: str,
    description: str,
    default_port: int,
    serve: Serve,
    *,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse *argv*, start the stand-in *serve* gives on 127.0.0.1, print its lines, wait for SIGINT or SIGTERM, stop
    it, and return the exit code: 0, or 2 for bad input (argparse's own errors exit 2 too)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--port", type=_port, default=default_port, help=f"the port on 127.0.0.1 (default {default_port}; 0: any free)"
    )
    if arguments is not None:
        arguments(parser)
    args = parser.parse_args(argv)
    if args.port and (why := _in_use(args.port)) is not None:
        print(f"{prog}: error: --port {args.port}: 127.0.0.1:{args.port} cannot be listened on: {why}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            stand_in, describe = serve(args)
            served = stand_in.__enter__()
        except (OSError, RuntimeError, ValueError) as error:  # a port taken in between; a file not writable
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 2
        try:
            for line in describe(served):
                print(line)
            print(f"serving on 127.0.0.1 until interrupted (Ctrl-C, or kill {os.getpid()})", flush=True)
            while not stop.wait(0.2):
                pass
        finally:
            stand_in.__exit__(None, None, None)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("stopped", flush=True)
    return 0


def _needs(extra: str, error: ImportError) -> RuntimeError:
    return RuntimeError(f"needs the {extra} extra (pip install 'findly-infra[{extra}]'): {error}")


# ---- the launchers ---------------------------------------------------------------------------------------------------


def kubernetes(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.kubernetes``: the Kubernetes API stand-in, and a kubeconfig naming it."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--context", default="findly-prod", help="the kubeconfig's context (default findly-prod, as the docs)"
        )
        parser.add_argument(
            "--kubeconfig",
            metavar="PATH",
            help="where to write the kubeconfig (default: in a fresh temp folder)",
        )
        parser.add_argument(
            "--controller",
            action="store_true",
            help="play kube-controller-manager: each Deployment applied becomes ready (apply --wait, releases)",
        )

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        try:
            from findly_infra.testing.kubernetes import KubernetesStandIn

            cluster = KubernetesStandIn()  # reads kubernetes-validate's schemas here
        except ImportError as error:
            raise _needs("testing", error) from None
        folder = None if args.kubeconfig else Path(tempfile.mkdtemp(prefix="findly-kube-"))
        path = Path(args.kubeconfig) if folder is None else folder / "kubeconfig"

        @contextlib.contextmanager
        def serving() -> Iterator[Any]:
            cluster.start(args.port)
            try:
                path.write_text(yaml.safe_dump(cluster.kubeconfig(context=args.context)))
            except OSError as error:
                cluster.stop()
                raise RuntimeError(f"--kubeconfig {path}: {error.strerror or error}") from None
            try:
                with cluster.controller() if args.controller else contextlib.nullcontext():
                    yield cluster
            finally:
                cluster.stop()
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)

        def describe(_: Any) -> list[str]:
            return [
                f"Kubernetes API stand-in at {cluster.url} (context {args.context})",
                "controller: each Deployment becomes ready as it is applied"
                if args.controller
                else "no controller: Deployments stay unready (--controller plays kube-controller-manager)",
                f"kubeconfig: {path.resolve()}",
                f"export KUBECONFIG={shlex.quote(str(path.resolve()))}",
            ]

        return serving(), describe

    return launch(
        "python -m findly_infra.testing.kubernetes",
        "A Kubernetes API server stand-in on 127.0.0.1, with a kubeconfig naming it (the testing extra).",
        6443,
        serve,
        arguments=arguments,
        argv=argv,
    )


EXAMPLE_PROJECT, EXAMPLE_LOCATION, EXAMPLE_CLUSTER = "findly-now", "us-central1", "findly-production"
EXAMPLE_NODES = "1.29.8-gke.1031000"


def gke(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.gke``: the GKE API stand-in, and the ``FINDLY_GKE_ENDPOINT`` naming it."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--example",
            action="store_true",
            help="hold the example file's cluster as docs/gke.md finds it: application-pool scaled to 8 by hand, "
            f"no monitoring-pool, a legacy-pool, nodes on {EXAMPLE_NODES}",
        )

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        try:
            from google.cloud import container_v1 as types

            from findly_infra.testing.gke import GkeStandIn

            stand_in = GkeStandIn()
        except ImportError as error:
            raise _needs("gke", error) from None
        stand_in.port = args.port
        if args.example:
            pools = tuple(
                types.NodePool(
                    name=name,
                    version=EXAMPLE_NODES,
                    locations=["us-central1-a", "us-central1-b", "us-central1-c"],
                    config=types.NodeConfig(machine_type="e2-standard-4", disk_size_gb=100, disk_type="pd-ssd"),
                    autoscaling=types.NodePoolAutoscaling(enabled=True, min_node_count=3, max_node_count=high),
                )
                for name, high in (("application-pool", 8), ("legacy-pool", 10))
            )
            stand_in.add_cluster(EXAMPLE_PROJECT, EXAMPLE_LOCATION, EXAMPLE_CLUSTER, node_pools=pools)

        def describe(served: Any) -> list[str]:
            held = f"cluster {EXAMPLE_CLUSTER} of project {EXAMPLE_PROJECT} ({EXAMPLE_LOCATION})"
            return [
                f"GKE API stand-in (google.container.v1.ClusterManager) at {served.address}, holding "
                + (held if args.example else "no cluster (--example: the example file's)"),
                f"export FINDLY_GKE_ENDPOINT={served.address} FINDLY_GCP_PROJECT={EXAMPLE_PROJECT}",
            ]

        return stand_in, describe

    return launch(
        "python -m findly_infra.testing.gke",
        "A GKE API stand-in (gRPC) on 127.0.0.1 for `findly-infra cluster` (the gke extra).",
        8443,
        serve,
        arguments=arguments,
        argv=argv,
    )


def secret_manager(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.secret_manager``: the Secret Manager stand-in, and the
    ``FINDLY_SECRET_MANAGER_ENDPOINT`` naming it."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--project", default=EXAMPLE_PROJECT, help="the project of the secrets added here")
        parser.add_argument(
            "--example",
            action="store_true",
            help="hold what docs/secrets.md starts from: posts-db-password-production, 45 days old, readable by "
            "production's fn-posts pods and user:mallory@example.com",
        )
        parser.add_argument(
            "--secret",
            action="append",
            default=[],
            metavar="ID",
            help="a secret (with one enabled version) an administrator created; repeat for more",
        )

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        try:
            from findly_infra.testing.secret_manager import SecretManagerStandIn

            stand_in = SecretManagerStandIn()
        except ImportError as error:
            raise _needs("secret-manager", error) from None
        stand_in.port = args.port
        if args.example:
            pods = (
                "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
                f"{args.project}.svc.id.goog/subject/ns/findly-now-production/sa/fn-posts"
            )
            stand_in.add_secret(
                args.project, "posts-db-password-production", b"first", readers=(pods, "user:mallory@example.com")
            )
            stand_in.backdate(args.project, "posts-db-password-production", timedelta(days=45))
        for secret in args.secret:
            if not _SECRET_ID.fullmatch(secret):
                raise ValueError(f"--secret {secret!r}: a secret id is 1-255 letters, digits, - and _")
            stand_in.add_secret(args.project, secret, secrets.token_urlsafe(24).encode())

        def describe(served: Any) -> list[str]:
            return [
                f"Secret Manager stand-in (google.cloud.secretmanager.v1) at {served.address}, project {args.project}",
                f"export FINDLY_SECRET_MANAGER_ENDPOINT={served.address} FINDLY_GCP_PROJECT={args.project}",
            ]

        return stand_in, describe

    return launch(
        "python -m findly_infra.testing.secret_manager",
        "A Secret Manager stand-in (gRPC) on 127.0.0.1 for `findly-infra secrets` (the secret-manager extra).",
        8444,
        serve,
        arguments=arguments,
        argv=argv,
    )


# Secret Manager's secret id: "[a-zA-Z_0-9-]{1,255}" (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create)
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def github_oidc(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.github_oidc``: GitHub's OIDC issuer and a runner's token endpoint, and the
    variables of a job whose tokens it issues."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--claim",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a claim of the job's tokens (actor=carol, actor_id=4242, repository=findly-now/services, "
            "environment=production, …); repeat for more",
        )

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        claims = {}
        for given in args.claim:
            name, equals, value = given.partition("=")
            if not equals or not name:
                raise ValueError(f"--claim {given!r}: give NAME=VALUE (actor=carol)")
            claims[name] = value
        try:
            import jwt  # noqa: F401 - signs the tokens and publishes the keys, once serving

            from findly_infra.testing.github_oidc import GitHubOidcStandIn

            github = GitHubOidcStandIn(port=args.port)
        except ImportError as error:
            raise _needs("github", error) from None
        environ = github.job(**claims)

        def describe(served: Any) -> list[str]:
            return [
                f"GitHub OIDC issuer stand-in at {served.url} (github_oidc.issuer in the platform file)",
                f"issuer: {served.url}",
                "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in environ.items()),
            ]

        return github, describe

    return launch(
        "python -m findly_infra.testing.github_oidc",
        "GitHub Actions' OIDC issuer and a runner's token endpoint on 127.0.0.1 (the github extra).",
        8445,
        serve,
        arguments=arguments,
        argv=argv,
    )


def prometheus(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.prometheus``: a real Prometheus (Debian's ``prometheus`` package: the
    ``prometheus`` and ``promtool`` programs on PATH) holding series backfilled from OpenMetrics — the docs' example
    series with ``--example`` — and the ``FINDLY_PROMETHEUS_URL`` naming it."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--example",
            action="store_true",
            help="hold the series docs/prometheus.md and docs/simulation.md read: fn-posts, fn-matcher and "
            "fn-notifications from 2026-11-01T12:00:00Z, 100 minutes",
        )
        parser.add_argument(
            "--openmetrics", metavar="FILE", help="backfill your series from an OpenMetrics file (as promtool reads)"
        )

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        try:
            import httpx  # noqa: F401 - asks the server whether it is ready

            from findly_infra.testing.prometheus import (
                EXAMPLE_MINUTES,
                EXAMPLE_START,
                EXAMPLE_STREAMS,
                PrometheusServer,
                openmetrics,
            )
        except ImportError as error:
            raise _needs("prometheus", error) from None
        if args.example and args.openmetrics:
            raise ValueError("--example or --openmetrics FILE, not both")
        if args.openmetrics:
            try:
                data = Path(args.openmetrics).read_text()
            except OSError as error:
                raise ValueError(f"--openmetrics {args.openmetrics}: {error.strerror or error}") from None
        else:
            data = openmetrics(EXAMPLE_STREAMS, start=EXAMPLE_START, minutes=EXAMPLE_MINUTES) if args.example else ""
        for program in ("prometheus", "promtool"):
            if shutil.which(program) is None:
                raise RuntimeError(f"{program} is not installed (Debian: apt-get install prometheus)")
        folder = Path(tempfile.mkdtemp(prefix="findly-prometheus-"))
        server = PrometheusServer(data, folder, port=args.port)

        @contextlib.contextmanager
        def serving() -> Iterator[Any]:
            try:
                yield server.start()
            finally:
                server.stop()
                shutil.rmtree(folder, ignore_errors=True)

        def describe(url: Any) -> list[str]:
            if args.example:
                end = (EXAMPLE_START + timedelta(minutes=EXAMPLE_MINUTES)).strftime("%H:%M")
                held = f"the docs' example series (2026-11-01 12:00 to {end} UTC)"
            else:
                held = f"the series of {args.openmetrics}" if args.openmetrics else "no series (--example: the docs')"
            return [f"Prometheus at {url}, holding {held}", f"export FINDLY_PROMETHEUS_URL={url}"]

        return serving(), describe

    return launch(
        "python -m findly_infra.testing.prometheus",
        "A real Prometheus on 127.0.0.1 with backfilled series (Debian's prometheus package; the prometheus extra).",
        9090,
        serve,
        arguments=arguments,
        argv=argv,
    )


def postgresql(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.postgresql``: a real PostgreSQL (Debian's ``postgresql`` package, its programs
    found on PATH or in ``/usr/lib/postgresql/N/bin``), a throwaway cluster whose database ``findly`` the superuser
    ``findly`` reaches with no password (``trust``, on 127.0.0.1 alone), and the ``FINDLY_STATE`` naming it."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--database", default="findly", help="the database to create (default findly)")

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        try:
            import psycopg  # noqa: F401 - creates the database

            from findly_infra.testing.postgresql import PostgresServer, postgres_binaries
        except ImportError as error:
            raise _needs("postgresql", error) from None
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database):
            raise ValueError(f"--database {args.database!r}: give a name of lower-case letters, digits and _")
        if postgres_binaries() is None:
            raise RuntimeError(
                "PostgreSQL is not installed (Debian: apt-get install postgresql; its programs are found in "
                "/usr/lib/postgresql/N/bin)"
            )
        server = PostgresServer(trust=True)
        server.port = args.port

        @contextlib.contextmanager
        def serving() -> Iterator[Any]:
            import subprocess

            try:
                with server:
                    server.url(args.database)
                    yield server
            except subprocess.CalledProcessError as error:  # initdb refused: its own words
                said = (error.stderr or b"").decode(errors="replace").strip()
                raise RuntimeError(f"initdb failed: {said[-2000:]}") from None

        def describe(served: Any) -> list[str]:
            url = f"postgresql://findly@127.0.0.1:{served.port}/{args.database}"
            return [
                f"PostgreSQL at 127.0.0.1:{served.port} (a throwaway cluster, removed when it stops): database "
                f"{args.database}, superuser findly, no password (trust, on 127.0.0.1 only)",
                f"export FINDLY_STATE={url}",
            ]

        return serving(), describe

    return launch(
        "python -m findly_infra.testing.postgresql",
        "A real PostgreSQL on 127.0.0.1, a throwaway cluster (Debian's postgresql package; the postgresql extra).",
        5432,
        serve,
        arguments=arguments,
        argv=argv,
    )


def receivers(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.receivers``: the receivers' stand-ins (a Slack incoming webhook, PagerDuty's
    Events API v2, a Standard Webhooks receiver, Alertmanager's webhook) on one port, and their URLs and keys."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--webhook-secret",
            metavar="whsec_…",
            help="the signed webhook's secret (whsec_ and the base64 of 24-64 bytes; default: a fresh one)",
        )
        parser.add_argument(
            "--routing-key", metavar="KEY", help="the PagerDuty routing key printed (32 characters; default: fresh)"
        )

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        from findly_infra.testing.receivers import ReceiversStandIn, webhook_key, webhook_secret

        secret = args.webhook_secret
        if secret is not None:
            try:
                webhook_key(secret)
            except ValueError as error:
                raise ValueError(f"--webhook-secret: {error}") from None
        if args.routing_key is not None and len(args.routing_key) != 32:
            raise ValueError("--routing-key: a PagerDuty routing key is 32 characters")

        @contextlib.contextmanager
        def serving() -> Iterator[Any]:
            stand_in = ReceiversStandIn(
                port=args.port, webhook_secret=secret or webhook_secret(), routing_key=args.routing_key
            )
            try:
                yield stand_in
            finally:
                stand_in.close()

        def describe(served: Any) -> list[str]:
            return [
                f"receivers' stand-ins at {served.url}",
                f"Slack incoming webhook: {served.slack_url}",
                f"PagerDuty Events API v2: {served.pagerduty_url} (routing key {served.routing_key})",
                f"signed webhook (Standard Webhooks): {served.webhook_url} (secret {served.webhook_secret})",
                f"Alertmanager webhook: {served.alertmanager_url}",
                "export "
                + " ".join(
                    f"{name}={shlex.quote(value)}"
                    for name, value in (
                        ("SLACK_WEBHOOK_URL", served.slack_url),
                        ("PAGERDUTY_EVENTS_URL", served.pagerduty_url),
                        ("PAGERDUTY_ROUTING_KEY", served.routing_key),
                        ("WEBHOOK_URL", served.webhook_url),
                        ("WEBHOOK_SECRET", served.webhook_secret),
                    )
                ),
            ]

        return serving(), describe

    return launch(
        "python -m findly_infra.testing.receivers",
        "Stand-ins of the notification receivers on 127.0.0.1: Slack, PagerDuty, signed and Alertmanager webhooks.",
        8446,
        serve,
        arguments=arguments,
        argv=argv,
    )


def cloud_dns(argv: Sequence[str] | None = None) -> int:
    """``python -m findly_infra.testing.cloud_dns``: the Cloud DNS stand-in (REST), its zones, and the
    ``FINDLY_DNS_ENDPOINT`` naming it."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--project", default=EXAMPLE_PROJECT, help="the project of the zones (default findly-now)")
        parser.add_argument(
            "--zone",
            action="append",
            default=[],
            metavar="NAME:DNSNAME",
            help="a managed zone (findly-now-zone:findly.example.), born with its SOA and NS; repeat for more",
        )
        parser.add_argument(
            "--polls", type=int, default=1, help="reads of a change before it is done (default 1; 0: done at once)"
        )

    def serve(args: argparse.Namespace) -> tuple[AbstractContextManager[Any], Callable[[Any], list[str]]]:
        from findly_infra.testing.cloud_dns import CloudDnsStandIn

        if args.polls < 0:
            raise ValueError(f"--polls {args.polls}: give 0 or more")
        stand_in = CloudDnsStandIn(project=args.project, polls=args.polls, port=args.port)
        for given in args.zone:
            name, colon, dns_name = given.partition(":")
            if not colon:
                raise ValueError(f"--zone {given!r}: give NAME:DNSNAME (findly-now-zone:findly.example.)")
            try:
                stand_in.add_zone(name, dns_name)
            except ValueError as error:
                raise ValueError(f"--zone {given!r}: {error}") from None

        def describe(served: Any) -> list[str]:
            zones = ", ".join(f"{name} ({dns_name})" for name, _, dns_name in (z.partition(":") for z in args.zone))
            return [
                f"Cloud DNS stand-in (REST v1) at {served.url}, project {args.project}, holding "
                + (f"zones {zones}" if zones else "no zone (--zone NAME:DNSNAME)"),
                f"export FINDLY_DNS_ENDPOINT={served.url} FINDLY_GCP_PROJECT={args.project}",
            ]

        return stand_in, describe

    return launch(
        "python -m findly_infra.testing.cloud_dns",
        "A Cloud DNS stand-in (REST API v1) on 127.0.0.1 for `findly-infra dr failover` (no extra; the client needs "
        "the dns extra).",
        8447,
        serve,
        arguments=arguments,
        argv=argv,
    )
