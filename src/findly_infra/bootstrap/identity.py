"""Who acts: a verified GitHub Actions identity where an environment's policy asks for one; and who this process is,
for rollout leases."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from findly_infra.application.ports import IdentityProof
from findly_infra.bootstrap.extras import require_extra
from findly_infra.domain.platform import Platform

__all__ = ["dead_here", "identity_proof", "runner_identity"]


def identity_proof(platform: Platform, *, environ: Mapping[str, str] | None = None) -> IdentityProof:
    """How a command proves who acts where an environment's policy asks for verified people: a GitHub Actions OIDC
    token requested from the runner, verified against the file's ``github_oidc`` issuer, keys and audience."""
    env = os.environ if environ is None else environ
    require_extra("github", "verified identities")
    from findly_infra.adapters.github_oidc import ActionsIdentity, OidcVerifier

    oidc = platform.github_oidc
    return ActionsIdentity(OidcVerifier(oidc.audience, oidc.issuer, oidc.keys_url), env)


def runner_identity(environ: Mapping[str, str] | None = None) -> str:
    """Who this process is, for rollout leases and ``status``: host and process, and the GitHub Actions run when
    there is one (``fv-runner-3:4242 (GitHub run 123456 attempt 2, deploy.yml)``)."""
    import socket

    env = os.environ if environ is None else environ
    who = f"{socket.gethostname()}:{os.getpid()}"
    if env.get("GITHUB_RUN_ID"):
        workflow = env.get("GITHUB_WORKFLOW", "")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        who += f" (GitHub run {env['GITHUB_RUN_ID']} attempt {attempt}{', ' + workflow if workflow else ''})"
    return who


def dead_here(lease: Any) -> bool:
    """Whether *lease*'s holder was a process of this machine that no longer runs (``host:pid …``, see
    :func:`runner_identity`): a watch killed here and run again takes its rollout back at once."""
    import socket

    host, _, rest = str(lease.holder).partition(":")
    pid_text = rest.split(" ", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False
