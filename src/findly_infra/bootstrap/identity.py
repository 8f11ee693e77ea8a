"""Who acts: a verified GitHub Actions identity where an environment's policy asks for one; and who this process is,
for rollout leases."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

import attrs

from findly_infra.application.ports import IdentityProof, ProofVerifier
from findly_infra.bootstrap.extras import require_extra
from findly_infra.domain.platform import Platform
from findly_infra.domain.proofs import ProofCheck, Proven, Unproven

__all__ = [
    "LazyProofs",
    "dead_here",
    "identity_proof",
    "proof_verifier",
    "runner_identity",
    "verifying_environments",
]


def verifying_environments(platform: Platform) -> tuple[str, ...]:
    """The environments whose policy in the platform file takes only verified GitHub identities
    (``identity: {verified: true}``): a command that acts on one asks GitHub Actions for an OIDC token and verifies
    it (the ``github`` extra)."""
    return tuple(env.name for env in platform.environments if env.identity.verified)


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
    """Who this process is, for rollout leases and ``status``: unique to this process across machines and containers.
    Host and process for people to read, and the GitHub Actions run when there is one; then, in brackets, a random
    nonce made once per process (two containers share a host name and often a pid) and, where ``/proc`` says it, where
    the process runs — the kernel's boot, its pid namespace and the process's start — which alone lets
    :func:`dead_here` judge it dead (``fv-runner-3:4242 (GitHub run 123456 attempt 2, deploy.yml) [id 3f…; boot
    9c…, pidns 4026531836, start 81234]``)."""
    import socket

    env = os.environ if environ is None else environ
    who = f"{socket.gethostname()}:{os.getpid()}"
    if env.get("GITHUB_RUN_ID"):
        workflow = env.get("GITHUB_WORKFLOW", "")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        who += f" (GitHub run {env['GITHUB_RUN_ID']} attempt {attempt}{', ' + workflow if workflow else ''})"
    place = _here()
    start = _started(os.getpid()) if place is not None else None
    where = f"; boot {place[0]}, pidns {place[1]}, start {start}" if place is not None and start is not None else ""
    return f"{who} [id {_NONCE}{where}]"


_NONCE = secrets.token_hex(8)
"""This process's own part of its holder name: random, made once (a forked child that re-imports makes its own)."""
_HOLDER = re.compile(r":(\d+)\b.*\[id [0-9a-f]+; boot ([0-9a-f-]+), pidns (\d+), start (\d+)\]\Z", re.DOTALL)


def _here() -> tuple[str, int] | None:
    """The kernel's boot (``/proc/sys/kernel/random/boot_id``) and this process's pid namespace (the inode of
    ``/proc/self/ns/pid``): two processes share both only when they see the same pids of the same running kernel
    (proc(5): ``/proc/sys/kernel/random/boot_id``, namespaces(7): ``/proc/[pid]/ns/``). ``None`` where ``/proc`` does
    not say."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as file:
            boot = file.read().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return (boot, namespace) if re.fullmatch(r"[0-9a-f-]{8,64}", boot) else None


def _started(pid: int) -> int | None:
    """When process *pid* of this pid namespace started, in clock ticks after boot (field 22 of ``/proc/PID/stat``,
    proc(5)) — ``None`` when it does not run (or is a zombie, which runs nothing any more)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after the command's name, which may hold spaces and parentheses
    if len(fields) < 20 or fields[0] in ("Z", "X") or not fields[19].isdigit():
        return None
    return int(fields[19])


def dead_here(lease: Any) -> bool:
    """Whether *lease*'s holder is provably a process that no longer runs: it said (see :func:`runner_identity`) that
    it ran on this very kernel boot and in this pid namespace — where its pid means the same process as here — and
    that pid runs nothing now, or runs a process started at another time (the pid was reused). A holder of another
    machine or container, or one that said nothing of where it ran, is never judged dead: its lease runs out."""
    found = _HOLDER.search(str(lease.holder))
    here = _here()
    if found is None or here is None:
        return False
    pid, boot, namespace, start = int(found[1]), found[2], int(found[3]), int(found[4])
    if (boot, namespace) != here:
        return False
    return _started(pid) != start
