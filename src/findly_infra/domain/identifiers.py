"""What a version, an actor, a reason or a suite may be: checked at the door, before anything is recorded.

A version becomes an image tag (``registry/fn-posts:1.4.0``) and a label value (``app.kubernetes.io/version``), so it
must be both: 1 to 63 characters of letters, digits, ``.``, ``_`` and ``-``, beginning and ending with a letter or
a digit (the stricter of the two grammars). Free text that is recorded and shown again (actor, reason, suite) is one
line of printable characters: nothing in it can forge another line of a log or a CI output.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "MAX_REASON",
    "MAX_VERSION",
    "actor_problem",
    "name_problem",
    "reason_problem",
    "same_person",
    "version_problem",
]

MAX_VERSION = 63
"""A Kubernetes label value's limit (an image tag may have 128)."""
MAX_NAME = 128
MAX_REASON = 1000

_VERSION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?")


def version_problem(version: str) -> str | None:
    """Why *version* cannot be a release's version (an image tag and a label value), or ``None`` when it can.

    >>> version_problem("1.4.0") is None
    True
    >>> version_problem("1.0 bad")
    "'1.0 bad' is not a version: use letters, digits, '.', '_' and '-', beginning and ending with a letter or digit"
    """
    if not version:
        return "the version is empty"
    if len(version) > MAX_VERSION:
        return f"the version has {len(version)} characters; at most {MAX_VERSION} (a Kubernetes label value)"
    if _VERSION.fullmatch(version) is None:
        return (
            f"{_quoted(version)} is not a version: use letters, digits, '.', '_' and '-', beginning and ending "
            "with a letter or digit"
        )
    return None


def name_problem(text: str, what: str) -> str | None:
    """Why *text* cannot be an actor's or a suite's name (*what* says which), or ``None``: it must be one line of
    printable characters, not blank, without blanks around it, at most 128 characters."""
    if not text.strip():
        return f"the {what} is blank"
    if len(text) > MAX_NAME:
        return f"the {what} has {len(text)} characters; at most {MAX_NAME}"
    if text != text.strip():
        return f"the {what} {_quoted(text)} begins or ends with blanks"
    return _unprintable(text, what)


def actor_problem(text: str) -> str | None:
    """Why *text* cannot be an actor, or ``None``: a name (:func:`name_problem`) that cannot pass for another — no
    compatibility forms (fullwidth letters, ligatures: NFKC changes it) and letters of one script only ("alice" with a
    Cyrillic first letter is refused). People are then compared as GitHub compares logins, without case
    (:func:`same_person`)."""
    problem = name_problem(text, "actor")
    if problem is not None:
        return problem
    if unicodedata.normalize("NFKC", text) != text:
        return f"the actor {_quoted(text)} has compatibility characters (fullwidth, ligatures…) that pass for others"
    scripts = {unicodedata.name(character, "?").split(" ")[0] for character in text if character.isalpha()}
    if len(scripts) > 1:
        return f"the actor {_quoted(text)} mixes scripts ({', '.join(sorted(scripts))}): it could pass for another name"
    return None


def same_person(one: str, other: str) -> bool:
    """Whether two actor names name the same person: compared without case, as GitHub compares logins."""
    return one.casefold() == other.casefold()


def reason_problem(text: str) -> str | None:
    """Why *text* cannot be a recorded reason, or ``None``: one line of printable characters, at most 1000."""
    if len(text) > MAX_REASON:
        return f"the reason has {len(text)} characters; at most {MAX_REASON}"
    return _unprintable(text, "reason")


def _unprintable(text: str, what: str) -> str | None:
    for character in text:  # control, format, unassigned, private, surrogate, separators other than the space
        if not character.isprintable():
            return f"the {what} {_quoted(text)} has an unprintable character ({character!a}): one line of text"
    return None


def _quoted(text: str) -> str:
    shown = ascii(text) if not text.isprintable() else repr(text)
    return shown if len(shown) <= 70 else shown[:66] + "...'"
