"""Image references as registries read them (issue 23: ``validate`` accepted ``fn matcher;$(id)`` as an image).

The grammar is distribution/reference's (https://github.com/distribution/reference/blob/main/regexp.go); the fixed
cases are its own test table (reference_test.go, ``TestReferenceParse``), less the digests only go-digest refuses
(an algorithm it does not know, a sha256 of the wrong length: the grammar itself accepts them). The properties build
names from the grammar's productions, not from our regular expression, and break them with what a shell or a
manifest would read as something else.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import validate_platform_text
from findly_infra.cli import main
from findly_infra.domain import MAX_IMAGE_NAME, image_name_problem, image_reference_problem

from .conftest import EXAMPLE

F64 = "f" * 64

# reference_test.go, TestReferenceParse: the inputs Parse accepts
ACCEPTED = [
    "test_com",
    "test.com:tag",
    "test.com:5000",
    "test.com/repo:tag",
    "test:5000/repo",
    "test:5000/repo:tag",
    f"test:5000/repo@sha256:{F64}",
    f"test:5000/repo:tag@sha256:{F64}",
    "lowercase:Uppercase",
    "a/" * 127 + "a:tag-puts-this-over-max",
    "sub-dom1.foo.com/bar/baz/quux",
    "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
    "b.gcr.io/test.example.com/my-app:test.example.com",
    "xn--n3h.com/myimage:xn--n3h.com",
    "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + "f" * 128,
    "foo_bar.com:8080",
    "foo/foo_bar.com:8080",
    "192.168.1.1",
    "192.168.1.1:tag",
    "192.168.1.1:5000",
    "192.168.1.1/repo",
    "192.168.1.1:5000/repo",
    "192.168.1.1:5000/repo:5050",
    "[2001:db8::1]/repo",
    "[2001:db8:1:2:3:4:5:6]/repo:tag",
    "[2001:db8::1]:5000/repo",
    "[2001:db8::1]:5000/repo:tag",
    f"[2001:db8::1]:5000/repo@sha256:{F64}",
    f"[2001:db8::1]:5000/repo:tag@sha256:{F64}",
    "[2001:db8::]:5000/repo",
    "[::1]:5000/repo",
]

# ... and those it refuses with ErrNameEmpty, ErrReferenceInvalidFormat, ErrNameContainsUppercase, ErrNameTooLong
REFUSED = [
    "",
    ":justtag",
    f"@sha256:{F64}",
    "Uppercase:tag",
    "test:5000/Uppercase/lowercase:tag",
    "a/" * 128 + "a:tag",
    "aa/asdf$$^/aa",
    "[2001:db8::1]",
    "[2001:db8::1]:5000",
    "[2001:db8::1]:tag",
    "[fe80::1%eth0]:5000/repo",
    "[fe80::1%@invalidzone]:5000/repo",
]

HOSTILE = [
    "fn matcher;$(id)",
    "fn-matcher;id",
    "fn-matcher$(id)",
    "fn-matcher`id`",
    "fn-matcher|sh",
    "fn-matcher&&id",
    "fn-matcher\nimage: evil",
    "fn-matcher'",
    'fn-matcher"',
    "fn-matcher\\",
    "fn-matcher#x",
    "gcr.io/findly-now/../etc",
    "-fn-matcher",
    "fn-matcher-",
    "gcr.io/findly-now/fn-matcher:",
    "gcr.io/findly-now/fn-matcher@",
    "gcr.io/findly-now/fn_matcher_",
    "gcr.io/FN-MATCHER",
    "gcr.io/findly-now/fn-mätcher",
    "gcr.io/findly-now/fn-matcher\u200b",
    "https://gcr.io/findly-now/fn-matcher",
    " gcr.io/findly-now/fn-matcher",
]


@pytest.mark.parametrize("reference", ACCEPTED)
def test_every_reference_the_reference_implementation_parses_is_accepted(reference: str) -> None:
    assert image_reference_problem(reference) is None


@pytest.mark.parametrize("reference", REFUSED + HOSTILE)
def test_every_reference_the_reference_implementation_refuses_is_refused(reference: str) -> None:
    assert image_reference_problem(reference) is not None
    assert image_name_problem(reference) is not None


# ---- the grammar's productions, as strategies -------------------------------------------------------------------

_alphanumeric = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_separator = st.sampled_from([".", "_", "__", "-", "--", "---"])
_path_component = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    _alphanumeric,
    st.lists(st.tuples(_separator, _alphanumeric), max_size=3),
)
_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_domain_name = st.lists(_label, min_size=1, max_size=3).map(".".join)
_ipv6 = st.lists(st.from_regex(r"[0-9a-fA-F]{1,4}", fullmatch=True), min_size=2, max_size=8).map(
    lambda groups: "[" + ":".join(groups) + "]"
)
_port = st.integers(1, 65535).map(lambda port: f":{port}")
# a first part with neither '.' nor ':port' reads as a path component (there is no domain), so a domain here has one
_domain = st.one_of(
    st.tuples(_domain_name, _port).map("".join),
    st.tuples(_label, _label).map(".".join),
    st.tuples(_ipv6, st.one_of(st.just(""), _port)).map("".join),
    st.just("localhost"),
)
_remote_name = st.lists(_path_component, min_size=1, max_size=4).map("/".join)
names = st.builds(lambda domain, path: f"{domain}/{path}" if domain else path, st.none() | _domain, _remote_name)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}", fullmatch=True)
versions = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?", fullmatch=True)
digests = st.builds(
    lambda algorithm, hex_: f"{algorithm}:{hex_}",
    st.sampled_from(["sha256", "sha512", "sha384", "multihash+base58"]),
    st.from_regex(r"[0-9a-fA-F]{32,70}", fullmatch=True),
)
HOSTILE_CHARACTERS = " \t\n;$()`|&<>'\"\\*?{}#!%~^,=+[]ÄéАℹ\u200b\x00"


@given(names)
def test_a_name_of_the_grammar_is_accepted_and_a_version_makes_it_a_reference(name: str) -> None:
    if len(name) > MAX_IMAGE_NAME:
        assert "at most 255 characters" in (image_name_problem(name) or "")
        return
    assert image_name_problem(name) is None, name
    assert image_reference_problem(name) is None


@given(names, versions, st.none() | digests)
def test_a_rendered_image_is_a_reference(name: str, version: str, digest: str | None) -> None:
    """``render`` writes ``{image}:{version}``: a version the door lets in is always a tag of the grammar."""
    reference = f"{name}:{version}" + (f"@{digest}" if digest else "")
    if len(name) <= MAX_IMAGE_NAME:
        assert image_reference_problem(reference) is None, reference
        assert "names a tag or a digest" in (image_name_problem(reference) or "")


@given(names, tags)
def test_a_tag_is_a_reference_but_not_a_name_of_the_platform_file(name: str, tag: str) -> None:
    if len(name) <= MAX_IMAGE_NAME:
        assert image_reference_problem(f"{name}:{tag}") is None
        assert image_name_problem(f"{name}:{tag}") is not None


@given(names, st.sampled_from(HOSTILE_CHARACTERS), st.data())
def test_a_character_of_no_grammar_anywhere_is_refused(name: str, char: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(name)))
    hostile = name[:position] + char + name[position:]
    assert image_name_problem(hostile) is not None, hostile
    assert image_reference_problem(hostile) is not None, hostile


@given(names, st.data())
def test_an_upper_case_letter_in_the_path_is_refused(name: str, data: st.DataObject) -> None:
    # the first part before a '/' may be a registry's host, where the grammar allows upper case (GCR.io/x)
    path_start = name.index("/") + 1 if "/" in name else 0
    letters = [i for i, char in enumerate(name) if i >= path_start and char.isalpha()]
    if not letters:
        return
    index = data.draw(st.sampled_from(letters))
    hostile = name[:index] + name[index].upper() + name[index + 1 :]
    assert image_name_problem(hostile) is not None, hostile


# ---- at the door: the platform file ------------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["fn matcher;$(id)", "gcr.io/findly-now/fn-matcher:1.0.0", "gcr.io/Findly/fn"])
def test_validate_refuses_an_image_that_is_not_a_name_and_names_its_place(tmp_path: Path, image: str) -> None:
    path = tmp_path / "findly.yaml"
    path.write_text(EXAMPLE.read_text().replace('"gcr.io/findly-now/fn-matcher"', json.dumps(image)))
    out = io.StringIO()
    assert main(["--json", "validate", str(path)], out=out) == 2
    [error] = json.loads(out.getvalue())["errors"]
    assert error["path"] == "services.fn-matcher.image"
    assert error["line"] == EXAMPLE.read_text().splitlines().index('    image: "gcr.io/findly-now/fn-matcher"') + 1


@given(names)
def test_any_name_of_the_grammar_is_a_valid_image_in_the_platform_file(name: str) -> None:
    text = EXAMPLE.read_text().replace('"gcr.io/findly-now/fn-matcher"', json.dumps(name))
    report = validate_platform_text(text)
    assert report.ok == (len(name) <= MAX_IMAGE_NAME), [str(e) for e in report.errors]
