r"""What an image reference may be: the grammar registries, Docker, containerd and the kubelet parse references with.

The patterns are those of the distribution project's reference package, the reference implementation of OCI/Docker
image references (https://github.com/distribution/reference/blob/main/regexp.go; its length limit from
https://github.com/distribution/reference/blob/main/reference.go, ``NameTotalLengthMax``)::

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [domain "/"] remote-name
    domain      := host [":" port-number]
    host        := domain-name | IPv4address | "[" IPv6address "]"
    remote-name := path-component ["/" path-component]*
    path-component := alpha-numeric [separator alpha-numeric]*
    alpha-numeric  := /[a-z0-9]+/
    separator      := /[_.]|__|[-]+/
    tag            := /[\w][\w.-]{0,127}/
    digest         := algorithm ":" hex (32 or more)

A platform file names an image without its tag (``gcr.io/findly-now/fn-posts``): the version is the tag, added when
manifests are rendered. So a name there is refused when it carries a tag or a digest, and a space, a ``;`` or a
``$(…)`` — ``fn matcher;$(id)`` — is no name at all.

>>> image_name_problem("gcr.io/findly-now/fn-posts") is None
True
>>> image_name_problem("fn matcher;$(id)")
"'fn matcher;$(id)' is not an image name (OCI/Docker reference grammar): a space is in no image name"
"""

from __future__ import annotations

import re

__all__ = [
    "IMAGE_NAME",
    "IMAGE_REFERENCE",
    "MAX_IMAGE_NAME",
    "image_name_problem",
    "image_reference_problem",
]

MAX_IMAGE_NAME = 255
"""``NameTotalLengthMax``: the longest name (domain and path, without tag or digest) a reference may have."""

# Each pattern as regexp.go writes it. Go's RE2 reads \w and [[:xdigit:]] as ASCII classes: spelled out here, since
# Python's \w would take any Unicode letter.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6_ADDRESS + r")"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME

IMAGE_NAME = re.compile(_NAME)
"""``NameRegexp``: a repository's name, with its registry (and port) when it has one, without tag or digest."""
IMAGE_REFERENCE = re.compile(r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?")
"""``ReferenceRegexp``: a whole reference; its groups are the name, the tag and the digest."""

_WHY = (
    (re.compile(r"\s"), "a space is in no image name"),
    (re.compile(r"[A-Z]"), "a repository's path is lower-case"),
    (re.compile(r"[^A-Za-z0-9._/:@\[\]-]"), "{char!r} is in no image name"),
    (re.compile(r"//|^/|/$"), "a path has no empty part"),
)


def image_name_problem(text: str) -> str | None:
    """Why *text* is not an image name as a platform file writes one (no tag or digest: the version is the tag),
    or ``None`` when it is one."""
    if IMAGE_NAME.fullmatch(text) and len(text) <= MAX_IMAGE_NAME:
        return None
    if len(text) > MAX_IMAGE_NAME:
        return f"an image name is at most {MAX_IMAGE_NAME} characters, this one has {len(text)}"
    found = IMAGE_REFERENCE.fullmatch(text)
    if found is not None:
        return (
            f"{_shown(text)} names a tag or a digest: give the image's name alone ({found[1]}); the version released "
            "is its tag"
        )
    return f"{_shown(text)} is not an image name (OCI/Docker reference grammar): {_why(text)}"


def image_reference_problem(text: str) -> str | None:
    """Why *text* is not a whole image reference (``name[:tag][@digest]``), or ``None`` when it is one."""
    found = IMAGE_REFERENCE.fullmatch(text)
    if found is not None and len(found[1]) <= MAX_IMAGE_NAME:
        return None
    if found is not None:
        return f"an image name is at most {MAX_IMAGE_NAME} characters, this one has {len(found[1])}"
    return f"{_shown(text)} is not an image reference (OCI/Docker reference grammar): {_why(text)}"


def _why(text: str) -> str:
    for pattern, reason in _WHY:
        found = pattern.search(text)
        if found is not None:
            return reason.format(char=found[0])
    return "each part of its path is lower-case letters and digits, joined by '.', '_', '__' or dashes"


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")
