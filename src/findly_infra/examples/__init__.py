"""The example platform file: the seed document's YAML blocks as written, with our own sections after them."""

from __future__ import annotations

from importlib import resources

__all__ = ["example_platform_text"]


def example_platform_text() -> str:
    """The text of ``examples/findly.yaml`` as shipped inside the package."""
    return resources.files(__package__).joinpath("findly.yaml").read_text(encoding="utf-8")
