"""The policy in force, as the state keeps it (``domain.policy``): its digest, and what a platform file's policy would
change of it — for the commands that show it and the use cases that adopt it."""

from __future__ import annotations

import functools
import hashlib
import json

import cattrs

from findly_infra.domain.policy import PlatformPolicy

__all__ = ["policy_digest"]


@functools.cache
def _canonical() -> cattrs.Converter:
    # fields at their default are left out, so that a restriction added to the policy later (empty: any) does not
    # change the digest of a policy that does not use it
    return cattrs.Converter(omit_if_default=True)


def policy_digest(policy: PlatformPolicy) -> str:
    """The SHA-256 of *policy* in a canonical JSON form: what ``policy show`` prints and a person can compare."""
    text = json.dumps(_canonical().unstructure(policy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
