"""The optional extras a command needs, checked before anything heavy is imported: a missing one is bad input
(exit 2) naming the extra and the ``pip install`` line, never an ``ImportError`` (exit 1).

:data:`EXTRAS` lists, for each extra of ``pyproject.toml``, every module its adapter imports — not only the SDK's own:
the GKE and Secret Manager adapters also import ``stamina`` (retries), ``google.api_core`` and ``grpc``; Secret
Manager ``google_crc32c`` (the checksum the API checks); Cloud DNS ``requests`` (its transport, whose connection
errors it retries). The install tests install each extra alone in a fresh environment and import these, so a module
an adapter imports and its extra does not bring is caught there.
"""

from __future__ import annotations

from findly_infra.application.ports import BadInputError

__all__ = ["EXTRAS", "MissingExtraError", "missing_modules", "require_extra"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "prometheus": ("httpx", "stamina"),
    "kubernetes": ("kubernetes", "stamina"),
    "postgresql": ("psycopg",),
    "github": ("jwt", "cryptography", "httpx"),
    "gke": ("google.cloud.container_v1", "google.api_core", "google.auth", "grpc", "stamina"),
    "secret-manager": (
        "google.cloud.secretmanager_v1",
        "google.iam.v1",
        "google.api_core",
        "google.auth",
        "grpc",
        "google_crc32c",
        "stamina",
    ),
    "notifications": ("httpx",),
    "dns": ("google.cloud.dns", "google.api_core", "google.auth", "requests", "stamina"),
    "gitops": ("httpx", "stamina"),  # the pull requests (GitHub's REST API); git itself is the CLI on PATH
}
"""Each extra and the modules the commands that need it import."""


class MissingExtraError(BadInputError):
    """Raised when a command needs an optional extra of the package that is not installed (exit 2, naming it)."""


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """Those of *modules* that cannot be imported here, found without importing them (a dotted name whose parent
    package is missing counts as missing, rather than raising as ``importlib.util.find_spec`` does)."""
    import importlib.util

    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # the parent package is missing (or half-installed)
            found = False
        if not found:
            missing.append(name)
    return missing


def require_extra(extra: str, purpose: str) -> None:
    """Raise :class:`MissingExtraError` naming *extra* (a key of :data:`EXTRAS`) when one of its modules cannot be
    imported — checked without importing them, so a command that does not need them stays fast."""
    missing = missing_modules(EXTRAS[extra])
    if missing:
        raise MissingExtraError(
            f"{purpose} needs the {extra!r} extra, which is not installed (no module {', '.join(missing)}): "
            f"pip install 'findly-infra[{extra}]'"
        )
