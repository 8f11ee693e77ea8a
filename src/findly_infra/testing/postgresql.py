"""A real PostgreSQL server for tests: its own cluster (``initdb``) in a temporary folder, on a free loopback port,
started and stopped by a context manager — so the PostgreSQL state is tested against PostgreSQL itself, never a mock.

As root (CI machines often are), the server runs as the unprivileged ``nobody`` (PostgreSQL refuses to run as
root). The binaries are looked up on ``PATH``, then in Debian's ``/usr/lib/postgresql/<major>/bin``.

    with PostgresServer() as server:
        url = server.url("findly")  # postgresql://findly:…@127.0.0.1:PORT/findly
        with server.frozen():  # every server process stopped (SIGSTOP): it answers nothing until the block ends
            ...

From a shell, ``python -m findly_infra.testing.postgresql --port 5432`` serves a throwaway one until interrupted, its
database ``findly`` at ``postgresql://findly@127.0.0.1:5432/findly`` (no password: ``trust`` on 127.0.0.1 alone).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresServer", "postgres_binaries"]


def postgres_binaries() -> Path | None:
    """The folder holding ``initdb``, ``postgres`` and ``pg_ctl``; ``None`` when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found is not None:
        return Path(found).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return debian[-1].parent if debian else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL cluster of its own: ``url(database)`` creates the database on first use and names it with the
    password of the superuser ``findly``; ``stop()``/``start()`` restart it on the same port and data. Its writes
    are not flushed to disk (``fsync=off``: a test's server outlives no crash of the machine) unless *durable*: then
    the server's defaults (``fsync``, ``synchronous_commit`` on), as a benchmark of durable commits wants. With *trust*,
    no password at all (``initdb --auth=trust``; the URLs name none), as the docs' local trial has it."""

    def __init__(self, binaries: Path | None = None, *, durable: bool = False, trust: bool = False) -> None:
        found = binaries or postgres_binaries()
        if found is None:
            raise FileNotFoundError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.binaries = found
        self.durable = durable
        self.trust = trust
        """No password: ``trust`` authentication (the server listens on 127.0.0.1 alone), a local trial's setting."""
        self.password = "" if trust else secrets.token_urlsafe(16)
        self.port = 0
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._databases: set[str] = set()

    # ---- lifecycle -----------------------------------------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.create()
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    @staticmethod
    def _owner() -> tuple[int | None, int | None]:
        """(uid, gid) to run the server as: ``nobody`` when we are root (PostgreSQL refuses root), else ourselves."""
        if os.geteuid() != 0:
            return None, None
        import pwd

        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid

    def create(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="findly-postgres-"))
        data = self._folder / "data"
        secret = self._folder / "password"
        if not self.trust:
            secret.write_text(self.password)
        uid, gid = self._owner()
        if uid is not None and gid is not None:
            os.chown(self._folder, uid, gid)
            if not self.trust:
                os.chown(secret, uid, gid)
        authentication = ["--auth=trust"] if self.trust else ["--auth=scram-sha-256", f"--pwfile={secret}"]
        subprocess.run(
            [
                str(self.binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "findly",
                *authentication,
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=self._owner()[0],
            group=self._owner()[1],
        )
        secret.unlink(missing_ok=True)

    def start(self) -> None:
        assert self._folder is not None, "create() first"
        self.port = self.port or _free_port()
        log = self._log()
        self._process = subprocess.Popen(
            [
                str(self.binaries / "postgres"),
                "-D",
                str(self._folder / "data"),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self._folder),
                "-c",
                f"fsync={'on' if self.durable else 'off'}",
                "-c",
                "max_connections=200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,  # a file, never a pipe: a pipe nobody reads fills, and the server stalls on it
            user=self._owner()[0],
            group=self._owner()[1],
        )
        os.close(log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres stopped: {self.log()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                if self._accepts():
                    return
            time.sleep(0.05)
        raise RuntimeError("postgres did not accept connections within 30 seconds")

    def _log(self) -> int:
        assert self._folder is not None
        descriptor = os.open(self._folder / "postgres.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        uid, gid = self._owner()
        if uid is not None and gid is not None:
            os.fchown(descriptor, uid, gid)
        return descriptor

    def log(self) -> str:
        """What the server wrote to its log so far."""
        if self._folder is None or not (self._folder / "postgres.log").exists():
            return ""
        return (self._folder / "postgres.log").read_text(errors="replace")

    def _accepts(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self._dsn("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (fast shutdown; with *kill*, SIGKILL: a crash)."""
        if self._process is None:
            return
        if kill:
            self._process.kill()
        else:
            # SIGINT is PostgreSQL's fast shutdown: open sessions are ended, their transactions rolled back. SIGTERM is
            # its smart shutdown, which waits for every client to disconnect — a connection left open kept the
            # postmaster up until our 30 s timeout. https://www.postgresql.org/docs/current/server-shutdown.html
            self._process.send_signal(signal.SIGINT)
            with contextlib.suppress(ProcessLookupError):  # a frozen server hears its SIGINT once resumed
                os.kill(self._process.pid, signal.SIGCONT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def processes(self) -> list[int]:
        """The server's processes: the postmaster first, then its children (a backend per connection, and the
        server's own workers), read from ``/proc`` (Linux)."""
        if self._process is None:
            return []
        postmaster = self._process.pid
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # /proc/PID/stat: "PID (COMM) STATE PPID …", COMM may hold spaces and parentheses (proc(5))
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *sorted(children)]

    @contextlib.contextmanager
    def frozen(self) -> Iterator[list[int]]:
        """Every process of the server stopped (SIGSTOP) for the block, then resumed (SIGCONT, always): a server
        that answers nothing — connections are still accepted and data still acknowledged by the kernel, as on a
        host that hangs. The postmaster is stopped first, so that it starts no process meanwhile."""
        stopped: list[int] = []
        try:
            if self._process is not None:
                os.kill(self._process.pid, signal.SIGSTOP)
                stopped.append(self._process.pid)
            for pid in self.processes()[1:]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
            yield stopped
        finally:
            for pid in reversed(stopped):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    # ---- addresses -----------------------------------------------------------------------------------------------

    def _dsn(self, database: str) -> str:
        user = "findly" if self.trust else f"findly:{self.password}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "findly") -> str:
        """The URL of *database* (created on first use), with the superuser's password in it."""
        if database not in self._databases:
            import psycopg
            from psycopg import sql

            with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
                exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
                if exists is None:
                    connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            self._databases.add(database)
        return self._dsn(database)


if __name__ == "__main__":  # python -m findly_infra.testing.postgresql: served until interrupted
    from findly_infra.testing._launch import postgresql as launch

    raise SystemExit(launch())
