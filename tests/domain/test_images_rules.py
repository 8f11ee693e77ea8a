"""The words of ``domain.images``' refusals, exactly: which reason is given for which text, the bound of a name's
length on either side, and how a long text is shown (a mutation run found them unpinned)."""

from __future__ import annotations

import pytest

from findly_infra.domain.images import MAX_IMAGE_NAME, image_name_problem, image_reference_problem

GRAMMAR = "(OCI/Docker reference grammar)"
PARTS = "each part of its path is lower-case letters and digits, joined by '.', '_', '__' or dashes"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("fn matcher;$(id)", "a space is in no image name"),  # a space first, though ';' and '$' follow
        ("fn\tmatcher", "a space is in no image name"),
        ("gcr.io/Fn-posts", "a repository's path is lower-case"),
        ("gcr.io/fn;posts", "';' is in no image name"),
        ("gcr.io/fn$posts", "'$' is in no image name"),
        ("gcr.io//fn", "a path has no empty part"),
        ("/fn", "a path has no empty part"),
        ("fn/", "a path has no empty part"),
        ("a..b", PARTS),
        ("x--y-", PARTS),
        ("x:", PARTS),
    ],
)
def test_each_refusal_names_the_first_reason_that_holds(text: str, reason: str) -> None:
    assert image_name_problem(text) == f"{text!r} is not an image name {GRAMMAR}: {reason}"
    assert image_reference_problem(text) == f"{text!r} is not an image reference {GRAMMAR}: {reason}"


def test_a_tag_or_a_digest_is_named_with_the_name_to_give_instead() -> None:
    digest = "sha256:" + "a" * 64
    for text in ("gcr.io/fn-posts:1.0", f"gcr.io/fn-posts@{digest}", f"gcr.io/fn-posts:1.0@{digest}"):
        assert image_reference_problem(text) is None
        shown = repr(text if len(text) <= 80 else text[:77] + "...")
        assert image_name_problem(text) == (
            f"{shown} names a tag or a digest: give the image's name alone (gcr.io/fn-posts); the version released "
            "is its tag"
        )


def test_the_length_bound_holds_at_its_edge_for_names_and_references() -> None:
    name = "a" * MAX_IMAGE_NAME
    assert image_name_problem(name) is None
    assert image_reference_problem(name + ":1.0") is None
    bad_at_the_bound = "a" * (MAX_IMAGE_NAME - 1) + "!"  # as long as allowed: refused for its character, not its length
    assert "'!' is in no image name" in (image_name_problem(bad_at_the_bound) or "")
    longer = "a" * (MAX_IMAGE_NAME + 1)
    said = f"an image name is at most {MAX_IMAGE_NAME} characters, this one has {MAX_IMAGE_NAME + 1}"
    assert image_name_problem(longer) == said
    assert image_reference_problem(longer + ":1.0") == said


def test_a_long_text_is_shown_cut_at_80_characters() -> None:
    exactly = "a" * 79 + "!"
    assert image_name_problem(exactly) == f"{exactly!r} is not an image name {GRAMMAR}: '!' is in no image name"
    longer = "a" * 80 + "!"
    shown = repr("a" * 77 + "...")
    assert image_name_problem(longer) == f"{shown} is not an image name {GRAMMAR}: '!' is in no image name"
