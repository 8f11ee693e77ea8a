"""What a version, an actor, a suite and a reason may be (``domain.identifiers``): the rules at the door."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.identifiers import MAX_REASON, MAX_VERSION, name_problem, reason_problem, version_problem

_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")  # Kubernetes' own
_IMAGE_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)  # the OCI distribution spec's


@given(st.text(max_size=70) | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,70}", fullmatch=True))
def test_an_accepted_version_is_both_an_image_tag_and_a_label_value(version: str) -> None:
    accepted = version_problem(version) is None
    assert accepted == (
        bool(version)
        and len(version) <= 63
        and bool(_LABEL_VALUE.fullmatch(version))
        and bool(_IMAGE_TAG.fullmatch(version))
    )


@given(st.text(max_size=40))
def test_an_accepted_name_or_reason_is_one_printable_line(text: str) -> None:
    for problem in (name_problem(text, "actor"), reason_problem(text)):
        if problem is None:
            assert "\n" not in text
            assert "\r" not in text
            assert "\x1b" not in text
            assert all(character.isprintable() for character in text)
    if name_problem(text, "actor") is None:
        assert text.strip() == text != ""


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        ("1.4.0", True),
        ("3f9c2e1", True),
        ("v2_rc-1", True),
        ("a", True),
        ("1" * MAX_VERSION, True),
        ("1" * (MAX_VERSION + 1), False),
        ("", False),
        ("-1", False),
        ("1.", False),
        ("_1", False),
        ("1 0", False),
        ("1/0", False),
        ("1:0", False),
    ],
)
def test_versions_at_their_boundaries(version: str, accepted: bool) -> None:
    assert (version_problem(version) is None) is accepted


def test_names_and_reasons_at_their_boundaries() -> None:
    assert name_problem("erin", "actor") is None
    assert name_problem("Erin O'Neil", "actor") is None  # a space inside is a name
    assert name_problem("e" * 128, "actor") is None
    assert name_problem("e" * 129, "actor") == "the actor has 129 characters; at most 128"
    assert name_problem("", "actor") == "the actor is blank"
    assert name_problem("   ", "suite") == "the suite is blank"
    assert name_problem(" erin", "actor") == "the actor ' erin' begins or ends with blanks"
    assert name_problem("erin\u200b", "actor") == (
        "the actor 'erin\\u200b' has an unprintable character ('\\u200b'): one line of text"
    )
    assert reason_problem("") is None  # resume takes no reason
    assert reason_problem("r" * MAX_REASON) is None
    assert reason_problem("r" * (MAX_REASON + 1)) == f"the reason has {MAX_REASON + 1} characters; at most {MAX_REASON}"
    assert reason_problem("bad build\n::warning::x") is not None
    assert version_problem("1.0 bad") == (
        "'1.0 bad' is not a version: use letters, digits, '.', '_' and '-', beginning and ending with a letter or digit"
    )
    assert version_problem("") == "the version is empty"
    assert version_problem("1" * 64) == "the version has 64 characters; at most 63 (a Kubernetes label value)"


def test_a_refusal_quotes_what_it_refused_safely_and_briefly() -> None:
    assert reason_problem("a\tb") == "the reason 'a\\tb' has an unprintable character ('\\t'): one line of text"
    # unprintable text is quoted in ASCII (no terminal escape reaches the message), printable text as written
    assert (
        name_problem("é\x1b", "actor")
        == "the actor '\\xe9\\x1b' has an unprintable character ('\\x1b'): one line of text"
    )
    assert version_problem("é") == (
        "'é' is not a version: use letters, digits, '.', '_' and '-', beginning and ending with a letter or digit"
    )
    long = "x" * 80 + "\ny"
    assert name_problem(long, "actor") == (
        f"the actor {repr(long)[:66]}...' has an unprintable character ('\\n'): one line of text"
    )
    control = "\x01" * 20  # within the length, but its ASCII quotation is 82 characters
    assert version_problem(control) == (
        f"{ascii(control)[:66]}...' is not a version: use letters, digits, '.', '_' and '-', beginning and "
        "ending with a letter or digit"
    )


def test_a_quotation_is_cut_only_beyond_70_characters() -> None:
    at_limit, beyond = "x" * 65 + "\ty", "x" * 66 + "\ty"  # quoted: 70 and 71 characters
    assert f"the actor {at_limit!r} has" in str(name_problem(at_limit, "actor"))
    assert f"the actor {repr(beyond)[:66]}...' has" in str(name_problem(beyond, "actor"))
