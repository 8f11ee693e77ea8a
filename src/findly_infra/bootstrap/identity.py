"""Who acts: a verified GitHub Actions identity where an environment's policy asks for one; and who this process is,
for rollout leases."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from findly_infra.application.ports import IdentityProof, ProofVerifier
from findly_infra.bootstrap.extras import require_extra
from findly_infra.domain.platform import Platform
from findly_infra.domain.proofs import ProofCheck, Proven, Unproven

__all__ = ["LazyProofs", "dead_here", "identity_proof", "proof_verifier", "runner_identity"]


def identity_proof(
    platform: Platform, *, environ: Mapping[str, str] | None = None, sharing: object = None
) -> IdentityProof:
    """How a command proves who acts where an environment's policy asks for verified people: a GitHub Actions OIDC
    token requested from the runner, verified against the file's ``github_oidc`` issuer, keys and audience.
    *sharing*: the command's :class:`LazyProofs`, whose key sets it reads (one fetch a process for both)."""
    env = os.environ if environ is None else environ
    require_extra("github", "verified identities")
    from findly_infra.adapters.github_oidc import ActionsIdentity, OidcVerifier

    oidc = platform.github_oidc
    keys = sharing.key_set(oidc.keys_url) if isinstance(sharing, LazyProofs) else None
    return ActionsIdentity(OidcVerifier(oidc.audience, oidc.issuer, oidc.keys_url, key_set=keys), env)


@attrs.define
class LazyProofs:
    """The ``ProofVerifier`` of every command: GitHub Actions' tokens kept as evidence, checked again when counted
    (``adapters.github_oidc.OidcProofs``) — built on its first check, so that a state whose policy verifies no
    identity needs neither the ``github`` extra nor the network (without the extra, a check is exit 2 naming it)."""

    _verifier: Any = attrs.field(default=None, init=False)

    def _oidc(self) -> Any:
        if self._verifier is None:
            require_extra("github", "verified identities")
            from findly_infra.adapters.github_oidc import OidcProofs

            self._verifier = OidcProofs()
        return self._verifier

    def verify_proof(self, check: ProofCheck) -> Proven | Unproven:
        result: Proven | Unproven = self._oidc().verify_proof(check)
        return result

    def key_set(self, url: str) -> Any:
        """The key set at *url*, shared with the command's own token (``identity_proof``)."""
        return self._oidc().key_set(url)


def proof_verifier() -> ProofVerifier:
    """How a command checks the tokens kept with approvals, requests and adoptions again (:class:`LazyProofs`)."""
    return LazyProofs()


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
