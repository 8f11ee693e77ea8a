"""People at the door (issue 15's name rules): an actor that could pass for another is refused — compatibility
characters, mixed scripts — and people are compared as GitHub compares logins, without case, so ``Alice`` is
``alice`` to membership, self-approval and distinct approvers."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.identifiers import actor_problem, same_person

from .test_audit_trail import requested_for_production

T0 = datetime(2026, 3, 2, 9)
LATIN, CYRILLIC = "abcdefghijklmnopqrstuvwxyz", "абвгдежзийклмнопрстуфхцчшщ"


@given(st.text(LATIN, min_size=1, max_size=8), st.text(CYRILLIC, min_size=1, max_size=8), st.booleans())
def test_a_name_that_mixes_scripts_is_refused_and_one_script_passes(latin: str, cyrillic: str, first: bool) -> None:
    mixed = latin + cyrillic if first else cyrillic + latin
    assert actor_problem(mixed) is not None
    assert "mixes scripts (CYRILLIC, LATIN)" in str(actor_problem(mixed))
    assert actor_problem(latin) is None
    assert actor_problem(cyrillic) is None
    assert actor_problem(f"{latin.capitalize()} O'Neil") is None  # a person's name, with a space and an apostrophe


@given(st.text(st.characters(codec="utf-8", categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12))
def test_a_name_that_normalises_to_another_is_refused(name: str) -> None:
    if unicodedata.normalize("NFKC", name) != name:
        assert "compatibility characters" in str(actor_problem(name))
    assert actor_problem("ａｌｉｃｅ") is not None  # fullwidth
    assert same_person(name, name.upper()) == (name.casefold() == name.upper().casefold())


def test_people_are_compared_without_case_in_every_approval_rule() -> None:
    pipeline = requested_for_production("2.0.0", requester="bob")  # bob, of devops-team, asked for it
    at = T0 + timedelta(days=30)
    refused = pipeline.approve("2.0.0", "production", actor="BOB", at=at)
    assert refused.refusal is not None
    assert refused.refusal.rule == "self-approval"
    granted = pipeline.approve("2.0.0", "production", actor="Alice", at=at)  # alice, of devops-team
    assert granted.refusal is None
    pipeline = pipeline.apply_all(granted.events)
    again = pipeline.approve("2.0.0", "production", actor="alice", at=at)  # the same person: a retry, not a second
    assert again.events == ()
    assert again.already is not None
    outsider = pipeline.approve("2.0.0", "production", actor="mallory", at=at)
    assert outsider.refusal.rule == "approver-membership"  # type: ignore[union-attr]
