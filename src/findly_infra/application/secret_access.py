"""``secrets grant``: each service's pods in an environment given read access to the secrets they read.

The grants are the domain's (``domain.secrets.secret_grants``: each secret's ID in the environment to the principal
of each service that reads it). Every secret's IAM policy is read first: a secret that does not exist stops the
command before anything is granted (nothing half-done), and a grant already held is left as it is. A dry run stops
there and says what would change; otherwise each missing grant is made — a read-modify-write of the secret's policy
with its etag (``SecretAccess.grant_access``), so that no one else's change is lost.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from findly_infra.application.ports import BadInputError, SecretAccess
from findly_infra.domain.secrets import SecretGrant

__all__ = ["GrantOutcome", "grant_secret_access"]


@attrs.frozen
class GrantOutcome:
    """One grant and what became of it: *changed* — granted (or, in a dry run, to grant); else already held."""

    grant: SecretGrant
    changed: bool


def grant_secret_access(
    store: SecretAccess, grants: Sequence[SecretGrant], *, dry_run: bool = False
) -> tuple[GrantOutcome, ...]:
    """Give each grant's member read access to its secret, unless it holds it; with *dry_run*, only say which would
    change. :class:`BadInputError`, before anything changes, naming every secret that does not exist."""
    held: list[bool] = []
    missing: list[str] = []
    for grant in grants:
        holds = store.holds_access(grant.secret, grant.member)
        if holds is None:
            if grant.secret not in missing:
                missing.append(grant.secret)
            continue
        held.append(holds)
    if missing:
        raise BadInputError(
            f"{', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist: nothing was granted (create "
            "each secret first — gcloud secrets create NAME — then grant again)"
        )
    outcomes = []
    for grant, holds in zip(grants, held, strict=True):
        if holds:
            outcomes.append(GrantOutcome(grant, changed=False))
        elif dry_run:
            outcomes.append(GrantOutcome(grant, changed=True))
        else:  # someone may have granted it since it was read: then nothing changes
            outcomes.append(GrantOutcome(grant, changed=store.grant_access(grant.secret, grant.member)))
    return tuple(outcomes)
