"""The rules of ``domain.identifiers`` the other tests leave unpinned (issue 23: the baseline kept 17 mutants of
``actor_problem`` alive): an actor is a name, without compatibility forms, in one script — each refusal in its exact
words. Fast and in-process: they run for every mutant."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.identifiers import actor_problem, name_problem, same_person

TANGUT = "\U00017000"  # a letter the Unicode database names no script for: "?"


def test_an_actor_is_a_name_first() -> None:
    assert actor_problem(" erin") == "the actor ' erin' begins or ends with blanks"
    assert actor_problem("") == "the actor is blank"
    assert actor_problem("Erin O'Neil") is None


def test_an_actor_with_compatibility_characters_is_refused() -> None:
    assert actor_problem("ａｌｉｃｅ") == (
        "the actor 'ａｌｉｃｅ' has compatibility characters (fullwidth, ligatures…) that pass for others"
    )
    assert actor_problem("ﬁona") is not None  # a ligature


def test_an_actor_mixing_scripts_is_refused_naming_them_in_order() -> None:
    assert actor_problem("aб") == "the actor 'aб' mixes scripts (CYRILLIC, LATIN): it could pass for another name"
    assert actor_problem("бα a") == (
        "the actor 'бα a' mixes scripts (CYRILLIC, GREEK, LATIN): it could pass for another name"
    )
    assert (
        actor_problem(f"a{TANGUT}") == f"the actor 'a{TANGUT}' mixes scripts (?, LATIN): it could pass for another name"
    )
    assert actor_problem(TANGUT * 2) is None
    assert actor_problem("erin-2") is None  # digits and '-' are no script


@given(st.text(st.sampled_from("abAБбαΑ1- ｅﬁ" + TANGUT), min_size=1, max_size=6))
def test_an_actor_is_refused_exactly_when_a_rule_says_so(text: str) -> None:
    scripts = {unicodedata.name(c, "?").split(" ")[0] for c in text if c.isalpha()}
    fine = name_problem(text, "actor") is None and unicodedata.normalize("NFKC", text) == text and len(scripts) <= 1
    assert (actor_problem(text) is None) is fine


def test_people_compare_without_case_as_github_compares_logins() -> None:
    assert same_person("Erin", "eRIN")
    assert same_person("straße", "STRASSE")  # casefold, not lower
    assert not same_person("erin", "erin2")
