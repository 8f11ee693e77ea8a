"""Why a command was refused: the rule that spoke and a sentence a person can act on (one small value, shared by the
pipeline's rules and the policy in force)."""

from __future__ import annotations

import attrs

__all__ = ["Refusal"]


@attrs.frozen
class Refusal:
    """Why a command was refused: the rule's name and a sentence a person can act on."""

    rule: str
    message: str
